#include "util/json.h"

#include "cairn/errors.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting deeper than this is refused: the parser recurses once per level. */
#define DEPTH_MAX 64
/* Every value costs a tree node several times the size of its text, so the
 * text is bounded to keep a hostile document from exhausting memory. */
#define TEXT_MAX (64u * 1024 * 1024)

/* ---- writer ---------------------------------------------------------- */

/* Overlong forms, surrogates and code points above U+10FFFF are not
 * well-formed. */
size_t cairn_utf8_sequence(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t len;
	uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

int cairn_json_string_n(cairn_buf *b, const char *s, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = (const uint8_t *)s;
	size_t run = 0; /* start of bytes not yet copied */
	char esc[8];
	int rc;

	if ((rc = cairn_buf_reserve(b, n + 2)) != 0)
		return rc;
	if ((rc = cairn_buf_append_u8(b, '"')) != 0)
		return rc;
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		size_t elen = 0;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t seq = cairn_utf8_sequence(p + i, n - i);
			if (seq) {
				i += seq;
				continue;
			}
			/* Not UTF-8: the byte travels as a lone low surrogate,
			 * which no well-formed text contains. */
			memcpy(esc, "\\udc", 4);
			esc[4] = digits[c >> 4];
			esc[5] = digits[c & 15];
			elen = 6;
		} else if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			elen = 2;
		} else if (c == '\n' || c == '\t' || c == '\r' || c == '\b' || c == '\f') {
			esc[0] = '\\';
			esc[1] = c == '\n'   ? 'n'
			         : c == '\t' ? 't'
			         : c == '\r' ? 'r'
			         : c == '\b' ? 'b'
			                     : 'f';
			elen = 2;
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = digits[c >> 4];
			esc[5] = digits[c & 15];
			elen = 6;
		}
		if ((rc = cairn_buf_append(b, p + run, i - run)) != 0)
			return rc;
		if ((rc = cairn_buf_append(b, esc, elen)) != 0)
			return rc;
		i++;
		run = i;
	}
	if ((rc = cairn_buf_append(b, p + run, n - run)) != 0)
		return rc;
	return cairn_buf_append_u8(b, '"');
}

int cairn_json_string(cairn_buf *b, const char *s)
{
	return cairn_json_string_n(b, s, strlen(s));
}

int cairn_json_key(cairn_buf *b, int *first, const char *key)
{
	int rc;

	if (!*first && (rc = cairn_buf_append_u8(b, ',')) != 0)
		return rc;
	*first = 0;
	if ((rc = cairn_json_string(b, key)) != 0)
		return rc;
	return cairn_buf_append_u8(b, ':');
}

int cairn_json_uint(cairn_buf *b, uint64_t v)
{
	return cairn_buf_printf(b, "%" PRIu64, v);
}

int cairn_json_int(cairn_buf *b, int64_t v)
{
	return cairn_buf_printf(b, "%" PRId64, v);
}

/* ---- parser ---------------------------------------------------------- */

typedef struct parser {
	const uint8_t *p;
	size_t len;
	size_t pos;
} parser;

static int fail(const parser *ps, const char *what)
{
	return cairn_error_set(CAIRN_ECORRUPT, "json: %s at byte %zu", what, ps->pos);
}

static void skip_ws(parser *ps)
{
	while (ps->pos < ps->len) {
		uint8_t c = ps->p[ps->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		ps->pos++;
	}
}

static void value_clear(cairn_json *v)
{
	for (size_t i = 0; i < v->n_children; i++)
		value_clear(&v->children[i]);
	free(v->children);
	if (v->keys)
		for (size_t i = 0; i < v->n_children; i++)
			free(v->keys[i]);
	free(v->keys);
	free(v->string);
	memset(v, 0, sizeof(*v));
}

static int literal(parser *ps, const char *word)
{
	size_t n = strlen(word);
	if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, word, n) != 0)
		return fail(ps, "unexpected character");
	ps->pos += n;
	return 0;
}

static int hex4(parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->len - ps->pos < 4)
		return fail(ps, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		uint8_t c = ps->p[ps->pos + i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return fail(ps, "bad hex digit in \\u escape");
		v = v << 4 | d;
	}
	ps->pos += 4;
	*out = v;
	return 0;
}

/* Reads a \u escape (the "\u" already consumed) into b. */
static int unicode_escape(parser *ps, cairn_buf *b)
{
	size_t at = ps->pos - 2;
	unsigned cp, lo;
	int rc;

	if ((rc = hex4(ps, &cp)) != 0)
		return rc;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->len - ps->pos < 2 || ps->p[ps->pos] != '\\' || ps->p[ps->pos + 1] != 'u') {
			ps->pos = at;
			return fail(ps, "unpaired high surrogate");
		}
		ps->pos += 2;
		if ((rc = hex4(ps, &lo)) != 0)
			return rc;
		if (lo < 0xdc00 || lo > 0xdfff) {
			ps->pos = at;
			return fail(ps, "unpaired high surrogate");
		}
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	} else if (cp >= 0xdc80 && cp <= 0xdcff) {
		/* A byte that was not UTF-8 when written. */
		return cairn_buf_append_u8(b, (uint8_t)(cp - 0xdc00));
	} else if (cp >= 0xdc00 && cp <= 0xdfff) {
		ps->pos = at;
		return fail(ps, "unpaired low surrogate");
	}
	return cairn_buf_append_utf8(b, cp);
}

static int parse_string(parser *ps, char **out, size_t *len_out)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int rc;

	ps->pos++; /* the opening quote */
	for (;;) {
		size_t run = ps->pos;
		while (ps->pos < ps->len) {
			uint8_t c = ps->p[ps->pos];
			if (c == '"' || c == '\\' || c < 0x20)
				break;
			ps->pos++;
		}
		if ((rc = cairn_buf_append(&b, ps->p + run, ps->pos - run)) != 0)
			goto out;
		if (ps->pos >= ps->len) {
			rc = fail(ps, "unterminated string");
			goto out;
		}
		uint8_t c = ps->p[ps->pos];
		if (c == '"') {
			ps->pos++;
			break;
		}
		if (c < 0x20) {
			rc = fail(ps, "control character in string");
			goto out;
		}
		/* a backslash */
		if (ps->len - ps->pos < 2) {
			rc = fail(ps, "unterminated string");
			goto out;
		}
		uint8_t e = ps->p[ps->pos + 1], plain;
		switch (e) {
		case '"':
			plain = '"';
			break;
		case '\\':
			plain = '\\';
			break;
		case '/':
			plain = '/';
			break;
		case 'b':
			plain = '\b';
			break;
		case 'f':
			plain = '\f';
			break;
		case 'n':
			plain = '\n';
			break;
		case 'r':
			plain = '\r';
			break;
		case 't':
			plain = '\t';
			break;
		case 'u':
			ps->pos += 2;
			if ((rc = unicode_escape(ps, &b)) != 0)
				goto out;
			continue;
		default:
			rc = fail(ps, "bad escape");
			goto out;
		}
		if ((rc = cairn_buf_append_u8(&b, plain)) != 0)
			goto out;
		ps->pos += 2;
	}
	/* NUL-terminate, including the empty string. */
	if ((rc = cairn_buf_reserve(&b, 1)) != 0)
		goto out;
	b.data[b.len] = '\0';
	*len_out = b.len;
	*out = (char *)cairn_buf_detach(&b, NULL);
	rc = 0;
out:
	cairn_buf_free(&b);
	return rc;
}

static int is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int parse_number(parser *ps, cairn_json *v)
{
	size_t start = ps->pos;
	int integral = 1;
	char small[64];
	char *text = small;

	if (ps->p[ps->pos] == '-')
		ps->pos++;
	if (ps->pos >= ps->len || !is_digit(ps->p[ps->pos]))
		return fail(ps, ps->pos == start ? "unexpected character" : "bad number");
	if (ps->p[ps->pos] == '0') {
		ps->pos++;
		if (ps->pos < ps->len && is_digit(ps->p[ps->pos]))
			return fail(ps, "leading zero in number");
	} else {
		while (ps->pos < ps->len && is_digit(ps->p[ps->pos]))
			ps->pos++;
	}
	if (ps->pos < ps->len && ps->p[ps->pos] == '.') {
		integral = 0;
		ps->pos++;
		if (ps->pos >= ps->len || !is_digit(ps->p[ps->pos]))
			return fail(ps, "bad fraction in number");
		while (ps->pos < ps->len && is_digit(ps->p[ps->pos]))
			ps->pos++;
	}
	if (ps->pos < ps->len && (ps->p[ps->pos] == 'e' || ps->p[ps->pos] == 'E')) {
		integral = 0;
		ps->pos++;
		if (ps->pos < ps->len && (ps->p[ps->pos] == '+' || ps->p[ps->pos] == '-'))
			ps->pos++;
		if (ps->pos >= ps->len || !is_digit(ps->p[ps->pos]))
			return fail(ps, "bad exponent in number");
		while (ps->pos < ps->len && is_digit(ps->p[ps->pos]))
			ps->pos++;
	}

	v->type = CAIRN_JSON_NUMBER;
	if (integral) {
		/* Exact, without going through a double. */
		const uint8_t *d = ps->p + start;
		int neg = *d == '-';
		uint64_t mag = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		int fits = 1;
		for (d += neg; d < ps->p + ps->pos; d++) {
			unsigned digit = *d - '0';
			if (mag > (limit - digit) / 10) {
				fits = 0;
				break;
			}
			mag = mag * 10 + digit;
		}
		if (fits) {
			v->is_integer = 1;
			v->integer =
			    neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag)
			        : (int64_t)mag;
			v->number = (double)v->integer;
			return 0;
		}
	}
	size_t n = ps->pos - start;
	if (n >= sizeof(small)) {
		text = malloc(n + 1);
		if (!text)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	memcpy(text, ps->p + start, n);
	text[n] = '\0';
	v->number = strtod(text, NULL);
	/* Out-of-range values become +-HUGE_VAL or 0, which is as close as a
	 * double gets. */
	if (text != small)
		free(text);
	return 0;
}

static int parse_value(parser *ps, cairn_json *v, int depth);

/* Appends an empty child to v and returns it, growing the arrays. */
static cairn_json *add_child(cairn_json *v, size_t *cap, int with_key)
{
	if (v->n_children == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		cairn_json *c = realloc(v->children, ncap * sizeof(*c));
		if (!c)
			return NULL;
		v->children = c;
		if (with_key) {
			char **k = realloc(v->keys, ncap * sizeof(*k));
			if (!k)
				return NULL;
			v->keys = k;
		}
		*cap = ncap;
	}
	cairn_json *c = &v->children[v->n_children];
	memset(c, 0, sizeof(*c));
	if (with_key)
		v->keys[v->n_children] = NULL;
	v->n_children++;
	return c;
}

static int parse_container(parser *ps, cairn_json *v, int depth)
{
	int object = ps->p[ps->pos] == '{';
	uint8_t close = object ? '}' : ']';
	size_t cap = 0;
	int rc;

	if (depth >= DEPTH_MAX)
		return fail(ps, "nesting too deep");
	v->type = object ? CAIRN_JSON_OBJECT : CAIRN_JSON_ARRAY;
	ps->pos++;
	skip_ws(ps);
	if (ps->pos < ps->len && ps->p[ps->pos] == close) {
		ps->pos++;
		return 0;
	}
	for (;;) {
		cairn_json *c = add_child(v, &cap, object);
		if (!c)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		if (object) {
			size_t klen;
			skip_ws(ps);
			if (ps->pos >= ps->len || ps->p[ps->pos] != '"')
				return fail(ps, "expected a member name");
			if ((rc = parse_string(ps, &v->keys[v->n_children - 1], &klen)) != 0)
				return rc;
			skip_ws(ps);
			if (ps->pos >= ps->len || ps->p[ps->pos] != ':')
				return fail(ps, "expected ':'");
			ps->pos++;
		}
		if ((rc = parse_value(ps, c, depth + 1)) != 0)
			return rc;
		skip_ws(ps);
		if (ps->pos >= ps->len)
			return fail(ps, object ? "unterminated object" : "unterminated array");
		if (ps->p[ps->pos] == close) {
			ps->pos++;
			return 0;
		}
		if (ps->p[ps->pos] != ',')
			return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
		ps->pos++;
	}
}

static int parse_value(parser *ps, cairn_json *v, int depth)
{
	skip_ws(ps);
	if (ps->pos >= ps->len)
		return fail(ps, "unexpected end of input");
	switch (ps->p[ps->pos]) {
	case '{':
	case '[':
		return parse_container(ps, v, depth);
	case '"':
		v->type = CAIRN_JSON_STRING;
		return parse_string(ps, &v->string, &v->string_len);
	case 't':
		v->type = CAIRN_JSON_BOOL;
		v->boolean = 1;
		return literal(ps, "true");
	case 'f':
		v->type = CAIRN_JSON_BOOL;
		return literal(ps, "false");
	case 'n':
		v->type = CAIRN_JSON_NULL;
		return literal(ps, "null");
	default:
		return parse_number(ps, v);
	}
}

int cairn_json_parse(cairn_json **out, const char *text, size_t len)
{
	parser ps = {(const uint8_t *)text, len, 0};
	cairn_json *v = NULL;
	int rc;

	*out = NULL;
	if (len > TEXT_MAX)
		return cairn_error_set(CAIRN_ECORRUPT, "json: document of %zu bytes is too large",
		                       len);
	v = calloc(1, sizeof(*v));
	if (!v)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = parse_value(&ps, v, 0)) != 0)
		goto out;
	skip_ws(&ps);
	if (ps.pos != ps.len) {
		rc = fail(&ps, "trailing characters after the value");
		goto out;
	}
	*out = v;
	v = NULL;
out:
	cairn_json_free(v);
	return rc;
}

void cairn_json_free(cairn_json *v)
{
	if (!v)
		return;
	value_clear(v);
	free(v);
}

const cairn_json *cairn_json_get(const cairn_json *obj, const char *key)
{
	if (!obj || obj->type != CAIRN_JSON_OBJECT)
		return NULL;
	size_t klen = strlen(key);
	for (size_t i = 0; i < obj->n_children; i++)
		if (strlen(obj->keys[i]) == klen && memcmp(obj->keys[i], key, klen) == 0)
			return &obj->children[i];
	return NULL;
}

int cairn_json_get_string(const cairn_json *obj, const char *key, const char **out)
{
	const cairn_json *v = cairn_json_get(obj, key);
	if (!v || v->type != CAIRN_JSON_STRING)
		return cairn_error_set(CAIRN_ECORRUPT, "json: \"%s\" is missing or not a string",
		                       key);
	*out = v->string;
	return 0;
}

int cairn_json_get_int(const cairn_json *obj, const char *key, int64_t *out)
{
	const cairn_json *v = cairn_json_get(obj, key);
	if (!v || v->type != CAIRN_JSON_NUMBER || !v->is_integer)
		return cairn_error_set(CAIRN_ECORRUPT, "json: \"%s\" is missing or not an integer",
		                       key);
	*out = v->integer;
	return 0;
}

int cairn_json_get_uint(const cairn_json *obj, const char *key, uint64_t *out)
{
	const cairn_json *v = cairn_json_get(obj, key);
	if (!v || v->type != CAIRN_JSON_NUMBER || !v->is_integer || v->integer < 0)
		return cairn_error_set(
		    CAIRN_ECORRUPT, "json: \"%s\" is missing or not a non-negative integer", key);
	*out = (uint64_t)v->integer;
	return 0;
}

int cairn_json_strings(cairn_buf *b, char *const *v, size_t n)
{
	int rc = cairn_buf_append_u8(b, '[');
	for (size_t i = 0; !rc && i < n; i++) {
		if (i)
			rc = cairn_buf_append_u8(b, ',');
		if (!rc)
			rc = cairn_json_string(b, v[i]);
	}
	return rc ? rc : cairn_buf_append_u8(b, ']');
}

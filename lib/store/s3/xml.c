/* A small reader for the XML that S3 answers with: only what
 * ListObjectsV2 and error documents need, the text of simple elements,
 * found by name between two bounds. Pure. */
#include "store/s3/s3_internal.h"

#include "cairn/errors.h"
#include "util/buf.h"

#include <stdio.h>
#include <string.h>

static const char *find_bytes(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);
	if (p >= end || (size_t)(end - p) < n)
		return NULL;
	return memmem(p, (size_t)(end - p), needle, n);
}

/* The text of the first <name>...</name> in [p, end): *text and *len, and
 * *after just past the closing tag. 0 if found. */
static int find_element(const char *p, const char *end, const char *name, const char **text,
                        size_t *len, const char **after)
{
	char open[64], close[64];
	snprintf(open, sizeof(open), "<%s>", name);
	snprintf(close, sizeof(close), "</%s>", name);
	const char *o = find_bytes(p, end, open);
	if (!o)
		return -1;
	const char *t = o + strlen(open);
	const char *c = find_bytes(t, end, close);
	if (!c)
		return -1;
	*text = t;
	*len = (size_t)(c - t);
	if (after)
		*after = c + strlen(close);
	return 0;
}

/* Appends XML character data with its entities decoded; a NUL stays out
 * so that the result is a C string. CAIRN_ECORRUPT for a bad entity. */
static int xml_text(cairn_buf *out, const char *s, size_t n)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if (s[i] != '&') {
			if (s[i] == '\0')
				return CAIRN_ECORRUPT;
			rc = cairn_buf_append_u8(out, (uint8_t)s[i]);
			continue;
		}
		const char *e = s + i + 1;
		size_t left = n - i - 1, k;
		for (k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
			size_t nl = strlen(named[k].name);
			if (left >= nl && memcmp(e, named[k].name, nl) == 0) {
				rc = cairn_buf_append_u8(out, (uint8_t)named[k].c);
				i += nl;
				break;
			}
		}
		if (k < sizeof(named) / sizeof(named[0]))
			continue;
		/* &#NNN; or &#xHH; */
		if (left < 3 || e[0] != '#')
			return CAIRN_ECORRUPT;
		size_t j = 1;
		int base = 10;
		if (e[1] == 'x' || e[1] == 'X') {
			base = 16;
			j = 2;
		}
		uint32_t v = 0;
		size_t digits = 0;
		for (; j < left && e[j] != ';'; j++, digits++) {
			int d;
			char c = e[j];
			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (base == 16 && c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else if (base == 16 && c >= 'A' && c <= 'F')
				d = c - 'A' + 10;
			else
				return CAIRN_ECORRUPT;
			if (digits >= 8)
				return CAIRN_ECORRUPT;
			v = v * (uint32_t)base + (uint32_t)d;
		}
		if (j >= left || digits == 0 || v == 0 || v > 0x10ffff ||
		    (v >= 0xd800 && v <= 0xdfff))
			return CAIRN_ECORRUPT;
		rc = cairn_buf_append_utf8(out, v);
		i += j + 1;
	}
	if (!rc)
		rc = cairn_buf_append_str(out, "");
	return rc;
}

int cairn_s3__parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	/* Whitespace around the number is allowed by XML, not produced by S3. */
	while (n > 0 && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int cairn_s3__list_parse(const char *xml, size_t len, cairn_store_list_cb cb, void *ud,
                         int *truncated, cairn_buf *next_token)
{
	const char *end = xml + len, *t, *after;
	size_t tl;
	cairn_buf key = CAIRN_BUF_INIT;
	int rc = 0;

	*truncated = 0;
	cairn_buf_clear(next_token);
	if ((rc = cairn_buf_append_str(next_token, "")))
		return rc;
	const char *body = find_bytes(xml, end, "<ListBucketResult");
	if (!body)
		return cairn_error_set(CAIRN_ECORRUPT, "not a ListObjectsV2 answer");
	const char *body_end = find_bytes(body, end, "</ListBucketResult>");
	if (!body_end)
		return cairn_error_set(CAIRN_ECORRUPT, "truncated ListObjectsV2 answer");

	/* The page's own fields come before or after the entries; look for
	 * them outside every <Contents> element. */
	const char *p = body;
	for (;;) {
		const char *c = find_bytes(p, body_end, "<Contents>");
		const char *stop = c ? c : body_end;
		if (find_element(p, stop, "IsTruncated", &t, &tl, NULL) == 0)
			*truncated = tl == 4 && memcmp(t, "true", 4) == 0;
		if (find_element(p, stop, "NextContinuationToken", &t, &tl, NULL) == 0) {
			cairn_buf_clear(next_token);
			if (xml_text(next_token, t, tl)) {
				rc = cairn_error_set(CAIRN_ECORRUPT,
				                     "bad continuation token in a listing");
				goto out;
			}
		}
		if (!c)
			break;
		const char *ce = find_bytes(c, body_end, "</Contents>");
		if (!ce) {
			rc = cairn_error_set(CAIRN_ECORRUPT, "truncated <Contents> in a listing");
			goto out;
		}
		uint64_t size;
		if (find_element(c, ce, "Key", &t, &tl, NULL) != 0) {
			rc = cairn_error_set(CAIRN_ECORRUPT, "a listing entry without <Key>");
			goto out;
		}
		cairn_buf_clear(&key);
		if (tl > 6 * CAIRN_S3_KEY_MAX || xml_text(&key, t, tl) || key.len == 0 ||
		    key.len > CAIRN_S3_KEY_MAX) {
			rc = cairn_error_set(CAIRN_ECORRUPT, "a bad key in a listing");
			goto out;
		}
		if (find_element(c, ce, "Size", &t, &tl, &after) != 0 ||
		    cairn_s3__parse_u64(t, tl, &size)) {
			rc = cairn_error_set(CAIRN_ECORRUPT, "a listing entry (%s) without a size",
			                     (const char *)key.data);
			goto out;
		}
		rc = cb((const char *)key.data, size, ud);
		if (rc)
			goto out;
		p = ce + strlen("</Contents>");
	}
out:
	cairn_buf_free(&key);
	return rc;
}

void cairn_s3__error_message(char *out, size_t size, const char *body, size_t len)
{
	const char *end = body + len, *t;
	size_t tl;
	cairn_buf msg = CAIRN_BUF_INIT;

	out[0] = '\0';
	const char *e = find_bytes(body, end, "<Error>");
	if (!e)
		return;
	int ok = 1;
	if (find_element(e, end, "Code", &t, &tl, NULL) == 0)
		ok = xml_text(&msg, t, tl) == 0;
	if (ok && find_element(e, end, "Message", &t, &tl, NULL) == 0) {
		if (msg.len)
			ok = cairn_buf_append(&msg, ": ", 2) == 0;
		ok = ok && xml_text(&msg, t, tl) == 0;
	}
	if (ok && msg.len) {
		size_t n = msg.len < size - 1 ? msg.len : size - 1;
		/* Cut on a character boundary of UTF-8. */
		while (n > 0 && n < msg.len && (msg.data[n] & 0xc0) == 0x80)
			n--;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = msg.data[i];
			out[i] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
		}
		out[n] = '\0';
	}
	cairn_buf_free(&msg);
}

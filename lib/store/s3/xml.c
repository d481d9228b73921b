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

/* Drops the white space around s[0..*n): allowed by XML, not produced by
 * S3. */
static const char *trim(const char *s, size_t *n)
{
	while (*n > 0 && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) {
		s++;
		(*n)--;
	}
	while (*n > 0 &&
	       (s[*n - 1] == ' ' || s[*n - 1] == '\n' || s[*n - 1] == '\r' || s[*n - 1] == '\t'))
		(*n)--;
	return s;
}

int cairn_s3__parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	s = trim(s, &n);
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

/* The n decimal digits at s as a number; -1 if one is not a digit. */
static int digits(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil); no time zone, unlike timegm(). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The "Z" or "+hh:mm" / "-hh:mm" that ends a time, in seconds east of
 * UTC. */
static int parse_zone(const char *s, size_t n, int64_t *out)
{
	if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) {
		*out = 0;
		return 0;
	}
	if (n != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
		return -1;
	int h = digits(s + 1, 2), m = digits(s + 4, 2);
	if (h < 0 || h > 23 || m < 0 || m > 59)
		return -1;
	*out = (s[0] == '-' ? -1 : 1) * (int64_t)(h * 3600 + m * 60);
	return 0;
}

int cairn_s3__parse_time(const char *s, size_t n, int64_t *out)
{
	s = trim(s, &n);
	/* YYYY-MM-DDTHH:MM:SS, then maybe a fraction, then the zone */
	if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
	/* A leap second (60) counts as the next minute's first. */
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return -1;
	size_t i = 19;
	if (s[i] == '.') {
		size_t first = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == first)
			return -1;
	}
	int64_t zone;
	if (parse_zone(s + i, n - i, &zone))
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
	return 0;
}

/* The <LastModified> of the listing entry [c, ce) of key. */
static int entry_mtime(const char *c, const char *ce, const char *key, int64_t *out)
{
	const char *t;
	size_t tl;
	if (find_element(c, ce, "LastModified", &t, &tl, NULL) != 0)
		return cairn_error_set(CAIRN_ECORRUPT,
		                       "a listing entry (%s) without <LastModified>", key);
	if (cairn_s3__parse_time(t, tl, out) == 0)
		return 0;
	char shown[41];
	size_t n = tl < sizeof(shown) - 1 ? tl : sizeof(shown) - 1;
	for (size_t i = 0; i < n; i++)
		shown[i] = (unsigned char)t[i] < 0x20 || t[i] == 0x7f ? '?' : t[i];
	shown[n] = '\0';
	return cairn_error_set(CAIRN_ECORRUPT,
	                       "a listing entry (%s) with a bad <LastModified> '%s%s' (not an "
	                       "ISO 8601 time such as 2026-12-07T10:37:36.000Z)",
	                       key, shown, tl > n ? "..." : "");
}

int cairn_s3__list_parse(const char *xml, size_t len, int with_mtime, cairn_store_item_cb cb,
                         void *ud, int *truncated, cairn_buf *next_token)
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
		cairn_store_item item = {.key = (const char *)key.data, .size = size, .mtime = 0};
		if (with_mtime && (rc = entry_mtime(c, ce, item.key, &item.mtime)))
			goto out;
		rc = cb(&item, ud);
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

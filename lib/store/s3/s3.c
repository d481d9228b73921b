/* The S3-compatible store: one object per key under a bucket and prefix,
 * spoken to over HTTP(S) with libcurl, which also signs every request
 * (AWS Signature Version 4, CURLOPT_AWS_SIGV4).
 *
 * Requests run on a pool of curl easy handles, each keeping its
 * connection alive between requests; a caller waits for a free handle when
 * all of them are busy, which bounds the requests (and their buffers) in
 * flight. A request that fails in a way that may pass (a reset or refused
 * connection, a stall, HTTP 5xx, 408, 429, SlowDown) is tried again after
 * a random, growing delay (net/http.h).
 *
 * S3 makes a PUT visible whole or not at all, so a failed upload never
 * leaves a torn object under its final name. Write-once puts ask the
 * server to refuse an existing key (If-None-Match: *), but many servers
 * ignore that header, so such a put first checks that the key is free; the
 * answer a retried put gets for its own earlier, lost success is told
 * apart by comparing the stored bytes. */
#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "cairn/store.h"
#include "util/hex.h"
#include "net/curl_api.h"
#include "net/http.h"
#include "net/retry.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define KEY_MAX 1024
#define HOST_MAX 255
#define BUCKET_MAX 255
#define LIST_PAGE_MAX (16u << 20) /* bytes of one listing page */
#define ERROR_BODY_MAX 16384
#define OBJECT_MAX ((uint64_t)4 << 30) /* more than any object cairn writes */
#define TIMEOUT_DEFAULT 60             /* seconds without progress */
#define CONNECT_TIMEOUT_MAX 15
#define UPLOAD_BUFFER (256L << 10)
#define DOWNLOAD_BUFFER (256L << 10)
#define EXPECT_100_MS 300L

/* SHA-256 of no bytes, the payload hash of requests without a body. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct s3_store {
	cairn_store base;
	cairn_s3_location loc;
	char *display;  /* s3:scheme://host/bucket/prefix, for messages */
	char *base_url; /* scheme://host/bucket or scheme://bucket.host */
	char *sigv4;    /* "aws:amz:REGION:s3" */
	char *region;
	char *access_key, *secret_key;
	char *token_header; /* "x-amz-security-token: ...", or NULL */
	char *ca_bundle;
	long timeout; /* seconds */

	cairn_http_client http;

	/* Set once the server has refused If-None-Match as unsupported. */
	atomic_int no_conditional;
} s3_store;

/* ---- pure helpers ---- */

static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int cairn_s3__escape(cairn_buf *out, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int rc;
		if (is_unreserved(*p) || (keep_slash && *p == '/')) {
			rc = cairn_buf_append_u8(out, *p);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			rc = cairn_buf_append(out, e, 3);
		}
		if (rc)
			return rc;
	}
	/* Keeps the contents a C string. */
	return cairn_buf_append_str(out, "");
}

void cairn_s3__location_free(cairn_s3_location *loc)
{
	if (!loc)
		return;
	free(loc->scheme);
	free(loc->host);
	free(loc->bucket);
	free(loc->prefix);
	memset(loc, 0, sizeof(*loc));
}

static char *dup_range(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static int host_char_ok(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == ':' || c == '[' || c == ']';
}

static int bucket_char_ok(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* A prefix component may hold anything printable but '/', and may not be
 * "." or "..", which URL handling would resolve away. */
static const char *reason_bad_prefix(const char *p, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != '/') {
			unsigned char c = (unsigned char)p[i];
			if (c < 0x20 || c == 0x7f)
				return "a control character in the prefix";
			if (c == '?' || c == '#')
				return "'?' or '#' in the prefix";
			continue;
		}
		size_t len = i - start;
		if (len == 0)
			return "an empty component in the prefix";
		if ((len == 1 && p[start] == '.') ||
		    (len == 2 && p[start] == '.' && p[start + 1] == '.'))
			return "'.' or '..' in the prefix";
		start = i + 1;
	}
	return NULL;
}

static int parse_options(cairn_s3_location *loc, const char *q, const char *location)
{
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', n);
		size_t klen = eq ? (size_t)(eq - q) : n;
		const char *v = eq ? eq + 1 : q + n;
		size_t vlen = (size_t)(q + n - v);

		if (klen == 5 && strncmp(q, "style", 5) == 0 && vlen == 4 &&
		    strncmp(v, "path", 4) == 0) {
			loc->virtual_host = 0;
		} else if (klen == 5 && strncmp(q, "style", 5) == 0 && vlen == 7 &&
		           strncmp(v, "virtual", 7) == 0) {
			loc->virtual_host = 1;
		} else if (klen == 8 && strncmp(q, "max-keys", 8) == 0) {
			unsigned long m = 0;
			size_t i;
			for (i = 0; i < vlen && i < 5 && v[i] >= '0' && v[i] <= '9'; i++)
				m = m * 10 + (unsigned long)(v[i] - '0');
			if (vlen == 0 || i != vlen || m < 1 || m > 1000)
				return cairn_error_set(
				    CAIRN_EINVAL, "S3 location 's3:%s': max-keys must be 1 to 1000",
				    location);
			loc->max_keys = (unsigned)m;
		} else {
			return cairn_error_set(CAIRN_EINVAL,
			                       "S3 location 's3:%s': unknown option '%.*s' (known: "
			                       "style=path, style=virtual, max-keys=N)",
			                       location, (int)n, q);
		}
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

int cairn_s3__location_parse(cairn_s3_location *out, const char *location)
{
	const char *p = location;
	const char *scheme = "https";
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (strncasecmp(p, "https://", 8) == 0) {
		p += 8;
	} else if (strncasecmp(p, "http://", 7) == 0) {
		scheme = "http";
		p += 7;
	} else if (strstr(p, "://")) {
		return cairn_error_set(CAIRN_EINVAL,
		                       "S3 location 's3:%s': the scheme must be http or https",
		                       location);
	}

	size_t hlen = strcspn(p, "/?#");
	if (hlen == 0)
		return cairn_error_set(CAIRN_EINVAL, "S3 location 's3:%s' has no host", location);
	if (hlen > HOST_MAX)
		return cairn_error_set(CAIRN_EINVAL, "S3 location 's3:%s': host name too long",
		                       location);
	for (size_t i = 0; i < hlen; i++) {
		if (p[i] == '@')
			return cairn_error_set(CAIRN_EINVAL,
			                       "S3 location 's3:%s': credentials do not belong in "
			                       "the location; set AWS_ACCESS_KEY_ID and "
			                       "AWS_SECRET_ACCESS_KEY",
			                       location);
		if (!host_char_ok((unsigned char)p[i]))
			return cairn_error_set(CAIRN_EINVAL,
			                       "S3 location 's3:%s': bad character in the host",
			                       location);
	}
	const char *host = p;
	const char *colon = memrchr(host, ':', hlen);
	const char *bracket = memrchr(host, ']', hlen);
	if (colon && (!bracket || colon > bracket)) {
		size_t digits = hlen - (size_t)(colon + 1 - host);
		int ok = digits >= 1 && digits <= 5;
		for (size_t i = 0; ok && i < digits; i++)
			ok = colon[1 + i] >= '0' && colon[1 + i] <= '9';
		if (!ok)
			return cairn_error_set(CAIRN_EINVAL, "S3 location 's3:%s': bad port",
			                       location);
	}
	p += hlen;
	if (*p != '/')
		return cairn_error_set(CAIRN_EINVAL,
		                       "S3 location 's3:%s' has no bucket (s3:http[s]://HOST[:PORT]"
		                       "/BUCKET[/PREFIX])",
		                       location);
	p++;
	size_t blen = strcspn(p, "/?#");
	if (blen == 0)
		return cairn_error_set(CAIRN_EINVAL, "S3 location 's3:%s' has no bucket", location);
	if (blen > BUCKET_MAX)
		return cairn_error_set(CAIRN_EINVAL, "S3 location 's3:%s': bucket name too long",
		                       location);
	for (size_t i = 0; i < blen; i++)
		if (!bucket_char_ok((unsigned char)p[i]))
			return cairn_error_set(CAIRN_EINVAL,
			                       "S3 location 's3:%s': bad character in the bucket "
			                       "name",
			                       location);
	const char *bucket = p;
	p += blen;

	const char *prefix = "";
	size_t plen = 0;
	if (*p == '/') {
		p++;
		prefix = p;
		plen = strcspn(p, "?#");
		/* A trailing slash names the same prefix as none. */
		while (plen > 0 && prefix[plen - 1] == '/')
			plen--;
		p += strcspn(p, "?#");
		if (plen > 0) {
			const char *why = reason_bad_prefix(prefix, plen);
			if (why)
				return cairn_error_set(CAIRN_EINVAL, "S3 location 's3:%s': %s",
				                       location, why);
		}
		if (plen > KEY_MAX / 2)
			return cairn_error_set(CAIRN_EINVAL, "S3 location 's3:%s': prefix too long",
			                       location);
	}
	if (*p == '#')
		return cairn_error_set(CAIRN_EINVAL, "S3 location 's3:%s': unexpected '#'",
		                       location);

	out->scheme = strdup(scheme);
	out->host = dup_range(host, hlen);
	out->bucket = dup_range(bucket, blen);
	out->prefix = malloc(plen + 2);
	if (!out->scheme || !out->host || !out->bucket || !out->prefix) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	/* Host names are case-insensitive; the signature covers the Host
	 * header as sent, so one spelling is kept. */
	for (char *h = out->host; *h; h++)
		if (*h >= 'A' && *h <= 'Z')
			*h = (char)(*h - 'A' + 'a');
	memcpy(out->prefix, prefix, plen);
	if (plen)
		out->prefix[plen++] = '/';
	out->prefix[plen] = '\0';
	if (*p == '?')
		rc = parse_options(out, p + 1, location);
out:
	if (rc)
		cairn_s3__location_free(out);
	return rc;
}

/* ---- a small reader for the XML that S3 answers with ----
 *
 * Only what ListObjectsV2 and error documents need: the text of simple
 * elements, found by name between two bounds. */

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
		uint8_t u[4];
		size_t ul;
		if (v < 0x80) {
			u[0] = (uint8_t)v;
			ul = 1;
		} else if (v < 0x800) {
			u[0] = (uint8_t)(0xc0 | v >> 6);
			u[1] = (uint8_t)(0x80 | (v & 0x3f));
			ul = 2;
		} else if (v < 0x10000) {
			u[0] = (uint8_t)(0xe0 | v >> 12);
			u[1] = (uint8_t)(0x80 | (v >> 6 & 0x3f));
			u[2] = (uint8_t)(0x80 | (v & 0x3f));
			ul = 3;
		} else {
			u[0] = (uint8_t)(0xf0 | v >> 18);
			u[1] = (uint8_t)(0x80 | (v >> 12 & 0x3f));
			u[2] = (uint8_t)(0x80 | (v >> 6 & 0x3f));
			u[3] = (uint8_t)(0x80 | (v & 0x3f));
			ul = 4;
		}
		rc = cairn_buf_append(out, u, ul);
		i += j + 1;
	}
	if (!rc)
		rc = cairn_buf_append_str(out, "");
	return rc;
}

static int parse_u64(const char *s, size_t n, uint64_t *out)
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
		if (tl > 6 * KEY_MAX || xml_text(&key, t, tl) || key.len == 0 ||
		    key.len > KEY_MAX) {
			rc = cairn_error_set(CAIRN_ECORRUPT, "a bad key in a listing");
			goto out;
		}
		if (find_element(c, ce, "Size", &t, &tl, &after) != 0 || parse_u64(t, tl, &size)) {
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

/* ---- one request, tried until it succeeds or cannot ---- */

typedef struct s3_request {
	/* in */
	const char *method;     /* GET PUT HEAD DELETE */
	const char *verb;       /* for messages: "read", "write", ... */
	const char *key;        /* under the prefix; NULL for the bucket itself */
	const char *query;      /* canonical: sorted, escaped; NULL for none */
	const cairn_iovec *iov; /* the body of a PUT, in pieces (n_iov of them) */
	size_t n_iov;
	size_t body_len;
	int has_body;
	const uint8_t *body_sha; /* the body's SHA-256 if known, else NULL */
	int if_none_match;
	int ranged;
	uint64_t offset, length; /* of the range; length UINT64_MAX: to the end */
	cairn_buf *out;          /* the body of a 2xx answer; NULL: dropped */
	uint64_t out_max;

	/* out */
	long status;
	int attempts;
	int maybe_applied;       /* a failed try may still have reached the server */
	uint64_t content_length; /* of a HEAD answer; UINT64_MAX if not given */
	char detail[512];        /* the server's "Code: Message", or curl's reason */
	char code[64];           /* the server's error code */
} s3_request;

/* What one try has sent and received so far. */
typedef struct transfer {
	s3_store *s;
	s3_request *req;
	CURL *h;
	/* upload: piece number and offset in it */
	size_t piece, piece_pos;
	/* download */
	cairn_buf err;
	uint64_t window_skip; /* body bytes to drop first (a 200 to a ranged GET) */
	uint64_t body_pos;
	uint64_t cr_start; /* Content-Range start, UINT64_MAX if none */
	int too_big;
	int started;
	long status;
} transfer;

static size_t on_read(char *dst, size_t size, size_t n, void *ud)
{
	transfer *t = ud;
	const s3_request *r = t->req;
	size_t want = size * n, done = 0;
	while (done < want && t->piece < r->n_iov) {
		const cairn_iovec *v = &r->iov[t->piece];
		size_t k = v->len - t->piece_pos;
		if (k > want - done)
			k = want - done;
		if (k && cairn_iov_read(v, t->piece_pos, dst + done, k) != 0)
			return CURL_READFUNC_ABORT;
		done += k;
		t->piece_pos += k;
		if (t->piece_pos == v->len) {
			t->piece++;
			t->piece_pos = 0;
		}
	}
	return done;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
	transfer *t = ud;
	const s3_request *r = t->req;
	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > r->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	size_t left = (size_t)offset;
	t->piece = 0;
	t->piece_pos = 0;
	while (t->piece < r->n_iov && left >= r->iov[t->piece].len) {
		left -= r->iov[t->piece].len;
		t->piece++;
	}
	t->piece_pos = left;
	return CURL_SEEKFUNC_OK;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
	transfer *t = ud;
	size_t len = size * n;
	static const char cr[] = "content-range:";
	if (len > sizeof(cr) - 1 && strncasecmp(line, cr, sizeof(cr) - 1) == 0) {
		/* "Content-Range: bytes START-END/TOTAL" */
		const char *p = line + sizeof(cr) - 1, *end = line + len;
		while (p < end && *p == ' ')
			p++;
		if (end - p > 6 && strncmp(p, "bytes ", 6) == 0) {
			p += 6;
			const char *d = memchr(p, '-', (size_t)(end - p));
			uint64_t v;
			if (d && parse_u64(p, (size_t)(d - p), &v) == 0)
				t->cr_start = v;
		}
	}
	return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
	transfer *t = ud;
	s3_request *r = t->req;
	size_t len = size * n;
	if (!t->started) {
		t->started = 1;
		cairn_curl.easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &t->status);
		/* A server that ignores Range sends the whole object. */
		if (t->status == 200 && r->ranged)
			t->window_skip = r->offset;
	}
	if (t->status < 200 || t->status > 299) {
		size_t room = ERROR_BODY_MAX - t->err.len;
		if (room > len)
			room = len;
		if (room && cairn_buf_append(&t->err, data, room))
			return 0;
		return len;
	}
	if (!r->out)
		return len;

	uint64_t pos = t->body_pos;
	t->body_pos += len;
	if (t->body_pos <= t->window_skip)
		return len;
	if (pos < t->window_skip) {
		data += t->window_skip - pos;
		len -= (size_t)(t->window_skip - pos);
	}
	uint64_t have = r->out->len;
	if (have + len > r->out_max) {
		/* More than asked: an error for a 206, the unwanted rest of the
		 * object for a 200 to a ranged read. */
		if (t->status != 200 || !r->ranged) {
			t->too_big = 1;
			return 0;
		}
		len = (size_t)(r->out_max - have);
	}
	if (have == 0 && len) {
		curl_off_t cl = -1;
		cairn_curl.easy_getinfo(t->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		uint64_t want = cl > 0 ? (uint64_t)cl : 0;
		if (want > r->out_max)
			want = r->out_max;
		if (want > len && cairn_buf_reserve(r->out, (size_t)want))
			return 0;
	}
	if (len && cairn_buf_append(r->out, data, len))
		return 0;
	return size * n;
}

/* Before each try: what the last one received is forgotten. */
static void restart(void *ud)
{
	transfer *t = ud;
	cairn_buf err = t->err;
	cairn_buf_clear(&err);
	*t = (transfer){.s = t->s, .req = t->req, .err = err, .cr_start = UINT64_MAX};
	if (t->req->out)
		cairn_buf_clear(t->req->out);
	t->req->detail[0] = '\0';
	t->req->code[0] = '\0';
}

/* The options of S3 requests that other HTTP clients do not share. */
static void prepare(CURL *h, void *ud)
{
	transfer *t = ud;
	const s3_store *s = t->s;
	t->h = h;
	cairn_curl.easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
	cairn_curl.easy_setopt(h, CURLOPT_USERNAME, s->access_key);
	cairn_curl.easy_setopt(h, CURLOPT_PASSWORD, s->secret_key);
	cairn_curl.easy_setopt(h, CURLOPT_USERAGENT, "cairn");
	cairn_curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	cairn_curl.easy_setopt(h, CURLOPT_BUFFERSIZE, DOWNLOAD_BUFFER);
	if (t->req->has_body) {
		cairn_curl.easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER);
		/* A refused upload (bad credentials, say) then ends before its
		 * body is sent; servers that never answer "100 Continue" cost
		 * this long per upload. */
		cairn_curl.easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, EXPECT_100_MS);
	}
}

static void copy_code(s3_request *r, const char *detail)
{
	size_t n = strcspn(detail, ":");
	if (n >= sizeof(r->code))
		n = 0;
	memcpy(r->code, detail, n);
	r->code[n] = '\0';
}

/* An answer other than 2xx: the server's reason, and whether it may pass.
 * AWS answers 400 RequestTimeout or SlowDown to a client too slow to send. */
static int retry_answer(long status, void *ud)
{
	transfer *t = ud;
	s3_request *r = t->req;
	if (status >= 200 && status <= 299)
		return 0;
	cairn_s3__error_message(r->detail, sizeof(r->detail), (const char *)t->err.data,
	                        t->err.len);
	copy_code(r, r->detail);
	if (cairn_retry_http_status(status))
		return 1;
	return status == 400 &&
	       (strcmp(r->code, "RequestTimeout") == 0 || strcmp(r->code, "SlowDown") == 0);
}

static int build_url(const s3_store *s, const s3_request *r, cairn_buf *url)
{
	int rc = cairn_buf_append_str(url, s->base_url);
	if (!rc && (r->key || s->loc.virtual_host))
		rc = cairn_buf_append_str(url, "/");
	if (!rc && r->key) {
		rc = cairn_s3__escape(url, s->loc.prefix, 1);
		if (!rc)
			rc = cairn_s3__escape(url, r->key, 1);
	}
	if (!rc && r->query) {
		rc = cairn_buf_append_str(url, "?");
		if (!rc)
			rc = cairn_buf_append_str(url, r->query);
	}
	return rc;
}

static int add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *n = cairn_curl.slist_append(*list, line);
	if (!n)
		return CAIRN_ENOMEM;
	*list = n;
	return 0;
}

/* The headers of r: the payload's hash, which is part of what is signed,
 * so that the server checks the body against it (x-amz-checksum-sha256
 * asks servers that know it to keep the checksum as well); the session
 * token, the write-once condition and the range. */
static int build_headers(const s3_store *s, const s3_request *r, struct curl_slist **headers)
{
	cairn_buf line = CAIRN_BUF_INIT;
	char sha_hex[2 * CAIRN_ID_SIZE + 1];
	int rc = 0;
	if (r->has_body) {
		uint8_t sha[CAIRN_ID_SIZE];
		char b64[sodium_base64_ENCODED_LEN(CAIRN_ID_SIZE, sodium_base64_VARIANT_ORIGINAL)];
		if (r->body_sha)
			memcpy(sha, r->body_sha, sizeof(sha));
		else if ((rc = cairn_sha256_iov(sha, r->iov, r->n_iov)))
			goto out;
		cairn_hex_encode(sha_hex, sha, sizeof(sha));
		sodium_bin2base64(b64, sizeof(b64), sha, sizeof(sha),
		                  sodium_base64_VARIANT_ORIGINAL);
		if ((rc = cairn_buf_printf(&line, "x-amz-checksum-sha256: %s", b64)) ||
		    (rc = add_header(headers, (const char *)line.data)))
			goto out;
	} else {
		memcpy(sha_hex, EMPTY_SHA256, sizeof(sha_hex));
	}
	cairn_buf_clear(&line);
	if ((rc = cairn_buf_printf(&line, "x-amz-content-sha256: %s", sha_hex)) ||
	    (rc = add_header(headers, (const char *)line.data)))
		goto out;
	if (s->token_header && (rc = add_header(headers, s->token_header)))
		goto out;
	if (r->if_none_match && (rc = add_header(headers, "If-None-Match: *")))
		goto out;
	if (r->ranged) {
		cairn_buf_clear(&line);
		if (r->length == UINT64_MAX)
			rc = cairn_buf_printf(&line, "Range: bytes=%llu-",
			                      (unsigned long long)r->offset);
		else
			rc = cairn_buf_printf(&line, "Range: bytes=%llu-%llu",
			                      (unsigned long long)r->offset,
			                      (unsigned long long)(r->offset + r->length - 1));
		if (rc || (rc = add_header(headers, (const char *)line.data)))
			goto out;
	}
out:
	cairn_buf_free(&line);
	return rc;
}

/* Runs r until it gets an answer that retrying would not change. 0 with
 * r->status set (any HTTP status), or a code with the message set. */
static int perform(s3_store *s, s3_request *r)
{
	struct curl_slist *headers = NULL;
	cairn_buf url = CAIRN_BUF_INIT;
	transfer t = {.s = s, .req = r};
	int rc;

	r->status = 0;
	r->attempts = 0;
	r->maybe_applied = 0;
	r->detail[0] = '\0';
	r->code[0] = '\0';
	if ((rc = build_url(s, r, &url)) || (rc = build_headers(s, r, &headers)))
		goto out;

	cairn_http_request h = {.method = r->method,
	                        .url = (const char *)url.data,
	                        .headers = headers,
	                        .body_len = r->body_len,
	                        .read = r->has_body ? on_read : NULL,
	                        .seek = r->has_body ? on_seek : NULL,
	                        .on_body = on_write,
	                        .on_header = on_header,
	                        .restart = restart,
	                        .prepare = prepare,
	                        .retry_answer = retry_answer,
	                        .ud = &t};
	rc = cairn_http_perform(&s->http, &h);
	r->status = h.status;
	r->attempts = h.attempts;
	r->maybe_applied = h.maybe_applied;
	r->content_length = h.content_length;
	if (rc) {
		snprintf(r->detail, sizeof(r->detail), "%s", h.reason);
		if (t.too_big) {
			rc = cairn_error_set(CAIRN_EIO, "the answer is larger than %llu bytes",
			                     (unsigned long long)r->out_max);
			if (r->attempts > 1)
				cairn_error_prefix(rc, "after %d tries", r->attempts);
		}
		goto out;
	}
	if (r->ranged && r->status == 206 && t.cr_start != UINT64_MAX && t.cr_start != r->offset)
		rc = cairn_error_set(CAIRN_EIO, "the server sent bytes from %llu, not %llu",
		                     (unsigned long long)t.cr_start, (unsigned long long)r->offset);
out:
	cairn_buf_free(&t.err);
	cairn_buf_free(&url);
	cairn_curl.slist_free_all(headers);
	return rc;
}

/* The message for a request that ended with an unwanted HTTP status. */
static int fail_status(s3_store *s, const s3_request *r, const char *what)
{
	const char *reason = r->detail[0] ? r->detail : "no reason given";
	int code = CAIRN_EIO;
	if (r->status == 404 && strcmp(r->code, "NoSuchBucket") == 0)
		code = CAIRN_ENOREPO;
	if (r->attempts > 1)
		return cairn_error_set(code, "cannot %s %s%s: %s (HTTP %ld, after %d tries)",
		                       r->verb, s->display, what, reason, r->status, r->attempts);
	return cairn_error_set(code, "cannot %s %s%s: %s (HTTP %ld)", r->verb, s->display, what,
	                       reason, r->status);
}

/* HEAD answers have no body: ask again with GET for the server's reason. */
static void explain_head(s3_store *s, s3_request *head)
{
	s3_request g = {.method = "GET",
	                .verb = head->verb,
	                .key = head->key,
	                .query = head->query,
	                .ranged = 1,
	                .offset = 0,
	                .length = 1};
	cairn_buf sink = CAIRN_BUF_INIT;
	g.out = &sink;
	g.out_max = 1;
	if (perform(s, &g) == 0 && g.status == head->status && g.detail[0]) {
		memcpy(head->detail, g.detail, sizeof(head->detail));
		memcpy(head->code, g.code, sizeof(head->code));
	}
	cairn_buf_free(&sink);
	cairn_error_clear();
}

/* ---- the store operations ---- */

static int check_key(const s3_store *s, const char *key, int allow_prefix)
{
	size_t n = strlen(key);
	const char *why = NULL;
	if (n == 0 && !allow_prefix)
		why = "empty key";
	else if (n + strlen(s->loc.prefix) > KEY_MAX)
		why = "key too long";
	else if (n && key[0] == '/')
		why = "absolute key";
	else if (strstr(key, "//"))
		why = "empty path component";
	else if (strstr(key, ".."))
		why = "'..' in key";
	else if ((n && key[0] == '.') || strstr(key, "/."))
		why = "path component starting with '.'";
	else if (!allow_prefix && key[n - 1] == '/')
		why = "key ends with '/'";
	for (size_t i = 0; !why && i < n; i++)
		if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
			why = "control character in key";
	if (why)
		return cairn_error_set(CAIRN_EINVAL, "invalid store key '%s' in %s: %s", key,
		                       s->display, why);
	return 0;
}

static int s3_stat(cairn_store *st, const char *key, uint64_t *size_out)
{
	s3_store *s = (s3_store *)st;
	int rc = check_key(s, key, 0);
	if (rc)
		return rc;
	s3_request r = {.method = "HEAD", .verb = "stat", .key = key};
	if ((rc = perform(s, &r)))
		return cairn_error_prefix(rc, "cannot stat %s%s", s->display, key);
	if (r.status == 404)
		return cairn_error_set(CAIRN_ENOTFOUND, "no object %s%s", s->display, key);
	if (r.status != 200) {
		explain_head(s, &r);
		return fail_status(s, &r, key);
	}
	if (r.content_length == UINT64_MAX)
		return cairn_error_set(CAIRN_EIO, "cannot stat %s%s: the server gave no size",
		                       s->display, key);
	*size_out = r.content_length;
	return 0;
}

static int s3_get(cairn_store *st, const char *key, uint64_t offset, uint64_t length,
                  cairn_buf *out)
{
	s3_store *s = (s3_store *)st;
	uint64_t size;
	int rc = check_key(s, key, 0);
	cairn_buf_clear(out);
	if (rc)
		return rc;
	if (length == 0)
		return s3_stat(st, key, &size);

	s3_request r = {.method = "GET", .verb = "read", .key = key, .out = out};
	r.out_max = OBJECT_MAX;
	if (offset > 0 || length != CAIRN_GET_ALL) {
		r.ranged = 1;
		r.offset = offset;
		/* UINT64_MAX: to the end. */
		r.length = length > UINT64_MAX - offset ? UINT64_MAX : length;
		if (r.length < r.out_max)
			r.out_max = r.length;
	}
	if (r.out_max > SIZE_MAX / 2)
		r.out_max = SIZE_MAX / 2;
	if ((rc = perform(s, &r))) {
		cairn_error_prefix(rc, "cannot read %s%s", s->display, key);
		goto fail;
	}
	if (r.status == 404 && strcmp(r.code, "NoSuchBucket") != 0) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "no object %s%s", s->display, key);
		goto fail;
	}
	/* The range starts past the end: there is nothing to give. */
	if (r.status == 416) {
		cairn_buf_clear(out);
		return 0;
	}
	if (r.status != 200 && r.status != 206) {
		rc = fail_status(s, &r, key);
		goto fail;
	}
	return 0;
fail:
	cairn_buf_clear(out);
	return rc;
}

/* After a retried write-once put was refused: the refusal may be of the
 * bytes that an earlier, lost try stored. 1 if the stored object is the
 * body. */
struct compare {
	const uint8_t *stored;
	size_t at;
};

static int compare_next(void *ud, const uint8_t *p, size_t len)
{
	struct compare *c = ud;
	int differs = memcmp(c->stored + c->at, p, len) != 0;
	c->at += len;
	return differs;
}

static int stored_equals(s3_store *s, const char *key, const cairn_iovec *iov, size_t n, size_t len)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int same = 0;
	if (s3_get(&s->base, key, 0, (uint64_t)len + 1, &b) == 0 && b.len == len) {
		struct compare c = {b.data, 0};
		same = cairn_iov_each(iov, n, compare_next, &c) == 0;
	}
	cairn_buf_free(&b);
	cairn_error_clear();
	return same;
}

/* put of the concatenation of the n pieces; sha: its SHA-256 when the
 * caller has it, else NULL. */
static int put_pieces(cairn_store *st, const char *key, const cairn_iovec *iov, size_t n,
                      unsigned flags, const uint8_t *sha)
{
	s3_store *s = (s3_store *)st;
	int rc = check_key(s, key, 0);
	uint64_t size;
	size_t len = 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (iov[i].len > SIZE_MAX - len)
			return cairn_error_set(CAIRN_EINVAL, "cannot write %s%s: too large",
			                       s->display, key);
		len += iov[i].len;
	}
	int once = (flags & CAIRN_PUT_ONCE) != 0;
	if (once) {
		rc = s3_stat(st, key, &size);
		if (rc == 0)
			return cairn_error_set(CAIRN_EEXISTS, "object %s%s already exists",
			                       s->display, key);
		if (rc != CAIRN_ENOTFOUND)
			return rc;
		cairn_error_clear();
	}

	s3_request r = {.method = "PUT",
	                .verb = "write",
	                .key = key,
	                .iov = iov,
	                .n_iov = n,
	                .body_len = len,
	                .has_body = 1,
	                .body_sha = sha,
	                .if_none_match = once && !atomic_load(&s->no_conditional)};
	if ((rc = perform(s, &r)))
		return cairn_error_prefix(rc, "cannot write %s%s", s->display, key);
	if (r.status == 501 && r.if_none_match) {
		/* Servers from before conditional writes refuse the header. */
		atomic_store(&s->no_conditional, 1);
		r.if_none_match = 0;
		if ((rc = perform(s, &r)))
			return cairn_error_prefix(rc, "cannot write %s%s", s->display, key);
	}
	if (r.status == 412 && once) {
		if (r.maybe_applied && stored_equals(s, key, iov, n, len))
			return 0;
		return cairn_error_set(CAIRN_EEXISTS, "object %s%s already exists", s->display,
		                       key);
	}
	if (r.status != 200 && r.status != 201 && r.status != 204)
		return fail_status(s, &r, key);
	return 0;
}

static int s3_putv(cairn_store *st, const char *key, const cairn_iovec *iov, size_t n,
                   unsigned flags)
{
	return put_pieces(st, key, iov, n, flags, NULL);
}

/* A pack is named by the SHA-256 of its bytes, which is also the payload
 * hash that the request signs: hashed once, not once for each. */
static int s3_putv_named(cairn_store *st, const cairn_iovec *iov, size_t n,
                         cairn_store_name_fn name, uint8_t id_out[32], unsigned flags)
{
	char key[CAIRN_STORE_NAME_MAX];
	int rc = cairn_sha256_iov(id_out, iov, n);
	if (rc)
		return rc;
	name(key, id_out);
	return put_pieces(st, key, iov, n, flags, id_out);
}

static int s3_put(cairn_store *st, const char *key, const void *data, size_t len, unsigned flags)
{
	cairn_iovec one = {data, len};
	return s3_putv(st, key, &one, 1, flags);
}

static int s3_del(cairn_store *st, const char *key)
{
	s3_store *s = (s3_store *)st;
	int rc = check_key(s, key, 0);
	if (rc)
		return rc;
	s3_request r = {.method = "DELETE", .verb = "delete", .key = key};
	if ((rc = perform(s, &r)))
		return cairn_error_prefix(rc, "cannot delete %s%s", s->display, key);
	if (r.status == 404 && strcmp(r.code, "NoSuchBucket") != 0)
		return 0;
	if (r.status != 200 && r.status != 204)
		return fail_status(s, &r, key);
	return 0;
}

typedef struct list_ctx {
	s3_store *s;
	cairn_store_list_cb cb;
	void *ud;
	int stopped;
} list_ctx;

static int list_entry(const char *key, uint64_t size, void *ud)
{
	list_ctx *c = ud;
	size_t plen = strlen(c->s->loc.prefix);
	/* Keys outside the prefix, or ones cairn could not have written, are
	 * not objects of this store. */
	if (strncmp(key, c->s->loc.prefix, plen) != 0 || key[plen] == '\0')
		return 0;
	int rc = c->cb(key + plen, size, c->ud);
	if (rc)
		c->stopped = 1;
	return rc;
}

static int s3_list(cairn_store *st, const char *prefix, cairn_store_list_cb cb, void *ud)
{
	s3_store *s = (s3_store *)st;
	cairn_buf query = CAIRN_BUF_INIT, page = CAIRN_BUF_INIT, token = CAIRN_BUF_INIT;
	cairn_buf full = CAIRN_BUF_INIT, prev = CAIRN_BUF_INIT;
	list_ctx c = {.s = s, .cb = cb, .ud = ud};
	int rc = check_key(s, prefix, 1), truncated = 0;
	if (rc)
		return rc;
	if ((rc = cairn_buf_printf(&full, "%s%s", s->loc.prefix, prefix)) ||
	    (rc = cairn_buf_append_str(&token, "")))
		goto out;

	do {
		/* Parameters in sorted order, as the signature wants them. */
		cairn_buf_clear(&query);
		if (token.len) {
			if ((rc = cairn_buf_append_str(&query, "continuation-token=")) ||
			    (rc = cairn_s3__escape(&query, (const char *)token.data, 0)) ||
			    (rc = cairn_buf_append_str(&query, "&")))
				goto out;
		}
		if ((rc = cairn_buf_append_str(&query, "list-type=2")))
			goto out;
		if (s->loc.max_keys &&
		    (rc = cairn_buf_printf(&query, "&max-keys=%u", s->loc.max_keys)))
			goto out;
		if ((rc = cairn_buf_append_str(&query, "&prefix=")) ||
		    (rc = cairn_s3__escape(&query, (const char *)full.data, 0)))
			goto out;

		s3_request r = {.method = "GET",
		                .verb = "list",
		                .query = (const char *)query.data,
		                .out = &page,
		                .out_max = LIST_PAGE_MAX};
		if ((rc = perform(s, &r))) {
			cairn_error_prefix(rc, "cannot list %s%s", s->display, prefix);
			goto out;
		}
		if (r.status != 200) {
			rc = fail_status(s, &r, prefix);
			goto out;
		}
		cairn_buf_clear(&prev);
		if ((rc = cairn_buf_append(&prev, token.data, token.len)) ||
		    (rc = cairn_buf_append_str(&prev, "")))
			goto out;
		rc = cairn_s3__list_parse((const char *)page.data, page.len, list_entry, &c,
		                          &truncated, &token);
		if (rc) {
			if (!c.stopped)
				cairn_error_prefix(rc, "cannot list %s%s", s->display, prefix);
			goto out;
		}
		if (truncated &&
		    (token.len == 0 ||
		     (prev.len == token.len && memcmp(prev.data, token.data, token.len) == 0))) {
			rc = cairn_error_set(CAIRN_EIO,
			                     "cannot list %s%s: the server's listing does not "
			                     "advance",
			                     s->display, prefix);
			goto out;
		}
	} while (truncated);
out:
	cairn_buf_free(&query);
	cairn_buf_free(&page);
	cairn_buf_free(&token);
	cairn_buf_free(&full);
	cairn_buf_free(&prev);
	return rc;
}

static void s3_free(cairn_store *st)
{
	s3_store *s = (s3_store *)st;
	if (!s)
		return;
	cairn_http_client_free(&s->http);
	cairn_s3__location_free(&s->loc);
	free(s->display);
	free(s->base_url);
	free(s->sigv4);
	free(s->region);
	free(s->access_key);
	if (s->secret_key) {
		sodium_memzero(s->secret_key, strlen(s->secret_key));
		free(s->secret_key);
	}
	if (s->token_header) {
		sodium_memzero(s->token_header, strlen(s->token_header));
		free(s->token_header);
	}
	free(s->ca_bundle);
	free(s);
}

static const struct cairn_store_ops s3_ops = {
    .version = CAIRN_STORE_OPS_VERSION,
    .name = "s3",
    .put = s3_put,
    .get = s3_get,
    .stat = s3_stat,
    .list = s3_list,
    .del = s3_del,
    .free = s3_free,
    .putv = s3_putv,
    .putv_named = s3_putv_named,
};

/* ---- opening ---- */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && v[0] ? v : NULL;
}

static char *dup_or_null(const char *v, int *failed)
{
	if (!v)
		return NULL;
	char *d = strdup(v);
	if (!d)
		*failed = 1;
	return d;
}

/* Makes sure the bucket exists, creating it if it does not. */
static int ensure_bucket(s3_store *s)
{
	s3_request head = {.method = "HEAD", .verb = "reach the bucket of"};
	int rc = perform(s, &head);
	if (rc)
		return cairn_error_prefix(rc, "cannot reach %s", s->display);
	if (head.status == 200)
		return 0;
	if (head.status != 404) {
		explain_head(s, &head);
		/* Credentials limited to a prefix may not look at the bucket
		 * itself; what they may do shows with the first object. */
		if (head.status == 403 && strcmp(head.code, "AccessDenied") == 0)
			return 0;
		return fail_status(s, &head, "");
	}

	cairn_buf body = CAIRN_BUF_INIT;
	if (strcmp(s->region, "us-east-1") != 0) {
		rc =
		    cairn_buf_printf(&body,
		                     "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/"
		                     "doc/2006-03-01/\"><LocationConstraint>%s</LocationConstraint>"
		                     "</CreateBucketConfiguration>",
		                     s->region);
		if (rc)
			return rc;
	}
	cairn_iovec piece = {body.data, body.len};
	s3_request put = {.method = "PUT",
	                  .verb = "create the bucket of",
	                  .iov = &piece,
	                  .n_iov = 1,
	                  .body_len = body.len,
	                  .has_body = 1};
	rc = perform(s, &put);
	cairn_buf_free(&body);
	if (rc)
		return cairn_error_prefix(rc, "cannot create the bucket of %s", s->display);
	/* Someone else may have made it meanwhile. */
	if (put.status == 409 && strcmp(put.code, "BucketAlreadyOwnedByYou") == 0)
		return 0;
	if (put.status != 200)
		return fail_status(s, &put, "");
	return 0;
}

int cairn_store_s3_open(cairn_store **out, const char *location, int create, int connections)
{
	s3_store *s = NULL;
	int rc, failed = 0;

	*out = NULL;
	if ((rc = cairn_curl_global_init()))
		return rc;
	curl_version_info_data *vi = cairn_curl.version_info(CURLVERSION_NOW);
	if (vi->version_num < 0x075500)
		return cairn_error_set(CAIRN_ERROR,
		                       "S3 stores need libcurl 7.85.0 or later (this is %s)",
		                       vi->version);
	if (connections < 0 || connections > CAIRN_S3_CONNECTIONS_MAX)
		return cairn_error_set(CAIRN_EINVAL, "connections must be 1 to %d",
		                       CAIRN_S3_CONNECTIONS_MAX);
	const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
	if (!ak || !sk)
		return cairn_error_set(CAIRN_EINVAL,
		                       "the S3 store s3:%s needs credentials: set "
		                       "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
		                       location);

	s = calloc(1, sizeof(*s));
	if (!s)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	s->base.ops = &s3_ops;
	if ((rc = cairn_s3__location_parse(&s->loc, location)))
		goto out;
	const char *vh = env("CAIRN_S3_VIRTUAL_HOST");
	if (vh && strcmp(vh, "0") != 0 && !strstr(location, "style=path"))
		s->loc.virtual_host = 1;

	if ((rc = cairn_http_client_init(&s->http, connections ? connections
	                                                        : CAIRN_S3_CONNECTIONS_DEFAULT)))
		goto out;
	const char *region = env("AWS_DEFAULT_REGION");
	if (!region)
		region = env("AWS_REGION");
	if (!region)
		region = "us-east-1";
	for (const char *p = region; *p; p++)
		if (!bucket_char_ok((unsigned char)*p)) {
			rc = cairn_error_set(CAIRN_EINVAL, "bad region name '%s'", region);
			goto out;
		}
	s->region = dup_or_null(region, &failed);
	s->access_key = dup_or_null(ak, &failed);
	s->secret_key = dup_or_null(sk, &failed);
	s->ca_bundle = dup_or_null(env("AWS_CA_BUNDLE"), &failed);
	if (failed) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	s->timeout = TIMEOUT_DEFAULT;
	const char *to = env("CAIRN_S3_TIMEOUT");
	if (to) {
		uint64_t v;
		if (parse_u64(to, strlen(to), &v) || v < 1 || v > 3600) {
			rc = cairn_error_set(CAIRN_EINVAL,
			                     "CAIRN_S3_TIMEOUT must be 1 to 3600 seconds");
			goto out;
		}
		s->timeout = (long)v;
	}
	s->http.connect_timeout_ms =
	    1000L * (s->timeout < CONNECT_TIMEOUT_MAX ? s->timeout : (long)CONNECT_TIMEOUT_MAX);
	/* A stalled transfer is one that moves under 1 KiB/s for the timeout. */
	s->http.stall_speed = 1024;
	s->http.stall_seconds = s->timeout;
	s->http.ca_file = s->ca_bundle;

	cairn_buf b = CAIRN_BUF_INIT;
	if ((rc = cairn_buf_printf(&b, "s3:%s://%s/%s/%s", s->loc.scheme, s->loc.host,
	                           s->loc.bucket, s->loc.prefix)))
		goto out;
	s->display = (char *)cairn_buf_detach(&b, NULL);
	if (s->loc.virtual_host)
		rc = cairn_buf_printf(&b, "%s://%s.%s", s->loc.scheme, s->loc.bucket, s->loc.host);
	else
		rc = cairn_buf_printf(&b, "%s://%s/%s", s->loc.scheme, s->loc.host, s->loc.bucket);
	if (rc)
		goto out;
	s->base_url = (char *)cairn_buf_detach(&b, NULL);
	if ((rc = cairn_buf_printf(&b, "aws:amz:%s:s3", s->region)))
		goto out;
	s->sigv4 = (char *)cairn_buf_detach(&b, NULL);
	const char *token = env("AWS_SESSION_TOKEN");
	if (token) {
		if ((rc = cairn_buf_printf(&b, "x-amz-security-token: %s", token)))
			goto out;
		s->token_header = (char *)cairn_buf_detach(&b, NULL);
	}

	if (create && (rc = ensure_bucket(s)))
		goto out;
	*out = &s->base;
	return 0;
out:
	s3_free(&s->base);
	return rc;
}


/* S3 locations: "http[s]://HOST[:PORT]/BUCKET[/PREFIX][?OPTIONS]" checked
 * and taken apart, and the percent-encoding of keys in URLs. Pure. */
#include "store/s3/s3_internal.h"

#include "cairn/errors.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOST_MAX 255
#define BUCKET_MAX 255

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

int cairn_s3__name_char_ok(unsigned char c)
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
		if (!cairn_s3__name_char_ok((unsigned char)p[i]))
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
		if (plen > CAIRN_S3_KEY_MAX / 2)
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

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
 * This file: the store operations and opening; request.c: one request;
 * location.c: locations; xml.c: the answers' XML.
 *
 * S3 makes a PUT visible whole or not at all, so a failed upload never
 * leaves a torn object under its final name. Write-once puts ask the
 * server to refuse an existing key (If-None-Match: *), but many servers
 * ignore that header, so such a put first checks that the key is free; the
 * answer a retried put gets for its own earlier, lost success is told
 * apart by comparing the stored bytes. */
#include "store/s3/s3_internal.h"

#include "store/store_internal.h"

#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "net/curl_api.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_PAGE_MAX (16u << 20)      /* bytes of one listing page */
#define OBJECT_MAX ((uint64_t)4 << 30) /* more than any object cairn writes */
#define TIMEOUT_DEFAULT 60             /* seconds without progress */
#define CONNECT_TIMEOUT_MAX 15
#define BUFFER_MAX (256L << 10) /* bytes a transfer moves per callback */
#define BUFFER_MIN (16L << 10)
#define STALL_SPEED 1024 /* bytes per second */

/* ---- the store operations ---- */

static int check_key(const cairn_s3_store *s, const char *key, int allow_prefix)
{
	size_t n = strlen(key);
	const char *why = NULL;
	if (n == 0 && !allow_prefix)
		why = "empty key";
	else if (n + strlen(s->loc.prefix) > CAIRN_S3_KEY_MAX)
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
	cairn_s3_store *s = (cairn_s3_store *)st;
	int rc = check_key(s, key, 0);
	if (rc)
		return rc;
	cairn_s3_request r = {.method = "HEAD", .verb = "stat", .key = key};
	if ((rc = cairn_s3_perform(s, &r)))
		return cairn_error_prefix(rc, "cannot stat %s%s", s->display, key);
	if (r.status == 404)
		return cairn_error_set(CAIRN_ENOTFOUND, "no object %s%s", s->display, key);
	if (r.status != 200) {
		cairn_s3_explain_head(s, &r);
		return cairn_s3_fail_status(s, &r, key);
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
	cairn_s3_store *s = (cairn_s3_store *)st;
	uint64_t size;
	int rc = check_key(s, key, 0);
	cairn_buf_clear(out);
	if (rc)
		return rc;
	if (length == 0)
		return s3_stat(st, key, &size);

	cairn_s3_request r = {.method = "GET", .verb = "read", .key = key, .out = out};
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
	if ((rc = cairn_s3_perform(s, &r))) {
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
		rc = cairn_s3_fail_status(s, &r, key);
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

static int stored_equals(cairn_s3_store *s, const char *key, const cairn_iovec *iov, size_t n,
                         size_t len)
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
	cairn_s3_store *s = (cairn_s3_store *)st;
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

	cairn_s3_request r = {.method = "PUT",
	                      .verb = "write",
	                      .key = key,
	                      .iov = iov,
	                      .n_iov = n,
	                      .body_len = len,
	                      .has_body = 1,
	                      .body_sha = sha,
	                      .if_none_match = once && !atomic_load(&s->no_conditional)};
	if ((rc = cairn_s3_perform(s, &r)))
		return cairn_error_prefix(rc, "cannot write %s%s", s->display, key);
	if (r.status == 501 && r.if_none_match) {
		/* Servers from before conditional writes refuse the header. */
		atomic_store(&s->no_conditional, 1);
		r.if_none_match = 0;
		if ((rc = cairn_s3_perform(s, &r)))
			return cairn_error_prefix(rc, "cannot write %s%s", s->display, key);
	}
	if (r.status == 412 && once) {
		if (r.maybe_applied && stored_equals(s, key, iov, n, len))
			return 0;
		return cairn_error_set(CAIRN_EEXISTS, "object %s%s already exists", s->display,
		                       key);
	}
	if (r.status != 200 && r.status != 201 && r.status != 204)
		return cairn_s3_fail_status(s, &r, key);
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
	cairn_s3_store *s = (cairn_s3_store *)st;
	int rc = check_key(s, key, 0);
	if (rc)
		return rc;
	cairn_s3_request r = {.method = "DELETE", .verb = "delete", .key = key};
	if ((rc = cairn_s3_perform(s, &r)))
		return cairn_error_prefix(rc, "cannot delete %s%s", s->display, key);
	if (r.status == 404 && strcmp(r.code, "NoSuchBucket") != 0)
		return 0;
	if (r.status != 200 && r.status != 204)
		return cairn_s3_fail_status(s, &r, key);
	return 0;
}

typedef struct list_ctx {
	cairn_s3_store *s;
	cairn_store_list_cb list_cb; /* list() gets keys and sizes; else item_cb */
	cairn_store_item_cb item_cb;
	void *ud;
	int stopped;
} list_ctx;

static int list_entry(const cairn_store_item *item, void *ud)
{
	list_ctx *c = ud;
	size_t plen = strlen(c->s->loc.prefix);
	/* Keys outside the prefix, or ones cairn could not have written, are
	 * not objects of this store. */
	if (strncmp(item->key, c->s->loc.prefix, plen) != 0 || item->key[plen] == '\0')
		return 0;
	cairn_store_item in_store = *item;
	in_store.key += plen;
	int rc = c->list_cb ? c->list_cb(in_store.key, in_store.size, c->ud)
	                    : c->item_cb(&in_store, c->ud);
	if (rc)
		c->stopped = 1;
	return rc;
}

/* Lists the keys under prefix, page by page, for list() or list_items()
 * (which wants the times: item_cb set). */
static int list_pages(cairn_s3_store *s, const char *prefix, list_ctx *c)
{
	cairn_buf query = CAIRN_BUF_INIT, page = CAIRN_BUF_INIT, token = CAIRN_BUF_INIT;
	cairn_buf full = CAIRN_BUF_INIT, prev = CAIRN_BUF_INIT;
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

		cairn_s3_request r = {.method = "GET",
		                      .verb = "list",
		                      .query = (const char *)query.data,
		                      .out = &page,
		                      .out_max = LIST_PAGE_MAX};
		if ((rc = cairn_s3_perform(s, &r))) {
			cairn_error_prefix(rc, "cannot list %s%s", s->display, prefix);
			goto out;
		}
		if (r.status != 200) {
			rc = cairn_s3_fail_status(s, &r, prefix);
			goto out;
		}
		cairn_buf_clear(&prev);
		if ((rc = cairn_buf_append(&prev, token.data, token.len)) ||
		    (rc = cairn_buf_append_str(&prev, "")))
			goto out;
		rc = cairn_s3__list_parse((const char *)page.data, page.len, c->item_cb != NULL,
		                          list_entry, c, &truncated, &token);
		if (rc) {
			if (!c->stopped)
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

static int s3_list(cairn_store *st, const char *prefix, cairn_store_list_cb cb, void *ud)
{
	list_ctx c = {.s = (cairn_s3_store *)st, .list_cb = cb, .ud = ud};
	return list_pages(c.s, prefix, &c);
}

/* The times are the server's LastModified: when each PUT completed, by
 * its clock. */
static int s3_list_items(cairn_store *st, const char *prefix, cairn_store_item_cb cb, void *ud)
{
	list_ctx c = {.s = (cairn_s3_store *)st, .item_cb = cb, .ud = ud};
	return list_pages(c.s, prefix, &c);
}

static void s3_free(cairn_store *st)
{
	cairn_s3_store *s = (cairn_s3_store *)st;
	if (!s)
		return;
	cairn_http_client_free(&s->http);
	cairn_ratelimit_destroy(&s->up);
	cairn_ratelimit_destroy(&s->down);
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
    .list_items = s3_list_items,
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
static int ensure_bucket(cairn_s3_store *s)
{
	cairn_s3_request head = {.method = "HEAD", .verb = "reach the bucket of"};
	int rc = cairn_s3_perform(s, &head);
	if (rc)
		return cairn_error_prefix(rc, "cannot reach %s", s->display);
	if (head.status == 200)
		return 0;
	if (head.status != 404) {
		cairn_s3_explain_head(s, &head);
		/* Credentials limited to a prefix may not look at the bucket
		 * itself; what they may do shows with the first object. */
		if (head.status == 403 && strcmp(head.code, "AccessDenied") == 0)
			return 0;
		return cairn_s3_fail_status(s, &head, "");
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
	cairn_s3_request put = {.method = "PUT",
	                        .verb = "create the bucket of",
	                        .iov = &piece,
	                        .n_iov = 1,
	                        .body_len = body.len,
	                        .has_body = 1};
	rc = cairn_s3_perform(s, &put);
	cairn_buf_free(&body);
	if (rc)
		return cairn_error_prefix(rc, "cannot create the bucket of %s", s->display);
	/* Someone else may have made it meanwhile. */
	if (put.status == 409 && strcmp(put.code, "BucketAlreadyOwnedByYou") == 0)
		return 0;
	if (put.status != 200)
		return cairn_s3_fail_status(s, &put, "");
	return 0;
}

int cairn_store_s3_open(cairn_store **out, const char *location, int create, int connections)
{
	cairn_store_opts opts = {.connections = connections};
	return cairn_store__s3_open(out, location, create, &opts);
}

/* Under a bandwidth limit shared by all connections, a transfer may move
 * little for a while without having stalled, and a limit paced in
 * smaller steps keeps closer to its rate. */
static void apply_limits(cairn_s3_store *s, int connections)
{
	uint64_t up = s->up.rate, down = s->down.rate;
	uint64_t least = up && (!down || up < down) ? up : down;
	s->buffer_size = BUFFER_MAX;
	s->http.stall_speed = STALL_SPEED;
	if (!least)
		return;
	if (least / 8 < (uint64_t)s->buffer_size)
		s->buffer_size = least / 8 < BUFFER_MIN ? BUFFER_MIN : (long)(least / 8);
	uint64_t share = least / (uint64_t)connections / 4;
	if (share < (uint64_t)s->http.stall_speed)
		s->http.stall_speed = share ? (long)share : 1;
}

int cairn_store__s3_open(cairn_store **out, const char *location, int create,
                         const cairn_store_opts *opts)
{
	cairn_s3_store *s = NULL;
	int rc, failed = 0, connections = opts ? opts->connections : 0;

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
	if (!connections)
		connections = CAIRN_S3_CONNECTIONS_DEFAULT;
	cairn_ratelimit_init(&s->up, opts ? opts->limit_upload : 0, NULL, NULL);
	cairn_ratelimit_init(&s->down, opts ? opts->limit_download : 0, NULL, NULL);
	if ((rc = cairn_s3__location_parse(&s->loc, location)))
		goto out;
	const char *vh = env("CAIRN_S3_VIRTUAL_HOST");
	if (vh && strcmp(vh, "0") != 0 && !strstr(location, "style=path"))
		s->loc.virtual_host = 1;

	if ((rc = cairn_http_client_init(&s->http, connections)))
		goto out;
	apply_limits(s, connections);
	const char *region = env("AWS_DEFAULT_REGION");
	if (!region)
		region = env("AWS_REGION");
	if (!region)
		region = "us-east-1";
	for (const char *p = region; *p; p++)
		if (!cairn_s3__name_char_ok((unsigned char)*p)) {
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
		if (cairn_s3__parse_u64(to, strlen(to), &v) || v < 1 || v > 3600) {
			rc = cairn_error_set(CAIRN_EINVAL,
			                     "CAIRN_S3_TIMEOUT must be 1 to 3600 seconds");
			goto out;
		}
		s->timeout = (long)v;
	}
	s->http.connect_timeout_ms =
	    1000L * (s->timeout < CONNECT_TIMEOUT_MAX ? s->timeout : (long)CONNECT_TIMEOUT_MAX);
	/* A stalled transfer is one that moves under 1 KiB/s (less under a
	 * low limit) for the timeout. */
	s->http.stall_seconds = s->timeout;
	s->http.ca_file = s->ca_bundle;
	/* Overload (503 SlowDown) gets the backoff alone, as the AWS SDKs
	 * do: a Retry-After of a minute per try would stall a whole backup. */
	s->http.honour_retry_after = 0;

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

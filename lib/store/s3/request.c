/* One S3 request: its URL and signed headers, its body streamed from the
 * caller's pieces, its answer kept within bounds, tried again through
 * net/http when it fails in a way that may pass (a reset or refused
 * connection, a stall, HTTP 5xx, 408, 429, SlowDown). */
#include "store/s3/s3_internal.h"

#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "net/curl_api.h"
#include "net/retry.h"
#include "util/hex.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ERROR_BODY_MAX 16384
#define EXPECT_100_MS 300L

/* SHA-256 of no bytes, the payload hash of requests without a body. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* What one try has sent and received so far. */
typedef struct transfer {
	cairn_s3_store *s;
	cairn_s3_request *req;
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
	const cairn_s3_request *r = t->req;
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
	cairn_ratelimit_take(&t->s->up, done);
	return done;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
	transfer *t = ud;
	const cairn_s3_request *r = t->req;
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
			if (d && cairn_s3__parse_u64(p, (size_t)(d - p), &v) == 0)
				t->cr_start = v;
		}
	}
	return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
	transfer *t = ud;
	cairn_s3_request *r = t->req;
	size_t len = size * n;
	cairn_ratelimit_take(&t->s->down, len);
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
	const cairn_s3_store *s = t->s;
	t->h = h;
	cairn_curl.easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
	cairn_curl.easy_setopt(h, CURLOPT_USERNAME, s->access_key);
	cairn_curl.easy_setopt(h, CURLOPT_PASSWORD, s->secret_key);
	cairn_curl.easy_setopt(h, CURLOPT_USERAGENT, "cairn");
	cairn_curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	cairn_curl.easy_setopt(h, CURLOPT_BUFFERSIZE, s->buffer_size);
	if (t->req->has_body) {
		cairn_curl.easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, s->buffer_size);
		/* A refused upload (bad credentials, say) then ends before its
		 * body is sent; servers that never answer "100 Continue" cost
		 * this long per upload. */
		cairn_curl.easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, EXPECT_100_MS);
	}
}

static void copy_code(cairn_s3_request *r, const char *detail)
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
	cairn_s3_request *r = t->req;
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

static int build_url(const cairn_s3_store *s, const cairn_s3_request *r, cairn_buf *url)
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

/* The headers of r: the payload's hash, which is part of what is signed,
 * so that the server checks the body against it (x-amz-checksum-sha256
 * asks servers that know it to keep the checksum as well); the session
 * token, the write-once condition and the range. */
static int build_headers(const cairn_s3_store *s, const cairn_s3_request *r,
                         struct curl_slist **headers)
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
		    (rc = cairn_http_header_add(headers, (const char *)line.data)))
			goto out;
	} else {
		memcpy(sha_hex, EMPTY_SHA256, sizeof(sha_hex));
	}
	cairn_buf_clear(&line);
	if ((rc = cairn_buf_printf(&line, "x-amz-content-sha256: %s", sha_hex)) ||
	    (rc = cairn_http_header_add(headers, (const char *)line.data)))
		goto out;
	if (s->token_header && (rc = cairn_http_header_add(headers, s->token_header)))
		goto out;
	if (r->if_none_match && (rc = cairn_http_header_add(headers, "If-None-Match: *")))
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
		if (rc || (rc = cairn_http_header_add(headers, (const char *)line.data)))
			goto out;
	}
out:
	cairn_buf_free(&line);
	return rc;
}

int cairn_s3_perform(cairn_s3_store *s, cairn_s3_request *r)
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

int cairn_s3_fail_status(cairn_s3_store *s, const cairn_s3_request *r, const char *what)
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

void cairn_s3_explain_head(cairn_s3_store *s, cairn_s3_request *head)
{
	cairn_s3_request g = {.method = "GET",
	                      .verb = head->verb,
	                      .key = head->key,
	                      .query = head->query,
	                      .ranged = 1,
	                      .offset = 0,
	                      .length = 1};
	cairn_buf sink = CAIRN_BUF_INIT;
	g.out = &sink;
	g.out_max = 1;
	if (cairn_s3_perform(s, &g) == 0 && g.status == head->status && g.detail[0]) {
		memcpy(head->detail, g.detail, sizeof(head->detail));
		memcpy(head->code, g.code, sizeof(head->code));
	}
	cairn_buf_free(&sink);
	cairn_error_clear();
}

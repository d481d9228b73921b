/* One request, tried until it succeeds or cannot (net/http.h). */
#include "net/http.h"

#include "cairn/errors.h"
#include "net/retry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int cairn_http_client_init(cairn_http_client *c, int max_open)
{
	memset(c, 0, sizeof(*c));
	return cairn_curl_pool_init(&c->pool, max_open);
}

void cairn_http_client_free(cairn_http_client *c)
{
	cairn_curl_pool_free(&c->pool);
}

int cairn_http_header_add(struct curl_slist **list, const char *line)
{
	struct curl_slist *n = cairn_curl.slist_append(*list, line);
	if (!n)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	*list = n;
	return 0;
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int has_no_body(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
	       strcmp(method, "DELETE") == 0;
}

static void set_method(CURL *h, const cairn_http_request *r)
{
	if (r->read) {
		cairn_curl.easy_setopt(h, CURLOPT_UPLOAD, 1L);
		cairn_curl.easy_setopt(h, CURLOPT_READFUNCTION, r->read);
		cairn_curl.easy_setopt(h, CURLOPT_READDATA, r->ud);
		if (r->seek) {
			cairn_curl.easy_setopt(h, CURLOPT_SEEKFUNCTION, r->seek);
			cairn_curl.easy_setopt(h, CURLOPT_SEEKDATA, r->ud);
		}
		cairn_curl.easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
		if (strcmp(r->method, "PUT") != 0)
			cairn_curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	} else if (strcmp(r->method, "GET") == 0) {
		cairn_curl.easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(r->method, "HEAD") == 0) {
		cairn_curl.easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (has_no_body(r->method)) {
		cairn_curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	} else {
		cairn_curl.easy_setopt(h, CURLOPT_POST, 1L);
		cairn_curl.easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		cairn_curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		if (strcmp(r->method, "POST") != 0)
			cairn_curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
}

/* One try on a handle of the pool. CURLE_OK when an HTTP answer came;
 * *retry_after_s gets the server's Retry-After (0 if none). */
static CURLcode try_once(cairn_http_client *c, cairn_http_request *r, uint64_t *retry_after_s)
{
	CURL *h = cairn_curl_pool_get(&c->pool);
	if (!h)
		return CURLE_OUT_OF_MEMORY;
	cairn_curl.easy_setopt(h, CURLOPT_URL, r->url);
	cairn_curl.easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
	cairn_curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	cairn_curl.easy_setopt(h, CURLOPT_ERRORBUFFER, r->reason);
	cairn_curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	cairn_curl.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, c->stall_speed);
	cairn_curl.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->stall_seconds);
	cairn_curl.easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	cairn_curl.easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	if (c->ca_file)
		cairn_curl.easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	if (r->on_body) {
		cairn_curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, r->on_body);
		cairn_curl.easy_setopt(h, CURLOPT_WRITEDATA, r->ud);
	}
	if (r->on_header) {
		cairn_curl.easy_setopt(h, CURLOPT_HEADERFUNCTION, r->on_header);
		cairn_curl.easy_setopt(h, CURLOPT_HEADERDATA, r->ud);
	}
	set_method(h, r);
	if (r->prepare)
		r->prepare(h, r->ud);

	r->reason[0] = '\0';
	CURLcode cc = cairn_curl.easy_perform(h);
	if (cc == CURLE_OK) {
		curl_off_t cl = -1, after = 0;
		cairn_curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
		cairn_curl.easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		r->content_length = cl >= 0 ? (uint64_t)cl : UINT64_MAX;
		if (cairn_curl.easy_getinfo(h, CURLINFO_RETRY_AFTER, &after) == CURLE_OK &&
		    after > 0)
			*retry_after_s = (uint64_t)after;
	} else if (!r->reason[0]) {
		snprintf(r->reason, sizeof(r->reason), "%s", cairn_curl.easy_strerror(cc));
	}
	/* Unset pointers into this call's memory before the handle is shared. */
	cairn_curl.easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	cairn_curl.easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	cairn_curl_pool_put(&c->pool, h);
	return cc;
}

static int answer_is_transient(cairn_http_request *r)
{
	if (r->retry_answer)
		return r->retry_answer(r->status, r->ud);
	return cairn_retry_http_status(r->status);
}

int cairn_http_perform(cairn_http_client *c, cairn_http_request *r)
{
	int rc = 0;
	r->attempts = 0;
	r->maybe_applied = 0;
	for (;;) {
		uint64_t retry_after_s = 0;
		r->attempts++;
		r->status = 0;
		r->content_length = UINT64_MAX;
		if (r->restart)
			r->restart(r->ud);
		r->curl_code = try_once(c, r, &retry_after_s);
		int last = r->attempts >= CAIRN_RETRY_ATTEMPTS;
		if (r->curl_code == CURLE_OUT_OF_MEMORY) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			break;
		}
		if (r->curl_code != CURLE_OK) {
			if (cairn_retry_curl_maybe_sent(r->curl_code))
				r->maybe_applied = 1;
			if (!cairn_retry_curl_error(r->curl_code) || last) {
				rc = cairn_error_set(CAIRN_EIO, "%s", r->reason);
				break;
			}
		} else if (answer_is_transient(r)) {
			r->maybe_applied = 1;
			if (last)
				break;
		} else {
			break;
		}
		sleep_ms(cairn_retry_wait_ms((unsigned)r->attempts,
		                             c->honour_retry_after ? retry_after_s : 0));
	}
	if (rc && r->attempts > 1)
		cairn_error_prefix(rc, "after %d tries", r->attempts);
	return rc;
}

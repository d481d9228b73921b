/* The one HTTP client of libcairn: a request on a handle from a shared
 * pool (so connections are kept alive and no two threads share a handle),
 * tried again under the retry policy of net/retry.h until it gets an
 * answer that another try would not change. The S3 store and the remote
 * index both speak HTTP through cairn_http_perform() and nothing else. */
#ifndef CAIRN_NET_HTTP_H
#define CAIRN_NET_HTTP_H

#include "net/curl_pool.h"

#include <stddef.h>
#include <stdint.h>

/* What every request of one client shares: its handles and how long it
 * waits for the network. Set the fields after cairn_http_client_init(). */
typedef struct cairn_http_client {
	cairn_curl_pool pool;
	long connect_timeout_ms;
	/* A transfer slower than stall_speed bytes/s for stall_seconds has
	 * stalled, and fails (a transient failure, tried again). */
	long stall_speed;
	long stall_seconds;
	const char *ca_file; /* extra trusted certificates, or NULL; the caller's */
	/* Between tries, wait as long as the server's Retry-After asks (up
	 * to CAIRN_RETRY_AFTER_CAP_S) when that is longer than the backoff:
	 * the index server sends it with 429 and 503. Off, only the backoff. */
	int honour_retry_after;
} cairn_http_client;

/* At most max_open requests in flight at once; cairn_curl_global_init()
 * must have succeeded. */
int cairn_http_client_init(cairn_http_client *c, int max_open);
void cairn_http_client_free(cairn_http_client *c);

/* Appends a header line ("Name: value") to *list; CAIRN_ENOMEM if it
 * cannot. Free the list with cairn_curl.slist_free_all. */
int cairn_http_header_add(struct curl_slist **list, const char *line);

typedef struct cairn_http_request {
	/* in */
	const char *method; /* GET HEAD DELETE carry no body; any other does */
	const char *url;
	struct curl_slist *headers; /* the caller's */
	/* The body: in memory (body, body_len; NULL for none), or streamed by
	 * read and seek (CURLOPT_READFUNCTION, _SEEKFUNCTION, given ud),
	 * body_len bytes. */
	const void *body;
	size_t body_len;
	curl_read_callback read;
	curl_seek_callback seek;
	/* CURLOPT_WRITEFUNCTION and _HEADERFUNCTION, given ud; either may be
	 * NULL (libcurl's default, then: the body to stdout, so give one). */
	curl_write_callback on_body;
	curl_write_callback on_header;
	/* Before each try: forget what the previous try received. May be NULL. */
	void (*restart)(void *ud);
	/* Before each try, on the handle the try runs on: the caller's own
	 * options (credentials, buffer sizes...). May be NULL. */
	void (*prepare)(CURL *h, void *ud);
	/* For each HTTP answer: 1 if another try may change it. NULL:
	 * cairn_retry_http_status(status). */
	int (*retry_answer)(long status, void *ud);
	void *ud;

	/* out */
	long status;             /* of the last answer; 0 if none came */
	uint64_t content_length; /* of the last answer; UINT64_MAX if not given */
	int attempts;
	/* A failed try may still have reached the server and been carried
	 * out: the answer to this one may be to the other's work. */
	int maybe_applied;
	CURLcode curl_code;           /* of the last try */
	char reason[CURL_ERROR_SIZE]; /* why the last try failed, when it did */
} cairn_http_request;

/* Runs r until an answer comes that retrying would not change. 0 with
 * r->status set, whatever the status (the caller judges it); else
 * CAIRN_ENOMEM, or CAIRN_EIO with libcurl's reason as the message (and
 * in r->reason), prefixed "after N tries" when there were several. */
int cairn_http_perform(cairn_http_client *c, cairn_http_request *r);

#endif

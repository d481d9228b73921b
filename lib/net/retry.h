/* The one retry policy of the network clients (S3 store, index server):
 * how many tries, exponential backoff with full jitter, how long a
 * server's Retry-After may hold a client, and which failures are worth
 * another try. net/http.c applies it; nothing else should. */
#ifndef CAIRN_NET_RETRY_H
#define CAIRN_NET_RETRY_H

#include <curl/curl.h>
#include <sodium.h>
#include <stdint.h>

#define CAIRN_RETRY_ATTEMPTS 8 /* tries in all, the first included */
#define CAIRN_RETRY_BASE_MS 100u
#define CAIRN_RETRY_CAP_MS 10000u
/* Longest wait a server's Retry-After may impose on one retry. */
#define CAIRN_RETRY_AFTER_CAP_S 60u

/* Delay before try number attempt (1 = the first retry): a uniformly
 * random time in [0, min(cap, base * 2^(attempt-1))], so that clients
 * failing together do not retry together. */
static inline uint32_t cairn_retry_delay_ms(unsigned attempt)
{
	uint64_t d = CAIRN_RETRY_BASE_MS;
	while (attempt-- > 1 && d < CAIRN_RETRY_CAP_MS)
		d *= 2;
	if (d > CAIRN_RETRY_CAP_MS)
		d = CAIRN_RETRY_CAP_MS;
	return randombytes_uniform((uint32_t)d + 1);
}

/* The wait before retry number attempt when the server asked for
 * retry_after_s seconds (0: it did not): the jittered delay, or the
 * server's wish capped at CAIRN_RETRY_AFTER_CAP_S if that is longer. */
static inline uint32_t cairn_retry_wait_ms(unsigned attempt, uint64_t retry_after_s)
{
	uint32_t wait = cairn_retry_delay_ms(attempt);
	if (retry_after_s > CAIRN_RETRY_AFTER_CAP_S)
		retry_after_s = CAIRN_RETRY_AFTER_CAP_S;
	if ((uint32_t)retry_after_s * 1000u > wait)
		wait = (uint32_t)retry_after_s * 1000u;
	return wait;
}

/* 1 for statuses that may succeed when tried again: 408, 429 and 5xx
 * except 501 and 505, which will not change. */
static inline int cairn_retry_http_status(long status)
{
	if (status == 408 || status == 429)
		return 1;
	return status >= 500 && status <= 599 && status != 501 && status != 505;
}

/* 1 for transfer failures that may pass: the network, not the request. */
static inline int cairn_retry_curl_error(CURLcode code)
{
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
		return 1;
	default:
		return 0;
	}
}

/* 1 when a transfer that failed with code may have reached the server,
 * which may then have carried the request out. */
static inline int cairn_retry_curl_maybe_sent(CURLcode code)
{
	return code != CURLE_COULDNT_RESOLVE_HOST && code != CURLE_COULDNT_CONNECT;
}

#endif

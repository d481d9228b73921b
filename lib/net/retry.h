/* Retry policy shared by the network clients (S3 store, index server):
 * exponential backoff with full jitter, and which HTTP answers are worth
 * another try. */
#ifndef CAIRN_UTIL_RETRY_H
#define CAIRN_UTIL_RETRY_H

#include <sodium.h>
#include <stdint.h>

#define CAIRN_RETRY_ATTEMPTS 8     /* tries in all, the first included */
#define CAIRN_RETRY_BASE_MS 100u
#define CAIRN_RETRY_CAP_MS 10000u

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

/* 1 for statuses that may succeed when tried again: 408, 429 and 5xx
 * except 501 and 505, which will not change. */
static inline int cairn_retry_http_status(long status)
{
	if (status == 408 || status == 429)
		return 1;
	return status >= 500 && status <= 599 && status != 501 && status != 505;
}

#endif

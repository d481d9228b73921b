/* A token bucket shared by threads: it paces the bytes that several
 * transfers move at once to one rate (bandwidth limits). Debts are
 * allowed: a taker of more bytes than the bucket holds is told how long to
 * wait before sending them, and the next taker waits behind it, so that
 * over any time T at most rate * T + burst bytes are granted whatever the
 * sizes taken. The clock is given (tests) or the monotonic clock. */
#ifndef CAIRN_UTIL_RATELIMIT_H
#define CAIRN_UTIL_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

/* Nanoseconds on a clock that never goes back. */
typedef int64_t (*cairn_ratelimit_clock)(void *ud);

typedef struct cairn_ratelimit {
	pthread_mutex_t lock;
	uint64_t rate;    /* bytes per second; 0: no limit */
	int64_t burst_ns; /* how far ahead of the pace a full bucket lets takers run */
	int64_t paid_ns;  /* when the bytes granted so far are paid for at rate */
	cairn_ratelimit_clock clock;
	void *clock_ud;
} cairn_ratelimit;

/* The share of a second that a full bucket holds. */
#define CAIRN_RATELIMIT_BURST_MS 250

/* rate: bytes per second (0: no limit, every take returns at once);
 * clock NULL: CLOCK_MONOTONIC. The bucket starts full. */
void cairn_ratelimit_init(cairn_ratelimit *rl, uint64_t rate, cairn_ratelimit_clock clock,
                          void *clock_ud);
void cairn_ratelimit_destroy(cairn_ratelimit *rl);
/* 1 when rl limits anything. */
static inline int cairn_ratelimit_on(const cairn_ratelimit *rl)
{
	return rl->rate != 0;
}
/* Grants n bytes: the nanoseconds to wait before they may go (0: now). */
int64_t cairn_ratelimit_reserve(cairn_ratelimit *rl, uint64_t n);
/* Grants n bytes and sleeps until they may go. */
void cairn_ratelimit_take(cairn_ratelimit *rl, uint64_t n);

#endif

#include "util/ratelimit.h"

#include "util/time.h"

#include <errno.h>
#include <time.h>

static int64_t monotonic(void *ud)
{
	(void)ud;
	return cairn_now_ns(CLOCK_MONOTONIC);
}

void cairn_ratelimit_init(cairn_ratelimit *rl, uint64_t rate, cairn_ratelimit_clock clock,
                          void *clock_ud)
{
	pthread_mutex_init(&rl->lock, NULL);
	rl->rate = rate;
	rl->burst_ns = (int64_t)CAIRN_RATELIMIT_BURST_MS * 1000000;
	rl->clock = clock ? clock : monotonic;
	rl->clock_ud = clock_ud;
	/* Full: a whole burst may go before the pace starts. */
	rl->paid_ns = rl->clock(rl->clock_ud) - rl->burst_ns;
}

void cairn_ratelimit_destroy(cairn_ratelimit *rl)
{
	pthread_mutex_destroy(&rl->lock);
}

/* How long n bytes take at rate, in nanoseconds (at most about 292 years). */
static int64_t cost_ns(uint64_t n, uint64_t rate)
{
	double ns = (double)n * 1e9 / (double)rate;
	return ns >= 9e18 ? INT64_C(9000000000000000000) : (int64_t)ns;
}

int64_t cairn_ratelimit_reserve(cairn_ratelimit *rl, uint64_t n)
{
	if (!rl->rate || !n)
		return 0;
	pthread_mutex_lock(&rl->lock);
	int64_t now = rl->clock(rl->clock_ud);
	/* An idle bucket fills up to the burst, no further. */
	if (rl->paid_ns < now - rl->burst_ns)
		rl->paid_ns = now - rl->burst_ns;
	int64_t cost = cost_ns(n, rl->rate);
	rl->paid_ns =
	    rl->paid_ns > 0 && cost > INT64_MAX - rl->paid_ns ? INT64_MAX : rl->paid_ns + cost;
	int64_t wait = rl->paid_ns - now;
	pthread_mutex_unlock(&rl->lock);
	return wait > 0 ? wait : 0;
}

void cairn_ratelimit_take(cairn_ratelimit *rl, uint64_t n)
{
	int64_t wait = cairn_ratelimit_reserve(rl, n);
	if (wait <= 0)
		return;
	struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

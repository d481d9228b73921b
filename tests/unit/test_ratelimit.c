/* The token bucket behind the bandwidth limits, on a clock the tests
 * move: bursts, debts, idle time, and the bytes granted over a minute of
 * takers of every size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/ratelimit.h"

#define MS INT64_C(1000000)
#define S INT64_C(1000000000)

static int64_t fake_clock(void *ud)
{
	return *(const int64_t *)ud;
}

static void test_ratelimit__no_rate_never_waits(void **state)
{
	int64_t now = 0;
	cairn_ratelimit rl;
	cairn_ratelimit_init(&rl, 0, fake_clock, &now);
	assert_false(cairn_ratelimit_on(&rl));
	assert_int_equal(cairn_ratelimit_reserve(&rl, UINT64_C(1) << 40), 0);
	cairn_ratelimit_destroy(&rl);
}

static void test_ratelimit__a_full_bucket_lets_a_burst_go_at_once(void **state)
{
	int64_t now = 5 * S;
	cairn_ratelimit rl;
	cairn_ratelimit_init(&rl, 1000, fake_clock, &now);
	assert_true(cairn_ratelimit_on(&rl));
	/* 250 ms at 1000 bytes/s */
	assert_int_equal(cairn_ratelimit_reserve(&rl, 250), 0);
	assert_int_equal(cairn_ratelimit_reserve(&rl, 100), 100 * MS);
	cairn_ratelimit_destroy(&rl);
}

static void test_ratelimit__takers_wait_behind_each_other(void **state)
{
	int64_t now = 0;
	cairn_ratelimit rl;
	cairn_ratelimit_init(&rl, 1000, fake_clock, &now);
	assert_int_equal(cairn_ratelimit_reserve(&rl, 250), 0);
	/* Three threads ask at the same moment: each waits for those before. */
	assert_int_equal(cairn_ratelimit_reserve(&rl, 1000), 1 * S);
	assert_int_equal(cairn_ratelimit_reserve(&rl, 1000), 2 * S);
	assert_int_equal(cairn_ratelimit_reserve(&rl, 500), 2500 * MS);
	/* Time passes; the debt shrinks with it. */
	now = 2 * S;
	assert_int_equal(cairn_ratelimit_reserve(&rl, 0), 0);
	assert_int_equal(cairn_ratelimit_reserve(&rl, 500), 1 * S);
	cairn_ratelimit_destroy(&rl);
}

static void test_ratelimit__idle_time_fills_the_bucket_no_further_than_the_burst(void **state)
{
	int64_t now = 0;
	cairn_ratelimit rl;
	cairn_ratelimit_init(&rl, 1000, fake_clock, &now);
	assert_int_equal(cairn_ratelimit_reserve(&rl, 250), 0);
	now = 3600 * S;
	assert_int_equal(cairn_ratelimit_reserve(&rl, 250), 0);
	assert_int_equal(cairn_ratelimit_reserve(&rl, 1), 1 * MS);
	cairn_ratelimit_destroy(&rl);
}

/* Takers of mixed sizes that each send as soon as they are let: the
 * bytes granted up to any moment stay within rate * time + burst. */
static void test_ratelimit__a_minute_of_mixed_takers_stays_within_the_rate(void **state)
{
	int64_t now = 0;
	const uint64_t rate = 1024 * 1024;
	static const uint64_t sizes[] = {1, 4096, 65536, 262144, 16 << 20, 100, 1 << 20};
	cairn_ratelimit rl;
	cairn_ratelimit_init(&rl, rate, fake_clock, &now);
	uint64_t sent = 0;
	for (size_t i = 0; now < 60 * S; i++) {
		uint64_t n = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		now += cairn_ratelimit_reserve(&rl, n);
		sent += n;
		double allowed = (double)rate * ((double)now / S + CAIRN_RATELIMIT_BURST_MS / 1e3);
		assert_true((double)sent <= allowed + 64);
	}
	/* and the limit is reached, not undershot */
	assert_true((double)sent >= 0.99 * 60 * rate);
	cairn_ratelimit_destroy(&rl);
}

static void test_ratelimit__huge_takes_do_not_overflow(void **state)
{
	int64_t now = 0;
	cairn_ratelimit rl;
	cairn_ratelimit_init(&rl, 1, fake_clock, &now);
	assert_true(cairn_ratelimit_reserve(&rl, UINT64_MAX) > 0);
	assert_int_equal(cairn_ratelimit_reserve(&rl, UINT64_MAX), INT64_MAX);
	cairn_ratelimit_destroy(&rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ratelimit__no_rate_never_waits),
	    cmocka_unit_test(test_ratelimit__a_full_bucket_lets_a_burst_go_at_once),
	    cmocka_unit_test(test_ratelimit__takers_wait_behind_each_other),
	    cmocka_unit_test(test_ratelimit__idle_time_fills_the_bucket_no_further_than_the_burst),
	    cmocka_unit_test(test_ratelimit__a_minute_of_mixed_takers_stays_within_the_rate),
	    cmocka_unit_test(test_ratelimit__huge_takes_do_not_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

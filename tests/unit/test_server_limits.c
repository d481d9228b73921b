/* cairn-server's per-token rate limit, driven by a clock the test holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server.h"

#include <stdio.h>
#include <string.h>

static void test_server_limits__a_burst_passes_then_the_next_waits(void **state)
{
	srv_limiter *l;
	unsigned wait = 0;
	assert_int_equal(srv_limiter_new(&l, 2, 5), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(srv_limiter_take(l, "a", 100.0, &wait), 1);
	assert_int_equal(srv_limiter_take(l, "a", 100.0, &wait), 0);
	/* one token comes back in half a second at 2/s: rounded up to 1 s */
	assert_int_equal(wait, 1);
	srv_limiter_free(l);
}

static void test_server_limits__tokens_come_back_at_the_rate(void **state)
{
	srv_limiter *l;
	unsigned wait = 0;
	assert_int_equal(srv_limiter_new(&l, 1, 1), 0);
	assert_int_equal(srv_limiter_take(l, "a", 10.0, &wait), 1);
	assert_int_equal(srv_limiter_take(l, "a", 10.2, &wait), 0);
	assert_int_equal(srv_limiter_take(l, "a", 11.3, &wait), 1);
	/* an idle token does not save up more than the burst */
	assert_int_equal(srv_limiter_take(l, "a", 1000.0, &wait), 1);
	assert_int_equal(srv_limiter_take(l, "a", 1000.0, &wait), 0);
	srv_limiter_free(l);
}

static void test_server_limits__the_wait_is_the_time_to_one_token(void **state)
{
	srv_limiter *l;
	unsigned wait = 0;
	assert_int_equal(srv_limiter_new(&l, 0.1, 1), 0);
	assert_int_equal(srv_limiter_take(l, "a", 0.0, &wait), 1);
	assert_int_equal(srv_limiter_take(l, "a", 0.0, &wait), 0);
	assert_int_equal(wait, 10);
	assert_int_equal(srv_limiter_take(l, "a", 5.0, &wait), 0);
	assert_int_equal(wait, 5);
	srv_limiter_free(l);
}

static void test_server_limits__each_token_has_its_own_bucket(void **state)
{
	srv_limiter *l;
	unsigned wait = 0;
	char id[SRV_TOKEN_ID_HEX + 1];
	assert_int_equal(srv_limiter_new(&l, 1, 1), 0);
	/* more tokens than one allocation holds */
	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "%016x", i);
		assert_int_equal(srv_limiter_take(l, id, 0.0, &wait), 1);
	}
	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "%016x", i);
		assert_int_equal(srv_limiter_take(l, id, 0.0, &wait), 0);
	}
	srv_limiter_free(l);
}

static void test_server_limits__rate_zero_turns_the_limit_off(void **state)
{
	srv_limiter *l;
	unsigned wait = 0;
	assert_int_equal(srv_limiter_new(&l, 0, 0), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(srv_limiter_take(l, "a", 0.0, &wait), 1);
	srv_limiter_free(l);
	srv_limiter_free(NULL);
}

static void test_server_limits__a_request_costs_its_units(void **state)
{
	srv_limiter *l;
	unsigned wait = 0;
	char repo[SRV_REPO_HEX + 1];
	memset(repo, 'a', SRV_REPO_HEX);
	repo[SRV_REPO_HEX] = '\0';
	assert_int_equal(srv_limiter_new(&l, 1000, 10000), 0);
	assert_int_equal(srv_limiter_take_n(l, repo, 6000, 0.0, &wait), 1);
	/* 4,000 left: 5,000 wait a second for the 1,000 missing */
	assert_int_equal(srv_limiter_take_n(l, repo, 5000, 0.0, &wait), 0);
	assert_int_equal(wait, 1);
	assert_int_equal(srv_limiter_take_n(l, repo, 4000, 0.0, &wait), 1);
	srv_limiter_free(l);
}

static void test_server_limits__more_than_the_burst_passes_from_a_full_bucket(void **state)
{
	srv_limiter *l;
	unsigned wait = 0;
	assert_int_equal(srv_limiter_new(&l, 1000, 10000), 0);
	assert_int_equal(srv_limiter_take_n(l, "r", 11000, 0.0, &wait), 1);
	/* in debt by 1,000: even one unit waits for the debt and itself */
	assert_int_equal(srv_limiter_take_n(l, "r", 10, 0.0, &wait), 0);
	assert_int_equal(wait, 2);
	assert_int_equal(srv_limiter_take_n(l, "r", 10, 1.5, &wait), 1);
	/* and a large one waits for a full bucket */
	assert_int_equal(srv_limiter_take_n(l, "r", 20000, 1.5, &wait), 0);
	assert_int_equal(wait, 10);
	srv_limiter_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_server_limits__a_burst_passes_then_the_next_waits),
	    cmocka_unit_test(test_server_limits__tokens_come_back_at_the_rate),
	    cmocka_unit_test(test_server_limits__the_wait_is_the_time_to_one_token),
	    cmocka_unit_test(test_server_limits__each_token_has_its_own_bucket),
	    cmocka_unit_test(test_server_limits__rate_zero_turns_the_limit_off),
	    cmocka_unit_test(test_server_limits__a_request_costs_its_units),
	    cmocka_unit_test(test_server_limits__more_than_the_burst_passes_from_a_full_bucket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

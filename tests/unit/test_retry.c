/* The one retry policy: backoff bounds, jitter, Retry-After, and which
 * HTTP answers and transfer failures are worth another try. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "net/retry.h"

#include <sodium.h>

static uint32_t bound(unsigned attempt)
{
	uint64_t d = CAIRN_RETRY_BASE_MS;
	for (unsigned i = 1; i < attempt && d < CAIRN_RETRY_CAP_MS; i++)
		d *= 2;
	return d > CAIRN_RETRY_CAP_MS ? CAIRN_RETRY_CAP_MS : (uint32_t)d;
}

static void test_retry__delay_never_exceeds_the_doubling_bound(void **state)
{
	for (unsigned attempt = 1; attempt <= 12; attempt++)
		for (int i = 0; i < 500; i++)
			assert_in_range(cairn_retry_delay_ms(attempt), 0, bound(attempt));
}

static void test_retry__first_retry_waits_at_most_the_base_delay(void **state)
{
	for (int i = 0; i < 1000; i++)
		assert_true(cairn_retry_delay_ms(1) <= CAIRN_RETRY_BASE_MS);
}

static void test_retry__bound_doubles_until_the_cap(void **state)
{
	/* The largest of many draws comes close to the bound, so the bound of
	 * a later attempt shows in the draws. */
	uint32_t max3 = 0, max1 = 0;
	for (int i = 0; i < 3000; i++) {
		uint32_t a = cairn_retry_delay_ms(1), c = cairn_retry_delay_ms(3);
		if (a > max1)
			max1 = a;
		if (c > max3)
			max3 = c;
	}
	assert_true(max1 > CAIRN_RETRY_BASE_MS * 9 / 10);
	assert_true(max3 > CAIRN_RETRY_BASE_MS * 4 * 9 / 10);
	assert_true(max3 <= CAIRN_RETRY_BASE_MS * 4);
}

static void test_retry__late_attempts_stay_under_the_cap(void **state)
{
	uint32_t max = 0;
	for (int i = 0; i < 2000; i++) {
		uint32_t d = cairn_retry_delay_ms(1000);
		assert_true(d <= CAIRN_RETRY_CAP_MS);
		if (d > max)
			max = d;
	}
	assert_true(max > CAIRN_RETRY_CAP_MS / 2);
	assert_true(cairn_retry_delay_ms(UINT32_MAX) <= CAIRN_RETRY_CAP_MS);
}

static void test_retry__delays_are_jittered(void **state)
{
	/* Clients that fail together must not retry in step. */
	uint32_t first = cairn_retry_delay_ms(5);
	int differ = 0;
	for (int i = 0; i < 100; i++)
		differ += cairn_retry_delay_ms(5) != first;
	assert_true(differ > 50);
}

static void test_retry__transient_statuses_are_retried(void **state)
{
	static const long yes[] = {408, 429, 500, 502, 503, 504, 507, 599};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_int_equal(cairn_retry_http_status(yes[i]), 1);
}

static void test_retry__final_statuses_are_not_retried(void **state)
{
	static const long no[] = {0,   200, 204, 206, 304, 400, 401, 403,
	                          404, 409, 412, 416, 501, 505, 600};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_int_equal(cairn_retry_http_status(no[i]), 0);
}

static void test_retry__network_failures_are_retried(void **state)
{
	static const CURLcode yes[] = {CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,
	                               CURLE_OPERATION_TIMEDOUT,   CURLE_SEND_ERROR,
	                               CURLE_RECV_ERROR,           CURLE_GOT_NOTHING,
	                               CURLE_PARTIAL_FILE,         CURLE_HTTP2,
	                               CURLE_HTTP2_STREAM,         CURLE_SSL_CONNECT_ERROR,
	                               CURLE_WEIRD_SERVER_REPLY};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_int_equal(cairn_retry_curl_error(yes[i]), 1);
}

static void test_retry__request_failures_are_not_retried(void **state)
{
	static const CURLcode no[] = {CURLE_OK,
	                              CURLE_UNSUPPORTED_PROTOCOL,
	                              CURLE_URL_MALFORMAT,
	                              CURLE_WRITE_ERROR,
	                              CURLE_READ_ERROR,
	                              CURLE_OUT_OF_MEMORY,
	                              CURLE_PEER_FAILED_VERIFICATION,
	                              CURLE_ABORTED_BY_CALLBACK};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_int_equal(cairn_retry_curl_error(no[i]), 0);
}

static void test_retry__only_unconnected_failures_were_surely_not_sent(void **state)
{
	assert_int_equal(cairn_retry_curl_maybe_sent(CURLE_COULDNT_RESOLVE_HOST), 0);
	assert_int_equal(cairn_retry_curl_maybe_sent(CURLE_COULDNT_CONNECT), 0);
	assert_int_equal(cairn_retry_curl_maybe_sent(CURLE_RECV_ERROR), 1);
	assert_int_equal(cairn_retry_curl_maybe_sent(CURLE_OPERATION_TIMEDOUT), 1);
}

static void test_retry__retry_after_lengthens_the_wait_up_to_its_cap(void **state)
{
	for (int i = 0; i < 200; i++) {
		assert_int_equal(cairn_retry_wait_ms(1, 3), 3000);
		assert_int_equal(cairn_retry_wait_ms(1, 1000000), CAIRN_RETRY_AFTER_CAP_S * 1000u);
		assert_true(cairn_retry_wait_ms(2, 0) <= 2 * CAIRN_RETRY_BASE_MS);
		/* a wish shorter than the backoff does not shorten it */
		assert_true(cairn_retry_wait_ms(20, 1) >= 1000);
		assert_true(cairn_retry_wait_ms(20, 1) <= CAIRN_RETRY_CAP_MS);
	}
}

static void test_retry__allows_several_attempts(void **state)
{
	assert_true(CAIRN_RETRY_ATTEMPTS >= 3);
	assert_true(CAIRN_RETRY_BASE_MS < CAIRN_RETRY_CAP_MS);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retry__delay_never_exceeds_the_doubling_bound),
	    cmocka_unit_test(test_retry__first_retry_waits_at_most_the_base_delay),
	    cmocka_unit_test(test_retry__bound_doubles_until_the_cap),
	    cmocka_unit_test(test_retry__late_attempts_stay_under_the_cap),
	    cmocka_unit_test(test_retry__delays_are_jittered),
	    cmocka_unit_test(test_retry__transient_statuses_are_retried),
	    cmocka_unit_test(test_retry__final_statuses_are_not_retried),
	    cmocka_unit_test(test_retry__network_failures_are_retried),
	    cmocka_unit_test(test_retry__request_failures_are_not_retried),
	    cmocka_unit_test(test_retry__only_unconnected_failures_were_surely_not_sent),
	    cmocka_unit_test(test_retry__retry_after_lengthens_the_wait_up_to_its_cap),
	    cmocka_unit_test(test_retry__allows_several_attempts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

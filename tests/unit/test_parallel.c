#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "util/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define N 1000

struct calls {
	_Atomic int count[N];
	_Atomic int other_threads; /* calls made off the caller's thread */
	pthread_t caller;
	size_t fail_from; /* calls from here on fail, with their index in the message */
};

static int record(void *ud, size_t i)
{
	struct calls *c = ud;
	c->count[i]++;
	if (!pthread_equal(pthread_self(), c->caller))
		c->other_threads++;
	if (i % 7 == 0)
		usleep(10); /* let the threads interleave */
	if (i >= c->fail_from)
		return cairn_error_set(i % 2 ? CAIRN_EIO : CAIRN_ECORRUPT, "item %zu failed", i);
	return 0;
}

static void init_calls(struct calls *c, size_t fail_from)
{
	memset(c, 0, sizeof(*c));
	c->caller = pthread_self();
	c->fail_from = fail_from;
}

static void test_parallel__calls_every_index_once(void **state)
{
	(void)state;
	static struct calls c;
	init_calls(&c, N);
	assert_int_equal(cairn_parallel_for(N, 4, record, &c), 0);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(c.count[i], 1);
}

static void test_parallel__one_thread_runs_everything_on_the_caller(void **state)
{
	(void)state;
	static struct calls c;
	init_calls(&c, N);
	assert_int_equal(cairn_parallel_for(N, 1, record, &c), 0);
	assert_int_equal(c.other_threads, 0);
	init_calls(&c, N);
	assert_int_equal(cairn_parallel_for(N, 0, record, &c), 0);
	assert_int_equal(c.other_threads, 0);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(c.count[i], 1);
}

static void test_parallel__nothing_to_do_is_success(void **state)
{
	(void)state;
	static struct calls c;
	init_calls(&c, 0);
	assert_int_equal(cairn_parallel_for(0, 8, record, &c), 0);
	assert_int_equal(c.count[0], 0);
}

static void test_parallel__more_threads_than_work_is_fine(void **state)
{
	(void)state;
	static struct calls c;
	init_calls(&c, N);
	assert_int_equal(cairn_parallel_for(3, 1000, record, &c), 0);
	assert_int_equal(c.count[0] + c.count[1] + c.count[2], 3);
	assert_int_equal(c.count[3], 0);
}

static void test_parallel__the_lowest_failure_is_reported_and_the_rest_still_run(void **state)
{
	(void)state;
	static struct calls c;
	for (unsigned threads = 1; threads <= 8; threads *= 2) {
		init_calls(&c, 501);
		cairn_error_clear();
		assert_int_equal(cairn_parallel_for(N, threads, record, &c), CAIRN_EIO);
		assert_string_equal(cairn_error_last(), "item 501 failed");
		for (size_t i = 0; i < N; i++)
			assert_int_equal(c.count[i], 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parallel__calls_every_index_once),
	    cmocka_unit_test(test_parallel__one_thread_runs_everything_on_the_caller),
	    cmocka_unit_test(test_parallel__nothing_to_do_is_success),
	    cmocka_unit_test(test_parallel__more_threads_than_work_is_fine),
	    cmocka_unit_test(test_parallel__the_lowest_failure_is_reported_and_the_rest_still_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

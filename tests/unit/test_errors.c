/* The per-thread error message, and a failure carried to another thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/errors.h"
#include "util/fdbudget.h"
#include "util/time.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void test_errors__prefix_keeps_the_first_message(void **state)
{
	assert_int_equal(cairn_error_set(CAIRN_ENOTFOUND, "pack %s", "ab12"), CAIRN_ENOTFOUND);
	assert_int_equal(cairn_error_prefix(CAIRN_EIO, "restore %d", 7), CAIRN_EIO);
	assert_string_equal(cairn_error_last(), "restore 7: pack ab12");
	cairn_error_clear();
	assert_string_equal(cairn_error_last(), "");
}

static void *fail_on_a_thread(void *arg)
{
	cairn_error_saved *saved = arg;
	cairn_error_save(saved,
	                 cairn_error_set(CAIRN_ECORRUPT, "blob %d does not authenticate", 3));
	return NULL;
}

static void test_errors__a_saved_failure_is_restored_on_another_thread(void **state)
{
	cairn_error_saved saved = {0};
	pthread_t t;
	cairn_error_set(CAIRN_EIO, "this thread's own");
	assert_int_equal(pthread_create(&t, NULL, fail_on_a_thread, &saved), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_string_equal(cairn_error_last(), "this thread's own");
	assert_int_equal(cairn_error_restore(&saved), CAIRN_ECORRUPT);
	assert_string_equal(cairn_error_last(), "blob 3 does not authenticate");
}

static void test_errors__a_saved_zero_is_still_a_failure(void **state)
{
	cairn_error_saved saved;
	cairn_error_set(0, "went wrong without a code");
	cairn_error_save(&saved, 0);
	assert_int_equal(cairn_error_restore(&saved), CAIRN_ERROR);
}

static void test_errors__a_long_message_is_cut_and_terminated(void **state)
{
	char big[3000];
	cairn_error_saved saved;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cairn_error_set(CAIRN_EINVAL, "%s", big);
	cairn_error_save(&saved, CAIRN_EINVAL);
	cairn_error_clear();
	cairn_error_restore(&saved);
	assert_int_equal(strlen(cairn_error_last()), sizeof(saved.message) - 1);
}

static void test_fdbudget__spare_descriptors_shrink_as_files_open(void **state)
{
	struct rlimit old, rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = 400 < old.rlim_max ? 400 : old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	uint64_t before = cairn_fd_spare(0);
	assert_true(before > 0);
	assert_true(before <= 400 - CAIRN_FD_MARGIN);
	assert_int_equal(cairn_fd_spare(10), before - 10);
	int fd[5];
	for (int i = 0; i < 5; i++)
		assert_true((fd[i] = open("/dev/null", O_RDONLY)) >= 0);
	assert_int_equal(cairn_fd_spare(0), before - 5);
	assert_int_equal(cairn_fd_spare(1000), 0);
	for (int i = 0; i < 5; i++)
		close(fd[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

static void test_time__the_monotonic_clock_does_not_go_back(void **state)
{
	int64_t a = cairn_now_ns(CLOCK_MONOTONIC);
	int64_t b = cairn_now_ns(CLOCK_MONOTONIC);
	assert_true(b >= a);
	/* after 2001, before 2100 */
	int64_t now = cairn_now_ns(CLOCK_REALTIME);
	assert_true(now > 1000000000LL * 1000000000LL);
	assert_true(now < 4102444800LL * 1000000000LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_errors__prefix_keeps_the_first_message),
	    cmocka_unit_test(test_errors__a_saved_failure_is_restored_on_another_thread),
	    cmocka_unit_test(test_errors__a_saved_zero_is_still_a_failure),
	    cmocka_unit_test(test_errors__a_long_message_is_cut_and_terminated),
	    cmocka_unit_test(test_fdbudget__spare_descriptors_shrink_as_files_open),
	    cmocka_unit_test(test_time__the_monotonic_clock_does_not_go_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

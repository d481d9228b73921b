/* Whole reads and writes at an offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_fileio__writes_and_reads_back_at_offsets(void **state)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	int fd = fileno(f);
	size_t n = 3 << 20;
	uint8_t *a = malloc(n), *b = malloc(n);
	assert_non_null(a);
	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		a[i] = (uint8_t)(i * 31 + 7);
	assert_int_equal(cairn_pwrite_all(fd, a, n, 4096), 0);
	assert_int_equal(cairn_pread_all(fd, b, n, 4096), (ssize_t)n);
	assert_memory_equal(a, b, n);
	/* the gap before the offset reads as zeros */
	uint8_t z[4096];
	assert_int_equal(cairn_pread_all(fd, z, sizeof(z), 0), (ssize_t)sizeof(z));
	for (size_t i = 0; i < sizeof(z); i++)
		assert_int_equal(z[i], 0);
	free(a);
	free(b);
	fclose(f);
}

static void test_fileio__a_read_past_the_end_is_short(void **state)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	int fd = fileno(f);
	assert_int_equal(cairn_pwrite_all(fd, "abcdef", 6, 0), 0);
	char buf[16];
	assert_int_equal(cairn_pread_all(fd, buf, sizeof(buf), 2), 4);
	assert_memory_equal(buf, "cdef", 4);
	assert_int_equal(cairn_pread_all(fd, buf, sizeof(buf), 100), 0);
	fclose(f);
}

static void test_fileio__errors_come_back_with_errno(void **state)
{
	char buf[4];
	errno = 0;
	assert_int_equal(cairn_pread_all(-1, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, EBADF);
	errno = 0;
	assert_int_equal(cairn_pwrite_all(-1, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fileio__writes_and_reads_back_at_offsets),
	    cmocka_unit_test(test_fileio__a_read_past_the_end_is_short),
	    cmocka_unit_test(test_fileio__errors_come_back_with_errno),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

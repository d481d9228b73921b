#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/exclude.h"

static void test_exclude__name_glob_matches_basename_anywhere(void **state)
{
	const char *globs[] = {"*.o", "cache"};
	assert_true(cairn_exclude_match(globs, 2, "/src/a/b.o"));
	assert_true(cairn_exclude_match(globs, 2, "/home/u/cache"));
	assert_false(cairn_exclude_match(globs, 2, "/home/u/cache.txt"));
	assert_false(cairn_exclude_match(globs, 2, "/src/a/b.c"));
}

static void test_exclude__path_glob_matches_whole_path_and_below(void **state)
{
	const char *globs[] = {"/home/*/tmp"};
	assert_true(cairn_exclude_match(globs, 1, "/home/u/tmp"));
	assert_true(cairn_exclude_match(globs, 1, "/home/u/tmp/x/y"));
	assert_false(cairn_exclude_match(globs, 1, "/home/u/v/tmp"));
	assert_false(cairn_exclude_match(globs, 1, "/home/u/tmpfile"));
}

static void test_exclude__empty_list_matches_nothing(void **state)
{
	assert_false(cairn_exclude_match(NULL, 0, "/anything"));
	const char *globs[] = {""};
	assert_false(cairn_exclude_match(globs, 1, "/anything"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exclude__name_glob_matches_basename_anywhere),
	    cmocka_unit_test(test_exclude__path_glob_matches_whole_path_and_below),
	    cmocka_unit_test(test_exclude__empty_list_matches_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

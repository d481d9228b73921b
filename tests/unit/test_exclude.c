#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/backup.h"
#include "cairn/errors.h"
#include "walk.h"

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

static void check_abs(const char *in, const char *want)
{
	char *out = NULL;
	assert_int_equal(cairn_path_absolute(in, &out), 0);
	assert_string_equal(out, want);
	free(out);
}

static void test_walk__absolute_paths_are_cleaned_lexically(void **state)
{
	check_abs("/a/./b//c/", "/a/b/c");
	check_abs("/a/b/../c", "/a/c");
	check_abs("/..", "/");
	check_abs("/", "/");
	check_abs("//x", "/x");
	check_abs("/a/b/../../..", "/");
}

static void test_walk__relative_paths_are_made_absolute(void **state)
{
	char cwd[4096], want[4200];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "%s/x/y", strcmp(cwd, "/") ? cwd : "");
	check_abs("x/y", want);
	check_abs("./x/./y/", want);
}

static void test_walk__empty_path_is_rejected(void **state)
{
	char *out = NULL;
	assert_int_equal(cairn_path_absolute("", &out), CAIRN_EINVAL);
	assert_null(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exclude__name_glob_matches_basename_anywhere),
		cmocka_unit_test(test_exclude__path_glob_matches_whole_path_and_below),
		cmocka_unit_test(test_exclude__empty_list_matches_nothing),
		cmocka_unit_test(test_walk__absolute_paths_are_cleaned_lexically),
		cmocka_unit_test(test_walk__relative_paths_are_made_absolute),
		cmocka_unit_test(test_walk__empty_path_is_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/errors.h"
#include "fs/exclude.h"

/* Whether the n patterns name path (a directory if is_dir). */
static int names(const char *const *pats, size_t n, const char *path, int is_dir)
{
	cairn_patterns *p = NULL;
	assert_int_equal(cairn_patterns_new(&p, pats, n), 0);
	int m = cairn_patterns_match(p, path, is_dir);
	cairn_patterns_free(p);
	return m;
}

#define ONE(pat, path) names((const char *const[]){pat}, 1, path, 0)
#define ONE_DIR(pat, path) names((const char *const[]){pat}, 1, path, 1)

static void test_exclude__name_glob_matches_a_name_at_any_depth(void **state)
{
	assert_true(ONE("*.o", "/src/a/b.o"));
	assert_true(ONE("cache", "/home/u/cache"));
	assert_false(ONE("cache", "/home/u/cache.txt"));
	assert_false(ONE("*.o", "/src/a/b.c"));
	assert_true(ONE("*", "/.hidden"));
	/* What is below a match is matched too. */
	assert_true(ONE("cache", "/home/u/cache/x/y"));
	assert_true(ONE("*.d", "/a/x.d/f"));
}

static void test_exclude__star_stays_within_a_name(void **state)
{
	assert_false(ONE("/home/*", "/home"));
	assert_true(ONE("/home/*", "/home/u"));
	assert_false(ONE("/a*c", "/ab/c"));
	assert_true(ONE("/a*c", "/abbc"));
	assert_true(ONE("/a?c", "/abc"));
	assert_false(ONE("/a?c", "/a/c"));
}

static void test_exclude__anchored_path_matches_whole_path_and_below(void **state)
{
	assert_true(ONE("/home/*/tmp", "/home/u/tmp"));
	assert_true(ONE("/home/*/tmp", "/home/u/tmp/x/y"));
	assert_false(ONE("/home/*/tmp", "/home/u/v/tmp"));
	assert_false(ONE("/home/*/tmp", "/home/u/tmpfile"));
	assert_false(ONE("/tmp", "/home/tmp"));
	assert_true(ONE("//home//./u/", "/home/u/f"));
}

static void test_exclude__unanchored_path_matches_at_any_depth(void **state)
{
	assert_true(ONE("u/tmp", "/home/u/tmp"));
	assert_true(ONE("u/tmp", "/u/tmp/f"));
	assert_false(ONE("u/tmp", "/home/xu/tmp"));
	assert_true(ONE("*/tmp", "/a/b/tmp"));
}

static void test_exclude__double_star(void **state)
{
	/* At the start, in the middle, at the end, alone. */
	assert_true(ONE("**/*.gz", "/a/b/c.gz"));
	assert_true(ONE("**/*.gz", "/c.gz"));
	assert_true(ONE("/**/*.gz", "/c.gz"));
	assert_true(ONE("/**/*.gz", "/x/y/z/c.gz"));
	assert_false(ONE("/**/*.gz", "/x/y/z/c.gzip"));
	assert_true(ONE("/a/**/z", "/a/z"));
	assert_true(ONE("/a/**/z", "/a/b/c/z"));
	assert_false(ONE("/a/**/z", "/b/a/c/z"));
	assert_true(ONE("/a/**/b/**/c", "/a/x/b/y/b/z/c"));
	assert_false(ONE("/a/**/b/**/c", "/a/x/c/b"));
	assert_true(ONE("/a/**", "/a"));
	assert_true(ONE("/a/**", "/a/b/c"));
	assert_false(ONE("/a/**", "/ab"));
	assert_true(ONE("**", "/anything/at/all"));
	assert_true(ONE("a/**/**/b", "/x/a/b"));
	/* "**" inside a name is two stars of one name. */
	assert_true(ONE("/a**b", "/axyb"));
	assert_false(ONE("/a**b", "/ax/yb"));
}

static void test_exclude__trailing_slash_matches_directories_only(void **state)
{
	assert_true(ONE_DIR("cache/", "/home/u/cache"));
	assert_false(ONE("cache/", "/home/u/cache"));
	/* What is below a directory it matches is named too. */
	assert_true(ONE("cache/", "/home/u/cache/f"));
	assert_true(ONE_DIR("/home/*/", "/home/u"));
	assert_false(ONE("/home/*/", "/home/u"));
	assert_true(ONE("/home/*/", "/home/u/f"));
	assert_true(ONE("**/build/", "/p/build/obj/x.o"));
	assert_false(ONE("**/build/", "/p/build"));
}

static void test_exclude__brackets_and_escapes(void **state)
{
	assert_true(ONE("/f[0-9]", "/f7"));
	assert_false(ONE("/f[0-9]", "/fx"));
	assert_true(ONE("/f[!0-9]", "/fx"));
	assert_true(ONE("/f[^0-9]", "/fx"));
	assert_false(ONE("/f[!0-9]", "/f1"));
	assert_true(ONE("/f[]]", "/f]"));
	assert_true(ONE("/f[[:digit:]]", "/f3"));
	assert_true(ONE("/f\\*", "/f*"));
	assert_false(ONE("/f\\*", "/fx"));
	assert_true(ONE("/f\\[1]", "/f[1]"));
	assert_true(ONE("/a b", "/a b"));
	/* Case sensitive. */
	assert_false(ONE("*.GZ", "/a.gz"));
}

static void test_exclude__negation_later_pattern_decides(void **state)
{
	const char *const keep[] = {"*.log", "!keep.log"};
	assert_true(names(keep, 2, "/a/x.log", 0));
	assert_false(names(keep, 2, "/a/keep.log", 0));
	assert_false(names(keep, 2, "/a/x.txt", 0));
	/* Order matters: a '!' before the pattern it undoes does nothing. */
	const char *const late[] = {"!keep.log", "*.log"};
	assert_true(names(late, 2, "/a/keep.log", 0));
	/* A re-included directory brings what is below it. */
	const char *const dir[] = {"/data/*", "!/data/keep", "/data/keep/tmp"};
	assert_true(names(dir, 3, "/data/x", 0));
	assert_false(names(dir, 3, "/data/keep/y", 0));
	assert_true(names(dir, 3, "/data/keep/tmp/z", 0));
	assert_false(names(dir, 3, "/data", 1));
	/* Negation alone names nothing. */
	const char *const only[] = {"!*.c"};
	assert_false(names(only, 1, "/a.c", 0));
	assert_false(names(only, 1, "/a.o", 0));
}

static void test_exclude__hits_counted_per_pattern(void **state)
{
	const char *const pats[] = {"*.gz", "", "/no/such", "!a.gz", "*.gz"};
	cairn_patterns *p = NULL;
	assert_int_equal(cairn_patterns_new(&p, pats, 5), 0);
	assert_int_equal(cairn_patterns_count(p), 4);
	assert_true(cairn_patterns_match(p, "/x/b.gz", 0));
	assert_true(cairn_patterns_match(p, "/x/a.gz", 0)); /* the last *.gz decides */
	assert_false(cairn_patterns_test(p, "/x/c.txt", 0));
	assert_true(cairn_patterns_test(p, "/c.gz", 0)); /* counts nothing */
	assert_string_equal(cairn_patterns_text(p, 1), "/no/such");
	assert_int_equal(cairn_patterns_hits(p, 0), 2);
	assert_int_equal(cairn_patterns_hits(p, 1), 0);
	assert_int_equal(cairn_patterns_hits(p, 2), 1);
	assert_true(cairn_patterns_negated(p, 2));
	assert_int_equal(cairn_patterns_hits(p, 3), 2);
	cairn_patterns_free(p);
}

static void test_exclude__malformed_patterns_rejected(void **state)
{
	const char *const bad[] = {"/a[b", "x\\", "!", "[[:alpha:"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cairn_patterns *p = NULL;
		assert_int_equal(cairn_patterns_new(&p, &bad[i], 1), CAIRN_EINVAL);
		assert_null(p);
		assert_non_null(strstr(cairn_error_last(), bad[i]));
	}
}

static void test_exclude__passed_only_behind_anchored_plain_prefixes(void **state)
{
	const char *const anchored[] = {"/home/u/docs", "/home/u/src/*.c", "!/zzz"};
	cairn_patterns *p = NULL;
	assert_int_equal(cairn_patterns_new(&p, anchored, 3), 0);
	assert_false(cairn_patterns_passed(p, "/home"));
	assert_false(cairn_patterns_passed(p, "/home/u/docs/x"));
	assert_false(cairn_patterns_passed(p, "/home/u/media"));
	assert_false(cairn_patterns_passed(p, "/home/u/src/a/b"));
	assert_true(cairn_patterns_passed(p, "/home/u/srd"));
	assert_true(cairn_patterns_passed(p, "/home/v"));
	cairn_patterns_free(p);

	const char *const loose[] = {"/home/u", "*.c"};
	assert_int_equal(cairn_patterns_new(&p, loose, 2), 0);
	assert_false(cairn_patterns_passed(p, "/zzz"));
	cairn_patterns_free(p);
	const char *const root[] = {"/*/x"};
	assert_int_equal(cairn_patterns_new(&p, root, 1), 0);
	assert_false(cairn_patterns_passed(p, "/zzz"));
	cairn_patterns_free(p);
}

static void test_exclude__empty_list_matches_nothing(void **state)
{
	assert_false(cairn_patterns_match(NULL, "/anything", 0));
	assert_false(cairn_patterns_passed(NULL, "/anything"));
	assert_false(ONE("", "/anything"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exclude__name_glob_matches_a_name_at_any_depth),
	    cmocka_unit_test(test_exclude__star_stays_within_a_name),
	    cmocka_unit_test(test_exclude__anchored_path_matches_whole_path_and_below),
	    cmocka_unit_test(test_exclude__unanchored_path_matches_at_any_depth),
	    cmocka_unit_test(test_exclude__double_star),
	    cmocka_unit_test(test_exclude__trailing_slash_matches_directories_only),
	    cmocka_unit_test(test_exclude__brackets_and_escapes),
	    cmocka_unit_test(test_exclude__negation_later_pattern_decides),
	    cmocka_unit_test(test_exclude__hits_counted_per_pattern),
	    cmocka_unit_test(test_exclude__malformed_patterns_rejected),
	    cmocka_unit_test(test_exclude__passed_only_behind_anchored_plain_prefixes),
	    cmocka_unit_test(test_exclude__empty_list_matches_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

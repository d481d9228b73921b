#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "util/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

/* Checks a < b both ways round, through both entry points. */
static void assert_before(const char *a, const char *b)
{
	if (cairn_path_cmp(a, b) >= 0)
		fail_msg("expected \"%s\" before \"%s\"", a, b);
	if (cairn_path_cmp(b, a) <= 0)
		fail_msg("expected \"%s\" after \"%s\"", b, a);
	assert_true(cairn_path_cmpn(a, strlen(a), b, strlen(b)) < 0);
	assert_true(cairn_path_cmpn(b, strlen(b), a, strlen(a)) > 0);
}

static void test_path__equal_paths_compare_equal(void **state)
{
	(void)state;
	assert_int_equal(cairn_path_cmp("/", "/"), 0);
	assert_int_equal(cairn_path_cmp("/a/b", "/a/b"), 0);
	assert_int_equal(cairn_path_cmp("", ""), 0);
	assert_int_equal(cairn_path_cmpn("/x\xff", 3, "/x\xff", 3), 0);
}

static void test_path__a_directory_comes_right_before_its_contents(void **state)
{
	(void)state;
	assert_before("/", "/a");
	assert_before("/a", "/a/b");
	assert_before("/a/b", "/a/b/c");
	/* '/' sorts before every other byte, so the whole of /a's subtree
	 * comes before a sibling whose name merely starts with "a". */
	assert_before("/a/b", "/a-b");
	assert_before("/a/zzz", "/a-b");
	assert_before("/a/\xff", "/a!");
	assert_before("/a/b", "/a\x01");
	assert_before("/a", "/a-b");
	assert_before("/a-b", "/a0");
	assert_before("/a0", "/b");
}

static void test_path__other_bytes_compare_unsigned(void **state)
{
	(void)state;
	assert_before("/a", "/b");
	assert_before("/A", "/a");
	assert_before("/\x01", "/\x7f");
	assert_before("/\x7f", "/\x80");
	assert_before("/\x80", "/\xff");
	assert_before("/caf\xc3\xa9", "/caf\xc3\xa9/x");
	assert_before("/d/\xff\xfe", "/d/\xff\xff");
}

static void test_path__a_shorter_prefix_sorts_first(void **state)
{
	(void)state;
	assert_before("/ab", "/abc");
	assert_before("", "/");
	assert_before("/a/b", "/a/bc");
}

static void test_path__cmpn_uses_the_given_lengths_only(void **state)
{
	(void)state;
	/* Bytes past the given lengths are not looked at. */
	assert_int_equal(cairn_path_cmpn("/abcX", 4, "/abcY", 4), 0);
	assert_true(cairn_path_cmpn("/abc", 3, "/abc", 4) < 0);
	assert_true(cairn_path_cmpn("/abd", 4, "/abc", 3) > 0);
	assert_int_equal(cairn_path_cmpn(NULL, 0, NULL, 0), 0);
}

/* ---- a depth-first walk that visits names in byte order yields sorted
 * paths ---------------------------------------------------------------- */

#define WALK_MAX 4096

struct walk {
	char *paths[WALK_MAX];
	size_t n;
	uint32_t seed;
};

static uint32_t next_rand(uint32_t *s)
{
	/* xorshift32: deterministic, so a failure is reproducible. */
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

static int byte_cmp(const void *a, const void *b)
{
	const char *sa = *(const char *const *)a, *sb = *(const char *const *)b;
	return strcmp(sa, sb); /* glibc strcmp compares as unsigned char */
}

static int path_qsort_cmp(const void *a, const void *b)
{
	return cairn_path_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* Names drawn so that siblings often share prefixes and contain bytes
 * below and above '/', which is where a plain strcmp would go wrong. */
static void random_name(struct walk *w, char *out, size_t cap)
{
	static const char alphabet[] = {'a',    'b',    '-',    '.',    '!', '0',
	                                '\x01', '\x7f', '\x80', '\xff', ' ', 'Z'};
	size_t len = 1 + next_rand(&w->seed) % 3;
	if (len >= cap)
		len = cap - 1;
	for (size_t i = 0; i < len; i++)
		out[i] = alphabet[next_rand(&w->seed) % sizeof(alphabet)];
	out[len] = '\0';
}

static void walk_dir(struct walk *w, const char *dir, int depth)
{
	char *names[8];
	size_t n = 0;
	size_t want = 1 + next_rand(&w->seed) % 6;

	while (n < want) {
		char name[8];
		random_name(w, name, sizeof(name));
		int dup = 0;
		for (size_t i = 0; i < n; i++)
			dup |= strcmp(names[i], name) == 0;
		if (!dup)
			names[n++] = strdup(name);
		else
			want--; /* fewer names rather than loop forever on a tiny alphabet */
	}
	qsort(names, n, sizeof(names[0]), byte_cmp);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(dir) + 1 + strlen(names[i]) + 1;
		char *p = malloc(len);
		assert_non_null(p);
		snprintf(p, len, "%s/%s", strcmp(dir, "/") ? dir : "", names[i]);
		assert_true(w->n < WALK_MAX);
		w->paths[w->n++] = p;
		if (depth < 3 && next_rand(&w->seed) % 2)
			walk_dir(w, p, depth + 1);
		free(names[i]);
	}
}

static void test_path__depth_first_walk_in_byte_order_is_sorted(void **state)
{
	(void)state;
	for (uint32_t seed = 1; seed <= 50; seed++) {
		struct walk *w = calloc(1, sizeof(*w));
		assert_non_null(w);
		w->seed = seed * 2654435761u;
		w->paths[w->n++] = strdup("/");
		walk_dir(w, "/", 0);

		for (size_t i = 1; i < w->n; i++)
			if (cairn_path_cmp(w->paths[i - 1], w->paths[i]) >= 0)
				fail_msg("seed %u: walk order \"%s\" then \"%s\" is not ascending",
				         seed, w->paths[i - 1], w->paths[i]);

		/* Sorting a shuffled copy gives the walk order back. */
		char **copy = malloc(w->n * sizeof(*copy));
		assert_non_null(copy);
		memcpy(copy, w->paths, w->n * sizeof(*copy));
		for (size_t i = w->n; i > 1; i--) {
			size_t j = next_rand(&w->seed) % i;
			char *t = copy[i - 1];
			copy[i - 1] = copy[j];
			copy[j] = t;
		}
		qsort(copy, w->n, sizeof(*copy), path_qsort_cmp);
		for (size_t i = 0; i < w->n; i++)
			assert_ptr_equal(copy[i], w->paths[i]);

		free(copy);
		for (size_t i = 0; i < w->n; i++)
			free(w->paths[i]);
		free(w);
	}
}

static void test_path__order_is_antisymmetric_and_transitive(void **state)
{
	(void)state;
	static const char *paths[] = {"/",      "/a",      "/a/b",   "/a/b/c",    "/a-b",
	                              "/a\x01", "/a!",     "/a0",    "/ab",       "/b",
	                              "/\xff",  "/a/\xff", "/a/b-c", "/a/b/\x01", ""};
	const size_t n = sizeof(paths) / sizeof(paths[0]);

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int ij = sign(cairn_path_cmp(paths[i], paths[j]));
			int ji = sign(cairn_path_cmp(paths[j], paths[i]));
			assert_int_equal(ij, -ji);
			assert_int_equal(ij == 0, i == j);
			for (size_t k = 0; k < n; k++) {
				int jk = sign(cairn_path_cmp(paths[j], paths[k]));
				int ik = sign(cairn_path_cmp(paths[i], paths[k]));
				if (ij < 0 && jk < 0 && ik >= 0)
					fail_msg("not transitive: %s < %s < %s", paths[i], paths[j],
					         paths[k]);
			}
		}
}

/* ---- normalize ------------------------------------------------------- */

static void assert_normal(const char *cwd, const char *path, const char *want)
{
	char *out = NULL;
	assert_int_equal(cairn_path_normalize(&out, cwd, path), 0);
	assert_non_null(out);
	assert_string_equal(out, want);
	free(out);
}

static void test_path__normalize_joins_relative_paths_to_cwd(void **state)
{
	assert_normal("/home/me", "docs", "/home/me/docs");
	assert_normal("/home/me", "./docs/", "/home/me/docs");
	assert_normal("/home/me", ".", "/home/me");
	assert_normal("/", "etc", "/etc");
	assert_normal("/home/me/", "a//b", "/home/me/a/b");
	assert_normal("/", "a/b", "/a/b");
	assert_normal("/", ".", "/");
}

static void test_path__normalize_cleans_absolute_paths_lexically(void **state)
{
	assert_normal("/home/me", "/etc/", "/etc");
	assert_normal("/home/me", "//etc//ssh/.", "/etc/ssh");
	assert_normal("/home/me", "/", "/");
	assert_normal("/home/me", "///", "/");
	assert_normal("/home/me", "/a/b/../c", "/a/c");
	assert_normal(NULL, "/a/./b//c/", "/a/b/c");
	assert_normal(NULL, "/a/b/../../c/./d//", "/c/d");
	assert_normal(NULL, "/a/..b/.c", "/a/..b/.c");
	assert_normal("/a", "..x/y", "/a/..x/y");
}

static void test_path__normalize_stops_dotdot_at_the_root(void **state)
{
	assert_normal("/home/me", "..", "/home");
	assert_normal("/home/me", "../../../..", "/");
	assert_normal("/home/me", "/../etc", "/etc");
	assert_normal(NULL, "/a/b/../../..", "/");
	assert_normal("/", "../../x", "/x");
	assert_normal(NULL, "/a/../../../b", "/b");
}

static void test_path__normalize_takes_the_working_directory_for_relative_paths(void **state)
{
	char cwd[4096], want[4200];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "%s/x/y", strcmp(cwd, "/") ? cwd : "");
	assert_normal(NULL, "x/y", want);
	assert_normal(NULL, "./x/./y/", want);
}

static void test_path__normalize_rejects_an_empty_path(void **state)
{
	char *out = (char *)"untouched";
	assert_int_equal(cairn_path_normalize(&out, "/home", ""), CAIRN_EINVAL);
	assert_null(out);
	out = (char *)"untouched";
	assert_int_equal(cairn_path_normalize(&out, NULL, NULL), CAIRN_EINVAL);
	assert_null(out);
}

/* ---- below and within ------------------------------------------------ */

static void test_path__is_below_compares_whole_components(void **state)
{
	assert_true(cairn_path_is_below("/a/b", "/a"));
	assert_true(cairn_path_is_below("/a/b/c", "/a"));
	assert_true(cairn_path_is_below("/a/b/c", "/a/b"));
	assert_false(cairn_path_is_below("/ab", "/a"));
	assert_false(cairn_path_is_below("/a-b/c", "/a"));
	assert_false(cairn_path_is_below("/a", "/a/b"));
	assert_false(cairn_path_is_below("/b/a", "/a"));
}

static void test_path__is_below_is_strict(void **state)
{
	assert_false(cairn_path_is_below("/a", "/a"));
	assert_false(cairn_path_is_below("/", "/"));
	assert_false(cairn_path_is_below("/a/", "/a"));
	assert_true(cairn_path_is_below("/a", "/"));
	assert_true(cairn_path_is_below("/a/b/c", "/"));
}

static void test_path__is_within_takes_the_directory_itself(void **state)
{
	assert_true(cairn_path_is_within("/home/a", "/home/a"));
	assert_true(cairn_path_is_within("/home/a/b/c", "/home/a"));
	assert_false(cairn_path_is_within("/home/ab", "/home/a"));
	assert_false(cairn_path_is_within("/home", "/home/a"));
	assert_false(cairn_path_is_within("/other/a", "/home/a"));
	assert_true(cairn_path_is_within("/anything", "/"));
	assert_true(cairn_path_is_within("/", "/"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path__equal_paths_compare_equal),
	    cmocka_unit_test(test_path__a_directory_comes_right_before_its_contents),
	    cmocka_unit_test(test_path__other_bytes_compare_unsigned),
	    cmocka_unit_test(test_path__a_shorter_prefix_sorts_first),
	    cmocka_unit_test(test_path__cmpn_uses_the_given_lengths_only),
	    cmocka_unit_test(test_path__depth_first_walk_in_byte_order_is_sorted),
	    cmocka_unit_test(test_path__order_is_antisymmetric_and_transitive),
	    cmocka_unit_test(test_path__normalize_joins_relative_paths_to_cwd),
	    cmocka_unit_test(test_path__normalize_cleans_absolute_paths_lexically),
	    cmocka_unit_test(test_path__normalize_stops_dotdot_at_the_root),
	    cmocka_unit_test(test_path__normalize_takes_the_working_directory_for_relative_paths),
	    cmocka_unit_test(test_path__normalize_rejects_an_empty_path),
	    cmocka_unit_test(test_path__is_below_compares_whole_components),
	    cmocka_unit_test(test_path__is_below_is_strict),
	    cmocka_unit_test(test_path__is_within_takes_the_directory_itself),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

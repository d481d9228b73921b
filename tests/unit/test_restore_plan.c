#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cairn/errors.h"
#include "restore/restore_plan.h"
#include "util/path.h"

/* ---- path_check ------------------------------------------------------ */

static void test_restore_plan__path_check_accepts_plain_absolute_paths(void **state)
{
	const char *ok[] = {"/",      "/a",     "/a/b", "/etc/ssh/sshd_config", "/.hidden",
	                    "/a/..b", "/a/b..", "/...", "/with space/\n/\xff"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(cairn_restore_path_check(ok[i]), 0);
}

static void test_restore_plan__path_check_rejects_paths_that_could_leave_the_target(void **state)
{
	const char *bad[] = {"",     "a",      "a/b",  "/a/",    "//a",     "/a//b",
	                     "/.",   "/..",    "/./a", "/a/./b", "/a/../b", "/a/..",
	                     "/a/.", "../etc", "./a",  "/a/b/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cairn_restore_path_check(bad[i]), CAIRN_ECORRUPT);
}

/* ---- select ---------------------------------------------------------- */

static cairn_patterns *pats(const char *const *v, size_t n)
{
	cairn_patterns *p = NULL;
	assert_int_equal(cairn_patterns_new(&p, v, n), 0);
	return p;
}

static void test_restore_plan__no_patterns_select_everything(void **state)
{
	assert_true(cairn_restore_select(NULL, NULL, "/", 1, 1));
	assert_true(cairn_restore_select(NULL, NULL, "/a/b", 0, 1));
}

static void test_restore_plan__plain_include_selects_itself_and_below(void **state)
{
	const char *v[] = {"/home/u/docs"};
	cairn_patterns *inc = pats(v, 1);
	assert_true(cairn_restore_select(inc, NULL, "/home/u/docs", 1, 1));
	assert_true(cairn_restore_select(inc, NULL, "/home/u/docs/a/b", 0, 1));
	/* Directories above are not selected: created when needed. */
	assert_false(cairn_restore_select(inc, NULL, "/home/u", 1, 1));
	assert_false(cairn_restore_select(inc, NULL, "/", 1, 1));
	assert_false(cairn_restore_select(inc, NULL, "/home/u/docs2", 1, 1));
	assert_false(cairn_restore_select(inc, NULL, "/home/u/doc", 0, 1));
	assert_false(cairn_restore_select(inc, NULL, "/etc", 1, 1));
	assert_int_equal(cairn_patterns_hits(inc, 0), 2);
	/* Trying without counting leaves the hits. */
	assert_true(cairn_restore_select(inc, NULL, "/home/u/docs", 1, 0));
	assert_int_equal(cairn_patterns_hits(inc, 0), 2);
	cairn_patterns_free(inc);
}

static void test_restore_plan__excludes_apply_to_what_includes_take(void **state)
{
	const char *i[] = {"/a", "*.txt"}, *x[] = {"*.gz", "tmp/", "!keep.gz"};
	cairn_patterns *inc = pats(i, 2), *exc = pats(x, 3);
	assert_true(cairn_restore_select(inc, exc, "/a/b", 0, 1));
	assert_false(cairn_restore_select(inc, exc, "/a/b.gz", 0, 1));
	assert_true(cairn_restore_select(inc, exc, "/a/keep.gz", 0, 1));
	assert_false(cairn_restore_select(inc, exc, "/a/tmp", 1, 1));
	assert_true(cairn_restore_select(inc, exc, "/a/tmp", 0, 1));
	assert_true(cairn_restore_select(inc, exc, "/z/y/n.txt", 0, 1));
	assert_false(cairn_restore_select(inc, exc, "/z/y/n.gz", 0, 1));
	/* Tried only on what the includes take: /z/y/n.gz counted no hit. */
	assert_int_equal(cairn_patterns_hits(exc, 0), 2);
	assert_true(cairn_restore_select(NULL, exc, "/q", 0, 1));
	assert_false(cairn_restore_select(NULL, exc, "/q.gz", 0, 1));
	cairn_patterns_free(inc);
	cairn_patterns_free(exc);
}

static void test_restore_plan__root_include_selects_everything(void **state)
{
	const char *v[] = {"/"};
	cairn_patterns *inc = pats(v, 1);
	assert_true(cairn_restore_select(inc, NULL, "/", 1, 1));
	assert_true(cairn_restore_select(inc, NULL, "/any/thing", 0, 1));
	cairn_patterns_free(inc);
}

/* ---- includes_passed ------------------------------------------------- */

static int passed(const char *const *v, size_t n, const char *path)
{
	cairn_patterns *inc = pats(v, n);
	int r = cairn_restore_includes_passed(inc, path);
	cairn_patterns_free(inc);
	return r;
}

static void test_restore_plan__includes_passed_only_after_every_include_subtree(void **state)
{
	const char *inc[] = {"/a/b"};
	assert_false(passed(inc, 1, "/"));
	assert_false(passed(inc, 1, "/a"));
	assert_false(passed(inc, 1, "/a/a"));
	assert_false(passed(inc, 1, "/a/b"));
	assert_false(passed(inc, 1, "/a/b/zzz"));
	/* '/' sorts first, so "b-" and "b0" come after the whole of "b/". */
	assert_true(passed(inc, 1, "/a/b-"));
	assert_true(passed(inc, 1, "/a/b0"));
	assert_true(passed(inc, 1, "/a/c"));
	assert_true(passed(inc, 1, "/b"));

	const char *two[] = {"/a", "/m/n/*.c"};
	assert_false(passed(two, 2, "/b"));
	assert_false(passed(two, 2, "/m/n/o"));
	assert_true(passed(two, 2, "/m/o"));
}

static void test_restore_plan__includes_are_never_passed_without_includes_or_with_root(void **state)
{
	const char *root[] = {"/"}, *any[] = {"/a", "b"}, *glob[] = {"/*/a"};
	assert_false(cairn_restore_includes_passed(NULL, "/zzz"));
	assert_false(passed(root, 1, "/zzz"));
	assert_false(passed(any, 2, "/zzz"));
	assert_false(passed(glob, 1, "/zzz"));
}

static int by_path(const void *a, const void *b)
{
	return cairn_path_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* Stopping at the first passed path never loses a selected entry. */
static void test_restore_plan__nothing_selected_follows_a_passed_path(void **state)
{
	const char *paths[] = {"/a",     "/a/b",   "/a/b/c",   "/a/b-c", "/a/b0",    "/a/b/d",
	                       "/a.b",   "/a/ba",  "/b",       "/b/a",   "/b/a/b",   "/b/a b",
	                       "/b\xff", "/c",     "/c/d",     "/c/d/e", "/c/d/e/f", "/c/de",
	                       "/z",     "/z/z/z", "/a/b/c/d", "/a-",    "/b/a/\x01"};
	size_t n = sizeof(paths) / sizeof(paths[0]);
	qsort(paths, n, sizeof(paths[0]), by_path);
	const char *sets[][2] = {{"/a/b", NULL},   {"/b/a", "/c/d"},   {"/c/d/e", "/a"},
	                         {"/a/b/c", NULL}, {"/z", NULL},       {"/b", "/a/b0"},
	                         {"/c/d/*", NULL}, {"/a/**/d", "/z/?"}};
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		size_t k = sets[s][1] ? 2 : 1;
		cairn_patterns *inc = pats(sets[s], k);
		int done = 0, selected = 0;
		for (size_t i = 0; i < n; i++) {
			int m = cairn_restore_select(inc, NULL, paths[i], 1, 0);
			if (done)
				assert_false(m);
			else
				selected += m;
			if (cairn_restore_includes_passed(inc, paths[i]))
				done = 1;
		}
		assert_true(selected > 0);
		cairn_patterns_free(inc);
	}
}

/* ---- part_end -------------------------------------------------------- */

static void set_chunk(cairn_chunk_ref *c, uint32_t length, int hole)
{
	memset(c, 0, sizeof(*c));
	c->fp[0] = hole ? 0 : 1;
	c->length = length;
}

static void test_restore_plan__a_file_that_fits_is_one_part(void **state)
{
	cairn_chunk_ref c[3];
	uint64_t bytes = 0;
	set_chunk(&c[0], 100, 0);
	set_chunk(&c[1], 50, 1);
	set_chunk(&c[2], 10, 0);
	assert_int_equal(cairn_restore_part_end(c, 3, 0, 0, 0, 10, 1000, &bytes), 3);
	assert_int_equal(bytes, 110); /* the hole holds no bytes */
}

static void test_restore_plan__a_part_ends_where_the_batch_is_full(void **state)
{
	cairn_chunk_ref c[5];
	uint64_t bytes = 0;
	for (int i = 0; i < 5; i++)
		set_chunk(&c[i], 100, 0);
	/* refs: 7 in the batch, at most 10: three more fit */
	assert_int_equal(cairn_restore_part_end(c, 5, 0, 7, 0, 10, 1 << 20, &bytes), 3);
	assert_int_equal(bytes, 300);
	/* bytes: 800 in the batch, at most 1000: two more chunks */
	assert_int_equal(cairn_restore_part_end(c, 5, 1, 0, 800, 100, 1000, &bytes), 3);
	assert_int_equal(bytes, 200);
}

static void test_restore_plan__a_part_takes_one_chunk_even_into_a_full_batch(void **state)
{
	cairn_chunk_ref c[2];
	uint64_t bytes = 0;
	set_chunk(&c[0], 100, 0);
	set_chunk(&c[1], 100, 0);
	assert_int_equal(cairn_restore_part_end(c, 2, 1, 10, 5000, 10, 1000, &bytes), 2);
	assert_int_equal(bytes, 100);
}

/* ---- group_uses ------------------------------------------------------ */

static void set_use(cairn_restore_use *u, uint8_t fp, uint32_t file, uint64_t offset)
{
	memset(u, 0, sizeof(*u));
	u->fp[0] = fp;
	u->length = 100;
	u->file = file;
	u->offset = offset;
}

static void test_restore_plan__group_uses_gives_each_fingerprint_one_need(void **state)
{
	cairn_restore_use u[5];
	cairn_restore_need *needs = NULL;
	size_t cap = 0, n = 99;
	set_use(&u[0], 7, 2, 0);
	set_use(&u[1], 3, 1, 500);
	set_use(&u[2], 7, 0, 100);
	set_use(&u[3], 3, 1, 200);
	set_use(&u[4], 9, 0, 0);
	assert_int_equal(cairn_restore_group_uses(u, 5, &needs, &cap, &n), 0);
	assert_int_equal(n, 3);
	assert_true(cap >= 3);
	/* by fingerprint, then file, then offset */
	assert_int_equal(u[0].fp[0], 3);
	assert_int_equal(u[0].offset, 200);
	assert_int_equal(u[1].offset, 500);
	assert_int_equal(u[2].fp[0], 7);
	assert_int_equal(u[2].file, 0);
	assert_int_equal(u[3].file, 2);
	assert_int_equal(u[4].fp[0], 9);
	assert_int_equal(needs[0].first, 0);
	assert_int_equal(needs[0].count, 2);
	assert_int_equal(needs[1].first, 2);
	assert_int_equal(needs[1].count, 2);
	assert_int_equal(needs[2].first, 4);
	assert_int_equal(needs[2].count, 1);
	assert_int_equal(needs[2].ie.length, 0); /* not located yet */
	free(needs);
}

static void test_restore_plan__group_uses_of_nothing_needs_nothing(void **state)
{
	cairn_restore_need *needs = NULL;
	size_t cap = 0, n = 99;
	assert_int_equal(cairn_restore_group_uses(NULL, 0, &needs, &cap, &n), 0);
	assert_int_equal(n, 0);
	free(needs);
}

static void test_restore_plan__group_uses_reuses_the_needs_it_was_given(void **state)
{
	cairn_restore_use u[2];
	cairn_restore_need *needs = NULL;
	size_t cap = 0, n;
	set_use(&u[0], 1, 0, 0);
	set_use(&u[1], 2, 0, 100);
	assert_int_equal(cairn_restore_group_uses(u, 2, &needs, &cap, &n), 0);
	cairn_restore_need *first = needs;
	needs[1].ie.length = 42;
	set_use(&u[0], 5, 0, 0);
	set_use(&u[1], 5, 1, 0);
	assert_int_equal(cairn_restore_group_uses(u, 2, &needs, &cap, &n), 0);
	assert_ptr_equal(needs, first);
	assert_int_equal(n, 1);
	assert_int_equal(needs[0].count, 2);
	assert_int_equal(needs[0].ie.length, 0);
	free(needs);
}

/* ---- umask_parse ------------------------------------------------------ */

static void test_restore_plan__umask_is_read_from_the_status_line(void **state)
{
	unsigned m = 99;
	assert_int_equal(cairn_restore_umask_parse("Name:\tcairn\nUmask:\t0022\nState:\tR\n", &m),
	                 0);
	assert_int_equal(m, 022);
	assert_int_equal(cairn_restore_umask_parse("Umask:\t0077", &m), 0);
	assert_int_equal(m, 077);
	assert_int_equal(cairn_restore_umask_parse("Name:\tx\nUmask:   0\n", &m), 0);
	assert_int_equal(m, 0);
}

static void test_restore_plan__umask_parse_refuses_what_is_not_an_octal_umask(void **state)
{
	unsigned m = 0;
	const char *bad[] = {"",
	                     "Name:\tcairn\n",
	                     "Umask:\n",
	                     "Umask:\t0028\n",
	                     "Umask:\t022x\n",
	                     "Umask:\t0777777\n",
	                     "XUmask:\t0022\n",
	                     "Name:\tUmask:\t0022\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cairn_restore_umask_parse(bad[i], &m), CAIRN_ENOTFOUND);
}

/* ---- fd_budget ------------------------------------------------------ */

static void test_restore_plan__fd_budget_shares_the_spare_descriptors(void **state)
{
	size_t dirs = 99;
	/* 900 spare: 64 for directories, 836 / 3 per batch. */
	assert_int_equal(cairn_restore_fd_budget(900, 3, 4096, 64, &dirs), 278);
	assert_int_equal(dirs, 64);
	assert_int_equal(cairn_restore_fd_budget(19876, 3, 4096, 64, &dirs), 4096);
	assert_int_equal(dirs, 64);
	assert_int_equal(cairn_restore_fd_budget(UINT64_MAX, 3, 4096, 64, &dirs), 4096);
}

static void test_restore_plan__fd_budget_gives_directories_a_quarter_when_short(void **state)
{
	size_t dirs = 99;
	/* 60 spare: 15 for directories, 45 / 3 per batch. */
	assert_int_equal(cairn_restore_fd_budget(60, 3, 4096, 64, &dirs), 15);
	assert_int_equal(dirs, 15);
}

static void test_restore_plan__fd_budget_still_gives_a_batch_of_one(void **state)
{
	size_t dirs = 99;
	assert_int_equal(cairn_restore_fd_budget(0, 3, 4096, 64, &dirs), 1);
	assert_int_equal(dirs, 0);
	assert_int_equal(cairn_restore_fd_budget(3, 3, 4096, 64, &dirs), 1);
	assert_int_equal(dirs, 0);
	assert_int_equal(cairn_restore_fd_budget(900, 0, 4096, 64, &dirs), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_restore_plan__path_check_accepts_plain_absolute_paths),
	    cmocka_unit_test(
	        test_restore_plan__path_check_rejects_paths_that_could_leave_the_target),
	    cmocka_unit_test(test_restore_plan__no_patterns_select_everything),
	    cmocka_unit_test(test_restore_plan__plain_include_selects_itself_and_below),
	    cmocka_unit_test(test_restore_plan__excludes_apply_to_what_includes_take),
	    cmocka_unit_test(test_restore_plan__root_include_selects_everything),
	    cmocka_unit_test(test_restore_plan__includes_passed_only_after_every_include_subtree),
	    cmocka_unit_test(
	        test_restore_plan__includes_are_never_passed_without_includes_or_with_root),
	    cmocka_unit_test(test_restore_plan__nothing_selected_follows_a_passed_path),
	    cmocka_unit_test(test_restore_plan__umask_is_read_from_the_status_line),
	    cmocka_unit_test(test_restore_plan__umask_parse_refuses_what_is_not_an_octal_umask),
	    cmocka_unit_test(test_restore_plan__fd_budget_shares_the_spare_descriptors),
	    cmocka_unit_test(test_restore_plan__fd_budget_gives_directories_a_quarter_when_short),
	    cmocka_unit_test(test_restore_plan__fd_budget_still_gives_a_batch_of_one),
	    cmocka_unit_test(test_restore_plan__a_file_that_fits_is_one_part),
	    cmocka_unit_test(test_restore_plan__a_part_ends_where_the_batch_is_full),
	    cmocka_unit_test(test_restore_plan__a_part_takes_one_chunk_even_into_a_full_batch),
	    cmocka_unit_test(test_restore_plan__group_uses_gives_each_fingerprint_one_need),
	    cmocka_unit_test(test_restore_plan__group_uses_of_nothing_needs_nothing),
	    cmocka_unit_test(test_restore_plan__group_uses_reuses_the_needs_it_was_given),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

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

/* ---- include_match --------------------------------------------------- */

static void test_restore_plan__no_includes_select_everything(void **state)
{
	assert_int_equal(cairn_restore_include_match(NULL, 0, "/"), CAIRN_RESTORE_SELECTED);
	assert_int_equal(cairn_restore_include_match(NULL, 0, "/a/b"), CAIRN_RESTORE_SELECTED);
}

static void test_restore_plan__include_selects_itself_and_below_and_marks_ancestors(void **state)
{
	const char *inc[] = {"/home/u/docs"};
	assert_int_equal(cairn_restore_include_match(inc, 1, "/home/u/docs"),
	                 CAIRN_RESTORE_SELECTED);
	assert_int_equal(cairn_restore_include_match(inc, 1, "/home/u/docs/a/b"),
	                 CAIRN_RESTORE_SELECTED);
	assert_int_equal(cairn_restore_include_match(inc, 1, "/home/u"), CAIRN_RESTORE_ANCESTOR);
	assert_int_equal(cairn_restore_include_match(inc, 1, "/home"), CAIRN_RESTORE_ANCESTOR);
	assert_int_equal(cairn_restore_include_match(inc, 1, "/"), CAIRN_RESTORE_ANCESTOR);
	assert_int_equal(cairn_restore_include_match(inc, 1, "/home/u/docs2"), CAIRN_RESTORE_SKIP);
	assert_int_equal(cairn_restore_include_match(inc, 1, "/home/u/doc"), CAIRN_RESTORE_SKIP);
	assert_int_equal(cairn_restore_include_match(inc, 1, "/home/u/other"), CAIRN_RESTORE_SKIP);
	assert_int_equal(cairn_restore_include_match(inc, 1, "/etc"), CAIRN_RESTORE_SKIP);
}

static void test_restore_plan__selection_wins_over_ancestry_among_several_includes(void **state)
{
	const char *inc[] = {"/a/b/c", "/a"};
	assert_int_equal(cairn_restore_include_match(inc, 2, "/a/b"), CAIRN_RESTORE_SELECTED);
	assert_int_equal(cairn_restore_include_match(inc, 2, "/a"), CAIRN_RESTORE_SELECTED);
	assert_int_equal(cairn_restore_include_match(inc, 2, "/"), CAIRN_RESTORE_ANCESTOR);

	const char *two[] = {"/x/y", "/p/q"};
	assert_int_equal(cairn_restore_include_match(two, 2, "/p"), CAIRN_RESTORE_ANCESTOR);
	assert_int_equal(cairn_restore_include_match(two, 2, "/p/q/r"), CAIRN_RESTORE_SELECTED);
	assert_int_equal(cairn_restore_include_match(two, 2, "/x/y"), CAIRN_RESTORE_SELECTED);
	assert_int_equal(cairn_restore_include_match(two, 2, "/x/z"), CAIRN_RESTORE_SKIP);
}

static void test_restore_plan__root_include_selects_everything(void **state)
{
	const char *inc[] = {"/"};
	assert_int_equal(cairn_restore_include_match(inc, 1, "/"), CAIRN_RESTORE_SELECTED);
	assert_int_equal(cairn_restore_include_match(inc, 1, "/any/thing"), CAIRN_RESTORE_SELECTED);
}

/* ---- includes_passed ------------------------------------------------- */

static void test_restore_plan__includes_passed_only_after_every_include_subtree(void **state)
{
	const char *inc[] = {"/a/b"};
	assert_false(cairn_restore_includes_passed(inc, 1, "/"));
	assert_false(cairn_restore_includes_passed(inc, 1, "/a"));
	assert_false(cairn_restore_includes_passed(inc, 1, "/a/a"));
	assert_false(cairn_restore_includes_passed(inc, 1, "/a/b"));
	assert_false(cairn_restore_includes_passed(inc, 1, "/a/b/zzz"));
	/* '/' sorts first, so "b-" and "b0" come after the whole of "b/". */
	assert_true(cairn_restore_includes_passed(inc, 1, "/a/b-"));
	assert_true(cairn_restore_includes_passed(inc, 1, "/a/b0"));
	assert_true(cairn_restore_includes_passed(inc, 1, "/a/c"));
	assert_true(cairn_restore_includes_passed(inc, 1, "/b"));

	const char *two[] = {"/a", "/m/n"};
	assert_false(cairn_restore_includes_passed(two, 2, "/b"));
	assert_false(cairn_restore_includes_passed(two, 2, "/m/n/o"));
	assert_true(cairn_restore_includes_passed(two, 2, "/m/o"));
}

static void test_restore_plan__includes_are_never_passed_without_includes_or_with_root(void **state)
{
	const char *root[] = {"/"};
	assert_false(cairn_restore_includes_passed(NULL, 0, "/zzz"));
	assert_false(cairn_restore_includes_passed(root, 1, "/zzz"));
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
	const char *sets[][2] = {{"/a/b", NULL},   {"/b/a", "/c/d"}, {"/c/d/e", "/a"},
	                         {"/a/b/c", NULL}, {"/z", NULL},     {"/b", "/a/b0"}};
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		size_t k = sets[s][1] ? 2 : 1;
		int passed = 0, selected = 0;
		for (size_t i = 0; i < n; i++) {
			int m = cairn_restore_include_match(sets[s], k, paths[i]);
			if (passed)
				assert_int_equal(m, CAIRN_RESTORE_SKIP);
			else
				selected += m == CAIRN_RESTORE_SELECTED;
			if (cairn_restore_includes_passed(sets[s], k, paths[i]))
				passed = 1;
		}
		assert_true(selected > 0);
	}
}

/* ---- plan_ranges ----------------------------------------------------- */

static cairn_restore_blob blob(uint8_t pack, uint32_t offset, uint32_t length, size_t id)
{
	cairn_restore_blob b;
	memset(&b, 0, sizeof(b));
	memset(b.pack, pack, sizeof(b.pack));
	b.offset = offset;
	b.length = length;
	b.id = id;
	return b;
}

static void check_range(const cairn_restore_range *r, uint64_t offset, uint64_t length,
                        size_t first, size_t count)
{
	assert_int_equal(r->offset, offset);
	assert_int_equal(r->length, length);
	assert_int_equal(r->first, first);
	assert_int_equal(r->count, count);
}

static void test_restore_plan__no_blobs_plan_no_ranges(void **state)
{
	cairn_restore_range *r = (cairn_restore_range *)&r;
	size_t n = 99;
	assert_int_equal(cairn_restore_plan_ranges(NULL, 0, 100, 1000, &r, &n), 0);
	assert_null(r);
	assert_int_equal(n, 0);
}

static void test_restore_plan__one_blob_is_one_range(void **state)
{
	cairn_restore_blob b[] = {blob(1, 500, 77, 42)};
	cairn_restore_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_restore_plan_ranges(b, 1, 0, 1000, &r, &n), 0);
	assert_int_equal(n, 1);
	check_range(&r[0], 500, 77, 0, 1);
	assert_int_equal(b[0].id, 42);
	free(r);
}

static void test_restore_plan__blobs_are_sorted_by_pack_then_offset(void **state)
{
	cairn_restore_blob b[] = {blob(2, 300, 10, 0), blob(1, 200, 10, 1), blob(2, 100, 10, 2),
	                          blob(1, 0, 10, 3)};
	cairn_restore_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_restore_plan_ranges(b, 4, 0, 1 << 20, &r, &n), 0);
	assert_int_equal(b[0].id, 3);
	assert_int_equal(b[1].id, 1);
	assert_int_equal(b[2].id, 2);
	assert_int_equal(b[3].id, 0);
	/* Gap 0: none of them touch, so four ranges in sorted order. */
	assert_int_equal(n, 4);
	check_range(&r[0], 0, 10, 0, 1);
	check_range(&r[1], 200, 10, 1, 1);
	check_range(&r[2], 100, 10, 2, 1);
	check_range(&r[3], 300, 10, 3, 1);
	free(r);
}

static void test_restore_plan__neighbours_within_the_gap_share_a_range(void **state)
{
	cairn_restore_blob b[] = {blob(1, 0, 100, 0), blob(1, 150, 100, 1), blob(1, 300, 10, 2)};
	cairn_restore_range *r = NULL;
	size_t n = 0;
	/* 150 is exactly 50 after 100: joins; 300 is 50 after 250: joins. */
	assert_int_equal(cairn_restore_plan_ranges(b, 3, 50, 1 << 20, &r, &n), 0);
	assert_int_equal(n, 1);
	check_range(&r[0], 0, 310, 0, 3);
	free(r);
}

static void test_restore_plan__a_gap_wider_than_allowed_starts_a_new_range(void **state)
{
	cairn_restore_blob b[] = {blob(1, 0, 100, 0), blob(1, 150, 100, 1), blob(1, 250, 10, 2)};
	cairn_restore_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_restore_plan_ranges(b, 3, 49, 1 << 20, &r, &n), 0);
	assert_int_equal(n, 2);
	check_range(&r[0], 0, 100, 0, 1);
	check_range(&r[1], 150, 110, 1, 2); /* 250 touches 150..250 */
	free(r);
}

static void test_restore_plan__different_packs_never_share_a_range(void **state)
{
	cairn_restore_blob b[] = {blob(1, 0, 100, 0), blob(2, 100, 100, 1)};
	cairn_restore_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_restore_plan_ranges(b, 2, 1 << 20, 1 << 20, &r, &n), 0);
	assert_int_equal(n, 2);
	check_range(&r[0], 0, 100, 0, 1);
	check_range(&r[1], 100, 100, 1, 1);
	free(r);
}

static void test_restore_plan__ranges_stay_within_the_maximum_length(void **state)
{
	cairn_restore_blob b[] = {blob(1, 0, 100, 0), blob(1, 100, 100, 1), blob(1, 200, 100, 2),
	                          blob(1, 300, 100, 3), blob(1, 400, 50, 4)};
	cairn_restore_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_restore_plan_ranges(b, 5, 1000, 200, &r, &n), 0);
	assert_int_equal(n, 3);
	check_range(&r[0], 0, 200, 0, 2);
	check_range(&r[1], 200, 200, 2, 2);
	check_range(&r[2], 400, 50, 4, 1);
	for (size_t i = 0; i < n; i++)
		assert_true(r[i].length <= 200);
	free(r);
}

static void test_restore_plan__a_blob_longer_than_the_maximum_gets_its_own_range(void **state)
{
	cairn_restore_blob b[] = {blob(1, 0, 10, 0), blob(1, 10, 1000, 1), blob(1, 1010, 10, 2)};
	cairn_restore_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_restore_plan_ranges(b, 3, 0, 100, &r, &n), 0);
	assert_int_equal(n, 3);
	check_range(&r[0], 0, 10, 0, 1);
	check_range(&r[1], 10, 1000, 1, 1);
	check_range(&r[2], 1010, 10, 2, 1);
	free(r);
}

static void test_restore_plan__overlapping_blobs_share_a_range(void **state)
{
	cairn_restore_blob b[] = {blob(1, 50, 30, 0), blob(1, 0, 100, 1), blob(1, 90, 60, 2),
	                          blob(1, 0, 100, 3)};
	cairn_restore_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_restore_plan_ranges(b, 4, 0, 1000, &r, &n), 0);
	assert_int_equal(n, 1);
	check_range(&r[0], 0, 150, 0, 4);
	free(r);

	/* A blob inside the range does not shorten it. */
	cairn_restore_blob c[] = {blob(1, 0, 100, 0), blob(1, 10, 20, 1), blob(1, 120, 10, 2)};
	assert_int_equal(cairn_restore_plan_ranges(c, 3, 0, 1000, &r, &n), 0);
	assert_int_equal(n, 2);
	check_range(&r[0], 0, 100, 0, 2);
	check_range(&r[1], 120, 10, 2, 1);
	free(r);
}

/* Every blob lies inside the range that lists it, and ranges partition
 * the sorted blobs in order. */
static void test_restore_plan__ranges_cover_every_blob_exactly_once(void **state)
{
	enum { N = 500 };
	cairn_restore_blob *b = calloc(N, sizeof(*b));
	assert_non_null(b);
	unsigned seed = 12345;
	for (size_t i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		uint8_t pack = (uint8_t)(seed >> 28);
		seed = seed * 1103515245u + 12345u;
		uint32_t off = (seed >> 8) % 100000;
		seed = seed * 1103515245u + 12345u;
		b[i] = blob(pack, off, 1 + (seed >> 8) % 3000, i);
	}
	cairn_restore_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_restore_plan_ranges(b, N, 512, 8192, &r, &n), 0);
	size_t next = 0;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(r[i].first, next);
		assert_true(r[i].count >= 1);
		assert_true(r[i].count == 1 || r[i].length <= 8192);
		for (size_t k = r[i].first; k < r[i].first + r[i].count; k++) {
			assert_memory_equal(b[k].pack, b[r[i].first].pack, sizeof(b[k].pack));
			assert_true(b[k].offset >= r[i].offset);
			assert_true((uint64_t)b[k].offset + b[k].length <=
			            r[i].offset + r[i].length);
		}
		next += r[i].count;
	}
	assert_int_equal(next, N);
	free(r);
	free(b);
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
	assert_int_equal(cairn_restore_fd_budget(20000 - 124, 3, 4096, 64, &dirs), 4096);
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
	    cmocka_unit_test(test_restore_plan__no_includes_select_everything),
	    cmocka_unit_test(
	        test_restore_plan__include_selects_itself_and_below_and_marks_ancestors),
	    cmocka_unit_test(
	        test_restore_plan__selection_wins_over_ancestry_among_several_includes),
	    cmocka_unit_test(test_restore_plan__root_include_selects_everything),
	    cmocka_unit_test(test_restore_plan__includes_passed_only_after_every_include_subtree),
	    cmocka_unit_test(
	        test_restore_plan__includes_are_never_passed_without_includes_or_with_root),
	    cmocka_unit_test(test_restore_plan__nothing_selected_follows_a_passed_path),
	    cmocka_unit_test(test_restore_plan__no_blobs_plan_no_ranges),
	    cmocka_unit_test(test_restore_plan__one_blob_is_one_range),
	    cmocka_unit_test(test_restore_plan__blobs_are_sorted_by_pack_then_offset),
	    cmocka_unit_test(test_restore_plan__neighbours_within_the_gap_share_a_range),
	    cmocka_unit_test(test_restore_plan__a_gap_wider_than_allowed_starts_a_new_range),
	    cmocka_unit_test(test_restore_plan__different_packs_never_share_a_range),
	    cmocka_unit_test(test_restore_plan__ranges_stay_within_the_maximum_length),
	    cmocka_unit_test(test_restore_plan__a_blob_longer_than_the_maximum_gets_its_own_range),
	    cmocka_unit_test(test_restore_plan__overlapping_blobs_share_a_range),
	    cmocka_unit_test(test_restore_plan__ranges_cover_every_blob_exactly_once),
	    cmocka_unit_test(test_restore_plan__umask_is_read_from_the_status_line),
	    cmocka_unit_test(test_restore_plan__umask_parse_refuses_what_is_not_an_octal_umask),
	    cmocka_unit_test(
	        test_restore_plan__fd_budget_shares_the_spare_descriptors),
	    cmocka_unit_test(test_restore_plan__fd_budget_gives_directories_a_quarter_when_short),
	    cmocka_unit_test(test_restore_plan__fd_budget_still_gives_a_batch_of_one),
	    cmocka_unit_test(test_restore_plan__group_uses_gives_each_fingerprint_one_need),
	    cmocka_unit_test(test_restore_plan__group_uses_of_nothing_needs_nothing),
	    cmocka_unit_test(test_restore_plan__group_uses_reuses_the_needs_it_was_given),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

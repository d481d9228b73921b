/* The pure parts of cairn check: --read-data-subset (parsing and choosing
 * packs), problems gathered by object with the chunks and files that need
 * them, and the set of referenced fingerprints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "check/check_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A pseudo-random id, the same for the same n. */
static void make_id(uint8_t out[CAIRN_ID_SIZE], uint64_t n)
{
	uint64_t x = n * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < CAIRN_ID_SIZE; i++) {
		x ^= x >> 33;
		x *= 0xff51afd7ed558ccdull;
		x ^= x >> 29;
		out[i] = (uint8_t)x;
	}
}

/* ---- --read-data-subset ---- */

static void test_check__subset_parses_parts_and_percentages(void **state)
{
	cairn_check_subset s;
	assert_int_equal(cairn_check_subset_parse(&s, "1/2"), 0);
	assert_int_equal(s.read, CAIRN_CHECK_READ_PART);
	assert_int_equal(s.part, 1);
	assert_int_equal(s.parts, 2);
	assert_int_equal(cairn_check_subset_parse(&s, "7/7"), 0);
	assert_int_equal(s.part, 7);
	assert_int_equal(cairn_check_subset_parse(&s, "1/1"), 0);
	assert_int_equal(cairn_check_subset_parse(&s, "10%"), 0);
	assert_int_equal(s.read, CAIRN_CHECK_READ_PERCENT);
	assert_true(s.percent == 10.0);
	assert_int_equal(cairn_check_subset_parse(&s, "2.5%"), 0);
	assert_true(s.percent == 2.5);
	assert_int_equal(cairn_check_subset_parse(&s, "100%"), 0);
	assert_int_equal(cairn_check_subset_parse(&s, "0.01%"), 0);
	assert_true(s.percent > 0.0099 && s.percent < 0.0101);
}

static void test_check__subset_refuses_bad_values_naming_the_option(void **state)
{
	const char *bad[] = {"0/3",    "4/3",
	                     "0%",     "101%",
	                     "abc",    "",
	                     "1/",     "/3",
	                     "1/3x",   "1//3",
	                     "50",     "-1%",
	                     "%",      "1.%",
	                     "100.5%", " 1/2",
	                     "1/0",    "0/0",
	                     "5 %",    "1e2%",
	                     "0.0%",   "99999999999999999999/1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cairn_check_subset s;
		cairn_error_clear();
		if (cairn_check_subset_parse(&s, bad[i]) != CAIRN_EINVAL)
			fail_msg("\"%s\" was taken", bad[i]);
		assert_non_null(strstr(cairn_error_last(), "--read-data-subset"));
		assert_non_null(strstr(cairn_error_last(), bad[i]));
	}
}

static void test_check__parts_hold_every_pack_exactly_once(void **state)
{
	uint8_t id[CAIRN_ID_SIZE];
	for (uint64_t parts = 1; parts <= 9; parts++) {
		size_t per_part[10] = {0};
		for (uint64_t n = 0; n < 2000; n++) {
			int in = 0;
			make_id(id, n);
			for (uint64_t part = 1; part <= parts; part++)
				if (cairn_check_subset_in_part(part, parts, id)) {
					in++;
					per_part[part]++;
				}
			assert_int_equal(in, 1);
		}
		/* and the parts are about even */
		for (uint64_t part = 1; part <= parts; part++)
			assert_true(per_part[part] > 2000 / parts / 2);
	}
}

static void test_check__part_is_the_id_prefix_modulo_parts(void **state)
{
	uint8_t id[CAIRN_ID_SIZE] = {0};
	id[7] = 10; /* the first 8 bytes, big-endian: 10 */
	id[8] = 0xff;
	assert_true(cairn_check_subset_in_part(1, 2, id)); /* 10 % 2 == 0 */
	assert_true(cairn_check_subset_in_part(3, 4, id)); /* 10 % 4 == 2 */
	assert_true(cairn_check_subset_in_part(4, 7, id)); /* 10 % 7 == 3 */
	assert_false(cairn_check_subset_in_part(3, 7, id));
	id[0] = 1; /* 2^56 + 10; 2^56 % 3 == 1 */
	assert_true(cairn_check_subset_in_part(3, 3, id));
}

static void test_check__percent_counts_round_up_to_at_least_one(void **state)
{
	assert_int_equal(cairn_check_subset_count(10, 0), 0);
	assert_int_equal(cairn_check_subset_count(0.01, 1), 1);
	assert_int_equal(cairn_check_subset_count(10, 5), 1);
	assert_int_equal(cairn_check_subset_count(50, 2), 1);
	assert_int_equal(cairn_check_subset_count(50, 3), 2);
	assert_int_equal(cairn_check_subset_count(10, 100), 10);
	assert_int_equal(cairn_check_subset_count(10, 101), 11);
	assert_int_equal(cairn_check_subset_count(100, 7), 7);
	assert_int_equal(cairn_check_subset_count(33.3, 3), 1);
}

struct lcg {
	uint64_t x;
};

static uint32_t lcg_random(void *ud, uint32_t bound)
{
	struct lcg *g = ud;
	g->x = g->x * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((g->x >> 33) % bound);
}

static void test_check__choose_reads_what_the_subset_says(void **state)
{
	enum { N = 300 };
	uint8_t ids[N][CAIRN_ID_SIZE], chosen[N], again[N];
	for (size_t i = 0; i < N; i++)
		make_id(ids[i], i);
	const uint8_t(*cids)[CAIRN_ID_SIZE] = (const uint8_t(*)[CAIRN_ID_SIZE])ids;

	cairn_check_subset s = {.read = CAIRN_CHECK_READ_ALL};
	cairn_check_subset_choose(&s, cids, N, chosen, NULL, NULL);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(chosen[i], 1);
	s.read = CAIRN_CHECK_READ_NONE;
	cairn_check_subset_choose(&s, cids, N, chosen, NULL, NULL);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(chosen[i], 0);

	s = (cairn_check_subset){.read = CAIRN_CHECK_READ_PART, .part = 2, .parts = 3};
	cairn_check_subset_choose(&s, cids, N, chosen, NULL, NULL);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(chosen[i], cairn_check_subset_in_part(2, 3, ids[i]));

	/* P%: exactly the count, different packs for different draws */
	s = (cairn_check_subset){.read = CAIRN_CHECK_READ_PERCENT, .percent = 10};
	struct lcg g = {1}, h = {2};
	cairn_check_subset_choose(&s, cids, N, chosen, lcg_random, &g);
	cairn_check_subset_choose(&s, cids, N, again, lcg_random, &h);
	size_t n = 0, m = 0, same = 0;
	for (size_t i = 0; i < N; i++) {
		n += chosen[i];
		m += again[i];
		same += chosen[i] && again[i];
	}
	assert_int_equal(n, 30);
	assert_int_equal(m, 30);
	assert_true(same < 30);
	/* and one at least of a single pack */
	s.percent = 1;
	cairn_check_subset_choose(&s, cids, 1, chosen, NULL, NULL);
	assert_int_equal(chosen[0], 1);
}

/* ---- problems ---- */

static void test_check__a_problem_found_again_is_counted_not_repeated(void **state)
{
	check_problems ps = {0};
	size_t a, b, c;
	assert_int_equal(
	    check_problem_add(&ps, CAIRN_CHECK_PACK_MISSING, "data/ab/x", 0, "first", 1, &a), 0);
	assert_int_equal(
	    check_problem_add(&ps, CAIRN_CHECK_PACK_MISSING, "data/ab/x", 0, "second", 1, &b), 0);
	assert_int_equal(a, b);
	assert_int_equal(ps.n, 1);
	assert_int_equal(ps.items[a].count, 2);
	assert_string_equal(ps.items[a].detail, "first");
	/* another kind, object or offset is another problem */
	assert_int_equal(check_problem_add(&ps, CAIRN_CHECK_PACK_SHORT, "data/ab/x", 0, "", 3, &c),
	                 0);
	assert_int_not_equal(c, a);
	assert_int_equal(ps.items[c].count, 3);
	assert_int_equal(check_problem_add(&ps, CAIRN_CHECK_BLOB, "data/ab/x", 10, "", 1, NULL), 0);
	assert_int_equal(check_problem_add(&ps, CAIRN_CHECK_BLOB, "data/ab/x", 20, "", 1, NULL), 0);
	assert_int_equal(
	    check_problem_add(&ps, CAIRN_CHECK_PACK_MISSING, "data/ab/y", 0, "", 1, NULL), 0);
	assert_int_equal(ps.n, 5);
	check_problems_free(&ps);
}

static void test_check__many_problems_keep_their_identity(void **state)
{
	check_problems ps = {0};
	char object[CAIRN_CHECK_OBJECT_MAX];
	size_t i, got;
	for (int round = 0; round < 2; round++)
		for (i = 0; i < 5000; i++) {
			snprintf(object, sizeof(object), "data/%02zx/%zu", i % 256, i);
			assert_int_equal(
			    check_problem_add(&ps, CAIRN_CHECK_BLOB, object, i, "d", 1, &got), 0);
			assert_int_equal(got, i);
		}
	assert_int_equal(ps.n, 5000);
	for (i = 0; i < 5000; i++)
		assert_int_equal(ps.items[i].count, 2);
	check_problems_free(&ps);
}

static void test_check__chunks_lead_to_every_problem_that_needs_them(void **state)
{
	check_problems ps = {0};
	uint8_t fp[4][CAIRN_FP_SIZE];
	size_t a, b, first;
	for (int i = 0; i < 4; i++)
		make_id(fp[i], (uint64_t)i + 100);
	check_problem_add(&ps, CAIRN_CHECK_PACK_SHORT, "data/aa/p", 0, "", 1, &a);
	check_problem_add(&ps, CAIRN_CHECK_PACK_TRAILER, "data/aa/p", 0, "", 1, &b);
	check_problem_chunk(&ps, a, fp[0]);
	check_problem_chunk(&ps, b, fp[0]);
	check_problem_chunk(&ps, a, fp[0]); /* again */
	check_problem_chunk(&ps, b, fp[2]);
	check_problems_sort(&ps);
	assert_int_equal(ps.n_chunks, 3);
	assert_int_equal(check_problems_find(&ps, fp[0], &first), 2);
	assert_int_equal(ps.chunks[first].problem, a);
	assert_int_equal(ps.chunks[first + 1].problem, b);
	assert_int_equal(check_problems_find(&ps, fp[1], &first), 0);
	assert_int_equal(check_problems_find(&ps, fp[2], &first), 1);
	assert_int_equal(ps.chunks[first].problem, b);
	assert_int_equal(check_problems_find(&ps, fp[3], &first), 0);
	check_problems_free(&ps);
}

static void test_check__needs_name_snapshots_once_and_a_few_files(void **state)
{
	check_problems ps = {0};
	uint8_t s1[CAIRN_ID_SIZE], s2[CAIRN_ID_SIZE];
	char path[64];
	size_t p;
	make_id(s1, 1);
	make_id(s2, 2);
	check_problem_add(&ps, CAIRN_CHECK_PACK_MISSING, "data/aa/p", 0, "", 1, &p);
	assert_int_equal(check_problem_need(&ps, p, s1, NULL), 0); /* its manifest */
	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "/src/file%d", i);
		assert_int_equal(check_problem_need(&ps, p, s1, path), 0);
	}
	/* the same files in the next snapshot: counted, not named again */
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/src/file%d", i);
		assert_int_equal(check_problem_need(&ps, p, s2, path), 0);
	}
	assert_int_equal(check_problem_need(&ps, p, s1, "/src/file0"), 0);
	const cairn_check_problem *q = &ps.items[p];
	assert_int_equal(q->n_snapshots, 2);
	assert_memory_equal(q->snapshots[0], s1, CAIRN_ID_SIZE);
	assert_memory_equal(q->snapshots[1], s2, CAIRN_ID_SIZE);
	assert_int_equal(q->n_files, CAIRN_CHECK_FILES_SHOWN);
	assert_int_equal(q->files_total, 12);
	for (int i = 0; i < CAIRN_CHECK_FILES_SHOWN; i++) {
		snprintf(path, sizeof(path), "/src/file%d", i);
		assert_string_equal(q->files[i], path);
	}
	check_problems_free(&ps);
}

static void test_check__problems_come_out_by_kind_object_and_offset(void **state)
{
	check_problems ps = {0};
	cairn_check_problem *out;
	size_t n;
	check_problem_add(&ps, CAIRN_CHECK_BLOB, "data/bb/q", 20, "", 1, NULL);
	check_problem_add(&ps, CAIRN_CHECK_BLOB, "data/bb/q", 5, "", 1, NULL);
	check_problem_add(&ps, CAIRN_CHECK_PACK_UNINDEXED, "data/aa/p", 0, "", 1, NULL);
	check_problem_add(&ps, CAIRN_CHECK_SNAPSHOT, "snapshots/z", 0, "", 1, NULL);
	check_problem_add(&ps, CAIRN_CHECK_SNAPSHOT, "snapshots/a", 0, "", 1, NULL);
	check_problems_take(&ps, &out, &n);
	assert_int_equal(ps.n, 0);
	assert_int_equal(n, 5);
	assert_int_equal(out[0].kind, CAIRN_CHECK_SNAPSHOT);
	assert_string_equal(out[0].object, "snapshots/a");
	assert_string_equal(out[1].object, "snapshots/z");
	assert_int_equal(out[2].kind, CAIRN_CHECK_PACK_UNINDEXED);
	assert_int_equal(out[3].offset, 5);
	assert_int_equal(out[4].offset, 20);
	cairn_check_result res = {.problems = out, .n_problems = n};
	cairn_check_result_free(&res);
}

static void test_check__place_keys_tell_places_apart(void **state)
{
	uint8_t fp[CAIRN_FP_SIZE], other[CAIRN_FP_SIZE];
	make_id(fp, 7);
	make_id(other, 8);
	uint64_t k = check_place_key(fp, 100, 200);
	assert_true(k == check_place_key(fp, 100, 200));
	assert_true(k != check_place_key(fp, 101, 200));
	assert_true(k != check_place_key(fp, 100, 201));
	assert_true(k != check_place_key(fp, 200, 100));
	assert_true(k != check_place_key(other, 100, 200));
}

/* ---- the fingerprint set ---- */

static void test_check__fpset_holds_each_fingerprint_once(void **state)
{
	cairn_sorted_fps s = {0};
	uint8_t batch[100][CAIRN_FP_SIZE], fp[CAIRN_FP_SIZE];
	/* 3,000 distinct fingerprints, each added three times, in pieces */
	for (int round = 0; round < 3; round++)
		for (uint64_t from = 0; from < 3000; from += 100) {
			for (uint64_t i = 0; i < 100; i++)
				make_id(batch[i], (from + i * 7 + (uint64_t)round * 13) % 3000);
			assert_int_equal(
			    cairn_sorted_fps_add(&s, (const uint8_t(*)[CAIRN_FP_SIZE])batch, 100),
			    0);
		}
	cairn_sorted_fps_finish(&s);
	assert_int_equal(s.n, 3000);
	for (uint64_t i = 0; i < 3000; i++) {
		make_id(fp, i);
		assert_true(cairn_sorted_fps_has(&s, fp));
	}
	make_id(fp, 3000);
	assert_false(cairn_sorted_fps_has(&s, fp));
	for (size_t i = 1; i < s.n; i++)
		assert_true(memcmp(s.fps[i - 1], s.fps[i], CAIRN_FP_SIZE) < 0);
	cairn_sorted_fps_free(&s);
}

static void test_check__fpset_stays_small_when_fingerprints_repeat(void **state)
{
	cairn_sorted_fps s = {0};
	uint8_t batch[10][CAIRN_FP_SIZE];
	for (uint64_t i = 0; i < 10; i++)
		make_id(batch[i], i);
	/* a million additions of the same ten: one small array */
	for (int i = 0; i < 100000; i++)
		assert_int_equal(
		    cairn_sorted_fps_add(&s, (const uint8_t(*)[CAIRN_FP_SIZE])batch, 10), 0);
	assert_true(s.cap <= 64);
	cairn_sorted_fps_finish(&s);
	assert_int_equal(s.n, 10);
	cairn_sorted_fps_free(&s);
}

static void test_check__fpset_grows_within_three_times_its_distinct_count(void **state)
{
	cairn_sorted_fps s = {0};
	uint8_t fp[CAIRN_FP_SIZE];
	for (uint64_t i = 0; i < 100000; i++) {
		make_id(fp, i);
		assert_int_equal(cairn_sorted_fps_add(&s, (const uint8_t(*)[CAIRN_FP_SIZE])fp, 1),
		                 0);
		if (i > 1000)
			assert_true(s.cap <= 3 * (i + 1));
	}
	cairn_sorted_fps_finish(&s);
	assert_int_equal(s.n, 100000);
	assert_int_equal(s.cap, 100000);
	cairn_sorted_fps_free(&s);
}

static void test_check__empty_fpset_has_nothing(void **state)
{
	cairn_sorted_fps s = {0};
	uint8_t fp[CAIRN_FP_SIZE] = {0};
	cairn_sorted_fps_finish(&s);
	assert_int_equal(s.n, 0);
	assert_false(cairn_sorted_fps_has(&s, fp));
	cairn_sorted_fps_free(&s);
}

#define T(f) cmocka_unit_test(f)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_check__subset_parses_parts_and_percentages),
	    T(test_check__subset_refuses_bad_values_naming_the_option),
	    T(test_check__parts_hold_every_pack_exactly_once),
	    T(test_check__part_is_the_id_prefix_modulo_parts),
	    T(test_check__percent_counts_round_up_to_at_least_one),
	    T(test_check__choose_reads_what_the_subset_says),
	    T(test_check__a_problem_found_again_is_counted_not_repeated),
	    T(test_check__many_problems_keep_their_identity),
	    T(test_check__chunks_lead_to_every_problem_that_needs_them),
	    T(test_check__needs_name_snapshots_once_and_a_few_files),
	    T(test_check__problems_come_out_by_kind_object_and_offset),
	    T(test_check__place_keys_tell_places_apart),
	    T(test_check__fpset_holds_each_fingerprint_once),
	    T(test_check__fpset_stays_small_when_fingerprints_repeat),
	    T(test_check__fpset_grows_within_three_times_its_distinct_count),
	    T(test_check__empty_fpset_has_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

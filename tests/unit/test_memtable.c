/* The index core's table in memory (lib/index/memtable.h): exact
 * membership, the row a lookup prefers, rejected rows, dropped packs and
 * loading side by side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/errors.h"
#include "index/memtable.h"

#include <stdlib.h>
#include <string.h>

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void random_fp(uint8_t fp[32], uint64_t *seed)
{
	for (int k = 0; k < 32; k += 8) {
		uint64_t v = splitmix(seed);
		memcpy(fp + k, &v, 8);
	}
}

static uint32_t pack(cairn_memtable *mt, uint8_t b)
{
	uint8_t id[32];
	uint32_t num;
	memset(id, b, sizeof(id));
	assert_int_equal(cairn_memtable_intern(mt, id, &num), 0);
	return num;
}

static void test_memtable__finds_exactly_what_was_added(void **state)
{
	cairn_memtable *mt;
	uint64_t seed = 1;
	enum { N = 20000 };
	uint8_t(*fps)[32] = malloc(2 * N * 32);
	assert_int_equal(cairn_memtable_new(&mt, 16), 0);
	uint32_t p = pack(mt, 7);
	for (int i = 0; i < 2 * N; i++)
		random_fp(fps[i], &seed);
	for (int i = 0; i < N; i++) {
		int added = 0;
		assert_int_equal(cairn_memtable_add(mt, fps[i], p, (uint32_t)i, &added), 0);
		assert_true(added);
	}
	/* Again: nothing new. */
	int added = 1;
	assert_int_equal(cairn_memtable_add(mt, fps[5], p, 5, &added), 0);
	assert_false(added);
	assert_int_equal(cairn_memtable_count(mt), N);
	for (int i = 0; i < 2 * N; i++) {
		cairn_memtable_row row;
		int hit = cairn_memtable_find(mt, fps[i], &row);
		assert_int_equal(hit, i < N);
		if (hit) {
			assert_int_equal(row.offset, (uint32_t)i);
			assert_int_equal(row.pack, p);
		}
	}
	/* A fingerprint that differs in its last byte only is another. */
	uint8_t near[32];
	memcpy(near, fps[3], 32);
	near[31] ^= 1;
	cairn_memtable_row row;
	assert_false(cairn_memtable_find(mt, near, &row));
	free(fps);
	cairn_memtable_free(mt);
}

static void test_memtable__prefers_the_lowest_pack_never_rejected(void **state)
{
	cairn_memtable *mt;
	uint8_t fp[32];
	uint64_t seed = 2;
	cairn_memtable_row row;
	random_fp(fp, &seed);
	assert_int_equal(cairn_memtable_new(&mt, 16), 0);
	uint32_t high = pack(mt, 0x90), low = pack(mt, 0x10);
	assert_int_equal(cairn_memtable_add(mt, fp, high, 1, NULL), 0);
	assert_int_equal(cairn_memtable_add(mt, fp, low, 2, NULL), 0);
	assert_true(cairn_memtable_find(mt, fp, &row));
	assert_int_equal(row.pack, low);
	assert_int_equal(row.offset, 2);
	/* Rejected: the other row. */
	assert_true(cairn_memtable_mark_bad(mt, fp, low));
	assert_true(cairn_memtable_find(mt, fp, &row));
	assert_int_equal(row.pack, high);
	/* Every row rejected: missing (a backup stores the chunk again). */
	assert_true(cairn_memtable_mark_bad(mt, fp, high));
	assert_false(cairn_memtable_find(mt, fp, &row));
	assert_false(cairn_memtable_mark_bad(mt, fp, pack(mt, 0x33)));
	cairn_memtable_free(mt);
}

static void test_memtable__drops_the_rows_of_dropped_packs(void **state)
{
	cairn_memtable *mt;
	uint64_t seed = 3;
	uint8_t fps[300][32];
	assert_int_equal(cairn_memtable_new(&mt, 16), 0);
	uint32_t a = pack(mt, 1), b = pack(mt, 2);
	for (int i = 0; i < 300; i++) {
		random_fp(fps[i], &seed);
		assert_int_equal(cairn_memtable_add(mt, fps[i], i % 3 ? a : b, (uint32_t)i, NULL),
		                 0);
	}
	uint8_t dropped[2][32];
	uint64_t gone = 0;
	memcpy(dropped[0], cairn_memtable_pack_id(mt, b), 32);
	memset(dropped[1], 0xee, 32); /* a pack the table never had */
	assert_int_equal(cairn_memtable_drop_packs(mt, (const uint8_t(*)[32])dropped, 2, &gone), 0);
	assert_int_equal(gone, 100);
	for (int i = 0; i < 300; i++) {
		cairn_memtable_row row;
		assert_int_equal(cairn_memtable_find(mt, fps[i], &row), i % 3 != 0);
	}
	cairn_memtable_clear(mt);
	assert_int_equal(cairn_memtable_count(mt), 0);
	cairn_memtable_free(mt);
}

static int by_fp(const void *x, const void *y)
{
	return memcmp(x, y, 32);
}

static void test_memtable__loaders_fill_their_partitions_in_order(void **state)
{
	cairn_memtable *mt;
	cairn_memtable_loader *lo, *hi;
	uint64_t seed = 4;
	enum { N = 5000 };
	uint8_t(*fps)[32] = malloc(N * 32);
	for (int i = 0; i < N; i++)
		random_fp(fps[i], &seed);
	qsort(fps, N, 32, by_fp);
	assert_int_equal(cairn_memtable_new(&mt, 17), 0);
	assert_int_equal(cairn_memtable_loader_new(&lo, mt, 0, 128, 10), 0);
	assert_int_equal(cairn_memtable_loader_new(&hi, mt, 128, 256, 0), 0);
	/* Each loader numbers its packs itself: 0 and 1 become the table's. */
	uint32_t map[2] = {pack(mt, 0xa0), pack(mt, 0x0b)};
	for (int i = 0; i < N; i++)
		assert_int_equal(cairn_memtable_loader_add(fps[i][0] < 128 ? lo : hi, fps[i],
		                                           (uint32_t)(i & 1), (uint32_t)i, i == 9),
		                 0);
	/* A row outside a loader's partitions is refused. */
	assert_int_equal(cairn_memtable_loader_add(lo, fps[N - 1], 0, 0, 0), CAIRN_EINVAL);
	assert_int_equal(cairn_memtable_loader_finish(lo, map), 0);
	assert_int_equal(cairn_memtable_loader_finish(hi, map), 0);
	cairn_memtable_loader_free(lo);
	cairn_memtable_loader_free(hi);
	assert_int_equal(cairn_memtable_count(mt), N);
	for (int i = 0; i < N; i++) {
		cairn_memtable_row row;
		assert_int_equal(cairn_memtable_find(mt, fps[i], &row), i != 9); /* 9 was bad */
		if (i != 9) {
			assert_int_equal(row.pack, map[i & 1]);
			assert_int_equal(row.offset, (uint32_t)i);
		}
	}
	/* Loaded partitions take new rows like any. */
	uint8_t fresh[32];
	random_fp(fresh, &seed);
	assert_int_equal(cairn_memtable_add(mt, fresh, map[0], 77, NULL), 0);
	cairn_memtable_row row;
	assert_true(cairn_memtable_find(mt, fresh, &row));
	free(fps);
	cairn_memtable_free(mt);
}

static void count_fp(void *ud, const uint8_t fp[32])
{
	(void)fp;
	(*(size_t *)ud)++;
}

static void test_memtable__each_gives_every_row_and_bytes_stay_near_forty_a_row(void **state)
{
	cairn_memtable *mt;
	uint64_t seed = 5;
	uint8_t fp[32];
	size_t seen = 0;
	enum { N = 2000000 };
	assert_int_equal(cairn_memtable_new(&mt, cairn_memtable_bits_for(N)), 0);
	uint32_t p = pack(mt, 9);
	for (int i = 0; i < N; i++) {
		random_fp(fp, &seed);
		assert_int_equal(cairn_memtable_add(mt, fp, p, 0, NULL), 0);
	}
	cairn_memtable_each(mt, count_fp, &seen);
	assert_int_equal(seen, N);
	/* Records, partitions and slack: well under 48 bytes a row. */
	assert_true(cairn_memtable_bytes(mt) < (uint64_t)N * 48);
	cairn_memtable_free(mt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_memtable__finds_exactly_what_was_added),
	    cmocka_unit_test(test_memtable__prefers_the_lowest_pack_never_rejected),
	    cmocka_unit_test(test_memtable__drops_the_rows_of_dropped_packs),
	    cmocka_unit_test(test_memtable__loaders_fill_their_partitions_in_order),
	    cmocka_unit_test(test_memtable__each_gives_every_row_and_bytes_stay_near_forty_a_row),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The blocked Bloom filter: no false negatives, a false-positive rate
 * close to its design, one cache line per key, and a serialised form that
 * survives a round trip and rejects damage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/bloom.h"
#include "cairn/errors.h"

#include <stdlib.h>
#include <string.h>

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void random_key(uint8_t key[32], uint64_t *seed)
{
	for (int i = 0; i < 32; i += 8)
		cairn_put_u64le(key + i, splitmix(seed));
}

static void test_bloom__finds_every_added_key(void **state)
{
	cairn_bloom *b;
	uint8_t key[32];
	uint64_t seed = 1;
	assert_int_equal(cairn_bloom_new(&b, 100000), 0);
	for (int i = 0; i < 100000; i++) {
		random_key(key, &seed);
		cairn_bloom_add(b, key);
	}
	seed = 1;
	for (int i = 0; i < 100000; i++) {
		random_key(key, &seed);
		assert_int_equal(cairn_bloom_has(b, key), 1);
	}
	cairn_bloom_free(b);
}

static void test_bloom__design_rate_is_about_one_percent(void **state)
{
	cairn_bloom *b;
	assert_int_equal(cairn_bloom_new(&b, 1000000), 0);
	double design = cairn_bloom_fp_rate(b, cairn_bloom_capacity(b));
	assert_true(design > 0.008 && design < 0.0105);
	/* Emptier filters do better, and an empty one never errs. */
	assert_true(cairn_bloom_fp_rate(b, 500000) < design / 10);
	assert_true(cairn_bloom_fp_rate(b, 0) == 0.0);
	assert_true(cairn_bloom_fp_rate(b, 2000000) > design);
	cairn_bloom_free(b);
}

/* Measures the rate over a million absent keys, at full capacity and at
 * half, against what the geometry predicts. */
static void measure(uint64_t capacity, uint64_t fill, int structured_keys)
{
	cairn_bloom *b;
	uint8_t key[32] = {0};
	uint64_t seed = 42, hits = 0, probes = 1000000;
	assert_int_equal(cairn_bloom_new(&b, capacity), 0);
	for (uint64_t i = 0; i < fill; i++) {
		if (structured_keys)
			cairn_put_u64le(key, i);
		else
			random_key(key, &seed);
		cairn_bloom_add(b, key);
	}
	for (uint64_t i = 0; i < probes; i++) {
		if (structured_keys)
			cairn_put_u64le(key, fill + i);
		else
			random_key(key, &seed);
		hits += (uint64_t)cairn_bloom_has(b, key);
	}
	double measured = (double)hits / (double)probes;
	double expected = cairn_bloom_fp_rate(b, fill);
	print_message("capacity %llu, %llu keys: measured %.4f%%, expected %.4f%%\n",
	              (unsigned long long)capacity, (unsigned long long)fill, measured * 100,
	              expected * 100);
	assert_true(measured < expected * 1.25);
	assert_true(measured > expected * 0.75);
	cairn_bloom_free(b);
}

static void test_bloom__false_positive_rate_matches_the_design_at_capacity(void **state)
{
	measure(200000, 200000, 0);
}

static void test_bloom__false_positive_rate_matches_the_prediction_when_fuller(void **state)
{
	measure(100000, 150000, 0);
}

static void test_bloom__spreads_keys_that_are_not_random(void **state)
{
	measure(200000, 200000, 1);
}

static void test_bloom__add_reports_whether_the_filter_changed(void **state)
{
	cairn_bloom *b;
	uint8_t key[32];
	uint64_t seed = 7;
	random_key(key, &seed);
	assert_int_equal(cairn_bloom_new(&b, 1000), 0);
	assert_int_equal(cairn_bloom_items(b), 0);
	assert_int_equal(cairn_bloom_has(b, key), 0);
	assert_int_equal(cairn_bloom_add(b, key), 1);
	assert_int_equal(cairn_bloom_add(b, key), 0);
	assert_int_equal(cairn_bloom_items(b), 1);
	assert_int_equal(cairn_bloom_capacity(b), 1000);
	cairn_bloom_free(b);
}

static void test_bloom__sets_the_bits_of_a_key_in_one_cache_line(void **state)
{
	cairn_bloom *b;
	cairn_buf before = CAIRN_BUF_INIT, after = CAIRN_BUF_INIT;
	uint8_t key[32];
	uint64_t seed = 99;
	assert_int_equal(cairn_bloom_new(&b, 10000), 0);
	for (int round = 0; round < 200; round++) {
		random_key(key, &seed);
		cairn_buf_clear(&before);
		cairn_buf_clear(&after);
		assert_int_equal(cairn_bloom_serialize(b, &before), 0);
		cairn_bloom_add(b, key);
		assert_int_equal(cairn_bloom_serialize(b, &after), 0);
		size_t first = SIZE_MAX, last = 0, changed = 0;
		for (size_t i = CAIRN_BLOOM_HEADER_SIZE; i < after.len; i++)
			if (before.data[i] != after.data[i]) {
				if (first == SIZE_MAX)
					first = i;
				last = i;
				changed++;
			}
		if (!changed)
			continue;
		size_t line = (first - CAIRN_BLOOM_HEADER_SIZE) / CAIRN_BLOOM_BLOCK_BYTES;
		assert_int_equal((last - CAIRN_BLOOM_HEADER_SIZE) / CAIRN_BLOOM_BLOCK_BYTES, line);
	}
	cairn_buf_free(&before);
	cairn_buf_free(&after);
	cairn_bloom_free(b);
}

static void test_bloom__round_trips_through_its_serialised_form(void **state)
{
	cairn_bloom *b, *c;
	cairn_buf s = CAIRN_BUF_INIT, t = CAIRN_BUF_INIT;
	uint8_t key[32];
	uint64_t seed = 5;
	assert_int_equal(cairn_bloom_new(&b, 5000), 0);
	for (int i = 0; i < 5000; i++) {
		random_key(key, &seed);
		cairn_bloom_add(b, key);
	}
	assert_int_equal(cairn_bloom_serialize(b, &s), 0);
	assert_int_equal(s.len, cairn_bloom_size(b));
	assert_memory_equal(s.data, "CBLM\x01\x07\x00\x00", 8);
	assert_int_equal(cairn_bloom_parse(&c, s.data, s.len), 0);
	assert_int_equal(cairn_bloom_items(c), cairn_bloom_items(b));
	assert_int_equal(cairn_bloom_capacity(c), 5000);
	seed = 5;
	for (int i = 0; i < 5000; i++) {
		random_key(key, &seed);
		assert_int_equal(cairn_bloom_has(c, key), 1);
	}
	assert_int_equal(cairn_bloom_serialize(c, &t), 0);
	assert_int_equal(t.len, s.len);
	assert_memory_equal(t.data, s.data, s.len);
	cairn_bloom_free(b);
	cairn_bloom_free(c);
	cairn_buf_free(&s);
	cairn_buf_free(&t);
}

static void expect_rejected(const uint8_t *data, size_t len)
{
	cairn_bloom *c = (cairn_bloom *)1;
	assert_int_equal(cairn_bloom_parse(&c, data, len), CAIRN_ECORRUPT);
	assert_null(c);
	assert_true(cairn_error_last()[0] != '\0');
}

static void test_bloom__rejects_damaged_serialised_forms(void **state)
{
	cairn_bloom *b;
	cairn_buf s = CAIRN_BUF_INIT;
	assert_int_equal(cairn_bloom_new(&b, 1000), 0);
	assert_int_equal(cairn_bloom_serialize(b, &s), 0);
	uint8_t *copy = malloc(s.len + 1);
	assert_non_null(copy);

	expect_rejected(s.data, 0);
	expect_rejected(s.data, CAIRN_BLOOM_HEADER_SIZE - 1);
	expect_rejected(s.data, s.len - 1); /* truncated */
	memcpy(copy, s.data, s.len);
	copy[s.len] = 0;
	expect_rejected(copy, s.len + 1); /* a byte too many */

	struct {
		size_t at;
		uint8_t value;
	} damage[] = {
	    {0, 'X'},  /* magic */
	    {4, 2},    /* version */
	    {5, 0},    /* no hashes */
	    {5, 8},    /* more hashes than one 64-bit hash can place */
	    {6, 1},    /* padding */
	    {15, 1},   /* a block count far beyond the bytes */
	    {8, 0xff}, /* one block too many */
	};
	for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		memcpy(copy, s.data, s.len);
		copy[damage[i].at] = damage[i].value;
		if (damage[i].at == 8)
			cairn_put_u64le(copy + 8, cairn_get_u64le(s.data + 8) + 1);
		expect_rejected(copy, s.len);
	}
	memcpy(copy, s.data, s.len);
	memset(copy + 8, 0, 8); /* zero blocks */
	expect_rejected(copy, CAIRN_BLOOM_HEADER_SIZE);
	memcpy(copy, s.data, s.len);
	memset(copy + 24, 0, 8); /* zero capacity */
	expect_rejected(copy, s.len);
	free(copy);
	cairn_buf_free(&s);
	cairn_bloom_free(b);
}

static void test_bloom__sizes_about_ten_bits_per_key(void **state)
{
	cairn_bloom *b;
	assert_int_equal(cairn_bloom_new(&b, 1000000), 0);
	uint64_t bytes = cairn_bloom_size(b) - CAIRN_BLOOM_HEADER_SIZE;
	assert_true(bytes >= 1000000 * 10 / 8);
	assert_true(bytes < 1000000 * 10 / 8 + CAIRN_BLOOM_BLOCK_BYTES);
	cairn_bloom_free(b);
	assert_int_equal(cairn_bloom_new(&b, 0), 0);
	assert_int_equal(cairn_bloom_size(b), CAIRN_BLOOM_HEADER_SIZE + CAIRN_BLOOM_BLOCK_BYTES);
	cairn_bloom_free(b);
	cairn_bloom_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bloom__finds_every_added_key),
	    cmocka_unit_test(test_bloom__design_rate_is_about_one_percent),
	    cmocka_unit_test(test_bloom__false_positive_rate_matches_the_design_at_capacity),
	    cmocka_unit_test(test_bloom__false_positive_rate_matches_the_prediction_when_fuller),
	    cmocka_unit_test(test_bloom__spreads_keys_that_are_not_random),
	    cmocka_unit_test(test_bloom__add_reports_whether_the_filter_changed),
	    cmocka_unit_test(test_bloom__sets_the_bits_of_a_key_in_one_cache_line),
	    cmocka_unit_test(test_bloom__round_trips_through_its_serialised_form),
	    cmocka_unit_test(test_bloom__rejects_damaged_serialised_forms),
	    cmocka_unit_test(test_bloom__sizes_about_ten_bits_per_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_buf__appends_bytes_in_order_across_growth(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	uint8_t expect[1000];

	for (size_t i = 0; i < sizeof(expect); i++) {
		expect[i] = (uint8_t)(i * 7 + 3);
		assert_int_equal(cairn_buf_append(&b, &expect[i], 1), 0);
	}
	assert_int_equal(b.len, sizeof(expect));
	assert_true(b.cap >= b.len);
	assert_memory_equal(b.data, expect, sizeof(expect));
	cairn_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void test_buf__append_of_nothing_leaves_the_buffer_alone(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;

	assert_int_equal(cairn_buf_append(&b, NULL, 0), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(cairn_buf_append(&b, "ab", 2), 0);
	assert_int_equal(cairn_buf_append(&b, NULL, 0), 0);
	assert_int_equal(b.len, 2);
	cairn_buf_free(&b);
}

static void test_buf__reserve_makes_room_without_changing_length(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;

	assert_int_equal(cairn_buf_append(&b, "xyz", 3), 0);
	assert_int_equal(cairn_buf_reserve(&b, 5000), 0);
	assert_int_equal(b.len, 3);
	assert_true(b.cap - b.len >= 5000);
	assert_memory_equal(b.data, "xyz", 3);
	assert_int_equal(cairn_buf_reserve(&b, SIZE_MAX - 1), CAIRN_ENOMEM);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "xyz", 3);
	cairn_buf_free(&b);
}

static void test_buf__clear_keeps_the_allocation(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;

	assert_int_equal(cairn_buf_append(&b, "hello", 5), 0);
	uint8_t *data = b.data;
	size_t cap = b.cap;
	cairn_buf_clear(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.cap, cap);
	assert_int_equal(cairn_buf_append(&b, "bye", 3), 0);
	assert_memory_equal(b.data, "bye", 3);
	cairn_buf_free(&b);
}

static void test_buf__writes_little_endian_integers(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	static const uint8_t expect[] = {0xab, 0x04, 0x03, 0x02, 0x01, 0x08, 0x07,
	                                 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};

	assert_int_equal(cairn_buf_append_u8(&b, 0xab), 0);
	assert_int_equal(cairn_buf_append_u32le(&b, 0x01020304u), 0);
	assert_int_equal(cairn_buf_append_u64le(&b, 0x0102030405060708ull), 0);
	assert_int_equal(b.len, sizeof(expect));
	assert_memory_equal(b.data, expect, sizeof(expect));
	assert_int_equal(cairn_get_u32le(b.data + 1), 0x01020304u);
	assert_int_equal(cairn_get_u64le(b.data + 5), 0x0102030405060708ull);
	cairn_buf_free(&b);
}

static void test_buf__put_and_get_helpers_round_trip_extreme_values(void **state)
{
	(void)state;
	uint8_t p[8];
	static const uint64_t values[] = {
	    0, 1, 0x80, 0xff, 0x80000000u, 0xffffffffu, 0x8000000000000000ull, UINT64_MAX};

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		cairn_put_u64le(p, values[i]);
		assert_int_equal(cairn_get_u64le(p), values[i]);
		cairn_put_u32le(p, (uint32_t)values[i]);
		assert_int_equal(cairn_get_u32le(p), (uint32_t)values[i]);
	}
}

static void test_buf__varints_use_the_leb128_encoding(void **state)
{
	(void)state;
	struct {
		uint64_t v;
		uint8_t bytes[10];
		size_t n;
	} cases[] = {
	    {0, {0x00}, 1},
	    {1, {0x01}, 1},
	    {127, {0x7f}, 1},
	    {128, {0x80, 0x01}, 2},
	    {300, {0xac, 0x02}, 2},
	    {16383, {0xff, 0x7f}, 2},
	    {16384, {0x80, 0x80, 0x01}, 3},
	    {UINT64_MAX, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cairn_buf b = CAIRN_BUF_INIT;
		assert_int_equal(cairn_buf_append_varint(&b, cases[i].v), 0);
		assert_int_equal(b.len, cases[i].n);
		assert_memory_equal(b.data, cases[i].bytes, cases[i].n);
		cairn_buf_free(&b);
	}
}

static void test_buf__varints_and_integers_round_trip_through_the_reader(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	static const uint64_t uvals[] = {0,
	                                 1,
	                                 127,
	                                 128,
	                                 255,
	                                 256,
	                                 16383,
	                                 16384,
	                                 0xffffffffu,
	                                 0x100000000ull,
	                                 (uint64_t)1 << 62,
	                                 (uint64_t)1 << 63,
	                                 UINT64_MAX - 1,
	                                 UINT64_MAX};
	static const int64_t svals[] = {
	    0, 1, -1, 63, -64, 64, -65, 1000000, -1000000, INT64_MAX, INT64_MIN, INT64_MIN + 1};
	const size_t nu = sizeof(uvals) / sizeof(uvals[0]);
	const size_t ns = sizeof(svals) / sizeof(svals[0]);

	for (size_t i = 0; i < nu; i++) {
		assert_int_equal(cairn_buf_append_varint(&b, uvals[i]), 0);
		assert_int_equal(cairn_buf_append_u64le(&b, uvals[i]), 0);
		assert_int_equal(cairn_buf_append_u32le(&b, (uint32_t)uvals[i]), 0);
	}
	for (size_t i = 0; i < ns; i++)
		assert_int_equal(cairn_buf_append_svarint(&b, svals[i]), 0);

	cairn_reader r;
	cairn_reader_init(&r, b.data, b.len);
	for (size_t i = 0; i < nu; i++) {
		assert_int_equal(cairn_read_varint(&r), uvals[i]);
		assert_int_equal(cairn_read_u64le(&r), uvals[i]);
		assert_int_equal(cairn_read_u32le(&r), (uint32_t)uvals[i]);
	}
	for (size_t i = 0; i < ns; i++)
		assert_int_equal(cairn_read_svarint(&r), svals[i]);
	assert_false(r.failed);
	assert_int_equal(cairn_reader_left(&r), 0);
	cairn_buf_free(&b);
}

static void test_buf__small_signed_values_get_short_zigzag_encodings(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;

	assert_int_equal(cairn_buf_append_svarint(&b, -1), 0);
	assert_int_equal(cairn_buf_append_svarint(&b, 1), 0);
	assert_int_equal(cairn_buf_append_svarint(&b, -64), 0);
	assert_int_equal(b.len, 3);
	assert_int_equal(b.data[0], 1);
	assert_int_equal(b.data[1], 2);
	assert_int_equal(b.data[2], 127);
	cairn_buf_free(&b);
}

static void test_buf__bytes_carry_their_length(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	uint8_t big[300];
	memset(big, 0x5a, sizeof(big));

	assert_int_equal(cairn_buf_append_bytes(&b, "abc", 3), 0);
	assert_int_equal(cairn_buf_append_bytes(&b, NULL, 0), 0);
	assert_int_equal(cairn_buf_append_bytes(&b, big, sizeof(big)), 0);
	assert_int_equal(b.len, 1 + 3 + 1 + 2 + sizeof(big));

	cairn_reader r;
	size_t n;
	const uint8_t *p;
	cairn_reader_init(&r, b.data, b.len);
	p = cairn_read_bytes(&r, 100, &n);
	assert_non_null(p);
	assert_int_equal(n, 3);
	assert_memory_equal(p, "abc", 3);
	p = cairn_read_bytes(&r, 100, &n);
	assert_false(r.failed);
	assert_int_equal(n, 0);
	p = cairn_read_bytes(&r, sizeof(big), &n);
	assert_non_null(p);
	assert_int_equal(n, sizeof(big));
	assert_memory_equal(p, big, sizeof(big));
	assert_false(r.failed);
	assert_int_equal(cairn_reader_left(&r), 0);
	cairn_buf_free(&b);
}

static void test_buf__read_bytes_rejects_a_length_over_the_limit(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_buf_append_bytes(&b, "abcdef", 6), 0);

	cairn_reader r;
	size_t n = 99;
	cairn_reader_init(&r, b.data, b.len);
	assert_null(cairn_read_bytes(&r, 5, &n));
	assert_true(r.failed);
	assert_int_equal(n, 0);
	cairn_buf_free(&b);
}

static void test_buf__read_bytes_rejects_a_length_past_the_end(void **state)
{
	(void)state;
	static const uint8_t data[] = {0x05, 'a', 'b', 'c'};
	cairn_reader r;
	size_t n = 99;

	cairn_reader_init(&r, data, sizeof(data));
	assert_null(cairn_read_bytes(&r, 1000, &n));
	assert_true(r.failed);
	assert_int_equal(n, 0);

	/* A huge claimed length must not wrap the bounds check. */
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_buf_append_varint(&b, UINT64_MAX), 0);
	assert_int_equal(cairn_buf_append(&b, "xy", 2), 0);
	cairn_reader_init(&r, b.data, b.len);
	assert_null(cairn_read_bytes(&r, SIZE_MAX, &n));
	assert_true(r.failed);
	cairn_buf_free(&b);
}

static void test_buf__str_keeps_a_nul_after_the_length(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;

	assert_int_equal(cairn_buf_append_str(&b, "hello"), 0);
	assert_int_equal(b.len, 5);
	assert_int_equal(b.data[5], '\0');
	assert_int_equal(cairn_buf_append_str(&b, ", world"), 0);
	assert_int_equal(b.len, 12);
	assert_string_equal((char *)b.data, "hello, world");
	assert_int_equal(cairn_buf_append_str(&b, ""), 0);
	assert_int_equal(b.len, 12);
	assert_int_equal(b.data[12], '\0');
	cairn_buf_free(&b);
}

static void test_buf__printf_appends_formatted_text(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	char long_arg[500];
	memset(long_arg, 'q', sizeof(long_arg) - 1);
	long_arg[sizeof(long_arg) - 1] = '\0';

	assert_int_equal(cairn_buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_int_equal(b.len, 4);
	assert_string_equal((char *)b.data, "42-x");
	assert_int_equal(cairn_buf_printf(&b, "[%s]", long_arg), 0);
	assert_int_equal(b.len, 4 + 2 + 499);
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(b.data[5], 'q');
	assert_int_equal(b.data[b.len - 1], ']');
	cairn_buf_free(&b);
}

static void test_buf__detach_hands_over_the_data(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	size_t n = 0;

	assert_int_equal(cairn_buf_append(&b, "data", 4), 0);
	uint8_t *p = cairn_buf_detach(&b, &n);
	assert_non_null(p);
	assert_int_equal(n, 4);
	assert_memory_equal(p, "data", 4);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	free(p);
	/* The buffer is usable again. */
	assert_int_equal(cairn_buf_append(&b, "x", 1), 0);
	assert_int_equal(b.len, 1);
	cairn_buf_free(&b);
}

static void test_buf__reader_fails_on_overrun_and_stays_failed(void **state)
{
	(void)state;
	static const uint8_t data[] = {1, 2, 3, 4, 5, 6};
	cairn_reader r;

	cairn_reader_init(&r, data, sizeof(data));
	assert_int_equal(cairn_read_u32le(&r), 0x04030201u);
	assert_int_equal(cairn_reader_left(&r), 2);
	/* Four bytes asked, two left: the read fails and consumes nothing. */
	assert_int_equal(cairn_read_u32le(&r), 0);
	assert_true(r.failed);
	assert_int_equal(cairn_reader_left(&r), 2);
	/* Sticky: reads that would fit fail too. */
	assert_int_equal(cairn_read_u8(&r), 0);
	assert_null(cairn_read_raw(&r, 0));
	assert_int_equal(cairn_read_varint(&r), 0);
	assert_true(r.failed);
	assert_int_equal(cairn_reader_left(&r), 2);
}

static void test_buf__reader_fails_on_each_kind_of_overrun(void **state)
{
	(void)state;
	static const uint8_t data[] = {0xff, 0xff, 0xff};
	cairn_reader r;

	cairn_reader_init(&r, data, 0);
	assert_int_equal(cairn_read_u8(&r), 0);
	assert_true(r.failed);

	cairn_reader_init(&r, data, 3);
	assert_int_equal(cairn_read_u64le(&r), 0);
	assert_true(r.failed);

	cairn_reader_init(&r, data, 3);
	assert_null(cairn_read_raw(&r, 4));
	assert_true(r.failed);

	cairn_reader_init(&r, data, 3);
	assert_null(cairn_read_raw(&r, SIZE_MAX));
	assert_true(r.failed);

	/* A varint whose continuation bit runs off the end. */
	cairn_reader_init(&r, data, 3);
	assert_int_equal(cairn_read_varint(&r), 0);
	assert_true(r.failed);

	cairn_reader_init(&r, data, 3);
	assert_int_equal(cairn_read_svarint(&r), 0);
	assert_true(r.failed);
}

static void test_buf__reader_reads_exactly_to_the_end(void **state)
{
	(void)state;
	static const uint8_t data[] = {9, 8, 7};
	cairn_reader r;

	cairn_reader_init(&r, data, sizeof(data));
	const uint8_t *p = cairn_read_raw(&r, 3);
	assert_ptr_equal(p, data);
	assert_false(r.failed);
	assert_int_equal(cairn_reader_left(&r), 0);
	assert_non_null(cairn_read_raw(&r, 0));
	assert_false(r.failed);
}

static void test_buf__reader_rejects_overlong_varints(void **state)
{
	(void)state;
	cairn_reader r;

	/* Eleven bytes: more than 64 bits' worth of groups. */
	static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	                                 0x80, 0x80, 0x80, 0x80, 0x00};
	cairn_reader_init(&r, eleven, sizeof(eleven));
	assert_int_equal(cairn_read_varint(&r), 0);
	assert_true(r.failed);

	/* Ten bytes whose last group carries bits past bit 63. */
	static const uint8_t past63[] = {0xff, 0xff, 0xff, 0xff, 0xff,
	                                 0xff, 0xff, 0xff, 0xff, 0x02};
	cairn_reader_init(&r, past63, sizeof(past63));
	assert_int_equal(cairn_read_varint(&r), 0);
	assert_true(r.failed);

	/* Ten bytes with a continuation bit on the last. */
	static const uint8_t continues[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                                    0xff, 0xff, 0xff, 0x81, 0x00};
	cairn_reader_init(&r, continues, sizeof(continues));
	assert_int_equal(cairn_read_varint(&r), 0);
	assert_true(r.failed);

	/* The largest value in ten bytes is still fine. */
	static const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	cairn_reader_init(&r, max, sizeof(max));
	assert_int_equal(cairn_read_varint(&r), UINT64_MAX);
	assert_false(r.failed);
	assert_int_equal(cairn_reader_left(&r), 0);
}

static int collect(void *ud, const uint8_t *p, size_t len)
{
	return cairn_buf_append(ud, p, len);
}

static int stop_at_once(void *ud, const uint8_t *p, size_t len)
{
	(*(int *)ud)++;
	return 7;
}

/* Pieces in memory and in a file come out in order, a file's in blocks. */
static void test_buf__iov_each_reads_memory_and_file_pieces_in_order(void **state)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	size_t big = 600 * 1024; /* more than one block */
	uint8_t *data = malloc(big);
	assert_non_null(data);
	for (size_t i = 0; i < big; i++)
		data[i] = (uint8_t)(i % 251);
	assert_int_equal(fwrite(data, 1, big, f), big);
	fflush(f);
	int fd = fileno(f);
	cairn_iovec iov[] = {
	    {.data = "head", .len = 4},
	    {.len = big - 100, .fd = fd, .off = 100},
	    {.data = "", .len = 0},
	    {.data = "tail", .len = 4},
	};
	cairn_buf out = CAIRN_BUF_INIT;
	assert_int_equal(cairn_iov_each(iov, 4, collect, &out), 0);
	assert_int_equal(out.len, 4 + big - 100 + 4);
	assert_memory_equal(out.data, "head", 4);
	assert_memory_equal(out.data + 4, data + 100, big - 100);
	assert_memory_equal(out.data + out.len - 4, "tail", 4);
	int calls = 0;
	assert_int_equal(cairn_iov_each(iov, 4, stop_at_once, &calls), 7);
	assert_int_equal(calls, 1);
	/* a file piece past the end of the file */
	cairn_iovec past = {.len = 10, .fd = fd, .off = big - 5};
	cairn_buf_clear(&out);
	assert_int_equal(cairn_iov_each(&past, 1, collect, &out), CAIRN_EIO);
	cairn_buf_free(&out);
	free(data);
	fclose(f);
}

static void test_buf__array_grow_keeps_the_items_and_refuses_overflow(void **state)
{
	(void)state;
	uint32_t *a = NULL;
	size_t cap = 0;
	assert_int_equal(cairn_array_grow((void **)&a, &cap, 0, sizeof(*a)), 0);
	assert_null(a); /* nothing needed, nothing allocated */
	assert_int_equal(cairn_array_grow((void **)&a, &cap, 10, sizeof(*a)), 0);
	assert_int_equal(cap, 64);
	for (uint32_t i = 0; i < 64; i++)
		a[i] = i * 3;
	assert_int_equal(cairn_array_grow((void **)&a, &cap, 65, sizeof(*a)), 0);
	assert_int_equal(cap, 128);
	for (uint32_t i = 0; i < 64; i++)
		assert_int_equal(a[i], i * 3);
	uint32_t *before = a;
	assert_int_equal(cairn_array_grow((void **)&a, &cap, SIZE_MAX / 2, sizeof(*a)),
	                 CAIRN_ENOMEM);
	assert_ptr_equal(a, before);
	assert_int_equal(cap, 128);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf__appends_bytes_in_order_across_growth),
	    cmocka_unit_test(test_buf__iov_each_reads_memory_and_file_pieces_in_order),
	    cmocka_unit_test(test_buf__append_of_nothing_leaves_the_buffer_alone),
	    cmocka_unit_test(test_buf__reserve_makes_room_without_changing_length),
	    cmocka_unit_test(test_buf__clear_keeps_the_allocation),
	    cmocka_unit_test(test_buf__writes_little_endian_integers),
	    cmocka_unit_test(test_buf__put_and_get_helpers_round_trip_extreme_values),
	    cmocka_unit_test(test_buf__varints_use_the_leb128_encoding),
	    cmocka_unit_test(test_buf__varints_and_integers_round_trip_through_the_reader),
	    cmocka_unit_test(test_buf__small_signed_values_get_short_zigzag_encodings),
	    cmocka_unit_test(test_buf__bytes_carry_their_length),
	    cmocka_unit_test(test_buf__read_bytes_rejects_a_length_over_the_limit),
	    cmocka_unit_test(test_buf__read_bytes_rejects_a_length_past_the_end),
	    cmocka_unit_test(test_buf__str_keeps_a_nul_after_the_length),
	    cmocka_unit_test(test_buf__printf_appends_formatted_text),
	    cmocka_unit_test(test_buf__detach_hands_over_the_data),
	    cmocka_unit_test(test_buf__reader_fails_on_overrun_and_stays_failed),
	    cmocka_unit_test(test_buf__reader_fails_on_each_kind_of_overrun),
	    cmocka_unit_test(test_buf__reader_reads_exactly_to_the_end),
	    cmocka_unit_test(test_buf__reader_rejects_overlong_varints),
	    cmocka_unit_test(test_buf__array_grow_keeps_the_items_and_refuses_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

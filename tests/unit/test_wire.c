/* The index protocol's bodies (cairn/wire.h), shared by the remote index
 * and cairn-server: round trips, and every malformed body refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "index_entry_assert.h"

#include "cairn/errors.h"
#include "cairn/pack.h"
#include "cairn/seal.h"
#include "cairn/wire.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

static cairn_index_entry entry(uint8_t seed)
{
	cairn_index_entry e;
	memset(&e, 0, sizeof(e));
	fill(e.fp, 32, seed);
	fill(e.pack, 32, (uint8_t)(seed + 100));
	e.offset = 1000u * seed;
	e.length = 500u + seed;
	e.raw_length = 600u + seed;
	e.kind = (uint8_t)(1 + seed % 2);
	if (seed % 3 == 2) { /* a chunk in a bundle */
		e.kind = CAIRN_BLOB_BUNDLE;
		e.inner = 300u * seed;
	}
	return e;
}

static void test_wire__register_bodies_round_trip(void **state)
{
	cairn_index_entry in[5], out[5];
	cairn_buf b = CAIRN_BUF_INIT;
	size_t n = 99;
	for (int i = 0; i < 5; i++)
		in[i] = entry((uint8_t)i);
	assert_int_equal(cairn_wire_entries_encode(&b, in, 5), 0);
	assert_int_equal(b.len, 5 * CAIRN_WIRE_ENTRY_SIZE);
	/* The layout is the documented one, little-endian. */
	assert_memory_equal(b.data, in[0].fp, 32);
	assert_memory_equal(b.data + 32, in[0].pack, 32);
	assert_int_equal(cairn_get_u32le(b.data + CAIRN_WIRE_ENTRY_SIZE + 64), in[1].offset);
	assert_int_equal(cairn_get_u32le(b.data + CAIRN_WIRE_ENTRY_SIZE + 68), in[1].length);
	assert_int_equal(cairn_get_u32le(b.data + CAIRN_WIRE_ENTRY_SIZE + 72), in[1].raw_length);
	assert_int_equal(b.data[CAIRN_WIRE_ENTRY_SIZE + 76], in[1].kind);
	assert_int_equal(b.data[2 * CAIRN_WIRE_ENTRY_SIZE + 76], CAIRN_BLOB_BUNDLE);
	assert_int_equal(cairn_get_u32le(b.data + 2 * CAIRN_WIRE_ENTRY_SIZE + 77), in[2].inner);
	assert_int_equal(cairn_wire_entries_decode(b.data, b.len, out, &n), 0);
	assert_int_equal(n, 5);
	for (int i = 0; i < 5; i++) {
		assert_entry_equal(&out[i], &in[i]);
	}
	assert_int_equal(cairn_wire_entries_decode(b.data, 0, out, &n), 0);
	assert_int_equal(n, 0);
	cairn_buf_free(&b);
}

static void expect_entry_rejected(cairn_index_entry e, const char *reason)
{
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_index_entry out[1];
	size_t n = 7;
	assert_int_equal(cairn_wire_entries_encode(&b, &e, 1), 0);
	assert_int_equal(cairn_wire_entries_decode(b.data, b.len, out, &n), CAIRN_EINVAL);
	assert_int_equal(n, 0);
	assert_non_null(strstr(cairn_error_last(), reason));
	cairn_buf_free(&b);
}

static void test_wire__register_bodies_reject_bad_entries(void **state)
{
	cairn_index_entry e = entry(3), out[2];
	cairn_buf b = CAIRN_BUF_INIT;
	size_t n;

	assert_int_equal(cairn_wire_entries_encode(&b, &e, 1), 0);
	assert_int_equal(cairn_wire_entries_decode(b.data, b.len - 1, out, &n), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "not a whole number"));
	cairn_buf_free(&b);

	e = entry(3);
	memset(e.fp, 0, 32);
	expect_entry_rejected(e, "all-zero fingerprint");
	e = entry(3);
	e.kind = 0;
	expect_entry_rejected(e, "unknown blob kind 0");
	e.kind = 3;
	expect_entry_rejected(e, "unknown blob kind 3");
	e = entry(3);
	e.length = 0;
	expect_entry_rejected(e, "empty");
	e = entry(3);
	e.raw_length = 0;
	expect_entry_rejected(e, "empty");
	e = entry(3);
	e.inner = 1; /* not in a bundle */
	expect_entry_rejected(e, "outside its bundle");
	e.kind = CAIRN_BLOB_BUNDLE;
	e.inner = CAIRN_BUNDLE_MAX - e.raw_length + 1;
	expect_entry_rejected(e, "outside its bundle");
	e.inner--;
	cairn_buf_clear(&b);
	assert_int_equal(cairn_wire_entries_encode(&b, &e, 1), 0);
	assert_int_equal(cairn_wire_entries_decode(b.data, b.len, out, &n), 0);
	assert_int_equal(out[0].inner, e.inner);
	e = entry(3);
	e.offset = UINT32_MAX - 10;
	e.length = 11;
	expect_entry_rejected(e, "past 4 GiB");
	e.length = 10;
	cairn_buf_clear(&b);
	assert_int_equal(cairn_wire_entries_encode(&b, &e, 1), 0);
	assert_int_equal(cairn_wire_entries_decode(b.data, b.len, out, &n), 0);
	e = entry(3);
	e.raw_length = UINT32_MAX;
	expect_entry_rejected(e, "raw length");
	cairn_buf_free(&b);
}

/* What the server parses from any client: every byte of a register
 * body changed in turn is accepted or refused with a reason. */
static void test_wire__any_changed_byte_of_a_register_body_is_parsed_or_refused(void **state)
{
	cairn_index_entry in[3] = {entry(1), entry(2), entry(3)}, out[3];
	cairn_buf b = CAIRN_BUF_INIT;
	size_t n;
	assert_int_equal(cairn_wire_entries_encode(&b, in, 3), 0);
	for (size_t i = 0; i < b.len; i++) {
		for (unsigned bit = 0; bit < 8; bit += 3) {
			b.data[i] ^= (uint8_t)(1u << bit);
			int rc = cairn_wire_entries_decode(b.data, b.len, out, &n);
			assert_true(rc == 0 || rc == CAIRN_EINVAL);
			assert_int_equal(n, rc ? 0 : 3);
			b.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	cairn_buf_free(&b);
}

static void test_wire__lookup_answers_round_trip(void **state)
{
	cairn_index_entry in[4], out[4];
	uint8_t fps[4][32], found[4] = {1, 0, 0, 1}, got[4] = {9, 9, 9, 9};
	cairn_buf b = CAIRN_BUF_INIT;
	for (int i = 0; i < 4; i++) {
		in[i] = entry((uint8_t)(11 + i)); /* 11 and 14 in bundles */
		memcpy(fps[i], in[i].fp, 32);
	}
	assert_int_equal(cairn_wire_answers_encode(&b, in, found, 4), 0);
	assert_int_equal(b.len, 2 * CAIRN_WIRE_ANSWER_SIZE + 2);
	assert_int_equal(b.data[0], CAIRN_WIRE_ANSWER_PRESENT);
	assert_int_equal(b.data[CAIRN_WIRE_ANSWER_SIZE], CAIRN_WIRE_ANSWER_MISSING);
	memset(out, 0, sizeof(out));
	assert_int_equal(
	    cairn_wire_answers_decode(b.data, b.len, (const uint8_t(*)[32])fps, 4, out, got), 0);
	assert_memory_equal(got, found, 4);
	for (int i = 0; i < 4; i += 3) {
		assert_entry_equal(&out[i], &in[i]);
	}
	cairn_buf_free(&b);
}

static void test_wire__lookup_answers_reject_what_does_not_fit(void **state)
{
	cairn_index_entry in[2] = {entry(1), entry(2)}, out[2];
	uint8_t fps[2][32], found[2] = {1, 0}, got[2];
	cairn_buf b = CAIRN_BUF_INIT;
	memcpy(fps[0], in[0].fp, 32);
	memcpy(fps[1], in[1].fp, 32);
	assert_int_equal(cairn_wire_answers_encode(&b, in, found, 2), 0);
	const uint8_t(*f)[32] = (const uint8_t(*)[32])fps;

	/* Truncated inside an answer, before the last answer, or too long. */
	assert_int_equal(cairn_wire_answers_decode(b.data, 20, f, 2, out, got), CAIRN_ECORRUPT);
	assert_int_equal(cairn_wire_answers_decode(b.data, b.len - 1, f, 2, out, got),
	                 CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "ends after 1 of 2"));
	assert_int_equal(cairn_wire_answers_decode(b.data, b.len, f, 1, out, got), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "too many"));
	/* An unknown tag. */
	b.data[0] = 7;
	assert_int_equal(cairn_wire_answers_decode(b.data, b.len, f, 2, out, got), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "bad tag 7"));
	/* Nothing asked, nothing answered. */
	assert_int_equal(cairn_wire_answers_decode(b.data, 0, f, 0, out, got), 0);
	cairn_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wire__register_bodies_round_trip),
	    cmocka_unit_test(test_wire__register_bodies_reject_bad_entries),
	    cmocka_unit_test(test_wire__any_changed_byte_of_a_register_body_is_parsed_or_refused),
	    cmocka_unit_test(test_wire__lookup_answers_round_trip),
	    cmocka_unit_test(test_wire__lookup_answers_reject_what_does_not_fit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

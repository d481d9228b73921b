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

static void test_wire__scan_requests_round_trip_and_bad_ones_are_refused(void **state)
{
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_index_entry cursor = entry(4), after;
	int has_after = 7;
	uint32_t max = 0;
	assert_int_equal(cairn_wire_scan_request_encode(&b, NULL, 1000), 0);
	assert_int_equal(b.len, 4);
	assert_int_equal(cairn_get_u32le(b.data), 1000);
	assert_int_equal(cairn_wire_scan_request_decode(b.data, b.len, &after, &has_after, &max),
	                 0);
	assert_int_equal(has_after, 0);
	assert_int_equal(max, 1000);

	cairn_buf_clear(&b);
	assert_int_equal(cairn_wire_scan_request_encode(&b, &cursor, 1), 0);
	assert_int_equal(b.len, CAIRN_WIRE_SCAN_REQUEST_SIZE);
	assert_memory_equal(b.data + 4, cursor.fp, 32);
	assert_memory_equal(b.data + 36, cursor.pack, 32);
	assert_int_equal(cairn_wire_scan_request_decode(b.data, b.len, &after, &has_after, &max),
	                 0);
	assert_int_equal(has_after, 1);
	assert_int_equal(max, 1);
	assert_memory_equal(after.fp, cursor.fp, 32);
	assert_memory_equal(after.pack, cursor.pack, 32);

	/* Any other length, and a request for nothing. */
	const size_t lengths[] = {0, 3, 5, 36, 67, 69, 100};
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		uint8_t body[100] = {1};
		assert_int_equal(
		    cairn_wire_scan_request_decode(body, lengths[i], &after, &has_after, &max),
		    CAIRN_EINVAL);
		assert_non_null(strstr(cairn_error_last(), "scan request of"));
	}
	cairn_put_u32le(b.data, 0);
	assert_int_equal(cairn_wire_scan_request_decode(b.data, b.len, &after, &has_after, &max),
	                 CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "0 rows"));
	assert_int_equal(cairn_wire_scan_request_decode(b.data, 4, &after, &has_after, &max),
	                 CAIRN_EINVAL);
	cairn_buf_free(&b);
}

/* rows 0..7 of entry(): their fingerprints ascend */
static void sorted_rows(cairn_index_entry rows[8])
{
	for (int i = 0; i < 8; i++)
		rows[i] = entry((uint8_t)i);
}

static void test_wire__scan_answers_round_trip(void **state)
{
	cairn_index_entry rows[8], out[8];
	cairn_buf b = CAIRN_BUF_INIT;
	size_t n = 99;
	int end = 9;
	sorted_rows(rows);
	assert_int_equal(cairn_wire_scan_answer_encode(&b, rows, 8, 1), 0);
	assert_int_equal(b.len, 1 + 8 * CAIRN_WIRE_ENTRY_SIZE);
	assert_int_equal(b.data[0], 1);
	/* the rows are register entries */
	assert_memory_equal(b.data + 1, rows[0].fp, 32);
	assert_memory_equal(b.data + 1 + CAIRN_WIRE_ENTRY_SIZE + 32, rows[1].pack, 32);
	assert_int_equal(cairn_wire_scan_answer_decode(b.data, b.len, NULL, 8, out, &n, &end), 0);
	assert_int_equal(n, 8);
	assert_int_equal(end, 1);
	for (int i = 0; i < 8; i++) {
		assert_entry_equal(&out[i], &rows[i]);
	}

	/* A page in the middle, after a cursor: more may follow. */
	cairn_buf_clear(&b);
	assert_int_equal(cairn_wire_scan_answer_encode(&b, rows + 3, 2, 0), 0);
	assert_int_equal(b.data[0], 0);
	assert_int_equal(cairn_wire_scan_answer_decode(b.data, b.len, &rows[2], 5, out, &n, &end),
	                 0);
	assert_int_equal(n, 2);
	assert_int_equal(end, 0);
	assert_entry_equal(&out[1], &rows[4]);
	/* The cursor need not be a row: a fingerprint's other pack. */
	cairn_index_entry before = rows[3];
	memset(before.pack, 0, 32);
	assert_int_equal(cairn_wire_scan_answer_decode(b.data, b.len, &before, 2, out, &n, &end),
	                 0);

	/* The end, with nothing after the cursor. */
	cairn_buf_clear(&b);
	assert_int_equal(cairn_wire_scan_answer_encode(&b, NULL, 0, 1), 0);
	assert_int_equal(b.len, 1);
	assert_int_equal(cairn_wire_scan_answer_decode(b.data, b.len, &rows[7], 1, out, &n, &end),
	                 0);
	assert_int_equal(n, 0);
	assert_int_equal(end, 1);
	cairn_buf_free(&b);
}

static void expect_scan_answer_refused(const cairn_buf *b, const cairn_index_entry *after,
                                       size_t max, const char *reason)
{
	cairn_index_entry out[8];
	size_t n = 99;
	int end = 9;
	assert_int_equal(cairn_wire_scan_answer_decode(b->data, b->len, after, max, out, &n, &end),
	                 CAIRN_ECORRUPT);
	assert_int_equal(n, 0);
	assert_int_equal(end, 0);
	assert_non_null(strstr(cairn_error_last(), reason));
}

static void test_wire__scan_answers_refuse_what_was_not_asked_for(void **state)
{
	cairn_index_entry rows[8];
	cairn_buf b = CAIRN_BUF_INIT;
	sorted_rows(rows);

	expect_scan_answer_refused(&b, NULL, 8, "empty");
	assert_int_equal(cairn_wire_scan_answer_encode(&b, rows, 3, 1), 0);
	b.data[0] = 2;
	expect_scan_answer_refused(&b, NULL, 8, "bad end flag");
	b.data[0] = 1;
	b.len--;
	expect_scan_answer_refused(&b, NULL, 8, "not a flag and whole 81-byte rows");
	b.len++;
	/* more rows than asked for: a claimed count is never trusted */
	expect_scan_answer_refused(&b, NULL, 2, "3 rows, 2 were asked for");
	/* a row that a register body could not hold */
	b.data[1 + CAIRN_WIRE_ENTRY_SIZE + 76] = 9;
	expect_scan_answer_refused(&b, NULL, 8, "scan answer: entry 1: unknown blob kind 9");

	/* out of order, a row twice, a row not after the cursor */
	cairn_index_entry swapped[3] = {rows[0], rows[2], rows[1]};
	cairn_buf_clear(&b);
	assert_int_equal(cairn_wire_scan_answer_encode(&b, swapped, 3, 1), 0);
	expect_scan_answer_refused(&b, NULL, 8, "row 2 is not after the one before it");
	cairn_index_entry twice[2] = {rows[5], rows[5]};
	cairn_buf_clear(&b);
	assert_int_equal(cairn_wire_scan_answer_encode(&b, twice, 2, 1), 0);
	expect_scan_answer_refused(&b, NULL, 8, "row 1 is not after");
	cairn_buf_clear(&b);
	assert_int_equal(cairn_wire_scan_answer_encode(&b, rows + 2, 2, 1), 0);
	expect_scan_answer_refused(&b, &rows[2], 8, "row 0 is not after");
	expect_scan_answer_refused(&b, &rows[6], 8, "row 0 is not after");
	/* same fingerprint, a pack not after the cursor's */
	cairn_index_entry later = rows[2];
	memset(later.pack, 0xff, 32);
	expect_scan_answer_refused(&b, &later, 8, "row 0 is not after");

	/* no row, and not the end: a client would ask forever */
	cairn_buf_clear(&b);
	assert_int_equal(cairn_wire_scan_answer_encode(&b, NULL, 0, 0), 0);
	expect_scan_answer_refused(&b, NULL, 8, "no row and no end");
	cairn_buf_free(&b);
}

/* What a client parses from any server: every byte of a scan answer
 * changed in turn is accepted, in order, or refused with a reason. */
static void test_wire__any_changed_byte_of_a_scan_answer_is_parsed_or_refused(void **state)
{
	cairn_index_entry rows[8], out[8];
	cairn_buf b = CAIRN_BUF_INIT;
	sorted_rows(rows);
	assert_int_equal(cairn_wire_scan_answer_encode(&b, rows + 1, 4, 0), 0);
	for (size_t i = 0; i < b.len; i++) {
		for (unsigned bit = 0; bit < 8; bit += 3) {
			size_t n = 99;
			int end = 9;
			b.data[i] ^= (uint8_t)(1u << bit);
			int rc = cairn_wire_scan_answer_decode(b.data, b.len, &rows[0], 4, out, &n,
			                                       &end);
			assert_true(rc == 0 || rc == CAIRN_ECORRUPT);
			assert_int_equal(n, rc ? 0 : 4);
			for (size_t k = 0; k < n; k++)
				assert_true(memcmp(out[k].fp, k ? out[k - 1].fp : rows[0].fp, 32) >=
				            0);
			b.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	cairn_buf_free(&b);
}

static void test_wire__drop_requests_are_whole_pack_ids_and_bounded(void **state)
{
	size_t max_len = (size_t)(CAIRN_WIRE_DROP_MAX + 1) * 32;
	uint8_t *body = calloc(1, max_len);
	assert_non_null(body);
	const uint8_t(*packs)[32] = NULL;
	size_t n = 99;
	body[32] = 7;
	assert_int_equal(cairn_wire_packs_decode(body, 64, &packs, &n), 0);
	assert_int_equal(n, 2);
	assert_ptr_equal(packs, body);
	assert_int_equal(packs[1][0], 7);
	assert_int_equal(cairn_wire_packs_decode(body, max_len - 32, &packs, &n), 0);
	assert_int_equal(n, CAIRN_WIRE_DROP_MAX);
	assert_int_equal(CAIRN_WIRE_DROP_BODY_MAX, max_len - 32);

	const size_t bad[] = {0, 31, 33, 65};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cairn_wire_packs_decode(body, bad[i], &packs, &n), CAIRN_EINVAL);
		assert_null(packs);
		assert_int_equal(n, 0);
		assert_non_null(strstr(cairn_error_last(), "not one or more 32-byte pack ids"));
	}
	assert_int_equal(cairn_wire_packs_decode(body, max_len, &packs, &n), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "65537 pack ids: at most 65536"));
	free(body);
}

static void test_wire__rows_answers_round_trip(void **state)
{
	(void)state;
	enum { MAX = CAIRN_INDEX_ROWS_MAX };
	cairn_index_entry rows[3 * MAX], got[3 * 2];
	uint8_t counts[3] = {2, 0, 3}, got_counts[3];
	uint8_t fps[3][32];
	cairn_buf b = CAIRN_BUF_INIT;
	for (int i = 0; i < 3; i++) {
		fill(fps[i], 32, (uint8_t)(40 + i));
		for (int k = 0; k < counts[i]; k++) {
			rows[i * MAX + k] = entry((uint8_t)(10 * i + k));
			memcpy(rows[i * MAX + k].fp, fps[i], 32);
		}
	}
	assert_int_equal(cairn_wire_rows_encode(&b, rows, counts, 3, MAX), 0);
	assert_int_equal(b.len, 3 + 5 * CAIRN_WIRE_ENTRY_SIZE);
	/* Up to 2 of each are kept; the third of fingerprint 2 is checked and passed over. */
	assert_int_equal(
	    cairn_wire_rows_decode(b.data, b.len, (const uint8_t(*)[32])fps, 3, 2, got, got_counts),
	    0);
	assert_int_equal(got_counts[0], 2);
	assert_int_equal(got_counts[1], 0);
	assert_int_equal(got_counts[2], 2);
	assert_entry_equal(&got[0], &rows[0]);
	assert_entry_equal(&got[1], &rows[1]);
	assert_entry_equal(&got[4], &rows[2 * MAX]);
	assert_entry_equal(&got[5], &rows[2 * MAX + 1]);

	/* A row of another fingerprint, a count too large, a short or long body. */
	uint8_t *p = b.data;
	p[1] ^= 1;
	assert_int_equal(
	    cairn_wire_rows_decode(b.data, b.len, (const uint8_t(*)[32])fps, 3, 2, got, got_counts),
	    CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "another fingerprint"));
	p[1] ^= 1;
	p[0] = CAIRN_INDEX_ROWS_MAX + 1;
	assert_int_equal(
	    cairn_wire_rows_decode(b.data, b.len, (const uint8_t(*)[32])fps, 3, 2, got, got_counts),
	    CAIRN_ECORRUPT);
	p[0] = 2;
	assert_int_equal(cairn_wire_rows_decode(b.data, b.len - 1, (const uint8_t(*)[32])fps, 3, 2,
	                                        got, got_counts),
	                 CAIRN_ECORRUPT);
	assert_int_equal(cairn_buf_append_u8(&b, 0), 0);
	assert_int_equal(
	    cairn_wire_rows_decode(b.data, b.len, (const uint8_t(*)[32])fps, 3, 2, got, got_counts),
	    CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "too many"));
	/* more rows than max to encode */
	counts[2] = MAX + 1;
	assert_int_equal(cairn_wire_rows_encode(&b, rows, counts, 3, MAX), CAIRN_EINVAL);
	cairn_buf_free(&b);
}

static void test_wire__reject_requests_are_whole_rows(void **state)
{
	(void)state;
	cairn_index_entry rows[2] = {entry(1), entry(2)}, got[2];
	cairn_buf b = CAIRN_BUF_INIT;
	size_t n = 9;
	assert_int_equal(cairn_wire_rejects_encode(&b, rows, 2), 0);
	assert_int_equal(b.len, 2 * CAIRN_WIRE_REJECT_SIZE);
	assert_int_equal(cairn_wire_rejects_decode(b.data, b.len, got, &n), 0);
	assert_int_equal(n, 2);
	for (int i = 0; i < 2; i++) {
		assert_memory_equal(got[i].fp, rows[i].fp, 32);
		assert_memory_equal(got[i].pack, rows[i].pack, 32);
	}
	assert_int_equal(cairn_wire_rejects_decode(b.data, b.len - 1, got, &n), CAIRN_EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(cairn_wire_rejects_decode(b.data, 0, got, &n), CAIRN_EINVAL);
	cairn_buf_free(&b);
}

static void test_wire__presence_answers_list_each_pack_once(void **state)
{
	cairn_index_entry in[5], out[5];
	uint8_t fps[5][32], found[5] = {1, 0, 1, 1, 1}, got[5];
	cairn_buf b = CAIRN_BUF_INIT;
	for (int i = 0; i < 5; i++) {
		in[i] = entry((uint8_t)(20 + i));
		memcpy(fps[i], in[i].fp, 32);
	}
	memcpy(in[3].pack, in[0].pack, 32); /* two answers in one pack */
	assert_int_equal(cairn_wire_presence_encode(&b, in, found, 5), 0);
	assert_int_equal(b.len, 2 + 3 * 32 + 4 * CAIRN_WIRE_PRESENT_SIZE + 1);
	memset(got, 9, sizeof(got));
	const uint8_t(*f)[32] = (const uint8_t(*)[32])fps;
	assert_int_equal(cairn_wire_presence_decode(b.data, b.len, f, 5, out, got), 0);
	assert_memory_equal(got, found, 5);
	for (int i = 0; i < 5; i++) {
		if (!found[i])
			continue;
		assert_memory_equal(out[i].fp, in[i].fp, 32);
		assert_memory_equal(out[i].pack, in[i].pack, 32);
		assert_int_equal(out[i].offset, in[i].offset);
		assert_int_equal(out[i].length, 0); /* compact */
	}
	cairn_buf_free(&b);
}

static void test_wire__presence_answers_refuse_what_does_not_fit(void **state)
{
	cairn_index_entry in[2] = {entry(1), entry(2)}, out[2];
	uint8_t fps[2][32], found[2] = {1, 1}, got[2];
	cairn_buf b = CAIRN_BUF_INIT;
	memcpy(fps[0], in[0].fp, 32);
	memcpy(fps[1], in[1].fp, 32);
	const uint8_t(*f)[32] = (const uint8_t(*)[32])fps;
	assert_int_equal(cairn_wire_presence_encode(&b, in, found, 2), 0);
	/* Cut short, too long, a pack list longer than the body. */
	assert_int_equal(cairn_wire_presence_decode(b.data, b.len - 1, f, 2, out, got),
	                 CAIRN_ECORRUPT);
	assert_int_equal(cairn_wire_presence_decode(b.data, b.len, f, 1, out, got), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "too many"));
	b.data[1] = 0xff;
	assert_int_equal(cairn_wire_presence_decode(b.data, b.len, f, 2, out, got), CAIRN_ECORRUPT);
	b.data[1] = 0;
	/* An answer naming a pack the list does not have. */
	b.data[2 + 2 * 32 + 1] = 5;
	assert_int_equal(cairn_wire_presence_decode(b.data, b.len, f, 2, out, got), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "names pack 5 of 2"));
	/* An unknown tag. */
	b.data[2 + 2 * 32] = 3;
	assert_int_equal(cairn_wire_presence_decode(b.data, b.len, f, 2, out, got), CAIRN_ECORRUPT);
	cairn_buf_free(&b);
}

static void test_wire__host_names_are_bounded_and_hold_no_nul(void **state)
{
	(void)state;
	char longest[CAIRN_WIRE_HOST_MAX + 1];
	memset(longest, 'h', sizeof(longest));
	assert_int_equal(cairn_wire_host_check("web1", 4), 0);
	assert_int_equal(cairn_wire_host_check(longest, CAIRN_WIRE_HOST_MAX), 0);
	assert_int_equal(cairn_wire_host_check(longest, CAIRN_WIRE_HOST_MAX + 1), CAIRN_EINVAL);
	assert_int_equal(cairn_wire_host_check("", 0), CAIRN_EINVAL);
	assert_int_equal(cairn_wire_host_check("a\0b", 3), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "NUL"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wire__register_bodies_round_trip),
	    cmocka_unit_test(test_wire__register_bodies_reject_bad_entries),
	    cmocka_unit_test(test_wire__any_changed_byte_of_a_register_body_is_parsed_or_refused),
	    cmocka_unit_test(test_wire__lookup_answers_round_trip),
	    cmocka_unit_test(test_wire__lookup_answers_reject_what_does_not_fit),
	    cmocka_unit_test(test_wire__scan_requests_round_trip_and_bad_ones_are_refused),
	    cmocka_unit_test(test_wire__scan_answers_round_trip),
	    cmocka_unit_test(test_wire__scan_answers_refuse_what_was_not_asked_for),
	    cmocka_unit_test(test_wire__any_changed_byte_of_a_scan_answer_is_parsed_or_refused),
	    cmocka_unit_test(test_wire__drop_requests_are_whole_pack_ids_and_bounded),
	    cmocka_unit_test(test_wire__rows_answers_round_trip),
	    cmocka_unit_test(test_wire__reject_requests_are_whole_rows),
	    cmocka_unit_test(test_wire__presence_answers_list_each_pack_once),
	    cmocka_unit_test(test_wire__presence_answers_refuse_what_does_not_fit),
	    cmocka_unit_test(test_wire__host_names_are_bounded_and_hold_no_nul),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

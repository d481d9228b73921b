#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/indexfile.h"
#include "cairn/seal.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

#define N 60
#define BLOB_SIZE 49

static void make_entries(cairn_index_entry *e, size_t n)
{
	memset(e, 0, n * sizeof(*e));
	for (size_t i = 0; i < n; i++) {
		/* three packs, interleaved, offsets descending within each */
		memset(e[i].pack, 0xa0 + (int)(i % 3), sizeof(e[i].pack));
		for (size_t k = 0; k < sizeof(e[i].fp); k++)
			e[i].fp[k] = (uint8_t)(i * 31 + k);
		e[i].kind = i % 7 == 0 ? CAIRN_BLOB_TREE : CAIRN_BLOB_DATA;
		e[i].offset = (uint32_t)(100000 - i * 1000);
		e[i].length = (uint32_t)(100 + i);
		e[i].raw_length = (uint32_t)(200 + i * 3);
		if (i % 5 == 1) { /* a chunk in a bundle */
			e[i].kind = CAIRN_BLOB_BUNDLE;
			e[i].inner = (uint32_t)(i * 10);
		}
	}
}

static int cmp_entry(const void *a, const void *b)
{
	const cairn_index_entry *x = a, *y = b;
	int c = memcmp(x->pack, y->pack, 32);
	if (c)
		return c;
	return memcmp(x->fp, y->fp, 32);
}

static void assert_same_entries(cairn_index_entry *a, cairn_index_entry *b, size_t n)
{
	qsort(a, n, sizeof(*a), cmp_entry);
	qsort(b, n, sizeof(*b), cmp_entry);
	for (size_t i = 0; i < n; i++) {
		assert_memory_equal(a[i].fp, b[i].fp, 32);
		assert_memory_equal(a[i].pack, b[i].pack, 32);
		assert_int_equal(a[i].kind, b[i].kind);
		assert_int_equal(a[i].offset, b[i].offset);
		assert_int_equal(a[i].length, b[i].length);
		assert_int_equal(a[i].raw_length, b[i].raw_length);
		assert_int_equal(a[i].inner, b[i].inner);
	}
}

static void test_indexfile__round_trips_entries_of_several_packs(void **state)
{
	(void)state;
	cairn_index_entry in[N], *out = NULL;
	size_t count = 0;
	cairn_buf b = CAIRN_BUF_INIT;

	make_entries(in, N);
	assert_int_equal(cairn_indexfile_encode(&b, in, N), 0);
	/* grouped: each pack id written once */
	assert_int_equal(b.len, 1 + 1 + 3 * (32 + 1) + N * BLOB_SIZE);
	assert_int_equal(b.data[0], 2);
	assert_int_equal(b.data[1], 3);

	assert_int_equal(cairn_indexfile_decode(b.data, b.len, &out, &count), 0);
	assert_int_equal(count, N);
	/* within a pack, blobs come in offset order */
	for (size_t i = 1; i < count; i++)
		if (!memcmp(out[i].pack, out[i - 1].pack, 32))
			assert_true(out[i].offset > out[i - 1].offset);
	assert_same_entries(in, out, N);
	free(out);
	cairn_buf_free(&b);
}

static void test_indexfile__appends_to_what_the_buffer_holds(void **state)
{
	(void)state;
	cairn_index_entry in[4], *out = NULL;
	size_t count;
	cairn_buf b = CAIRN_BUF_INIT;

	make_entries(in, 4);
	assert_int_equal(cairn_buf_append(&b, "prefix", 6), 0);
	assert_int_equal(cairn_indexfile_encode(&b, in, 4), 0);
	assert_memory_equal(b.data, "prefix", 6);
	assert_int_equal(cairn_indexfile_decode(b.data + 6, b.len - 6, &out, &count), 0);
	assert_int_equal(count, 4);
	free(out);
	cairn_buf_free(&b);
}

static void test_indexfile__round_trips_no_entries(void **state)
{
	(void)state;
	cairn_index_entry *out = NULL;
	size_t count = 7;
	cairn_buf b = CAIRN_BUF_INIT;

	assert_int_equal(cairn_indexfile_encode(&b, NULL, 0), 0);
	assert_int_equal(b.len, 2);
	assert_int_equal(cairn_indexfile_decode(b.data, b.len, &out, &count), 0);
	assert_int_equal(count, 0);
	free(out);
	cairn_buf_free(&b);
}

static void test_indexfile__rejects_truncation_at_every_byte(void **state)
{
	(void)state;
	cairn_index_entry in[N], *out;
	size_t count;
	cairn_buf b = CAIRN_BUF_INIT;

	make_entries(in, N);
	assert_int_equal(cairn_indexfile_encode(&b, in, N), 0);
	for (size_t cut = 0; cut < b.len; cut++) {
		out = (cairn_index_entry *)1;
		assert_int_equal(cairn_indexfile_decode(b.data, cut, &out, &count), CAIRN_ECORRUPT);
		assert_null(out);
	}
	cairn_buf_free(&b);
}

static void test_indexfile__any_changed_byte_is_decoded_or_refused(void **state)
{
	(void)state;
	cairn_index_entry in[12], *out;
	size_t count;
	cairn_buf b = CAIRN_BUF_INIT;

	make_entries(in, 12); /* bundles among them */
	assert_int_equal(cairn_indexfile_encode(&b, in, 12), 0);
	for (size_t i = 0; i < b.len; i++) {
		for (unsigned bit = 0; bit < 8; bit += 3) {
			b.data[i] ^= (uint8_t)(1u << bit);
			out = NULL;
			int rc = cairn_indexfile_decode(b.data, b.len, &out, &count);
			assert_true(rc == 0 || rc == CAIRN_ECORRUPT);
			assert_true(rc == 0 ? out != NULL : out == NULL);
			free(out);
			b.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	cairn_buf_free(&b);
}

static void test_indexfile__rejects_trailing_bytes(void **state)
{
	(void)state;
	cairn_index_entry in[5], *out;
	size_t count;
	cairn_buf b = CAIRN_BUF_INIT;

	make_entries(in, 5);
	assert_int_equal(cairn_indexfile_encode(&b, in, 5), 0);
	assert_int_equal(cairn_buf_append_u8(&b, 0), 0);
	assert_int_equal(cairn_indexfile_decode(b.data, b.len, &out, &count), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "trailing"));
	cairn_buf_free(&b);
}

static void test_indexfile__rejects_huge_counts_without_allocating_them(void **state)
{
	(void)state;
	cairn_index_entry *out;
	size_t count;
	cairn_buf b = CAIRN_BUF_INIT;
	uint8_t pack[32] = {0};

	/* a pack count far beyond the bytes that follow */
	assert_int_equal(cairn_buf_append_u8(&b, 1), 0);
	assert_int_equal(cairn_buf_append_varint(&b, UINT64_MAX), 0);
	assert_int_equal(cairn_buf_append(&b, pack, sizeof(pack)), 0);
	assert_int_equal(cairn_indexfile_decode(b.data, b.len, &out, &count), CAIRN_ECORRUPT);

	/* a blob count far beyond the bytes that follow */
	cairn_buf_clear(&b);
	assert_int_equal(cairn_buf_append_u8(&b, 1), 0);
	assert_int_equal(cairn_buf_append_varint(&b, 1), 0);
	assert_int_equal(cairn_buf_append(&b, pack, sizeof(pack)), 0);
	assert_int_equal(cairn_buf_append_varint(&b, (uint64_t)1 << 60), 0);
	for (int i = 0; i < 2 * BLOB_SIZE; i++)
		assert_int_equal(cairn_buf_append_u8(&b, 1), 0);
	assert_int_equal(cairn_indexfile_decode(b.data, b.len, &out, &count), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "claims"));

	/* a blob count one more than the bytes hold */
	cairn_buf_clear(&b);
	assert_int_equal(cairn_buf_append_u8(&b, 1), 0);
	assert_int_equal(cairn_buf_append_varint(&b, 1), 0);
	assert_int_equal(cairn_buf_append(&b, pack, sizeof(pack)), 0);
	assert_int_equal(cairn_buf_append_varint(&b, 3), 0);
	for (int i = 0; i < 2 * BLOB_SIZE; i++)
		assert_int_equal(cairn_buf_append_u8(&b, 1), 0);
	assert_int_equal(cairn_indexfile_decode(b.data, b.len, &out, &count), CAIRN_ECORRUPT);
	cairn_buf_free(&b);
}

/* One pack of nblobs blobs with the given fields (inner from version 2 on). */
static void make_one_inner(cairn_buf *b, uint8_t version, uint64_t nblobs, uint8_t kind,
                           uint32_t offset, uint32_t length, uint32_t raw_length, uint32_t inner)
{
	uint8_t id[32];
	memset(id, 0x42, sizeof(id));
	cairn_buf_clear(b);
	assert_int_equal(cairn_buf_append_u8(b, version), 0);
	assert_int_equal(cairn_buf_append_varint(b, 1), 0);
	assert_int_equal(cairn_buf_append(b, id, sizeof(id)), 0);
	assert_int_equal(cairn_buf_append_varint(b, nblobs), 0);
	for (uint64_t i = 0; i < nblobs; i++) {
		assert_int_equal(cairn_buf_append(b, id, sizeof(id)), 0);
		assert_int_equal(cairn_buf_append_u8(b, kind), 0);
		assert_int_equal(cairn_buf_append_u32le(b, offset), 0);
		assert_int_equal(cairn_buf_append_u32le(b, length), 0);
		assert_int_equal(cairn_buf_append_u32le(b, raw_length), 0);
		if (version != 1)
			assert_int_equal(cairn_buf_append_u32le(b, inner), 0);
	}
}

static void make_one(cairn_buf *b, uint8_t version, uint64_t nblobs, uint8_t kind, uint32_t offset,
                     uint32_t length, uint32_t raw_length)
{
	make_one_inner(b, version, nblobs, kind, offset, length, raw_length, 0);
}

static int decode_buf(const cairn_buf *b)
{
	cairn_index_entry *out = NULL;
	size_t count;
	int rc = cairn_indexfile_decode(b->data, b->len, &out, &count);
	free(out);
	return rc;
}

static void test_indexfile__rejects_malformed_fields(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;

	make_one(&b, 1, 1, CAIRN_BLOB_DATA, 0, 10, 10); /* version 1 is still read */
	assert_int_equal(decode_buf(&b), 0);
	make_one(&b, 2, 1, CAIRN_BLOB_DATA, 0, 10, 10);
	assert_int_equal(decode_buf(&b), 0);
	make_one(&b, 3, 1, CAIRN_BLOB_DATA, 0, 10, 10);
	assert_int_equal(decode_buf(&b), CAIRN_ECORRUPT);
	make_one_inner(&b, 2, 1, CAIRN_BLOB_BUNDLE, 0, 10, 10, CAIRN_BUNDLE_MAX - 10);
	assert_int_equal(decode_buf(&b), 0);
	make_one_inner(&b, 2, 1, CAIRN_BLOB_BUNDLE, 0, 10, 10, CAIRN_BUNDLE_MAX - 9);
	assert_int_equal(decode_buf(&b), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "outside its bundle"));
	make_one_inner(&b, 2, 1, CAIRN_BLOB_DATA, 0, 10, 10, 1);
	assert_int_equal(decode_buf(&b), CAIRN_ECORRUPT);
	make_one(&b, 2, 1, 7, 0, 10, 10);
	assert_int_equal(decode_buf(&b), CAIRN_ECORRUPT);
	make_one(&b, 0, 1, CAIRN_BLOB_DATA, 0, 10, 10);
	assert_int_equal(decode_buf(&b), CAIRN_ECORRUPT);
	make_one(&b, 1, 1, 0, 0, 10, 10);
	assert_int_equal(decode_buf(&b), CAIRN_ECORRUPT);
	make_one(&b, 1, 1, 6, 0, 10, 10);
	assert_int_equal(decode_buf(&b), CAIRN_ECORRUPT);
	make_one(&b, 1, 1, CAIRN_BLOB_DATA, 0, 0, 10);
	assert_int_equal(decode_buf(&b), CAIRN_ECORRUPT);
	make_one(&b, 1, 1, CAIRN_BLOB_DATA, 0, 10, 0);
	assert_int_equal(decode_buf(&b), CAIRN_ECORRUPT);
	make_one(&b, 1, 1, CAIRN_BLOB_DATA, UINT32_MAX - 5, 10, 10);
	assert_int_equal(decode_buf(&b), CAIRN_ECORRUPT);
	make_one(&b, 1, 0, CAIRN_BLOB_DATA, 0, 10, 10); /* a pack with no blobs */
	assert_int_equal(decode_buf(&b), CAIRN_ECORRUPT);
	cairn_buf_free(&b);
}

static void test_indexfile__encode_rejects_invalid_entries(void **state)
{
	(void)state;
	cairn_index_entry in[3];
	cairn_buf b = CAIRN_BUF_INIT;

	make_entries(in, 3);
	in[2].kind = 9;
	assert_int_equal(cairn_buf_append(&b, "x", 1), 0);
	assert_int_equal(cairn_indexfile_encode(&b, in, 3), CAIRN_EINVAL);
	assert_int_equal(b.len, 1);
	make_entries(in, 3);
	in[1].length = 0;
	assert_int_equal(cairn_indexfile_encode(&b, in, 3), CAIRN_EINVAL);
	assert_int_equal(b.len, 1);
	cairn_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_indexfile__round_trips_entries_of_several_packs),
	    cmocka_unit_test(test_indexfile__appends_to_what_the_buffer_holds),
	    cmocka_unit_test(test_indexfile__round_trips_no_entries),
	    cmocka_unit_test(test_indexfile__rejects_truncation_at_every_byte),
	    cmocka_unit_test(test_indexfile__rejects_trailing_bytes),
	    cmocka_unit_test(test_indexfile__any_changed_byte_is_decoded_or_refused),
	    cmocka_unit_test(test_indexfile__rejects_huge_counts_without_allocating_them),
	    cmocka_unit_test(test_indexfile__rejects_malformed_fields),
	    cmocka_unit_test(test_indexfile__encode_rejects_invalid_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

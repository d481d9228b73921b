#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "cairn/pack.h"
#include "cairn/seal.h"
#include "format/pack_format.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

#define NBLOBS 100

static const uint8_t test_key[32] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
};

typedef struct fixture {
	cairn_sealer *sealer;
	cairn_pack_writer w;
	uint8_t *plain[NBLOBS];
	size_t plain_len[NBLOBS];
	uint8_t fp[NBLOBS][CAIRN_FP_SIZE];
	uint8_t id[CAIRN_ID_SIZE];
	cairn_buf pk; /* the finished pack's bytes */
} fixture;

/* Finishes the pack and copies its bytes out into f->pk. */
static int finish(fixture *f, uint8_t *id)
{
	int rc = cairn_pack_finish(&f->w, f->sealer, id);
	cairn_buf_clear(&f->pk);
	if (!rc)
		rc = cairn_pack_copy(&f->w, &f->pk);
	return rc;
}

static int setup_with_key(void **state, const uint8_t *key)
{
	fixture *f = calloc(1, sizeof(*f));
	if (!f || cairn_sealer_new(&f->sealer, key, 0) != 0)
		return -1;
	cairn_pack_writer_init(&f->w);
	/* Varied sizes and contents: some compressible, some not. */
	uint32_t x = 12345;
	for (int i = 0; i < NBLOBS; i++) {
		size_t n = 1 + (size_t)(i * 37 % 2000);
		f->plain[i] = malloc(n);
		if (!f->plain[i])
			return -1;
		for (size_t j = 0; j < n; j++) {
			x = x * 1103515245 + 12345;
			f->plain[i][j] = i % 2 ? (uint8_t)(x >> 16) : (uint8_t)(j % 7);
		}
		f->plain_len[i] = n;
		cairn_sha256(f->fp[i], f->plain[i], n);
	}
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with_key(state, test_key);
}

static int setup_unencrypted(void **state)
{
	return setup_with_key(state, NULL);
}

static int teardown(void **state)
{
	fixture *f = *state;
	for (int i = 0; i < NBLOBS; i++)
		free(f->plain[i]);
	cairn_pack_writer_free(&f->w);
	cairn_buf_free(&f->pk);
	cairn_sealer_free(f->sealer);
	free(f);
	return 0;
}

static void add_all(fixture *f)
{
	for (int i = 0; i < NBLOBS; i++)
		assert_int_equal(cairn_pack_add(&f->w, f->sealer, f->fp[i], CAIRN_BLOB_DATA,
		                                f->plain[i], f->plain_len[i]),
		                 0);
	assert_int_equal(f->w.count, NBLOBS);
}

/* Reads a pack as a reader of the store would: the last 4 bytes, then the
 * trailer they point to. */
static int open_pack(cairn_sealer *s, const uint8_t *pack, size_t size, cairn_pack_entry **entries,
                     size_t *count)
{
	return cairn_pack_parse_tail(s, pack, size, size, entries, count);
}

static void assert_round_trip(fixture *f)
{
	cairn_pack_entry *entries;
	size_t count;
	uint8_t expect_id[CAIRN_ID_SIZE];
	cairn_buf out = CAIRN_BUF_INIT;

	add_all(f);
	assert_int_equal(finish(f, f->id), 0);
	cairn_sha256(expect_id, f->pk.data, f->pk.len);
	assert_memory_equal(f->id, expect_id, CAIRN_ID_SIZE);

	assert_int_equal(open_pack(f->sealer, f->pk.data, f->pk.len, &entries, &count), 0);
	assert_int_equal(count, NBLOBS);
	for (int i = 0; i < NBLOBS; i++) {
		const cairn_pack_entry *e = NULL;
		for (size_t k = 0; k < count; k++)
			if (memcmp(entries[k].fp, f->fp[i], CAIRN_FP_SIZE) == 0)
				e = &entries[k];
		assert_non_null(e);
		assert_int_equal(e->kind, CAIRN_BLOB_DATA);
		assert_int_equal(e->raw_length, f->plain_len[i]);
		/* the writer's entries carry the final offsets too */
		assert_int_equal(e->offset, f->w.entries[i].offset);
		assert_int_equal(e->length, f->w.entries[i].length);
		assert_int_equal(cairn_unseal(f->sealer, &out, f->fp[i], CAIRN_BLOB_DATA,
		                              f->pk.data + e->offset, e->length, e->raw_length),
		                 0);
		assert_int_equal(out.len, f->plain_len[i]);
		assert_memory_equal(out.data, f->plain[i], out.len);
	}
	free(entries);
	cairn_buf_free(&out);
}

static void test_pack__round_trips_a_hundred_blobs(void **state)
{
	assert_round_trip(*state);
}

static void test_pack__round_trips_without_encryption(void **state)
{
	assert_round_trip(*state);
}

/* A spooled writer gathers small blobs in memory: a pack smaller than a
 * batch never touches the file, and makes the same pack. */
static void test_pack__gathers_small_blobs_before_spooling(void **state)
{
	fixture *f = *state;
	assert_int_equal(cairn_pack_writer_spool(&f->w, "/tmp"), 0);
	assert_true(f->w.spooled);
	assert_round_trip(f);
	assert_int_equal(f->w.spool_len, cairn_pack_size(&f->w));
	assert_int_equal(f->w.spool_flushed, 0);
	assert_int_equal(f->w.data.len, f->w.spool_len);
	for (size_t k = 0; k < f->w.n_iov; k++)
		assert_int_equal(f->w.iov[k].fd, -1);
}

/* Past a batch the blobs go to the file; the pack is the same whichever
 * piece of it is where. */
static void test_pack__round_trips_through_a_spool_file(void **state)
{
	fixture *f = *state;
	assert_int_equal(cairn_pack_writer_spool(&f->w, "/tmp"), 0);
	f->w.spool_batch = 4096;
	assert_round_trip(f);
	assert_int_equal(f->w.spool_len, cairn_pack_size(&f->w));
	assert_true(f->w.spool_flushed > 0);
	assert_true(f->w.data.len < 4096); /* only what followed the last write */
	size_t in_file = 0, in_memory = 0;
	for (size_t k = 0; k + 1 < f->w.n_iov; k++) {
		if (f->w.iov[k].fd >= 0) {
			assert_null(f->w.iov[k].data);
			assert_true(f->w.iov[k].off + f->w.iov[k].len <= f->w.spool_flushed);
			in_file++;
		} else {
			in_memory++;
		}
	}
	assert_true(in_file > NBLOBS / 2);
	assert_int_equal(in_file + in_memory, NBLOBS);
	/* reset empties the file for the next pack */
	cairn_pack_writer_reset(&f->w);
	assert_int_equal(cairn_pack_size(&f->w), 0);
	assert_int_equal(f->w.spool_flushed, 0);
	assert_round_trip(f);
}

static void test_pack__spool_needs_a_directory(void **state)
{
	fixture *f = *state;
	assert_int_equal(cairn_pack_writer_spool(&f->w, "/nonexistent/cairn"), CAIRN_EIO);
	assert_false(f->w.spooled);
	assert_round_trip(f); /* in memory */
}

static void test_pack__shuffles_the_blob_order(void **state)
{
	fixture *f = *state;
	add_all(f);
	for (int i = 1; i < NBLOBS; i++)
		assert_true(f->w.entries[i].offset > f->w.entries[i - 1].offset);
	assert_int_equal(finish(f, f->id), 0);
	int in_order = 1;
	for (int i = 1; i < NBLOBS; i++)
		if (f->w.entries[i].offset < f->w.entries[i - 1].offset)
			in_order = 0;
	assert_false(in_order);
	/* the blobs still tile the blob area exactly */
	uint64_t total = 0;
	for (int i = 0; i < NBLOBS; i++)
		total += f->w.entries[i].length;
	uint32_t tlen = cairn_get_u32le(f->pk.data + f->pk.len - 4);
	assert_int_equal(total, f->pk.len - 4 - tlen);
}

/* The store sees a pack as bytes. Neither where a blob begins nor the
 * order the blobs were sealed in may be read from them: no part of one
 * blob's nonce recurs elsewhere in the pack, and so none counts. */
static void test_pack__does_not_show_where_its_blobs_begin(void **state)
{
	fixture *f = *state;
	add_all(f);
	assert_int_equal(finish(f, f->id), 0);
	for (int i = 0; i < NBLOBS; i++) {
		const uint8_t *nonce = f->pk.data + f->w.entries[i].offset;
		for (size_t at = 0; at + 8 <= CAIRN_SEAL_NONCE; at += 8) {
			const uint8_t *hit = memmem(f->pk.data, f->pk.len, nonce + at, 8);
			assert_ptr_equal(hit, nonce + at);
			assert_null(memmem(hit + 1, f->pk.len - (size_t)(hit + 1 - f->pk.data),
			                   nonce + at, 8));
		}
	}
}

static void test_pack__detects_a_flipped_trailer_byte(void **state)
{
	fixture *f = *state;
	cairn_pack_entry *entries;
	size_t count;

	add_all(f);
	assert_int_equal(finish(f, f->id), 0);
	size_t size = f->pk.len;
	uint32_t tlen = cairn_get_u32le(f->pk.data + size - 4);
	size_t start = size - 4 - tlen;
	/* every byte of the trailer, one at a time */
	for (size_t i = start; i < size - 4; i++) {
		f->pk.data[i] ^= 0x01;
		assert_int_equal(open_pack(f->sealer, f->pk.data, size, &entries, &count),
		                 CAIRN_ECORRUPT);
		assert_null(entries);
		f->pk.data[i] ^= 0x01;
	}
	assert_int_equal(open_pack(f->sealer, f->pk.data, size, &entries, &count), 0);
	free(entries);
}

static void test_pack__detects_a_flipped_length_byte(void **state)
{
	fixture *f = *state;
	cairn_pack_entry *entries;
	size_t count;

	add_all(f);
	assert_int_equal(finish(f, f->id), 0);
	size_t size = f->pk.len;
	for (size_t i = size - 4; i < size; i++) {
		for (int bit = 0; bit < 8; bit++) {
			f->pk.data[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(open_pack(f->sealer, f->pk.data, size, &entries, &count),
			                 CAIRN_ECORRUPT);
			f->pk.data[i] ^= (uint8_t)(1u << bit);
		}
	}
}

static void test_pack__rejects_a_truncated_pack(void **state)
{
	fixture *f = *state;
	cairn_pack_entry *entries;
	size_t count;

	add_all(f);
	assert_int_equal(finish(f, f->id), 0);
	size_t size = f->pk.len;
	for (size_t cut = 1; cut <= 300; cut++)
		assert_int_equal(open_pack(f->sealer, f->pk.data, size - cut, &entries, &count),
		                 CAIRN_ECORRUPT);
	for (size_t n = 0; n <= 4; n++)
		assert_int_equal(open_pack(f->sealer, f->pk.data, n, &entries, &count),
		                 CAIRN_ECORRUPT);
	/* bytes missing at the front: the last blob no longer fits */
	assert_int_equal(open_pack(f->sealer, f->pk.data + 1, size - 1, &entries, &count),
	                 CAIRN_ECORRUPT);
	/* the trailer itself intact but told of a pack a byte shorter */
	uint32_t tlen = cairn_get_u32le(f->pk.data + size - 4);
	assert_int_equal(cairn_pack_parse_trailer(f->sealer, f->pk.data + size - 4 - tlen, tlen,
	                                          size - 1, &entries, &count),
	                 CAIRN_ECORRUPT);
	/* a read of the pack's end that stops short of the trailer's start */
	assert_int_equal(cairn_pack_parse_tail(f->sealer, f->pk.data + size - 4 - tlen + 1,
	                                       tlen + 3, size, &entries, &count),
	                 CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "only"));
	/* the same read reaching the trailer's start is enough */
	assert_int_equal(cairn_pack_parse_tail(f->sealer, f->pk.data + size - 4 - tlen, tlen + 4,
	                                       size, &entries, &count),
	                 0);
	free(entries);
}

static void test_pack__allows_an_empty_pack(void **state)
{
	fixture *f = *state;
	cairn_pack_entry *entries;
	size_t count = 99;

	assert_int_equal(finish(f, f->id), 0);
	assert_true(f->pk.len > 4);
	assert_int_equal(open_pack(f->sealer, f->pk.data, f->pk.len, &entries, &count), 0);
	assert_int_equal(count, 0);
	free(entries);
}

static void test_pack__reset_starts_a_new_pack(void **state)
{
	fixture *f = *state;
	cairn_pack_entry *entries;
	size_t count;
	uint8_t first_id[CAIRN_ID_SIZE];

	add_all(f);
	assert_int_equal(finish(f, first_id), 0);
	cairn_pack_writer_reset(&f->w);
	assert_int_equal(cairn_pack_size(&f->w), 0);
	assert_int_equal(f->w.count, 0);
	assert_int_equal(cairn_pack_add(&f->w, f->sealer, f->fp[3], CAIRN_BLOB_TREE, f->plain[3],
	                                f->plain_len[3]),
	                 0);
	assert_int_equal(f->w.entries[0].offset, 0);
	assert_int_equal(finish(f, f->id), 0);
	assert_memory_not_equal(first_id, f->id, CAIRN_ID_SIZE);
	assert_int_equal(open_pack(f->sealer, f->pk.data, f->pk.len, &entries, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(entries[0].kind, CAIRN_BLOB_TREE);
	assert_int_equal(entries[0].offset, 0);
	free(entries);
}

static void test_pack__add_rejects_empty_blobs_and_unknown_kinds(void **state)
{
	fixture *f = *state;
	assert_int_equal(cairn_pack_add(&f->w, f->sealer, f->fp[0], CAIRN_BLOB_DATA, "", 0),
	                 CAIRN_EINVAL);
	assert_int_equal(cairn_pack_add(&f->w, f->sealer, f->fp[0], 0, "x", 1), CAIRN_EINVAL);
	/* a bundle is added as one, with its chunks */
	assert_int_equal(cairn_pack_add(&f->w, f->sealer, f->fp[0], CAIRN_BLOB_BUNDLE, "x", 1),
	                 CAIRN_EINVAL);
	assert_int_equal(cairn_pack_add(&f->w, f->sealer, f->fp[0], 7, "x", 1), CAIRN_EINVAL);
	assert_int_equal(f->w.count, 0);
	assert_int_equal(cairn_pack_size(&f->w), 0);
}

/* Adds plain[0], plain[2], ... plain[2 * (n - 1)] as one bundle. */
static int add_bundle(fixture *f, size_t n, cairn_buf *joined)
{
	uint8_t fps[CAIRN_BUNDLE_CHUNKS + 1][CAIRN_FP_SIZE];
	uint32_t lens[CAIRN_BUNDLE_CHUNKS + 1];
	cairn_buf_clear(joined);
	for (size_t k = 0; k < n; k++) {
		memcpy(fps[k], f->fp[2 * k], CAIRN_FP_SIZE);
		lens[k] = (uint32_t)f->plain_len[2 * k];
		assert_int_equal(cairn_buf_append(joined, f->plain[2 * k], lens[k]), 0);
	}
	return cairn_pack_add_bundle(&f->w, f->sealer, (const uint8_t(*)[CAIRN_FP_SIZE])fps, lens,
	                             n, joined->data, joined->len);
}

static void test_pack__a_bundle_is_one_blob_with_an_entry_per_chunk(void **state)
{
	fixture *f = *state;
	cairn_pack_entry *entries;
	size_t count;
	cairn_buf joined = CAIRN_BUF_INIT, out = CAIRN_BUF_INIT;

	assert_int_equal(cairn_pack_add(&f->w, f->sealer, f->fp[1], CAIRN_BLOB_DATA, f->plain[1],
	                                f->plain_len[1]),
	                 0);
	assert_int_equal(add_bundle(f, 3, &joined), 0);
	assert_int_equal(cairn_pack_add(&f->w, f->sealer, f->fp[3], CAIRN_BLOB_TREE, f->plain[3],
	                                f->plain_len[3]),
	                 0);
	assert_int_equal(f->w.count, 5);
	assert_int_equal(f->w.n_blobs, 3);
	assert_int_equal(finish(f, NULL), 0);
	assert_int_equal(open_pack(f->sealer, f->pk.data, f->pk.len, &entries, &count), 0);
	assert_int_equal(count, 5);

	/* listed in pack order, a bundle's chunks in their order in it */
	size_t first = count;
	for (size_t i = 0; i < count; i++) {
		if (i)
			assert_true(entries[i].offset >= entries[i - 1].offset);
		if (entries[i].kind == CAIRN_BLOB_BUNDLE && first == count)
			first = i;
	}
	assert_true(first + 3 <= count);
	const cairn_pack_entry *e = &entries[first];
	uint32_t inner = 0;
	for (size_t k = 0; k < 3; k++) {
		assert_int_equal(e[k].kind, CAIRN_BLOB_BUNDLE);
		assert_memory_equal(e[k].fp, f->fp[2 * k], CAIRN_FP_SIZE);
		assert_int_equal(e[k].offset, e[0].offset);
		assert_int_equal(e[k].length, e[0].length);
		assert_int_equal(e[k].raw_length, f->plain_len[2 * k]);
		assert_int_equal(e[k].inner, inner);
		inner += e[k].raw_length;
	}
	/* The bundle opens as its chunks back to back, under the bundle's
	 * kind and no chunk's fingerprint. */
	assert_int_equal(cairn_unseal(f->sealer, &out, NULL, CAIRN_BLOB_BUNDLE,
	                              f->pk.data + e->offset, e->length, CAIRN_BUNDLE_MAX),
	                 0);
	assert_int_equal(out.len, joined.len);
	assert_memory_equal(out.data, joined.data, joined.len);
	assert_int_equal(cairn_unseal(f->sealer, &out, e->fp, CAIRN_BLOB_DATA,
	                              f->pk.data + e->offset, e->length, CAIRN_BUNDLE_MAX),
	                 CAIRN_ECORRUPT);
	free(entries);
	cairn_buf_free(&joined);
	cairn_buf_free(&out);
}

static void test_pack__add_bundle_rejects_what_is_not_a_bundle(void **state)
{
	fixture *f = *state;
	cairn_buf joined = CAIRN_BUF_INIT;
	uint8_t fps[2][CAIRN_FP_SIZE] = {{1}, {2}};
	uint32_t lens[2] = {3, 4};

	assert_int_equal(add_bundle(f, 1, &joined), CAIRN_EINVAL);
	assert_int_equal(cairn_pack_add_bundle(&f->w, f->sealer,
	                                       (const uint8_t(*)[CAIRN_FP_SIZE])fps, lens, 2,
	                                       "abcdefgh", 8),
	                 CAIRN_EINVAL); /* 3 + 4 is not 8 */
	lens[0] = 0;
	assert_int_equal(cairn_pack_add_bundle(&f->w, f->sealer,
	                                       (const uint8_t(*)[CAIRN_FP_SIZE])fps, lens, 2,
	                                       "abcd", 4),
	                 CAIRN_EINVAL); /* an empty chunk */
	uint8_t *big = calloc(1, CAIRN_BUNDLE_MAX + 2);
	assert_non_null(big);
	lens[0] = CAIRN_BUNDLE_MAX / 2 + 1;
	lens[1] = CAIRN_BUNDLE_MAX / 2;
	assert_int_equal(cairn_pack_add_bundle(&f->w, f->sealer,
	                                       (const uint8_t(*)[CAIRN_FP_SIZE])fps, lens, 2, big,
	                                       CAIRN_BUNDLE_MAX + 1),
	                 CAIRN_EINVAL);
	free(big);
	/* one chunk more than a bundle takes */
	uint8_t many_fps[CAIRN_BUNDLE_CHUNKS + 1][CAIRN_FP_SIZE] = {{0}};
	uint32_t ones[CAIRN_BUNDLE_CHUNKS + 1];
	uint8_t bytes[CAIRN_BUNDLE_CHUNKS + 1] = {0};
	for (size_t i = 0; i <= CAIRN_BUNDLE_CHUNKS; i++)
		ones[i] = 1;
	assert_int_equal(cairn_pack_add_bundle(&f->w, f->sealer,
	                                       (const uint8_t(*)[CAIRN_FP_SIZE])many_fps, ones,
	                                       CAIRN_BUNDLE_CHUNKS + 1, bytes, sizeof(bytes)),
	                 CAIRN_EINVAL);
	assert_int_equal(f->w.count, 0);
	assert_int_equal(f->w.n_blobs, 0);
	assert_int_equal(cairn_pack_size(&f->w), 0);
	/* the most it takes */
	assert_int_equal(cairn_pack_add_bundle(&f->w, f->sealer,
	                                       (const uint8_t(*)[CAIRN_FP_SIZE])many_fps, ones,
	                                       CAIRN_BUNDLE_CHUNKS, bytes, CAIRN_BUNDLE_CHUNKS),
	                 0);
	assert_int_equal(f->w.count, CAIRN_BUNDLE_CHUNKS);
	assert_int_equal(f->w.n_blobs, 1);
	cairn_buf_free(&joined);
}

static void test_pack__trailer_length_must_fit_the_pack(void **state)
{
	(void)state;
	uint8_t b[4];
	uint32_t n = 0;

	cairn_put_u32le(b, 0);
	assert_int_equal(cairn_pack_trailer_length(b, 100, &n), CAIRN_ECORRUPT);
	cairn_put_u32le(b, 97);
	assert_int_equal(cairn_pack_trailer_length(b, 100, &n), CAIRN_ECORRUPT);
	cairn_put_u32le(b, 96);
	assert_int_equal(cairn_pack_trailer_length(b, 100, &n), 0);
	assert_int_equal(n, 96);
	cairn_put_u32le(b, 1);
	assert_int_equal(cairn_pack_trailer_length(b, 3, &n), CAIRN_ECORRUPT);
}

/* ---- hand-made trailers ---------------------------------------------- */

#define AREA 1000

/* An entry as version 1 wrote it. */
static void put_entry_v1(cairn_buf *b, uint8_t tag, uint8_t kind, uint32_t offset, uint32_t length,
                         uint32_t raw_length)
{
	uint8_t fp[CAIRN_FP_SIZE];
	memset(fp, tag, sizeof(fp));
	assert_int_equal(cairn_buf_append(b, fp, sizeof(fp)), 0);
	assert_int_equal(cairn_buf_append_u8(b, kind), 0);
	assert_int_equal(cairn_buf_append_u32le(b, offset), 0);
	assert_int_equal(cairn_buf_append_u32le(b, length), 0);
	assert_int_equal(cairn_buf_append_u32le(b, raw_length), 0);
}

static void put_entry_inner(cairn_buf *b, uint8_t tag, uint8_t kind, uint32_t offset,
                            uint32_t length, uint32_t raw_length, uint32_t inner)
{
	put_entry_v1(b, tag, kind, offset, length, raw_length);
	assert_int_equal(cairn_buf_append_u32le(b, inner), 0);
}

static void put_entry(cairn_buf *b, uint8_t tag, uint8_t kind, uint32_t offset, uint32_t length,
                      uint32_t raw_length)
{
	put_entry_inner(b, tag, kind, offset, length, raw_length, 0);
}

/* Seals plain as the trailer of a pack with AREA bytes of blobs and parses
 * it; returns the result. */
static int parse_made_trailer(cairn_sealer *s, const cairn_buf *plain)
{
	cairn_buf pack = CAIRN_BUF_INIT;
	cairn_pack_entry *entries = NULL;
	size_t count;

	for (int i = 0; i < AREA; i++)
		assert_int_equal(cairn_buf_append_u8(&pack, (uint8_t)i), 0);
	assert_int_equal(cairn_seal(s, &pack, NULL, CAIRN_BLOB_TRAILER, plain->data, plain->len),
	                 0);
	assert_int_equal(cairn_buf_append_u32le(&pack, (uint32_t)(pack.len - AREA)), 0);
	int rc = open_pack(s, pack.data, pack.len, &entries, &count);
	if (rc == 0)
		assert_non_null(entries);
	else
		assert_null(entries);
	free(entries);
	cairn_buf_free(&pack);
	return rc;
}

static void make_header(cairn_buf *b, uint8_t version, uint64_t count)
{
	cairn_buf_clear(b);
	assert_int_equal(cairn_buf_append_u8(b, version), 0);
	assert_int_equal(cairn_buf_append_varint(b, count), 0);
}

static void test_pack__accepts_a_made_trailer_that_fits(void **state)
{
	fixture *f = *state;
	cairn_buf b = CAIRN_BUF_INIT;

	make_header(&b, CAIRN_PACK_VERSION, 3);
	put_entry(&b, 1, CAIRN_BLOB_DATA, 500, 500, 10); /* ends exactly at the area's end */
	put_entry(&b, 2, CAIRN_BLOB_INDEX, 0, 100, 10);
	put_entry(&b, 3, CAIRN_BLOB_TREE, 100, 1, 1); /* touching, not overlapping */
	assert_int_equal(parse_made_trailer(f->sealer, &b), 0);
	cairn_buf_free(&b);
}

static void test_pack__rejects_entries_out_of_range(void **state)
{
	fixture *f = *state;
	cairn_buf b = CAIRN_BUF_INIT;

	make_header(&b, CAIRN_PACK_VERSION, 1);
	put_entry(&b, 1, CAIRN_BLOB_DATA, 500, 501, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	make_header(&b, CAIRN_PACK_VERSION, 1);
	put_entry(&b, 1, CAIRN_BLOB_DATA, AREA, 1, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	/* offset + length wraps around 32 bits */
	make_header(&b, CAIRN_PACK_VERSION, 1);
	put_entry(&b, 1, CAIRN_BLOB_DATA, 10, UINT32_MAX, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	make_header(&b, CAIRN_PACK_VERSION, 1);
	put_entry(&b, 1, CAIRN_BLOB_DATA, UINT32_MAX, 2, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);
	cairn_buf_free(&b);
}

static void test_pack__accepts_the_entries_of_a_bundle(void **state)
{
	fixture *f = *state;
	cairn_buf b = CAIRN_BUF_INIT;

	make_header(&b, CAIRN_PACK_VERSION, 4);
	put_entry_inner(&b, 1, CAIRN_BLOB_BUNDLE, 100, 50, 30, 0);
	put_entry_inner(&b, 2, CAIRN_BLOB_BUNDLE, 100, 50, 20, 30);
	put_entry_inner(&b, 3, CAIRN_BLOB_BUNDLE, 100, 50, 10, CAIRN_BUNDLE_MAX - 10);
	put_entry(&b, 4, CAIRN_BLOB_DATA, 150, 10, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), 0);
	cairn_buf_free(&b);
}

static void test_pack__rejects_bundle_entries_that_do_not_fit(void **state)
{
	fixture *f = *state;
	cairn_buf b = CAIRN_BUF_INIT;

	/* a chunk past the largest bundle */
	make_header(&b, CAIRN_PACK_VERSION, 1);
	put_entry_inner(&b, 1, CAIRN_BLOB_BUNDLE, 100, 50, 10, CAIRN_BUNDLE_MAX - 9);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "outside its bundle"));

	/* an offset inside a blob that is not a bundle */
	make_header(&b, CAIRN_PACK_VERSION, 1);
	put_entry_inner(&b, 1, CAIRN_BLOB_DATA, 100, 50, 10, 1);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	/* two bundles at one offset, of different lengths */
	make_header(&b, CAIRN_PACK_VERSION, 2);
	put_entry_inner(&b, 1, CAIRN_BLOB_BUNDLE, 100, 50, 10, 0);
	put_entry_inner(&b, 2, CAIRN_BLOB_BUNDLE, 100, 51, 10, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	/* a bundle's blob shared with a chunk of its own */
	make_header(&b, CAIRN_PACK_VERSION, 2);
	put_entry_inner(&b, 1, CAIRN_BLOB_BUNDLE, 100, 50, 10, 0);
	put_entry(&b, 2, CAIRN_BLOB_DATA, 100, 50, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	/* more chunks than a bundle holds */
	for (size_t n = CAIRN_BUNDLE_CHUNKS; n <= CAIRN_BUNDLE_CHUNKS + 1; n++) {
		make_header(&b, CAIRN_PACK_VERSION, n);
		for (size_t i = 0; i < n; i++)
			put_entry_inner(&b, (uint8_t)i, CAIRN_BLOB_BUNDLE, 100, 50, 1, (uint32_t)i);
		assert_int_equal(parse_made_trailer(f->sealer, &b),
		                 n > CAIRN_BUNDLE_CHUNKS ? CAIRN_ECORRUPT : 0);
	}
	cairn_buf_free(&b);
}

/* Every byte of a trailer with bundles, changed in turn: the parser
 * accepts it or calls it corrupt, never anything else (and, under the
 * sanitizers, reads nothing it should not). */
static void test_pack__any_changed_byte_of_a_trailer_is_parsed_or_refused(void **state)
{
	fixture *f = *state;
	cairn_buf b = CAIRN_BUF_INIT, changed = CAIRN_BUF_INIT;

	make_header(&b, CAIRN_PACK_VERSION, 4);
	put_entry_inner(&b, 1, CAIRN_BLOB_BUNDLE, 100, 50, 30, 0);
	put_entry_inner(&b, 2, CAIRN_BLOB_BUNDLE, 100, 50, 20, 30);
	put_entry(&b, 3, CAIRN_BLOB_DATA, 150, 10, 10);
	put_entry(&b, 4, CAIRN_BLOB_TREE, 0, 100, 10);
	for (size_t i = 0; i < b.len; i++) {
		for (unsigned bit = 0; bit < 8; bit += 3) {
			cairn_buf_clear(&changed);
			assert_int_equal(cairn_buf_append(&changed, b.data, b.len), 0);
			changed.data[i] ^= (uint8_t)(1u << bit);
			int rc = parse_made_trailer(f->sealer, &changed);
			assert_true(rc == 0 || rc == CAIRN_ECORRUPT);
		}
	}
	cairn_buf_free(&b);
	cairn_buf_free(&changed);
}

static void test_pack__reads_version_1_trailers(void **state)
{
	fixture *f = *state;
	cairn_buf b = CAIRN_BUF_INIT;

	make_header(&b, 1, 2);
	put_entry_v1(&b, 1, CAIRN_BLOB_DATA, 0, 100, 10);
	put_entry_v1(&b, 2, CAIRN_BLOB_TREE, 100, 100, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), 0);

	/* there were no bundles then */
	make_header(&b, 1, 1);
	put_entry_v1(&b, 1, CAIRN_BLOB_BUNDLE, 0, 100, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	/* nor the inner field */
	make_header(&b, 1, 1);
	put_entry(&b, 1, CAIRN_BLOB_DATA, 0, 100, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);
	cairn_buf_free(&b);
}

static void test_pack__rejects_overlapping_entries(void **state)
{
	fixture *f = *state;
	cairn_buf b = CAIRN_BUF_INIT;

	make_header(&b, CAIRN_PACK_VERSION, 2);
	put_entry(&b, 1, CAIRN_BLOB_DATA, 0, 101, 10);
	put_entry(&b, 2, CAIRN_BLOB_DATA, 100, 100, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	/* listed out of order, one inside another */
	make_header(&b, CAIRN_PACK_VERSION, 3);
	put_entry(&b, 1, CAIRN_BLOB_DATA, 600, 10, 10);
	put_entry(&b, 2, CAIRN_BLOB_DATA, 0, 10, 10);
	put_entry(&b, 3, CAIRN_BLOB_DATA, 590, 200, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	/* the same blob twice */
	make_header(&b, CAIRN_PACK_VERSION, 2);
	put_entry(&b, 1, CAIRN_BLOB_DATA, 40, 10, 10);
	put_entry(&b, 2, CAIRN_BLOB_DATA, 40, 10, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);
	cairn_buf_free(&b);
}

static void test_pack__rejects_bad_kinds_and_empty_entries(void **state)
{
	fixture *f = *state;
	cairn_buf b = CAIRN_BUF_INIT;

	make_header(&b, CAIRN_PACK_VERSION, 1);
	put_entry(&b, 1, 0, 0, 10, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	make_header(&b, CAIRN_PACK_VERSION, 1);
	put_entry(&b, 1, 7, 0, 10, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	make_header(&b, CAIRN_PACK_VERSION, 1);
	put_entry(&b, 1, CAIRN_BLOB_DATA, 0, 0, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	make_header(&b, CAIRN_PACK_VERSION, 1);
	put_entry(&b, 1, CAIRN_BLOB_DATA, 0, 10, 0);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);
	cairn_buf_free(&b);
}

static void test_pack__rejects_a_count_that_does_not_match_the_trailer(void **state)
{
	fixture *f = *state;
	cairn_buf b = CAIRN_BUF_INIT;

	/* claims more entries than it holds */
	make_header(&b, CAIRN_PACK_VERSION, 2);
	put_entry(&b, 1, CAIRN_BLOB_DATA, 0, 10, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	/* claims fewer */
	make_header(&b, CAIRN_PACK_VERSION, 0);
	put_entry(&b, 1, CAIRN_BLOB_DATA, 0, 10, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	/* a trailing partial entry */
	make_header(&b, CAIRN_PACK_VERSION, 1);
	put_entry(&b, 1, CAIRN_BLOB_DATA, 0, 10, 10);
	assert_int_equal(cairn_buf_append_u8(&b, 0), 0);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	/* a count so large that count * entry size overflows */
	make_header(&b, CAIRN_PACK_VERSION, UINT64_MAX / CAIRN_PACK_ENTRY_SIZE + 2);
	put_entry(&b, 1, CAIRN_BLOB_DATA, 0, 10, 10);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);

	/* no count at all */
	cairn_buf_clear(&b);
	assert_int_equal(cairn_buf_append_u8(&b, CAIRN_PACK_VERSION), 0);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);
	cairn_buf_free(&b);
}

static void test_pack__rejects_an_unknown_version(void **state)
{
	fixture *f = *state;
	cairn_buf b = CAIRN_BUF_INIT;

	make_header(&b, CAIRN_PACK_VERSION + 1, 0);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);
	make_header(&b, 0, 0);
	assert_int_equal(parse_made_trailer(f->sealer, &b), CAIRN_ECORRUPT);
	make_header(&b, CAIRN_PACK_VERSION, 0);
	assert_int_equal(parse_made_trailer(f->sealer, &b), 0);
	cairn_buf_free(&b);
}

static void test_pack__rejects_a_trailer_sealed_as_another_kind(void **state)
{
	fixture *f = *state;
	cairn_buf pack = CAIRN_BUF_INIT, plain = CAIRN_BUF_INIT;
	cairn_pack_entry *entries;
	size_t count;

	make_header(&plain, CAIRN_PACK_VERSION, 0);
	assert_int_equal(cairn_seal(f->sealer, &pack, NULL, CAIRN_BLOB_DATA, plain.data, plain.len),
	                 0);
	assert_int_equal(cairn_buf_append_u32le(&pack, (uint32_t)pack.len), 0);
	assert_int_equal(open_pack(f->sealer, pack.data, pack.len, &entries, &count),
	                 CAIRN_ECORRUPT);
	cairn_buf_free(&pack);
	cairn_buf_free(&plain);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_pack__round_trips_a_hundred_blobs),
	    cmocka_unit_test_setup_teardown(test_pack__round_trips_without_encryption,
	                                    setup_unencrypted, teardown),
	    T(test_pack__gathers_small_blobs_before_spooling),
	    T(test_pack__round_trips_through_a_spool_file),
	    T(test_pack__spool_needs_a_directory),
	    T(test_pack__shuffles_the_blob_order),
	    T(test_pack__does_not_show_where_its_blobs_begin),
	    T(test_pack__detects_a_flipped_trailer_byte),
	    T(test_pack__detects_a_flipped_length_byte),
	    T(test_pack__rejects_a_truncated_pack),
	    T(test_pack__allows_an_empty_pack),
	    T(test_pack__reset_starts_a_new_pack),
	    T(test_pack__add_rejects_empty_blobs_and_unknown_kinds),
	    T(test_pack__trailer_length_must_fit_the_pack),
	    T(test_pack__accepts_a_made_trailer_that_fits),
	    T(test_pack__rejects_entries_out_of_range),
	    T(test_pack__a_bundle_is_one_blob_with_an_entry_per_chunk),
	    T(test_pack__add_bundle_rejects_what_is_not_a_bundle),
	    T(test_pack__accepts_the_entries_of_a_bundle),
	    T(test_pack__rejects_bundle_entries_that_do_not_fit),
	    T(test_pack__any_changed_byte_of_a_trailer_is_parsed_or_refused),
	    T(test_pack__reads_version_1_trailers),
	    T(test_pack__rejects_overlapping_entries),
	    T(test_pack__rejects_bad_kinds_and_empty_entries),
	    T(test_pack__rejects_a_count_that_does_not_match_the_trailer),
	    T(test_pack__rejects_an_unknown_version),
	    T(test_pack__rejects_a_trailer_sealed_as_another_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

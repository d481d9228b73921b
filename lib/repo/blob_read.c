/* Reading blobs: the one way to take a blob out of the repository.
 *
 * A single blob (a manifest chunk) is located in the index, read from its
 * pack with one ranged request, authenticated, opened and checked against
 * its fingerprint. Many blobs at once (a restore's batch) go the same way
 * in steps the caller spreads over its threads: locate them all, plan
 * ranged reads that cover neighbours in a pack with one request, read
 * each range once, and take the blobs out of it, opening a bundle once
 * for all the chunks of it that the range holds.
 *
 * Reading registers nothing: what cairn_repo_commit_pack queued is found
 * once cairn_repo_flush_index has run. */
#include "repo/repo_internal.h"
#include "repo/gc_io.h"

#include "cairn/chunker.h"
#include "cairn/errors.h"
#include "cairn/index.h"
#include "util/hex.h"
#include "util/time.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ranged reads of a pack read through gaps up to RANGE_GAP_* bytes and
 * are at most RANGE_MAX_* long. Reading a local gap costs a copy (and the
 * blobs of a pack are shuffled, so a batch needs only some of them);
 * reading a remote one saves a request. */
#define RANGE_GAP_LOCAL (32u << 10)
#define RANGE_MAX_LOCAL (2u << 20)
#define RANGE_GAP_REMOTE (1u << 20)
#define RANGE_MAX_REMOTE (8u << 20)

/* Names the entry's chunk in the message of a failure, or for a bundle
 * that could not be opened (whole), the bundle alone, which every chunk
 * in it shares: CAIRN_ECORRUPT. */
static int blob_corrupt(const cairn_index_entry *e, int whole)
{
	char pack[CAIRN_ID_HEX + 1], fp[CAIRN_ID_HEX + 1];
	cairn_hex_encode(pack, e->pack, CAIRN_ID_SIZE);
	cairn_hex_encode(fp, e->fp, CAIRN_FP_SIZE);
	if (e->kind != CAIRN_BLOB_BUNDLE)
		cairn_error_prefix(CAIRN_ECORRUPT, "blob %.16s in pack %.16s (offset %u)", fp, pack,
		                   e->offset);
	else if (whole)
		cairn_error_prefix(CAIRN_ECORRUPT, "bundle in pack %.16s (offset %u)", pack,
		                   e->offset);
	else
		cairn_error_prefix(CAIRN_ECORRUPT,
		                   "chunk %.16s of the bundle in pack %.16s (offset %u)", fp, pack,
		                   e->offset);
	return CAIRN_ECORRUPT;
}

/* Authenticates and opens the blob at e's location: out gets the whole
 * bundle, or the chunk alone. */
static int unseal_blob(cairn_sealer *s, const cairn_index_entry *e, const void *sealed, size_t len,
                       cairn_buf *out)
{
	int bundle = e->kind == CAIRN_BLOB_BUNDLE;
	int rc = cairn_unseal(s, out, bundle ? NULL : e->fp, e->kind, sealed, len,
	                      bundle ? CAIRN_BUNDLE_MAX : e->raw_length);
	if (!rc && !bundle && out->len != e->raw_length)
		rc = cairn_error_set(CAIRN_ECORRUPT, "length %zu, expected %u", out->len,
		                     e->raw_length);
	if (rc) {
		cairn_buf_clear(out);
		return blob_corrupt(e, 1);
	}
	return 0;
}

/* Finds e's chunk in the plaintext of its blob and checks it against its
 * fingerprint. */
static int blob_chunk(cairn_fingerprinter *f, const cairn_index_entry *e, const cairn_buf *plain,
                      const uint8_t **chunk_out)
{
	uint8_t check[CAIRN_FP_SIZE];
	uint64_t inner = e->kind == CAIRN_BLOB_BUNDLE ? e->inner : 0;
	*chunk_out = NULL;
	if (inner + e->raw_length > plain->len) {
		cairn_error_set(CAIRN_ECORRUPT, "bundle of %zu bytes has no chunk at %u",
		                plain->len, e->inner);
		return blob_corrupt(e, 0);
	}
	const uint8_t *chunk = plain->data + inner;
	if (e->kind == CAIRN_BLOB_DATA || e->kind == CAIRN_BLOB_TREE ||
	    e->kind == CAIRN_BLOB_BUNDLE) {
		int rc = cairn_fingerprint(f, check, chunk, e->raw_length);
		if (rc)
			return rc;
		if (sodium_memcmp(check, e->fp, CAIRN_FP_SIZE) != 0) {
			cairn_error_set(CAIRN_ECORRUPT, "content does not match its fingerprint");
			return blob_corrupt(e, 0);
		}
	}
	*chunk_out = chunk;
	return 0;
}

/* Opens a blob read from its pack: out gets e's chunk alone. */
static int open_blob(cairn_sealer *s, cairn_fingerprinter *f, const cairn_index_entry *e,
                     const void *sealed, size_t len, cairn_buf *out)
{
	const uint8_t *chunk;
	int rc = unseal_blob(s, e, sealed, len, out);
	if (!rc)
		rc = blob_chunk(f, e, out, &chunk);
	if (rc) {
		cairn_buf_clear(out);
		return rc;
	}
	if (chunk != out->data)
		memmove(out->data, chunk, e->raw_length);
	out->len = e->raw_length;
	return 0;
}

/* A reader of a damaged repository may miss many blobs: the store is
 * listed again at most this often. */
#define REFRESH_INTERVAL_NS 2000000000LL

static int refresh(cairn_repo *r, int now_or_never)
{
	int rc = 0;
	pthread_mutex_lock(&r->refresh_lock);
	int64_t now = cairn_now_ns(CLOCK_MONOTONIC);
	if (now_or_never || !r->refreshed_ns || now - r->refreshed_ns >= REFRESH_INTERVAL_NS) {
		rc = r->index_remote ? 0 : cairn_repo_sync_index(r, 0, NULL);
		if (!rc)
			rc = cairn_repo_apply_done(r, NULL);
		r->refreshed_ns = cairn_now_ns(CLOCK_MONOTONIC);
	}
	pthread_mutex_unlock(&r->refresh_lock);
	return rc;
}

int cairn_repo_refresh_index(cairn_repo *r)
{
	return refresh(r, 0);
}

int cairn_repo_refresh_index_now(cairn_repo *r)
{
	return refresh(r, 1);
}

int cairn_repo_locate_blobs(cairn_repo *r, const uint8_t (*fps)[CAIRN_FP_SIZE], size_t n,
                            cairn_index_entry *out, uint8_t *found)
{
	int rc = cairn_index_lookup(r->index, fps, n, out, found);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (found[i])
			memcpy(out[i].fp, fps[i], CAIRN_FP_SIZE);
	return 0;
}

int cairn_repo_blob_check(const cairn_sealer *s, const cairn_index_entry *e)
{
	int bundle = e->kind == CAIRN_BLOB_BUNDLE;
	if (e->raw_length > CAIRN_CHUNK_SIZE_HIGHEST ||
	    e->length > cairn_seal_bound(s, bundle ? CAIRN_BUNDLE_MAX : e->raw_length) ||
	    cairn_pack_entry_problem(e->kind, e->offset, e->length, e->raw_length, e->inner))
		return CAIRN_ECORRUPT;
	return 0;
}

int cairn_repo_store_is_remote(const cairn_repo *r)
{
	return strcmp(r->store->ops->name, "local") != 0;
}

static int loc_cmp(const void *pa, const void *pb)
{
	const cairn_blob_loc *a = pa, *b = pb;
	int c = memcmp(a->pack, b->pack, sizeof(a->pack));
	if (c)
		return c;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	if (a->length != b->length)
		return a->length < b->length ? -1 : 1;
	return 0;
}

int cairn_repo_plan_ranges(cairn_blob_loc *blobs, size_t n, uint64_t max_gap, uint64_t max_length,
                           cairn_pack_range **out, size_t *n_out)
{
	cairn_pack_range *ranges = NULL;
	size_t count = 0;

	*out = NULL;
	*n_out = 0;
	if (n == 0)
		return 0;
	if (!(ranges = calloc(n, sizeof(*ranges))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	qsort(blobs, n, sizeof(*blobs), loc_cmp);

	cairn_pack_range *cur = NULL;
	uint64_t cur_end = 0;
	for (size_t i = 0; i < n; i++) {
		const cairn_blob_loc *b = &blobs[i];
		uint64_t start = b->offset, end = start + b->length;
		if (cur && memcmp(blobs[cur->first].pack, b->pack, sizeof(b->pack)) == 0 &&
		    start <= cur_end + max_gap) {
			uint64_t new_end = end > cur_end ? end : cur_end;
			if (new_end - cur->offset <= max_length) {
				cur_end = new_end;
				cur->length = cur_end - cur->offset;
				cur->count++;
				continue;
			}
		}
		cur = &ranges[count++];
		cur->offset = start;
		cur->length = b->length;
		cur->first = i;
		cur->count = 1;
		cur_end = end;
	}
	*out = ranges;
	*n_out = count;
	return 0;
}

int cairn_repo_plan_reads(const cairn_repo *r, cairn_blob_loc *blobs, size_t n,
                          cairn_pack_range **out, size_t *n_out)
{
	int remote = cairn_repo_store_is_remote(r);
	return cairn_repo_plan_ranges(blobs, n, remote ? RANGE_GAP_REMOTE : RANGE_GAP_LOCAL,
	                              remote ? RANGE_MAX_REMOTE : RANGE_MAX_LOCAL, out, n_out);
}

int cairn_repo_read_range(cairn_repo *r, const uint8_t pack[CAIRN_ID_SIZE], uint64_t offset,
                          uint64_t length, cairn_buf *out)
{
	char key[80];
	cairn_repo_pack_key(key, pack);
	return cairn_store_get(r->store, key, offset, length, out);
}

void cairn_repo_range_init(cairn_range_reader *rr, cairn_sealer *s, cairn_fingerprinter *f)
{
	memset(rr, 0, sizeof(*rr));
	rr->sealer = s;
	rr->fp = f;
	cairn_buf_init(&rr->plain);
}

void cairn_repo_range_free(cairn_range_reader *rr)
{
	cairn_buf_free(&rr->plain);
}

void cairn_repo_range_start(cairn_range_reader *rr, const cairn_buf *raw, uint64_t offset)
{
	rr->raw = raw;
	rr->offset = offset;
	rr->bundle_open = 0;
}

int cairn_repo_range_chunk(cairn_range_reader *rr, const cairn_index_entry *e,
                           const uint8_t **chunk_out)
{
	uint64_t at = e->offset - rr->offset;
	int rc;
	*chunk_out = NULL;
	if (at + e->length > rr->raw->len) {
		char pack[CAIRN_ID_HEX + 1];
		cairn_hex_encode(pack, e->pack, CAIRN_ID_SIZE);
		return cairn_error_set(CAIRN_ECORRUPT,
		                       "pack %.16s ends before the blob at offset %u (truncated)",
		                       pack, e->offset);
	}
	/* The chunks of one bundle are neighbours in the plan (same offset):
	 * the bundle is opened once for all of them, and one that could not
	 * be keeps its reason. */
	int again = e->kind == CAIRN_BLOB_BUNDLE && rr->bundle_open &&
	            rr->bundle_offset == e->offset && rr->bundle_length == e->length;
	if (again && rr->bundle_failed.code)
		return cairn_error_restore(&rr->bundle_failed);
	if (!again) {
		rc = unseal_blob(rr->sealer, e, rr->raw->data + at, e->length, &rr->plain);
		rr->bundle_open = e->kind == CAIRN_BLOB_BUNDLE;
		rr->bundle_offset = e->offset;
		rr->bundle_length = e->length;
		rr->bundle_failed.code = 0;
		if (rc && rr->bundle_open)
			cairn_error_save(&rr->bundle_failed, rc);
		if (rc)
			return rc;
	}
	return blob_chunk(rr->fp, e, &rr->plain, chunk_out);
}

/* Tries the n rows of a blob (its fingerprint, kind kind) in order, but
 * for the location avoid (one that failed): 0 with the chunk in out once
 * one reads and opens (rows[*which]). Otherwise CAIRN_ENOTFOUND, or the
 * failure of a row; the last one is kept in *last. */
static int try_rows(cairn_repo *r, cairn_sealer *s, cairn_fingerprinter *f,
                    const cairn_index_entry *rows, size_t n, uint8_t kind,
                    const cairn_index_entry *avoid, cairn_buf *out, cairn_error_saved *last,
                    size_t *which)
{
	cairn_buf raw = CAIRN_BUF_INIT;
	char key[80];
	int rc = CAIRN_ENOTFOUND;
	for (size_t i = 0; i < n; i++) {
		const cairn_index_entry *e = &rows[i];
		if (!(e->kind == kind || (kind == CAIRN_BLOB_DATA && e->kind == CAIRN_BLOB_BUNDLE)))
			continue;
		if (avoid && !memcmp(e->pack, avoid->pack, CAIRN_ID_SIZE) &&
		    e->offset == avoid->offset && e->length == avoid->length)
			continue;
		if (cairn_repo_blob_check(s, e)) {
			cairn_repo_pack_key(key, e->pack);
			rc = cairn_error_set(CAIRN_ECORRUPT, "%s: impossible lengths at offset %u",
			                     key, e->offset);
		} else if (!(rc = cairn_repo_read_range(r, e->pack, e->offset, e->length, &raw)) &&
		           raw.len != e->length) {
			cairn_repo_pack_key(key, e->pack);
			rc = cairn_error_set(CAIRN_ECORRUPT, "%s: short read at offset %u", key,
			                     e->offset);
		}
		if (!rc)
			rc = open_blob(s, f, e, raw.data, raw.len, out);
		*which = i;
		if (!rc || rc == CAIRN_ENOMEM)
			break;
		cairn_error_save(last, rc);
	}
	cairn_buf_free(&raw);
	return rc;
}

/* Reads a blob from the first of its places that holds it, but avoid:
 * the rows the index gives; after bringing the index up to the store (a
 * blob registered since it was opened, or moved by a prune), its rows
 * again; then the store's own record (index/ objects, pack trailers),
 * and the index is told where the blob was found. */
static int read_blob_from(cairn_repo *r, cairn_sealer *s, cairn_fingerprinter *f,
                          const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind,
                          const cairn_index_entry *avoid, cairn_buf *out)
{
	cairn_index_entry rows[CAIRN_INDEX_ROWS_MAX];
	cairn_error_saved last = {0};
	char hex[CAIRN_ID_HEX + 1];
	uint8_t n = 0;
	size_t which = 0;
	int rc = 0, step;
	for (step = 0; step < 3; step++) {
		rc = step == 1 ? cairn_repo_refresh_index(r) : 0;
		if (!rc)
			rc = cairn_repo_blob_places(r, fp, step == 2, CAIRN_INDEX_ROWS_MAX, rows,
			                            &n);
		if (rc)
			return rc;
		rc = try_rows(r, s, f, rows, n, kind, avoid, out, &last, &which);
		if (rc != CAIRN_ENOTFOUND && rc != CAIRN_ECORRUPT)
			break;
	}
	/* Advisory: a reader may not be allowed to register. */
	if (!rc && step == 2 && cairn_index_insert(r->index, &rows[which], 1))
		cairn_error_clear();
	if (!rc || rc == CAIRN_ENOMEM)
		return rc;
	if (last.code)
		return cairn_error_restore(&last);
	cairn_hex_encode(hex, fp, CAIRN_FP_SIZE);
	return cairn_error_set(CAIRN_ENOTFOUND, "blob %.16s is in no pack of the index", hex);
}

int cairn_repo_blob_places(cairn_repo *r, const uint8_t fp[CAIRN_FP_SIZE], int from_store,
                           size_t max, cairn_index_entry *rows, uint8_t *count_out)
{
	if (from_store)
		return cairn_repo_store_rows(r, fp, max, rows, count_out);
	return cairn_index_rows(r->index, (const uint8_t(*)[CAIRN_FP_SIZE])fp, 1, max, rows,
	                        count_out);
}

int cairn_repo_read_blob(cairn_repo *r, cairn_sealer *s, cairn_fingerprinter *f,
                         const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind, cairn_buf *out)
{
	return read_blob_from(r, s, f, fp, kind, NULL, out);
}

int cairn_repo_read_blob_elsewhere(cairn_repo *r, cairn_sealer *s, cairn_fingerprinter *f,
                                   const cairn_index_entry *failed, uint8_t kind, cairn_buf *out)
{
	/* Advisory: a reader may not be allowed to. */
	if (cairn_index_reject(r->index, failed, 1))
		cairn_error_clear();
	return read_blob_from(r, s, f, failed->fp, kind, failed, out);
}

/* The first read of a pack's tail holds the trailer of a pack of a few
 * thousand blobs. */
#define TRAILER_FIRST_READ (64u << 10)

int cairn_repo_read_trailer(cairn_repo *r, cairn_sealer *s, const uint8_t pack[CAIRN_ID_SIZE],
                            uint64_t pack_size, cairn_pack_entry **entries_out, size_t *count_out)
{
	cairn_buf tail = CAIRN_BUF_INIT;
	uint64_t want = pack_size < TRAILER_FIRST_READ ? pack_size : TRAILER_FIRST_READ;
	uint32_t tlen;
	char key[80];
	int rc = pack_size < 4
	             ? cairn_error_set(CAIRN_ECORRUPT, "a pack of %llu bytes has no trailer",
	                               (unsigned long long)pack_size)
	             : cairn_repo_read_range(r, pack, pack_size - want, want, &tail);
	/* a trailer longer than the first read: read all of it */
	if (!rc && tail.len == want &&
	    cairn_pack_trailer_length(tail.data + want - 4, pack_size, &tlen) == 0 &&
	    (uint64_t)tlen + 4 > want) {
		want = (uint64_t)tlen + 4;
		rc = cairn_repo_read_range(r, pack, pack_size - want, want, &tail);
	}
	if (!rc && tail.len != want)
		rc = cairn_error_set(CAIRN_ECORRUPT, "%zu bytes at the end of a pack of %llu",
		                     tail.len, (unsigned long long)pack_size);
	if (!rc)
		rc = cairn_pack_parse_tail(s, tail.data, tail.len, pack_size, entries_out,
		                           count_out);
	/* the store's own errors name the key already */
	if (rc == CAIRN_ECORRUPT) {
		cairn_repo_pack_key(key, pack);
		cairn_error_prefix(rc, "%s", key);
	}
	cairn_buf_free(&tail);
	return rc;
}

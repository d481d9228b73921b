/* Snapshot statistics (cairn/stats.h): manifests walked into sorted
 * sets of fingerprints, then the index asked for each distinct chunk's
 * sizes. */
#include "cairn/stats.h"

#include "cairn/errors.h"
#include "cairn/tree.h"
#include "inspect/content.h"
#include "util/fpset.h"

#include <stdlib.h>
#include <string.h>

#define BATCH 4096

typedef struct stats_run {
	cairn_repo *r;
	cairn_stats *out;
	cairn_sorted_fps data, trees, bundles;
	uint8_t (*batch)[CAIRN_FP_SIZE];
	size_t n_batch;
	cairn_index_entry *rows;
	uint8_t *found;
} stats_run;

static int is_hole(const uint8_t fp[CAIRN_FP_SIZE])
{
	static const uint8_t zero[CAIRN_FP_SIZE];
	return memcmp(fp, zero, CAIRN_FP_SIZE) == 0;
}

static int flush_batch(stats_run *s)
{
	int rc =
	    cairn_sorted_fps_add(&s->data, (const uint8_t(*)[CAIRN_FP_SIZE])s->batch, s->n_batch);
	s->n_batch = 0;
	return rc;
}

static int add_entry(stats_run *s, const cairn_entry *e)
{
	int rc;
	if (e->type != CAIRN_ENTRY_FILE)
		return 0;
	s->out->files++;
	s->out->restore_bytes += e->size;
	for (size_t i = 0; i < e->n_chunks; i++) {
		if (is_hole(e->chunks[i].fp))
			continue;
		memcpy(s->batch[s->n_batch++], e->chunks[i].fp, CAIRN_FP_SIZE);
		if (s->n_batch == BATCH && (rc = flush_batch(s)))
			return rc;
	}
	return 0;
}

/* One snapshot: its files and their chunks, its manifest's chunks. */
static int add_snapshot(stats_run *s, const cairn_snapshot *snap)
{
	cairn_tree_reader *t = NULL;
	cairn_entry e = {0};
	int rc;
	s->out->snapshots++;
	for (size_t i = 0; i < snap->n_manifest; i++)
		if ((rc = cairn_sorted_fps_add(
		         &s->trees, (const uint8_t(*)[CAIRN_FP_SIZE])snap->manifest[i].fp, 1)))
			return rc;
	if ((rc = cairn_tree_reader_open(&t, s->r, snap)))
		return inspect_manifest_error(rc, snap);
	while ((rc = cairn_tree_reader_next(t, &e)) == 1) {
		rc = add_entry(s, &e);
		cairn_entry_clear(&e);
		if (rc)
			break;
	}
	cairn_tree_reader_free(t);
	return rc < 0 ? inspect_manifest_error(rc, snap) : 0;
}

/* A bundle's blob, as a key of 32 bytes: its pack (the first 24 bytes of
 * the id), offset and length. */
static void bundle_key(uint8_t key[CAIRN_FPSET_KEY], const cairn_index_entry *e)
{
	memcpy(key, e->pack, 24);
	cairn_put_u32le(key + 24, e->offset);
	cairn_put_u32le(key + 28, e->length);
}

/* Asks the index where each distinct chunk of set is; sizes go to
 * *chunks, *raw (may be NULL) and *stored. */
static int sizes(stats_run *s, const cairn_sorted_fps *set, uint64_t *chunks, uint64_t *raw,
                 uint64_t *stored)
{
	uint8_t key[CAIRN_FPSET_KEY];
	int rc;
	*chunks = set->n;
	for (size_t at = 0; at < set->n; at += BATCH) {
		size_t n = set->n - at < BATCH ? set->n - at : BATCH;
		if ((rc = cairn_repo_locate_blobs(s->r,
		                                  (const uint8_t(*)[CAIRN_FP_SIZE])set->fps + at, n,
		                                  s->rows, s->found)))
			return rc;
		for (size_t i = 0; i < n; i++) {
			const cairn_index_entry *e = &s->rows[i];
			if (!s->found[i]) {
				s->out->missing++;
				continue;
			}
			if (raw)
				*raw += e->raw_length;
			if (e->kind != CAIRN_BLOB_BUNDLE) {
				*stored += e->length;
				continue;
			}
			bundle_key(key, e);
			if ((rc = cairn_sorted_fps_add(&s->bundles,
			                               (const uint8_t(*)[CAIRN_FPSET_KEY])key, 1)))
				return rc;
		}
	}
	cairn_sorted_fps_finish(&s->bundles);
	for (size_t i = 0; i < s->bundles.n; i++)
		*stored += cairn_get_u32le(s->bundles.fps[i] + 28);
	cairn_sorted_fps_free(&s->bundles);
	return 0;
}

int cairn_stats_compute(cairn_repo *r, const cairn_snapshot *snaps, size_t n, cairn_stats *out)
{
	stats_run s = {.r = r, .out = out};
	int rc = 0;

	memset(out, 0, sizeof(*out));
	s.batch = malloc(BATCH * sizeof(*s.batch));
	s.rows = malloc(BATCH * sizeof(*s.rows));
	s.found = malloc(BATCH);
	if (!s.batch || !s.rows || !s.found) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && !rc; i++)
		rc = add_snapshot(&s, &snaps[i]);
	if (rc || (rc = flush_batch(&s)))
		goto out;
	cairn_sorted_fps_finish(&s.data);
	cairn_sorted_fps_finish(&s.trees);
	if (!(rc = sizes(&s, &s.data, &out->chunks, &out->unique_bytes, &out->stored_bytes)))
		rc = sizes(&s, &s.trees, &out->tree_chunks, NULL, &out->tree_stored_bytes);
out:
	cairn_sorted_fps_free(&s.data);
	cairn_sorted_fps_free(&s.trees);
	cairn_sorted_fps_free(&s.bundles);
	free(s.batch);
	free(s.rows);
	free(s.found);
	return rc;
}

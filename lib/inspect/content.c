/* A file's content through the blob reader, a window at a time
 * (inspect/content.h). */
#include "inspect/content.h"

#include "cairn/errors.h"
#include "util/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int content_reader_init(content_reader *c, cairn_repo *r)
{
	size_t n = CONTENT_WINDOW_CHUNKS;
	int rc;
	memset(c, 0, sizeof(*c));
	c->r = r;
	if ((rc = cairn_repo_sealer_new(r, &c->sealer, 0)) ||
	    (rc = cairn_repo_fingerprinter_new(r, &c->fp)))
		return rc;
	cairn_repo_range_init(&c->rr, c->sealer, c->fp);
	c->fps = malloc(n * sizeof(*c->fps));
	c->chunk_of = malloc(n * sizeof(*c->chunk_of));
	c->offset = malloc(n * sizeof(*c->offset));
	c->rows = malloc(n * sizeof(*c->rows));
	c->found = malloc(n);
	c->done = malloc(n);
	c->locs = malloc(n * sizeof(*c->locs));
	if (!c->fps || !c->chunk_of || !c->offset || !c->rows || !c->found || !c->done || !c->locs)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return 0;
}

void content_reader_free(content_reader *c)
{
	if (c->sealer)
		cairn_repo_range_free(&c->rr);
	cairn_sealer_free(c->sealer);
	cairn_fingerprinter_free(c->fp);
	cairn_buf_free(&c->raw);
	cairn_buf_free(&c->window);
	cairn_buf_free(&c->one);
	free(c->fps);
	free(c->chunk_of);
	free(c->offset);
	free(c->rows);
	free(c->found);
	free(c->done);
	free(c->locs);
	memset(c, 0, sizeof(*c));
}

static int is_hole(const cairn_chunk_ref *ref)
{
	static const uint8_t zero[CAIRN_FP_SIZE];
	return memcmp(ref->fp, zero, CAIRN_FP_SIZE) == 0;
}

/* Some of a file is lost (its bytes stay zeros): the first reason is
 * kept. */
static void lose(int *damaged, char *why, size_t why_len, const char *reason)
{
	if (!*damaged)
		snprintf(why, why_len, "%s", reason);
	*damaged = 1;
}

/* Puts blob k's plaintext into the window if its length is the chunk's. */
static int place(content_reader *c, const cairn_chunk_ref *refs, size_t k, const uint8_t *plain,
                 size_t len)
{
	size_t i = c->chunk_of[k];
	if (len != refs[i].length)
		return 0;
	memcpy(c->window.data + c->offset[i], plain, len);
	c->done[k] = 1;
	return 1;
}

/* Reads the planned ranges; a blob that fails is left for the fallback. */
static int read_ranges(content_reader *c, const cairn_chunk_ref *refs, cairn_pack_range *ranges,
                       size_t n_ranges)
{
	for (size_t g = 0; g < n_ranges; g++) {
		const cairn_pack_range *rg = &ranges[g];
		int rc = cairn_repo_read_range(c->r, c->locs[rg->first].pack, rg->offset,
		                               rg->length, &c->raw);
		if (rc == CAIRN_ENOMEM)
			return rc;
		if (rc)
			continue;
		cairn_repo_range_start(&c->rr, &c->raw, rg->offset);
		for (size_t b = rg->first; b < rg->first + rg->count; b++) {
			size_t k = c->locs[b].id;
			const uint8_t *chunk;
			if (c->done[k])
				continue;
			rc = cairn_repo_range_chunk(&c->rr, &c->rows[k], &chunk);
			if (rc == CAIRN_ENOMEM)
				return rc;
			if (!rc)
				place(c, refs, k, chunk, c->rows[k].raw_length);
		}
	}
	return 0;
}

/* Each blob the ranges did not give is read from any place that has it
 * (the index's other rows, the store's own record); else it is lost. */
static int read_rest(content_reader *c, const cairn_chunk_ref *refs, size_t n, int *damaged,
                     char *why, size_t why_len)
{
	for (size_t k = 0; k < n; k++) {
		int rc;
		if (c->done[k])
			continue;
		if (c->found[k])
			rc = cairn_repo_read_blob_elsewhere(c->r, c->sealer, c->fp, &c->rows[k],
			                                    CAIRN_BLOB_DATA, &c->one);
		else
			rc = cairn_repo_read_blob(c->r, c->sealer, c->fp, c->fps[k],
			                          CAIRN_BLOB_DATA, &c->one);
		if (rc == CAIRN_ENOMEM)
			return rc;
		if (rc)
			lose(damaged, why, why_len, cairn_error_last());
		else if (!place(c, refs, k, c->one.data, c->one.len))
			lose(damaged, why, why_len, "a chunk's length is not the manifest's");
	}
	return 0;
}

/* Fills the window with chunks refs[0, n), which take bytes bytes. */
static int fill_window(content_reader *c, const cairn_chunk_ref *refs, size_t n, uint64_t bytes,
                       int *damaged, char *why, size_t why_len)
{
	cairn_pack_range *ranges = NULL;
	size_t k = 0, m = 0, n_ranges = 0;
	uint64_t off = 0;
	int rc;

	cairn_buf_clear(&c->window);
	if ((rc = cairn_buf_reserve(&c->window, bytes)))
		return rc;
	memset(c->window.data, 0, bytes);
	c->window.len = bytes;
	for (size_t i = 0; i < n; off += refs[i++].length) {
		c->offset[i] = off;
		if (is_hole(&refs[i]))
			continue;
		memcpy(c->fps[k], refs[i].fp, CAIRN_FP_SIZE);
		c->chunk_of[k] = i;
		c->done[k++] = 0;
	}
	if (k && (rc = cairn_repo_locate_blobs(c->r, (const uint8_t(*)[CAIRN_FP_SIZE])c->fps, k,
	                                       c->rows, c->found)))
		return rc;
	for (size_t i = 0; i < k; i++) {
		if (!c->found[i] || cairn_repo_blob_check(c->sealer, &c->rows[i]))
			continue;
		memcpy(c->locs[m].pack, c->rows[i].pack, CAIRN_ID_SIZE);
		c->locs[m].offset = c->rows[i].offset;
		c->locs[m].length = c->rows[i].length;
		c->locs[m++].id = i;
	}
	if (!(rc = cairn_repo_plan_reads(c->r, c->locs, m, &ranges, &n_ranges)) &&
	    !(rc = read_ranges(c, refs, ranges, n_ranges)))
		rc = read_rest(c, refs, k, damaged, why, why_len);
	free(ranges);
	return rc;
}

/* n zero bytes through write, a window at a time. */
static int write_zeros(content_reader *c, cairn_write_fn write, void *ud, uint64_t n)
{
	int rc;
	cairn_buf_clear(&c->window);
	while (n) {
		size_t k = n < CONTENT_WINDOW ? (size_t)n : CONTENT_WINDOW;
		if ((rc = cairn_buf_reserve(&c->window, k)))
			return rc;
		memset(c->window.data, 0, k);
		if ((rc = write(ud, c->window.data, k)))
			return rc;
		n -= k;
	}
	return 0;
}

/* Where the window that starts at chunk from ends: at least one chunk, a
 * hole larger than a window alone, else as many as fit. */
static size_t window_end(const cairn_entry *e, size_t from, uint64_t *bytes)
{
	size_t to = from;
	*bytes = 0;
	if (is_hole(&e->chunks[from]) && e->chunks[from].length > CONTENT_WINDOW) {
		*bytes = e->chunks[from].length;
		return from + 1;
	}
	while (to < e->n_chunks &&
	       (to == from || (to - from < CONTENT_WINDOW_CHUNKS &&
	                       *bytes + e->chunks[to].length <= CONTENT_WINDOW)))
		*bytes += e->chunks[to++].length;
	return to;
}

int content_write(content_reader *c, const cairn_entry *e, cairn_write_fn write, void *ud,
                  int *damaged, char *why, size_t why_len)
{
	uint64_t total = 0, bytes;
	int rc;
	*damaged = 0;
	for (size_t i = 0; i < e->n_chunks; i++)
		total += e->chunks[i].length;
	if (total != e->size) {
		/* The stream stays whole: zeros of the size the header said. */
		lose(damaged, why, why_len, "its chunks do not add up to its size");
		return write_zeros(c, write, ud, e->size);
	}
	for (size_t from = 0, to; from < e->n_chunks; from = to) {
		to = window_end(e, from, &bytes);
		if (is_hole(&e->chunks[from]) && bytes > CONTENT_WINDOW)
			rc = write_zeros(c, write, ud, bytes);
		else if (!(rc = fill_window(c, e->chunks + from, to - from, bytes, damaged, why,
		                            why_len)))
			rc = write(ud, c->window.data, c->window.len);
		if (rc)
			return rc;
	}
	return 0;
}

int inspect_manifest_error(int rc, const cairn_snapshot *snap)
{
	char hex[CAIRN_ID_HEX + 1];
	if (rc != CAIRN_ENOTFOUND && rc != CAIRN_ECORRUPT)
		return rc;
	cairn_hex_encode(hex, snap->id, CAIRN_ID_SIZE);
	return cairn_error_prefix(CAIRN_ECORRUPT, "the manifest of snapshot %.8s", hex);
}

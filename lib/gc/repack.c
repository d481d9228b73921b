/* Repacking: the used blobs of a mostly unused pack are copied, sealed
 * as they are, into new packs, which are committed like a backup's (the
 * pack, its index/ object, its index rows) before the old pack is
 * condemned: from the plan on, every used chunk has a copy outside it. */
#include "gc/prune_internal.h"

#include "cairn/errors.h"
#include "cairn/pack.h"
#include "repo/repo_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct repack {
	gc_prune *p;
	cairn_sealer *sealer;
	cairn_fingerprinter *fp;
	cairn_range_reader reader;
	cairn_pack_writer w;
	uint32_t target;
	cairn_buf chunks; /* a bundle's used chunks, back to back */
};

static int by_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static int by_offset(const void *a, const void *b)
{
	const cairn_pack_entry *x = a, *y = b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return (x->inner > y->inner) - (x->inner < y->inner);
}

static int commit(struct repack *rp)
{
	if (!rp->w.count)
		return 0;
	return cairn_repo_commit_pack(rp->p->repo, rp->sealer, &rp->w);
}

static int chunk_used(const gc_pack *k, const cairn_pack_entry *e)
{
	uint64_t key = (uint64_t)e->offset << 32 | e->inner;
	return bsearch(&key, k->used, k->n_used, sizeof(*k->used), by_u64) != NULL;
}

/* A bundle some of whose chunks no snapshot needs: the used ones are
 * opened (and checked against their fingerprints) and sealed anew, in a
 * bundle of their own or alone, so that the copy holds nothing unused. */
static int rebundle(struct repack *rp, gc_pack *k, const cairn_pack_entry *e, size_t n,
                    const cairn_buf *raw)
{
	uint8_t fps[CAIRN_BUNDLE_CHUNKS][CAIRN_FP_SIZE];
	uint32_t lens[CAIRN_BUNDLE_CHUNKS];
	size_t m = 0;
	int rc = 0;
	cairn_buf_clear(&rp->chunks);
	cairn_repo_range_start(&rp->reader, raw, 0);
	for (size_t i = 0; i < n && !rc && m < CAIRN_BUNDLE_CHUNKS; i++) {
		cairn_index_entry ie;
		const uint8_t *chunk;
		if (!chunk_used(k, &e[i]))
			continue;
		cairn_pack_entry_to_index(&e[i], k->id, &ie);
		if ((rc = cairn_repo_range_chunk(&rp->reader, &ie, &chunk)) ||
		    (rc = cairn_buf_append(&rp->chunks, chunk, e[i].raw_length)))
			break;
		memcpy(fps[m], e[i].fp, CAIRN_FP_SIZE);
		lens[m++] = e[i].raw_length;
	}
	if (rc)
		return rc;
	if (m == 1)
		return cairn_pack_add(&rp->w, rp->sealer, fps[0], CAIRN_BLOB_DATA, rp->chunks.data,
		                      rp->chunks.len);
	return cairn_pack_add_bundle(&rp->w, rp->sealer, (const uint8_t(*)[CAIRN_FP_SIZE])fps, lens,
	                             m, rp->chunks.data, rp->chunks.len);
}

/* Copies the used chunks of pack k (entries: its trailer, sorted by
 * offset) from raw, its bytes from its start: a blob all of whose
 * chunks are used as it is, sealed; a bundle only partly used anew. */
static int copy_blobs(struct repack *rp, gc_pack *k, cairn_pack_entry *e, size_t n,
                      const cairn_buf *raw)
{
	gc_prune *p = rp->p;
	int rc = 0;
	for (size_t i = 0; i < n && !rc;) {
		size_t j = i + 1, used = chunk_used(k, &e[i]);
		while (j < n && e[j].offset == e[i].offset)
			used += chunk_used(k, &e[j++]);
		if (used && (uint64_t)e[i].offset + e[i].length > raw->len)
			return cairn_error_set(CAIRN_ECORRUPT, "a blob ends past the pack");
		if (used == j - i)
			rc = cairn_pack_add_sealed(&rp->w, &e[i], j - i, raw->data + e[i].offset,
			                           e[i].length);
		else if (used)
			rc = rebundle(rp, k, &e[i], j - i, raw);
		if (!rc && used) {
			p->res->blobs_copied++;
			p->res->bytes_copied += e[i].length;
		}
		if (!rc && used && cairn_pack_size(&rp->w) >= rp->target)
			rc = commit(rp);
		i = j;
	}
	return rc;
}

/* One pack: its trailer, its blob area in one read, the used blobs. */
static int repack_one(struct repack *rp, gc_pack *k)
{
	gc_prune *p = rp->p;
	cairn_pack_entry *entries = NULL;
	cairn_buf raw = CAIRN_BUF_INIT;
	size_t n = 0;
	qsort(k->used, k->n_used, sizeof(*k->used), by_u64);
	int rc = cairn_repo_read_trailer(p->repo, rp->sealer, k->id, k->size, &entries, &n);
	if (rc == CAIRN_ECORRUPT || rc == CAIRN_ENOTFOUND) {
		/* Listed before it was whole (s3rver does), damaged, or gone:
		 * not repacked, and so not condemned. */
		char key[80];
		cairn_repo_pack_key(key, k->id);
		gc_warn(p, key, "its trailer does not read: not repacked");
		k->state = PACK_KEEP;
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	qsort(entries, n, sizeof(*entries), by_offset);
	uint64_t end = 0;
	for (size_t i = 0; i < n; i++)
		if ((uint64_t)entries[i].offset + entries[i].length > end)
			end = (uint64_t)entries[i].offset + entries[i].length;
	if ((rc = cairn_repo_read_range(p->repo, k->id, 0, end, &raw)))
		goto out;
	rc = copy_blobs(rp, k, entries, n, &raw);
out:
	if (rc) {
		char key[80];
		cairn_repo_pack_key(key, k->id);
		cairn_error_prefix(rc, "cannot repack %s", key);
	}
	free(entries);
	cairn_buf_free(&raw);
	return rc;
}

int gc_repack(gc_prune *p)
{
	struct repack rp = {.p = p, .target = cairn_repo_config_get(p->repo)->pack_target};
	uint64_t total = 0, done = 0;
	int rc;
	for (size_t i = 0; i < p->packs.n; i++)
		if (p->packs.v[i].state == PACK_REPACK)
			total++;
	if (!total)
		return 0;
	if ((rc = cairn_repo_sealer_new(p->repo, &rp.sealer, 0)) ||
	    (rc = cairn_repo_fingerprinter_new(p->repo, &rp.fp))) {
		cairn_sealer_free(rp.sealer);
		return rc;
	}
	cairn_repo_range_init(&rp.reader, rp.sealer, rp.fp);
	cairn_pack_writer_init(&rp.w);
	gc_progress(p, "packs repacked", 0, total, 1);
	for (size_t i = 0; i < p->packs.n && !rc; i++) {
		gc_pack *k = &p->packs.v[i];
		if (k->state != PACK_REPACK)
			continue;
		if (!(rc = repack_one(&rp, k)) && k->state == PACK_REPACK) {
			p->res->packs_repacked++;
			p->res->bytes_repacked += k->size;
			gc_progress(p, "packs repacked", ++done, total, 0);
		}
	}
	if (!rc)
		rc = commit(&rp);
	/* The copies' rows are in the index before any plan condemns the
	 * packs they came from. */
	if (!rc)
		rc = cairn_repo_flush_index(p->repo);
	cairn_pack_writer_free(&rp.w);
	cairn_repo_range_free(&rp.reader);
	cairn_buf_free(&rp.chunks);
	cairn_fingerprinter_free(rp.fp);
	cairn_sealer_free(rp.sealer);
	return rc;
}

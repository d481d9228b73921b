/* Carrying out a plan once every backup that was running when it was
 * published has ended. Those backups wrote their snapshots before they
 * ended their markers, and every backup since took the plan's chunks for
 * absent; so a condemned chunk is still needed only if a snapshot written
 * since the plan's mark references it and no copy of it lives outside the
 * condemned packs. Such a pack is kept (reprieved); the others go: first
 * the done record (every client drops their rows on seeing it), then the
 * index's rows, the index/ objects that list them, and the packs. */
#include "gc/prune_internal.h"

#include "cairn/errors.h"
#include "cairn/index.h"
#include "cairn/store.h"
#include "repo/gc_io.h"
#include "repo/repo_internal.h"
#include "util/hold.h"
#include "util/parallel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct finish {
	gc_prune *p;
	const cairn_gc_record *plan;
	gc_live fresh; /* what the snapshots written since the mark reference */
	uint8_t (**candidates)[CAIRN_FP_SIZE]; /* per plan pack: chunks to look into */
	size_t *n_candidates;
	uint8_t *gone; /* per plan pack: not in data/ any more */
	uint8_t *keep; /* per plan pack: kept whatever its chunks */
};

/* Reads a condemned pack's trailer for chunks a new snapshot may need. */
static int look_into(void *ud, size_t i)
{
	struct finish *f = ud;
	const cairn_gc_pack *c = &f->plan->packs[i];
	const gc_pack *now = gc_packs_find(&f->p->packs, c->id);
	cairn_sealer *s = NULL;
	cairn_pack_entry *entries = NULL;
	size_t n = 0;
	if (!now) {
		f->gone[i] = 1;
		return 0;
	}
	if (!f->fresh.sorted || !f->plan->condemned)
		return 0;
	/* Its size as listed now: a store may have listed it before it was
	 * whole (s3rver does) when the plan was made. */
	int rc = cairn_repo_sealer_new(f->p->repo, &s, 0);
	if (!rc)
		rc = cairn_repo_read_trailer(f->p->repo, s, c->id, now->size, &entries, &n);
	cairn_sealer_free(s);
	if (rc == CAIRN_ENOTFOUND) {
		f->gone[i] = 1;
		return 0;
	}
	if (rc == CAIRN_ECORRUPT) {
		/* What it holds cannot be told: kept, which is safe. */
		char key[80];
		cairn_repo_pack_key(key, c->id);
		pthread_mutex_lock(&f->p->lock);
		gc_warn(f->p, key, "condemned, but its trailer does not read: kept");
		f->keep[i] = 1;
		pthread_mutex_unlock(&f->p->lock);
		return 0;
	}
	if (rc)
		return rc;
	size_t k = 0;
	uint8_t(*fps)[CAIRN_FP_SIZE] = malloc(n ? n * CAIRN_FP_SIZE : 1);
	if (!fps) {
		free(entries);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	for (size_t j = 0; j < n; j++)
		if (cairn_bloom_has(f->plan->condemned, entries[j].fp) &&
		    gc_live_has(&f->fresh, entries[j].fp))
			memcpy(fps[k++], entries[j].fp, CAIRN_FP_SIZE);
	free(entries);
	f->candidates[i] = fps;
	f->n_candidates[i] = k;
	return 0;
}

/* 1 if pack i must be kept: a new snapshot needs a chunk of it that has
 * no copy elsewhere. */
static int reprieved(struct finish *f, size_t i, const uint8_t (*condemned)[CAIRN_ID_SIZE],
                     int *keep)
{
	*keep = 0;
	for (size_t j = 0; j < f->n_candidates[i] && !*keep; j++) {
		int found;
		int rc =
		    gc_live_copy(f->p, f->candidates[i][j], condemned, f->plan->n_packs, &found);
		if (rc)
			return rc;
		*keep = !found;
	}
	return 0;
}

static int delete_temps(gc_prune *p, const cairn_gc_record *plan)
{
	cairn_store *st = cairn_repo_store(p->repo);
	for (size_t i = 0; i < plan->n_keys; i++) {
		int rc = cairn_store_del(st, plan->keys[i]);
		if (rc)
			return rc;
		p->res->temp_deleted++;
	}
	return 0;
}

int gc_finish(gc_prune *p, cairn_gc_record *plan)
{
	struct finish f = {.p = p, .plan = plan};
	cairn_gc_record done = {.type = CAIRN_GC_DONE, .generation = plan->generation};
	uint8_t(*ids)[CAIRN_ID_SIZE] = NULL;
	size_t n = plan->n_packs;
	int rc;
	if (plan->n_snapshots)
		qsort(plan->snapshots, plan->n_snapshots, CAIRN_ID_SIZE, cairn_id_cmp);
	if ((rc = gc_mark(p, (const uint8_t(*)[CAIRN_ID_SIZE])plan->snapshots, plan->n_snapshots,
	                  &f.fresh, NULL, NULL)))
		goto out;
	f.candidates = calloc(n ? n : 1, sizeof(*f.candidates));
	f.n_candidates = calloc(n ? n : 1, sizeof(*f.n_candidates));
	f.gone = calloc(n ? n : 1, 1);
	f.keep = calloc(n ? n : 1, 1);
	ids = malloc(n ? n * CAIRN_ID_SIZE : 1);
	done.packs = calloc(n ? n : 1, sizeof(*done.packs));
	if (!f.candidates || !f.n_candidates || !f.gone || !f.keep || !ids || !done.packs) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(ids[i], plan->packs[i].id, CAIRN_ID_SIZE);
	qsort(ids, n, CAIRN_ID_SIZE, cairn_id_cmp);
	gc_progress(p, "condemned packs", 0, n, 1);
	if ((rc = cairn_parallel_for(n, p->threads, look_into, &f)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		int keep = f.keep[i];
		if (!keep && (rc = reprieved(&f, i, (const uint8_t(*)[CAIRN_ID_SIZE])ids, &keep)))
			goto out;
		if (keep)
			p->res->packs_reprieved++;
		else
			done.packs[done.n_packs++] = plan->packs[i];
	}
	if (p->opts->dry_run)
		goto out;
	/* A prune taken for dead must not delete what it decided then. */
	if ((rc = cairn_marker_check(p->marker)))
		goto out;
	cairn_sealer *s = NULL;
	if (!(rc = cairn_repo_sealer_new(p->repo, &s, 0)))
		rc = cairn_repo_gc_put(p->repo, s, &done);
	cairn_sealer_free(s);
	cairn_hold("prune-done-written");
	if (!rc)
		rc = gc_complete_done(p, &done);
	if (!rc)
		rc = delete_temps(p, plan);
out:
	for (size_t i = 0; f.candidates && i < n; i++)
		free(f.candidates[i]);
	free(f.candidates);
	free(f.n_candidates);
	free(f.gone);
	free(f.keep);
	free(ids);
	gc_live_free(&f.fresh);
	cairn_gc_record_clear(&done);
	return rc;
}

/* ---- deleting what a done record names ---- */

struct deletion {
	gc_prune *p;
	const uint8_t (*dead)[CAIRN_ID_SIZE];
};

static int delete_pack(void *ud, size_t i)
{
	struct deletion *d = ud;
	char key[80];
	cairn_repo_pack_key(key, d->dead[i]);
	return cairn_store_del(cairn_repo_store(d->p->repo), key);
}

int gc_complete_done(gc_prune *p, const cairn_gc_record *done)
{
	uint8_t(*dead)[CAIRN_ID_SIZE] = malloc(done->n_packs ? done->n_packs * CAIRN_ID_SIZE : 1);
	int rc = 0;
	if (!dead)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < done->n_packs; i++)
		memcpy(dead[i], done->packs[i].id, CAIRN_ID_SIZE);
	qsort(dead, done->n_packs, CAIRN_ID_SIZE, cairn_id_cmp);
	struct deletion d = {p, (const uint8_t(*)[CAIRN_ID_SIZE])dead};
	/* The index first: from here on no lookup places a chunk in them. */
	if ((rc = cairn_repo_apply_done(p->repo, NULL)))
		goto out;
	gc_progress(p, "index objects", 0, 0, 1);
	if ((rc = cairn_repo_unlist_packs(p->repo, d.dead, done->n_packs, p->threads)))
		goto out;
	gc_progress(p, "packs deleted", 0, done->n_packs, 1);
	if ((rc = cairn_parallel_for(done->n_packs, p->threads, delete_pack, &d)))
		goto out;
	for (size_t i = 0; i < done->n_packs; i++) {
		gc_pack *k = gc_packs_find(&p->packs, dead[i]);
		if (k) {
			p->res->packs_deleted++;
			p->res->bytes_deleted += k->size;
		}
	}
out:
	free(dead);
	return rc;
}

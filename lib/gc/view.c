/* A backup's view of prune (view.h). */
#include "gc/view.h"

#include "cairn/errors.h"
#include "repo/gc_io.h"
#include "util/hold.h"

#include <stdlib.h>
#include <string.h>

/* A plan can be carried out, and its record tidied away, between the
 * listing of gc/ and the reading of the plan: read again this many times
 * before giving up on a repository whose prunes never stop. */
#define PENDING_TRIES 8

/* Takes plan g's condemned packs and chunks into the view. */
static int take_plan(cairn_gc_view *v, cairn_gc_record *plan, uint64_t g)
{
	v->packs = malloc(plan->n_packs ? plan->n_packs * CAIRN_ID_SIZE : 1);
	if (!v->packs)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < plan->n_packs; i++)
		memcpy(v->packs[i], plan->packs[i].id, CAIRN_ID_SIZE);
	v->n_packs = plan->n_packs;
	qsort(v->packs, v->n_packs, CAIRN_ID_SIZE, cairn_id_cmp);
	v->condemned = plan->condemned;
	plan->condemned = NULL;
	v->generation = g;
	return 0;
}

/* The done records applied, then the plan of the highest generation if no
 * done record follows it. The order matters: gc/ is listed first, then
 * every done record listed since is applied, so that a plan found carried
 * out in that listing, or carried out before its record is read, has left
 * the index; a plan still waiting is read whole. Either way no pack a
 * prune deleted, or is about to delete, is one this backup takes a chunk
 * from unknowingly. */
static int read_pending(cairn_gc_view *v)
{
	for (int tries = 0; tries < PENDING_TRIES; tries++) {
		cairn_sealer *s = NULL;
		cairn_gc_record plan;
		cairn_gc_last last;
		int rc = cairn_repo_gc_last(v->repo, &last);
		/* Tests stop a backup here while a prune carries its plan out. */
		cairn_hold("backup-gc-listed");
		if (!rc)
			rc = cairn_repo_apply_done(v->repo, NULL);
		if (rc)
			return rc;
		v->seen = last.plan > last.done ? last.plan : last.done;
		if (!last.plan || last.done >= last.plan)
			return 0;
		if ((rc = cairn_repo_sealer_new(v->repo, &s, 0)))
			return rc;
		rc = cairn_repo_gc_load(v->repo, s, last.plan, CAIRN_GC_PLAN, &plan);
		cairn_sealer_free(s);
		if (rc == CAIRN_ENOTFOUND) {
			/* Carried out and tidied since the listing (its done record is
			 * there now), or abandoned: look again. */
			cairn_error_clear();
			continue;
		}
		if (rc)
			return rc;
		rc = take_plan(v, &plan, last.plan);
		cairn_gc_record_clear(&plan);
		return rc;
	}
	return cairn_error_set(CAIRN_ERROR,
	                       "gc/: the waiting plan changed %d times while this backup read it",
	                       PENDING_TRIES);
}

static int read_lost(cairn_gc_view *v)
{
	cairn_sealer *s = NULL;
	int rc = cairn_repo_sealer_new(v->repo, &s, 0);
	if (!rc)
		rc = cairn_repo_gc_lost(v->repo, s, &v->lost, &v->n_lost, NULL, NULL);
	cairn_sealer_free(s);
	return rc;
}

int cairn_gc_view_open(cairn_gc_view *v, cairn_repo *r)
{
	int rc;
	memset(v, 0, sizeof(*v));
	v->repo = r;
	/* The marker first: a prune that does not see it published its plan
	 * before this, and what follows reads that plan, or applies its done
	 * record if it has been carried out since. */
	if ((rc = cairn_marker_start(&v->marker, r, CAIRN_MARKER_BACKUP)))
		return rc;
	if ((rc = read_pending(v)) || (rc = read_lost(v)))
		cairn_gc_view_close(v);
	return rc;
}

int cairn_gc_view_chunk_condemned(const cairn_gc_view *v, const uint8_t fp[CAIRN_FP_SIZE])
{
	return (v->condemned && cairn_bloom_has(v->condemned, fp)) ||
	       (v->n_lost && cairn_gc_lost_has(v->lost, v->n_lost, fp, NULL));
}

int cairn_gc_view_entry_gone(const cairn_gc_view *v, const cairn_index_entry *e)
{
	if (v->repo && cairn_repo_pack_dead(v->repo, e->pack))
		return 1;
	if (v->n_lost && cairn_gc_lost_has(v->lost, v->n_lost, e->fp, e->pack))
		return 1;
	if (!v->n_packs || !bsearch(e->pack, v->packs, v->n_packs, CAIRN_ID_SIZE, cairn_id_cmp))
		return 0;
	/* The entry of a chunk in a bundle carries the chunk's own
	 * fingerprint, as the plan's filter does. */
	return v->condemned && cairn_bloom_has(v->condemned, e->fp);
}

int cairn_gc_view_check(cairn_gc_view *v)
{
	cairn_gc_last last;
	if (!v->marker || cairn_marker_check(v->marker) == 0)
		return 0;
	cairn_error_saved stale;
	cairn_error_save(&stale, CAIRN_ERROR);
	/* Fresh again first: a prune that lists the markers from now on
	 * waits for this backup. */
	int rc = cairn_marker_refresh(v->marker);
	if (!rc)
		rc = cairn_repo_gc_last(v->repo, &last);
	if (rc)
		return rc;
	if (last.plan > v->seen || last.running > v->seen || last.done > v->seen)
		return cairn_error_restore(&stale);
	/* No prune acted while the marker lapsed, and any from now on sees it
	 * fresh: only a lapse from here on counts. */
	cairn_marker_forgive(v->marker);
	cairn_error_clear();
	return 0;
}

void cairn_gc_view_close(cairn_gc_view *v)
{
	cairn_marker_end(v->marker);
	free(v->packs);
	free(v->lost);
	cairn_bloom_free(v->condemned);
	memset(v, 0, sizeof(*v));
}

/* The snapshots: every record in snapshots/ loads and its manifest reads
 * to the end, and the chunks they reference (the manifest's own and
 * those of its files) make the set the later steps look up. After the
 * other steps, a second pass over the manifests finds the snapshots and
 * files that need the chunks problems concern. */
#include "check/check_internal.h"

#include "cairn/snapshot.h"
#include "cairn/tree.h"
#include "repo/repo_format.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

/* Chunks go to the shared set this many at a time. */
#define REFS_BATCH 4096

static int is_hole(const uint8_t fp[CAIRN_FP_SIZE])
{
	static const uint8_t zero[CAIRN_FP_SIZE];
	return memcmp(fp, zero, CAIRN_FP_SIZE) == 0;
}

/* Calls fn for each entry of snap's manifest. The tree reader's failure
 * (the manifest does not read) or fn's comes back. */
static int walk_manifest(cairn_repo *r, const cairn_snapshot *snap,
                         int (*fn)(void *ud, const cairn_entry *e), void *ud)
{
	cairn_tree_reader *t = NULL;
	cairn_entry e;
	int rc = cairn_tree_reader_open(&t, r, snap);
	memset(&e, 0, sizeof(e));
	while (!rc && (rc = cairn_tree_reader_next(t, &e)) == 1) {
		rc = fn(ud, &e);
		cairn_entry_clear(&e);
	}
	cairn_tree_reader_free(t);
	return rc;
}

/* ---- the referenced chunks ---- */

/* One snapshot's chunks on their way to the shared set. */
struct refs {
	check_ctx *c;
	uint8_t (*fps)[CAIRN_FP_SIZE];
	size_t n;
};

static int refs_flush(struct refs *b)
{
	pthread_mutex_lock(&b->c->lock);
	int rc = cairn_sorted_fps_add(&b->c->refs, (const uint8_t(*)[CAIRN_FP_SIZE])b->fps, b->n);
	pthread_mutex_unlock(&b->c->lock);
	b->n = 0;
	return rc;
}

static int refs_push(struct refs *b, const uint8_t fp[CAIRN_FP_SIZE])
{
	if (is_hole(fp))
		return 0;
	memcpy(b->fps[b->n++], fp, CAIRN_FP_SIZE);
	return b->n == REFS_BATCH ? refs_flush(b) : 0;
}

static int refs_entry(void *ud, const cairn_entry *e)
{
	int rc = 0;
	for (size_t i = 0; i < e->n_chunks && !rc; i++)
		rc = refs_push(ud, e->chunks[i].fp);
	return rc;
}

static int keep_snapshot(check_ctx *c, const uint8_t id[CAIRN_ID_SIZE])
{
	pthread_mutex_lock(&c->lock);
	int rc = cairn_array_grow((void **)&c->snapshots, &c->cap_snapshots, c->n_snapshots + 1,
	                          sizeof(*c->snapshots));
	if (!rc)
		memcpy(c->snapshots[c->n_snapshots++], id, CAIRN_ID_SIZE);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Reads one snapshot: its record, then its manifest; what does not read
 * is a problem named after the record. */
static int snapshot_refs(void *ud, size_t i)
{
	check_ctx *c = ud;
	const uint8_t *id = c->snapshots_listed[i];
	char object[CAIRN_CHECK_OBJECT_MAX];
	cairn_snapshot snap;
	struct refs b = {.c = c};
	int rc, o;

	check_object_name(object, CAIRN_SNAPSHOTS_PREFIX, id);
	rc = cairn_snapshot_load(c->repo, id, &snap);
	/* A record listed, then gone, was forgotten meanwhile. */
	if ((o = rc == CAIRN_ENOTFOUND ? 0 : check_outcome(c, rc)) == 1)
		o = check_report(c, CAIRN_CHECK_SNAPSHOT, object, 0, cairn_error_last(), NULL,
		                 NULL);
	if (rc) {
		cairn_snapshot_clear(&snap);
		check_progress_add(c, 1, 0);
		return o;
	}
	if (!(b.fps = malloc(REFS_BATCH * sizeof(*b.fps)))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = keep_snapshot(c, id)))
		goto out;
	for (size_t k = 0; k < snap.n_manifest && !rc; k++)
		rc = refs_push(&b, snap.manifest[k].fp);
	if (!rc)
		rc = walk_manifest(c->repo, &snap, refs_entry, &b);
	if (rc == CAIRN_ENOTFOUND) {
		/* A snapshot written since the index was brought up to the
		 * store: once more, after it has caught up. */
		cairn_error_clear();
		if (!(rc = cairn_repo_refresh_index_now(c->repo)))
			rc = walk_manifest(c->repo, &snap, refs_entry, &b);
	}
	/* What was read of a manifest that ends early is referenced all the
	 * same. */
	if ((o = check_outcome(c, rc)) == 1 && check_snapshot_gone(c, id)) {
		rc = 0; /* forgotten, and pruned, meanwhile */
		goto out;
	}
	if (o == 1)
		rc = check_report(c, CAIRN_CHECK_MANIFEST, object, 0, cairn_error_last(), NULL,
		                  NULL);
	if (o >= 0 && !rc)
		rc = refs_flush(&b);
	check_progress_add(c, 1, 0);
out:
	free(b.fps);
	cairn_snapshot_clear(&snap);
	return rc;
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, CAIRN_ID_SIZE);
}

int check_snapshots(check_ctx *c)
{
	size_t n = 0;
	int rc = cairn_repo_list_ids(c->repo, CAIRN_SNAPSHOTS_PREFIX, &c->snapshots_listed, &n);
	if (rc)
		return cairn_error_prefix(rc, "cannot list snapshots/");
	c->res->snapshots = n;
	check_progress_begin(c, "snapshots", n, 0);
	if ((rc = check_run(c, n, snapshot_refs, c)))
		return rc;
	cairn_sorted_fps_finish(&c->refs);
	c->res->chunks = c->refs.n;
	if (c->n_snapshots)
		qsort(c->snapshots, c->n_snapshots, sizeof(*c->snapshots), id_cmp);
	return 0;
}

/* ---- who needs what ---- */

/* One snapshot's walk: the problems already credited with the entry. */
struct need {
	check_ctx *c;
	const uint8_t *snap;
	size_t *credited;
	size_t n_credited, cap_credited;
};

static int need_chunk(struct need *w, const uint8_t fp[CAIRN_FP_SIZE], const char *path)
{
	check_problems *ps = &w->c->problems;
	size_t first, n = check_problems_find(ps, fp, &first), k;
	int rc = 0;
	for (size_t j = 0; j < n && !rc; j++) {
		size_t problem = ps->chunks[first + j].problem;
		for (k = 0; k < w->n_credited && w->credited[k] != problem; k++)
			;
		if (k < w->n_credited)
			continue;
		rc = cairn_array_grow((void **)&w->credited, &w->cap_credited, w->n_credited + 1,
		                      sizeof(*w->credited));
		if (!rc) {
			w->credited[w->n_credited++] = problem;
			rc = check_problem_need(ps, problem, w->snap, path);
		}
	}
	return rc;
}

static int need_entry(void *ud, const cairn_entry *e)
{
	struct need *w = ud;
	int rc = 0;
	w->n_credited = 0;
	for (size_t i = 0; i < e->n_chunks && !rc; i++)
		if (!is_hole(e->chunks[i].fp))
			rc = need_chunk(w, e->chunks[i].fp, e->path);
	return rc;
}

static int snapshot_needs(check_ctx *c, struct need *w, const uint8_t id[CAIRN_ID_SIZE])
{
	cairn_snapshot snap;
	int rc = cairn_snapshot_load(c->repo, id, &snap);
	/* It loaded before: if it no longer does, nothing is learnt from it. */
	if (check_outcome(c, rc) == 1)
		return 0;
	if (rc)
		return rc;
	w->snap = id;
	w->n_credited = 0;
	for (size_t k = 0; k < snap.n_manifest && !rc; k++)
		rc = need_chunk(w, snap.manifest[k].fp, NULL);
	if (!rc)
		rc = walk_manifest(c->repo, &snap, need_entry, w);
	/* A manifest that does not read is a problem of its own already. */
	if (check_outcome(c, rc) == 1)
		rc = 0;
	cairn_snapshot_clear(&snap);
	return rc;
}

int check_needs(check_ctx *c)
{
	struct need w = {.c = c};
	int rc = 0;
	if (c->problems.n_chunks == 0)
		return 0;
	check_problems_sort(&c->problems);
	check_progress_begin(c, "snapshots", c->n_snapshots, 0);
	for (size_t i = 0; i < c->n_snapshots && !rc; i++) {
		rc = snapshot_needs(c, &w, c->snapshots[i]);
		check_progress_add(c, 1, 0);
	}
	free(w.credited);
	return rc;
}

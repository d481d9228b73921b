/* The mark: what the snapshots reference, 8 bytes a chunk. */
#include "gc/prune_internal.h"

#include "cairn/errors.h"
#include "cairn/snapshot.h"
#include "cairn/tree.h"
#include "repo/repo_format.h"
#include "util/hex.h"
#include "util/parallel.h"

#include <stdlib.h>
#include <string.h>

/* Chunks go to the shared set this many at a time. */
#define LIVE_BATCH 4096

static uint64_t live_key(const uint8_t *fp)
{
	uint64_t k = 0;
	for (int i = 0; i < 8; i++)
		k = k << 8 | fp[i];
	return k;
}

static int by_key(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Sorts the set and drops repeats. */
static void compact(gc_live *l)
{
	if (l->n == l->sorted)
		return;
	qsort(l->keys, l->n, sizeof(*l->keys), by_key);
	size_t w = 0;
	for (size_t i = 0; i < l->n; i++)
		if (w == 0 || l->keys[i] != l->keys[w - 1])
			l->keys[w++] = l->keys[i];
	l->n = l->sorted = w;
}

int gc_live_add(gc_live *l, const uint8_t fp[CAIRN_FP_SIZE])
{
	if (l->n == l->cap) {
		/* Repeats are most of what comes in: drop them before growing. */
		compact(l);
		if (l->cap == 0 || l->n * 2 > l->cap) {
			int rc = cairn_array_grow((void **)&l->keys, &l->cap,
			                          l->cap ? l->cap * 2 : 4096, sizeof(*l->keys));
			if (rc)
				return rc;
		}
	}
	l->keys[l->n++] = live_key(fp);
	return 0;
}

void gc_live_finish(gc_live *l)
{
	compact(l);
}

int gc_live_has(const gc_live *l, const uint8_t fp[CAIRN_FP_SIZE])
{
	uint64_t k = live_key(fp);
	size_t lo = 0, hi = l->sorted;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->keys[mid] < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->sorted && l->keys[lo] == k;
}

void gc_live_free(gc_live *l)
{
	free(l->keys);
	memset(l, 0, sizeof(*l));
}

/* ---- reading the snapshots ---- */

struct mark {
	gc_prune *p;
	gc_live *live;
	uint8_t (*ids)[CAIRN_ID_SIZE];
	size_t n;
	uint64_t done;
	uint8_t *read; /* ids[i] was read (not vanished) */
};

struct batch {
	struct mark *m;
	uint8_t fps[LIVE_BATCH][CAIRN_FP_SIZE];
	size_t n;
};

static int batch_flush(struct batch *b)
{
	int rc = 0;
	pthread_mutex_lock(&b->m->p->lock);
	for (size_t i = 0; i < b->n && !rc; i++)
		rc = gc_live_add(b->m->live, b->fps[i]);
	pthread_mutex_unlock(&b->m->p->lock);
	b->n = 0;
	return rc;
}

static int batch_push(struct batch *b, const uint8_t fp[CAIRN_FP_SIZE])
{
	static const uint8_t hole[CAIRN_FP_SIZE];
	if (memcmp(fp, hole, CAIRN_FP_SIZE) == 0)
		return 0;
	memcpy(b->fps[b->n++], fp, CAIRN_FP_SIZE);
	return b->n == LIVE_BATCH ? batch_flush(b) : 0;
}

static int mark_snapshot(struct mark *m, size_t i)
{
	cairn_snapshot snap;
	cairn_tree_reader *t = NULL;
	cairn_entry e;
	struct batch *b = malloc(sizeof(*b));
	if (!b)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	b->m = m;
	b->n = 0;
	memset(&e, 0, sizeof(e));
	int rc = cairn_snapshot_load(m->p->repo, m->ids[i], &snap);
	if (rc == CAIRN_ENOTFOUND) { /* forgotten since the listing */
		free(b);
		return 0;
	}
	if (rc) {
		free(b);
		return cairn_error_prefix(rc, "cannot prune: a snapshot record does not read "
		                              "(forget it, or find out why with cairn check)");
	}
	for (size_t k = 0; k < snap.n_manifest && !rc; k++)
		rc = batch_push(b, snap.manifest[k].fp);
	if (!rc)
		rc = cairn_tree_reader_open(&t, m->p->repo, &snap);
	while (!rc && (rc = cairn_tree_reader_next(t, &e)) == 1) {
		rc = 0;
		for (size_t k = 0; k < e.n_chunks && !rc; k++)
			rc = batch_push(b, e.chunks[k].fp);
		cairn_entry_clear(&e);
	}
	if (!rc)
		rc = batch_flush(b);
	if (rc) {
		char hex[CAIRN_ID_HEX + 1];
		cairn_hex_encode(hex, m->ids[i], CAIRN_ID_SIZE);
		cairn_error_prefix(rc, "cannot prune: the manifest of snapshot %s does not read",
		                   hex);
	}
	cairn_entry_clear(&e);
	cairn_tree_reader_free(t);
	cairn_snapshot_clear(&snap);
	free(b);
	if (!rc) {
		pthread_mutex_lock(&m->p->lock);
		m->read[i] = 1;
		m->done++;
		gc_progress(m->p, "snapshots", m->done, m->n, 0);
		pthread_mutex_unlock(&m->p->lock);
	}
	return rc;
}

/* A snapshot written since this process brought its index up to the
 * store may name chunks it does not know yet: read it again once the
 * index has caught up. */
static int mark_one(void *ud, size_t i)
{
	struct mark *m = ud;
	int rc = mark_snapshot(m, i);
	if (rc == CAIRN_ENOTFOUND) {
		cairn_error_clear();
		if (!(rc = cairn_repo_refresh_index_now(m->p->repo)))
			rc = mark_snapshot(m, i);
	}
	return rc;
}

static int in_sorted(const uint8_t (*ids)[CAIRN_ID_SIZE], size_t n, const uint8_t id[CAIRN_ID_SIZE])
{
	return n && bsearch(id, ids, n, CAIRN_ID_SIZE, cairn_id_cmp) != NULL;
}

int gc_mark(gc_prune *p, const uint8_t (*skip)[CAIRN_ID_SIZE], size_t n_skip, gc_live *live,
            uint8_t (**ids_out)[CAIRN_ID_SIZE], size_t *n_ids_out)
{
	struct mark m = {.p = p, .live = live};
	size_t n_all = 0;
	uint8_t(*all)[CAIRN_ID_SIZE] = NULL;
	/* The store's records, not a server's catalogue: the store is the
	 * truth, and a catalogue may lag behind it. */
	int rc = cairn_repo_list_ids(p->repo, CAIRN_SNAPSHOTS_PREFIX, &all, &n_all);
	if (rc)
		return rc;
	m.ids = all;
	for (size_t i = 0; i < n_all; i++)
		if (!in_sorted(skip, n_skip, all[i]))
			memmove(m.ids[m.n++], all[i], CAIRN_ID_SIZE);
	m.read = calloc(m.n ? m.n : 1, 1);
	if (!m.read) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	gc_progress(p, "snapshots", 0, m.n, 1);
	if ((rc = cairn_parallel_for(m.n, p->threads, mark_one, &m)))
		goto out;
	gc_live_finish(live);
	size_t w = 0;
	for (size_t i = 0; i < m.n; i++)
		if (m.read[i])
			memmove(m.ids[w++], m.ids[i], CAIRN_ID_SIZE);
	if (w)
		qsort(m.ids, w, CAIRN_ID_SIZE, cairn_id_cmp);
	if (ids_out) {
		*ids_out = m.ids;
		*n_ids_out = w;
		m.ids = NULL;
	}
	p->res->snapshots += w;
out:
	free(m.read);
	free(m.ids);
	return rc;
}

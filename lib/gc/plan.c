/* The plan: the index read in fingerprint order, so that every copy of a
 * chunk comes together. The copy the index gives out (the row of the
 * lowest pack that exists) is the used one when a snapshot references
 * the chunk; every other copy is unused. From that, each pack's used and
 * unused share, and its state. */
#include "gc/prune_internal.h"

#include "cairn/errors.h"
#include "cairn/index.h"
#include "repo/repo_internal.h"
#include "util/parallel.h"

#include <stdlib.h>
#include <string.h>

/* Index rows asked for at a time. */
#define SCAN_PAGE 16384
/* The plan's filter holds this many times the bits a Bloom filter sized
 * for its chunks would: a backup that meets a false positive stores a
 * chunk again or reads an unchanged file again, so it should be rare. */
#define CONDEMNED_OVERSIZE 8

gc_pack *gc_packs_find(const gc_packs *t, const uint8_t id[CAIRN_ID_SIZE])
{
	return t->n ? bsearch(id, t->v, t->n, sizeof(*t->v), cairn_id_cmp) : NULL;
}

void gc_packs_free(gc_packs *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].used);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

int gc_pack_exists(gc_prune *p, const uint8_t id[CAIRN_ID_SIZE], int *exists)
{
	char key[80];
	uint64_t size;
	if (gc_packs_find(&p->packs, id)) {
		*exists = 1;
		return 0;
	}
	for (size_t i = 0; i < p->n_extra; i++)
		if (memcmp(p->extra[i].id, id, CAIRN_ID_SIZE) == 0) {
			*exists = p->extra[i].exists;
			return 0;
		}
	cairn_repo_pack_key(key, id);
	int rc = cairn_store_stat(cairn_repo_store(p->repo), key, &size);
	if (rc && rc != CAIRN_ENOTFOUND)
		return rc;
	if ((rc = cairn_array_grow((void **)&p->extra, &p->cap_extra, p->n_extra + 1,
	                           sizeof(*p->extra))))
		return rc;
	memcpy(p->extra[p->n_extra].id, id, CAIRN_ID_SIZE);
	*exists = p->extra[p->n_extra++].exists = rc == 0;
	return 0;
}

/* ---- the index, a chunk at a time ---- */

typedef int (*group_fn)(gc_prune *p, const cairn_index_entry *rows, size_t n, void *ud);

/* Calls fn with the rows of each fingerprint, in fingerprint order. */
static int scan_groups(gc_prune *p, group_fn fn, void *ud)
{
	cairn_index_entry *page = malloc(SCAN_PAGE * sizeof(*page)), cursor, *group = NULL;
	size_t n, n_group = 0, cap_group = 0;
	uint64_t rows = 0;
	int rc = 0, first = 1;
	if (!page)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	do {
		if ((rc = cairn_index_scan(p->index, first ? NULL : &cursor, page, SCAN_PAGE, &n)))
			break;
		first = 0;
		for (size_t i = 0; i < n && !rc; i++) {
			if (n_group && memcmp(group[0].fp, page[i].fp, CAIRN_FP_SIZE) != 0) {
				rc = fn(p, group, n_group, ud);
				n_group = 0;
			}
			if (!rc && !(rc = cairn_array_grow((void **)&group, &cap_group, n_group + 1,
			                                   sizeof(*group))))
				group[n_group++] = page[i];
		}
		if (n)
			cursor = page[n - 1];
		rows += n;
		gc_progress(p, "index rows", rows, 0, 0);
	} while (!rc && n == SCAN_PAGE);
	if (!rc && n_group)
		rc = fn(p, group, n_group, ud);
	free(group);
	free(page);
	return rc;
}

/* 1 in *ok if row's pack holds its blob where the row says, as the
 * pack's trailer tells (cairn_repo_verify_locations): a row is the word
 * of whoever registered it. Asked only where a copy would be given up
 * for it, which is rare: a chunk with several rows. */
static int row_holds(gc_prune *p, const cairn_index_entry *row, int *ok)
{
	cairn_sealer *s = NULL;
	uint8_t v = 0;
	int rc = cairn_repo_sealer_new(p->repo, &s, 0);
	if (!rc)
		rc = cairn_repo_verify_locations(p->repo, s, row, 1, &v);
	cairn_sealer_free(s);
	*ok = v;
	return rc;
}

/* The row the index gives out for this chunk: the first whose pack
 * exists and, among several rows, holds the blob there; -1 if none. */
static int chosen_row(gc_prune *p, const cairn_index_entry *rows, size_t n, long *out)
{
	*out = -1;
	for (size_t i = 0; i < n; i++) {
		int exists, ok = 1;
		if (p->n_lost && cairn_gc_lost_has(p->lost, p->n_lost, rows[i].fp, rows[i].pack))
			continue;
		int rc = gc_pack_exists(p, rows[i].pack, &exists);
		if (!rc && exists && n > 1)
			rc = row_holds(p, &rows[i], &ok);
		if (rc)
			return rc;
		if (exists && ok) {
			*out = (long)i;
			return 0;
		}
	}
	return 0;
}

/* What a row's blob weighs in its pack: a chunk in a bundle shares the
 * bundle's sealed length, so its own length stands in for its share. */
static uint64_t row_bytes(const cairn_index_entry *e)
{
	if (e->kind == CAIRN_BLOB_BUNDLE && e->raw_length < e->length)
		return e->raw_length;
	return e->length;
}

static int count_group(gc_prune *p, const cairn_index_entry *rows, size_t n, void *ud)
{
	long c;
	(void)ud;
	int rc = chosen_row(p, rows, n, &c);
	if (rc)
		return rc;
	int live = gc_live_has(&p->live, rows[0].fp);
	for (size_t i = 0; i < n; i++) {
		gc_pack *k = gc_packs_find(&p->packs, rows[i].pack);
		if (!k)
			continue;
		k->state = PACK_KEEP;
		if (p->n_lost && cairn_gc_lost_has(p->lost, p->n_lost, rows[i].fp, rows[i].pack))
			k->has_lost = 1;
		if (live && (long)i == c) {
			k->used_rows++;
			k->used_bytes += row_bytes(&rows[i]);
		} else {
			k->unused_rows++;
			k->unused_bytes += row_bytes(&rows[i]);
		}
	}
	return 0;
}

/* ---- packs the index does not know ---- */

struct orphans {
	gc_prune *p;
	size_t *which; /* indices into p->packs */
	size_t n;
	uint8_t (*fps)[CAIRN_FP_SIZE]; /* the chunks of those condemned */
	size_t n_fps, cap_fps;
};

static int orphan_one(void *ud, size_t i)
{
	struct orphans *o = ud;
	gc_prune *p = o->p;
	gc_pack *k = &p->packs.v[o->which[i]];
	cairn_sealer *s = NULL;
	cairn_pack_entry *entries = NULL;
	size_t count = 0;
	char key[80];
	int rc = cairn_repo_sealer_new(p->repo, &s, 0);
	if (!rc)
		rc = cairn_repo_read_trailer(p->repo, s, k->id, k->size, &entries, &count);
	cairn_sealer_free(s);
	cairn_repo_pack_key(key, k->id);
	pthread_mutex_lock(&p->lock);
	if (rc == CAIRN_ECORRUPT) {
		k->state = PACK_DAMAGED;
		gc_warn(p, key, "its trailer does not read, and the index does not know it: kept");
		rc = 0;
	} else if (rc == CAIRN_ENOTFOUND) {
		k->state = PACK_DAMAGED; /* gone since the listing */
		rc = 0;
	} else if (!rc) {
		/* Needed is a chunk a snapshot references that has no copy the
		 * index knows (a killed repack's pack holds only copies). */
		int needed = 0;
		for (size_t j = 0; j < count && !needed && !rc; j++) {
			int copy = 0;
			if (gc_live_has(&p->live, entries[j].fp) &&
			    !(rc = gc_live_copy(p, entries[j].fp, NULL, 0, &copy)))
				needed = !copy;
		}
		if (!rc && needed) {
			k->state = PACK_UNINDEXED_LIVE;
			p->res->packs_unindexed++;
			gc_warn(p, key,
			        "holds chunks snapshots need, but the index does not know it: kept "
			        "(cairn index rebuild registers it)");
		} else if (!rc) {
			k->state = PACK_DELETE;
			k->unused_rows = count;
			k->unused_bytes = k->size;
			rc = cairn_array_grow((void **)&o->fps, &o->cap_fps, o->n_fps + count,
			                      sizeof(*o->fps));
			for (size_t j = 0; j < count && !rc; j++)
				if (!gc_live_has(&p->live, entries[j].fp))
					memcpy(o->fps[o->n_fps++], entries[j].fp, CAIRN_FP_SIZE);
		}
	}
	pthread_mutex_unlock(&p->lock);
	free(entries);
	return rc;
}

/* ---- deciding ---- */

/* Unused share of a pack, for the order in which packs are repacked. */
static double unused_share(const gc_pack *k)
{
	uint64_t total = k->used_bytes + k->unused_bytes;
	return total ? (double)k->unused_bytes / (double)total : 0;
}

static int by_unused_share(const void *a, const void *b)
{
	double x = unused_share(*(gc_pack *const *)a), y = unused_share(*(gc_pack *const *)b);
	return (x < y) - (x > y);
}

/* Packs with no used blob are deleted. Of those partly used, the most
 * unused are repacked first, until what unused bytes stay in the kept
 * packs are at most max_unused percent of the used ones (restic's rule:
 * a repack rewrites the used blobs too, so a little waste is cheaper
 * than rewriting every pack with some). A pack with a damaged copy is
 * repacked whatever its share. */
static int decide(gc_prune *p)
{
	uint64_t used = 0, unused = 0;
	size_t n = 0;
	gc_pack **mixed = malloc((p->packs.n ? p->packs.n : 1) * sizeof(*mixed));
	if (!mixed)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < p->packs.n; i++) {
		gc_pack *k = &p->packs.v[i];
		if (k->state != PACK_KEEP)
			continue;
		if (k->unused_rows && !k->used_rows) {
			k->state = PACK_DELETE;
			continue;
		}
		used += k->used_bytes;
		if (k->has_lost)
			k->state = PACK_REPACK;
		else if (k->unused_rows)
			mixed[n++] = k;
		if (!k->has_lost)
			unused += k->unused_bytes;
	}
	qsort(mixed, n, sizeof(*mixed), by_unused_share);
	for (size_t i = 0; i < n; i++) {
		gc_pack *k = mixed[i];
		if ((double)unused * 100.0 > p->opts->max_unused * (double)used) {
			k->state = PACK_REPACK;
			unused -= k->unused_bytes;
		}
	}
	p->res->bytes_unused_kept = unused;
	free(mixed);
	return 0;
}

static int condemned_state(enum gc_pack_state s)
{
	return s == PACK_DELETE || s == PACK_REPACK;
}

/* The second pass: the condemned chunks into the filter, the used
 * blobs of the packs to repack into their lists. */
static int condemn_group(gc_prune *p, const cairn_index_entry *rows, size_t n, void *ud)
{
	cairn_bloom *filter = ud;
	long c;
	int rc = chosen_row(p, rows, n, &c);
	if (rc)
		return rc;
	int live = gc_live_has(&p->live, rows[0].fp);
	for (size_t i = 0; i < n && !rc; i++) {
		gc_pack *k = gc_packs_find(&p->packs, rows[i].pack);
		if (!k || !condemned_state(k->state))
			continue;
		if (!live)
			cairn_bloom_add(filter, rows[i].fp);
		else if ((long)i == c && k->state == PACK_REPACK &&
		         !(rc = cairn_array_grow((void **)&k->used, &k->cap_used, k->n_used + 1,
		                                 sizeof(*k->used))))
			k->used[k->n_used++] = (uint64_t)rows[i].offset << 32 | rows[i].inner;
	}
	return rc;
}

/* Drops the index rows of packs that are gone from the store. */
static int drop_missing(gc_prune *p)
{
	uint8_t(*gone)[CAIRN_ID_SIZE] = malloc(p->n_extra ? p->n_extra * CAIRN_ID_SIZE : 1);
	size_t n = 0;
	int rc = 0;
	if (!gone)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < p->n_extra; i++)
		if (!p->extra[i].exists)
			memcpy(gone[n++], p->extra[i].id, CAIRN_ID_SIZE);
	if (n && !p->opts->dry_run)
		rc = cairn_index_drop_packs(p->index, (const uint8_t(*)[CAIRN_ID_SIZE])gone, n);
	if (!rc)
		p->res->rows_dropped_packs += n;
	free(gone);
	return rc;
}

int gc_plan(gc_prune *p, cairn_bloom **condemned)
{
	struct orphans o = {.p = p};
	uint64_t capacity = 0;
	int rc;
	*condemned = NULL;
	if ((rc = scan_groups(p, count_group, NULL)))
		return rc;
	if ((rc = drop_missing(p)))
		return rc;
	o.which = malloc((p->packs.n ? p->packs.n : 1) * sizeof(*o.which));
	if (!o.which)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < p->packs.n; i++)
		if (p->packs.v[i].state == PACK_UNSEEN)
			o.which[o.n++] = i;
	gc_progress(p, "unindexed packs", 0, o.n, 1);
	if ((rc = cairn_parallel_for(o.n, p->threads, orphan_one, &o)))
		goto out;
	if ((rc = decide(p)))
		goto out;
	for (size_t i = 0; i < p->packs.n; i++)
		if (condemned_state(p->packs.v[i].state))
			capacity += p->packs.v[i].unused_rows;
	if (!capacity)
		goto out;
	if ((rc = cairn_bloom_new(condemned, capacity * CONDEMNED_OVERSIZE)))
		goto out;
	for (size_t i = 0; i < o.n_fps; i++)
		cairn_bloom_add(*condemned, o.fps[i]);
	rc = scan_groups(p, condemn_group, *condemned);
out:
	free(o.which);
	free(o.fps);
	return rc;
}

int gc_live_copy(gc_prune *p, const uint8_t fp[CAIRN_FP_SIZE],
                 const uint8_t (*condemned)[CAIRN_ID_SIZE], size_t n_condemned, int *found)
{
	cairn_index_entry after, rows[16];
	size_t n;
	memset(&after, 0, sizeof(after));
	memcpy(after.fp, fp, CAIRN_FP_SIZE);
	*found = 0;
	int rc = cairn_index_scan(p->index, &after, rows, 16, &n);
	for (size_t i = 0; i < n && !rc && !*found; i++) {
		int exists;
		if (memcmp(rows[i].fp, fp, CAIRN_FP_SIZE) != 0)
			break;
		if (n_condemned &&
		    bsearch(rows[i].pack, condemned, n_condemned, CAIRN_ID_SIZE, cairn_id_cmp))
			continue;
		if (!(rc = gc_pack_exists(p, rows[i].pack, &exists)) && exists)
			rc = row_holds(p, &rows[i], found);
	}
	return rc;
}

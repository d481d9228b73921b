/* A prune's steps in order (cairn/prune.h; the rule: docs/MAINTENANCE.md).
 *
 *   1. its marker; another prune running means waiting for it to end
 *   2. the state of gc/: a plan waiting for backups, a done record a
 *      killed prune left half carried out
 *   3. data/ listed, the index brought up to the store's index/ objects
 *   4. the mark: what every snapshot references
 *   5. the waiting plan carried out, if its backups have ended
 *   6. a new plan: the index read, mostly unused packs repacked, the plan
 *      published, then the backups running at that moment written down;
 *      if there are none, it is carried out at once */
#include "gc/prune_internal.h"

#include "cairn/errors.h"
#include "cairn/index.h"
#include "cairn/store.h"
#include "repo/gc_io.h"
#include "repo/repo_format.h"
#include "repo/repo_internal.h"
#include "util/hex.h"
#include "util/hold.h"
#include "util/time.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void gc_progress(gc_prune *p, const char *unit, uint64_t done, uint64_t total, int force)
{
	if (!p->opts->progress)
		return;
	int64_t now = cairn_now_ns(CLOCK_MONOTONIC);
	if (!force && now - p->progress_at < 200000000)
		return;
	p->progress_at = now;
	p->progress.unit = unit;
	p->progress.files_done = done;
	p->progress.files_total = total;
	p->opts->progress(p->opts->progress_ud, &p->progress);
}

void gc_warn(gc_prune *p, const char *object, const char *message)
{
	if (p->opts->warn)
		p->opts->warn(p->opts->warn_ud, object, message);
}

/* ---- 1. one prune at a time ---- */

/* Waits until no other prune's marker is fresh. Two prunes that start
 * together both see the other, both step back and try again after a
 * random pause; one that finds none went ahead alone, because any prune
 * starting after it sees its marker. */
static int wait_for_prunes(gc_prune *p)
{
	int told = 0;
	for (;;) {
		cairn_marker_seen *seen = NULL;
		size_t n = 0, other = 0;
		int rc = cairn_markers_list(p->repo, p->marker, &seen, &n);
		if (rc)
			return rc;
		for (size_t i = 0; i < n; i++)
			if (seen[i].kind == CAIRN_MARKER_PRUNE && seen[i].fresh)
				other = i + 1;
		if (other && !told) {
			gc_warn(p, seen[other - 1].key,
			        "another prune is running: waiting for it to end");
			told = 1;
		}
		free(seen);
		if (!other)
			return 0;
		cairn_marker_end(p->marker);
		p->marker = NULL;
		usleep(1000000 + randombytes_uniform(4000000));
		if ((rc = cairn_marker_start(&p->marker, p->repo, CAIRN_MARKER_PRUNE)))
			return rc;
	}
}

/* ---- 2. gc/ ---- */

/* Whether the last plan's running record was written: a prune killed
 * between the two left none. */
static int running_recorded(const cairn_gc_last *st)
{
	return st->plan && st->running == st->plan;
}

/* Deletes the plan and running records of finished generations: the
 * done records say all that is left to know of them. */
static int tidy_records(gc_prune *p)
{
	cairn_gc_name *names = NULL;
	size_t n = 0;
	uint64_t last_done = 0;
	char key[64];
	if (p->opts->dry_run)
		return 0;
	int rc = cairn_repo_gc_list(p->repo, &names, &n);
	for (size_t i = 0; !rc && i < n; i++)
		if (names[i].type == CAIRN_GC_DONE && names[i].generation > last_done)
			last_done = names[i].generation;
	for (size_t i = 0; !rc && i < n; i++) {
		if ((names[i].type != CAIRN_GC_PLAN && names[i].type != CAIRN_GC_RUNNING) ||
		    names[i].generation > last_done)
			continue;
		cairn_gc_record_key(key, names[i].generation, names[i].type);
		rc = cairn_store_del(cairn_repo_store(p->repo), key);
	}
	free(names);
	return rc;
}

/* How many of the backups a plan waits for still have fresh markers. */
static int count_waiting(gc_prune *p, const cairn_gc_record *running, uint64_t *waiting)
{
	cairn_marker_seen *seen = NULL;
	size_t n = 0;
	*waiting = 0;
	int rc = cairn_markers_list(p->repo, p->marker, &seen, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < running->n_keys; i++)
		for (size_t j = 0; j < n; j++)
			if (seen[j].fresh && strcmp(seen[j].key, running->keys[i]) == 0)
				(*waiting)++;
	free(seen);
	return 0;
}

/* The fresh backup markers now, as a running record of generation g;
 * stale ones are deleted on the way (their backups are dead). */
static int write_running(gc_prune *p, cairn_sealer *s, uint64_t g, uint64_t *count)
{
	cairn_gc_record rec = {.type = CAIRN_GC_RUNNING, .generation = g};
	cairn_marker_seen *seen = NULL;
	size_t n = 0;
	int rc = cairn_markers_list(p->repo, p->marker, &seen, &n);
	if (rc)
		return rc;
	rec.keys = calloc(n ? n : 1, sizeof(*rec.keys));
	if (!rec.keys)
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && !rc; i++) {
		if (seen[i].kind != CAIRN_MARKER_BACKUP)
			continue;
		if (!seen[i].fresh) {
			rc = cairn_store_del(cairn_repo_store(p->repo), seen[i].key);
			continue;
		}
		if (!(rec.keys[rec.n_keys] = strdup(seen[i].key)))
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		else
			rec.n_keys++;
	}
	if (!rc)
		rc = cairn_repo_gc_put(p->repo, s, &rec);
	*count = rec.n_keys;
	free(seen);
	cairn_gc_record_clear(&rec);
	return rc;
}

/* ---- 3. data/ ---- */

static int collect_pack(const cairn_store_item *it, void *ud)
{
	gc_packs *t = ud;
	uint8_t id[CAIRN_ID_SIZE];
	char again[80];
	const char *hex = it->key + strlen(CAIRN_DATA_PREFIX);
	if (strlen(hex) != 3 + CAIRN_ID_HEX || cairn_hex_decode(id, CAIRN_ID_SIZE, hex + 3) != 0)
		return 0;
	cairn_repo_pack_key(again, id);
	if (strcmp(again, it->key) != 0)
		return 0;
	int rc = cairn_array_grow((void **)&t->v, &t->cap, t->n + 1, sizeof(*t->v));
	if (rc)
		return rc;
	memset(&t->v[t->n], 0, sizeof(t->v[0]));
	memcpy(t->v[t->n].id, id, CAIRN_ID_SIZE);
	t->v[t->n++].size = it->size;
	return 0;
}

/* Lists data/ into the pack table (again, after deletions: the first
 * listing is the one the totals count). */
static int list_packs(gc_prune *p)
{
	int first = p->packs.v == NULL;
	gc_packs_free(&p->packs);
	int rc = cairn_store_list_items(cairn_repo_store(p->repo), CAIRN_DATA_PREFIX, collect_pack,
	                                &p->packs);
	if (rc)
		return rc;
	if (p->packs.n)
		qsort(p->packs.v, p->packs.n, sizeof(*p->packs.v), cairn_id_cmp);
	for (size_t i = 0; first && i < p->packs.n; i++) {
		p->res->packs_total++;
		p->res->bytes_total += p->packs.v[i].size;
	}
	return 0;
}

struct temps {
	char **keys;
	size_t n, cap;
	int64_t before; /* only those written before this */
};

/* A temporary object older than the grace: its writer is gone, or it
 * would have renamed it long ago. */
static int collect_temp(const cairn_store_item *it, void *ud)
{
	struct temps *t = ud;
	if (strlen(it->key) > CAIRN_GC_KEY_MAX || it->mtime == 0 || it->mtime >= t->before)
		return 0;
	int rc = cairn_array_grow((void **)&t->keys, &t->cap, t->n + 1, sizeof(*t->keys));
	if (!rc && !(t->keys[t->n] = strdup(it->key)))
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (!rc)
		t->n++;
	return rc;
}

/* ---- 5. and 6. ---- */

/* The waiting plan g: carried out if its backups have ended. */
static int settle_pending(gc_prune *p, cairn_sealer *s, const cairn_gc_last *st, int *blocked)
{
	cairn_gc_record plan, running;
	uint64_t waiting = 0;
	char key[64];
	*blocked = 0;
	if (!st->plan || st->done >= st->plan)
		return 0;
	if (!running_recorded(st)) {
		/* Its prune was killed before it wrote the backups down: the plan
		 * cannot be carried out safely, and nothing of it was deleted. */
		cairn_gc_record_key(key, st->plan, CAIRN_GC_PLAN);
		return p->opts->dry_run ? 0 : cairn_store_del(cairn_repo_store(p->repo), key);
	}
	int rc = cairn_repo_gc_load(p->repo, s, st->plan, CAIRN_GC_RUNNING, &running);
	if (rc)
		return rc;
	rc = count_waiting(p, &running, &waiting);
	cairn_gc_record_clear(&running);
	if (rc)
		return rc;
	if (waiting) {
		*blocked = 1;
		p->res->waiting_generation = st->plan;
		p->res->backups_waited = waiting;
		return 0;
	}
	if ((rc = cairn_repo_gc_load(p->repo, s, st->plan, CAIRN_GC_PLAN, &plan)))
		return rc;
	rc = gc_finish(p, &plan);
	cairn_gc_record_clear(&plan);
	return rc;
}

/* Builds the plan's record from the decided states. */
static int plan_record(gc_prune *p, cairn_gc_record *plan, uint64_t g, cairn_bloom *condemned,
                       struct temps *temps)
{
	memset(plan, 0, sizeof(*plan));
	plan->type = CAIRN_GC_PLAN;
	plan->generation = g;
	plan->packs = calloc(p->packs.n ? p->packs.n : 1, sizeof(*plan->packs));
	if (!plan->packs)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < p->packs.n; i++) {
		gc_pack *k = &p->packs.v[i];
		if (k->state == PACK_DELETE || k->state == PACK_REPACK) {
			memcpy(plan->packs[plan->n_packs].id, k->id, CAIRN_ID_SIZE);
			plan->packs[plan->n_packs++].size = k->size;
			p->res->packs_condemned++;
			p->res->bytes_condemned += k->size;
		} else {
			p->res->packs_kept++;
			p->res->bytes_kept += k->size;
		}
	}
	plan->snapshots = p->snapshots;
	plan->n_snapshots = p->n_snapshots;
	plan->keys = temps->keys;
	plan->n_keys = temps->n;
	plan->condemned = condemned;
	return 0;
}

/* The record's borrowed parts go back to their owners before it is cleared. */
static void plan_release(cairn_gc_record *plan)
{
	plan->snapshots = NULL;
	plan->n_snapshots = 0;
	plan->keys = NULL;
	plan->n_keys = 0;
	plan->condemned = NULL;
	cairn_gc_record_clear(plan);
}

static int new_plan(gc_prune *p, cairn_sealer *s, uint64_t g)
{
	cairn_bloom *condemned = NULL;
	struct temps temps = {0};
	cairn_marker_timing timing;
	cairn_gc_record plan;
	uint64_t running = 0;
	int rc;
	cairn_marker_timing_get(&timing);
	temps.before = (int64_t)time(NULL) - timing.grace_s;
	if ((rc = cairn_store_list_temp(cairn_repo_store(p->repo), collect_temp, &temps)) ||
	    (rc = gc_plan(p, &condemned)))
		goto out;
	if (!p->opts->dry_run && (rc = gc_repack(p)))
		goto out;
	if ((rc = plan_record(p, &plan, g, condemned, &temps)))
		goto out;
	if (p->opts->dry_run || (!plan.n_packs && !plan.n_keys)) {
		plan_release(&plan);
		goto out;
	}
	/* Published first, then the markers listed: a backup whose marker
	 * this listing misses started after the plan and reads it. */
	if (!(rc = cairn_repo_gc_put(p->repo, s, &plan)))
		rc = write_running(p, s, g, &running);
	if (!rc)
		p->res->generation = g;
	cairn_hold("prune-planned");
	if (!rc && running) {
		p->res->waiting_generation = g;
		p->res->backups_waited = running;
	} else if (!rc) {
		rc = gc_finish(p, &plan);
	}
	plan_release(&plan);
out:
	for (size_t i = 0; i < temps.n; i++)
		free(temps.keys[i]);
	free(temps.keys);
	cairn_bloom_free(condemned);
	return rc;
}

/* A done record whose packs are still listed: a killed prune's. */
static int resume_done(gc_prune *p, cairn_sealer *s, uint64_t g)
{
	cairn_gc_record done;
	int rc = cairn_repo_gc_load(p->repo, s, g, CAIRN_GC_DONE, &done);
	if (rc)
		return rc;
	int left = 0;
	for (size_t i = 0; i < done.n_packs && !left; i++)
		left = gc_packs_find(&p->packs, done.packs[i].id) != NULL;
	if (left && !p->opts->dry_run)
		rc = gc_complete_done(p, &done);
	cairn_gc_record_clear(&done);
	if (left && !rc) /* listed again, without what is gone now */
		rc = list_packs(p);
	return rc;
}

/* The index must be one prune can read in order and drop rows from; an
 * index server must take it from this token. */
static int check_index(gc_prune *p)
{
	uint8_t probe[1][CAIRN_ID_SIZE];
	if (!cairn_index_can_prune(p->index))
		return cairn_error_set(CAIRN_EINVAL,
		                       "this index cannot be pruned (no scan or drop)");
	if (!p->repo->index_remote || p->opts->dry_run)
		return 0;
	randombytes_buf(probe[0], CAIRN_ID_SIZE);
	int rc = cairn_index_drop_packs(p->index, (const uint8_t(*)[CAIRN_ID_SIZE])probe, 1);
	return rc ? cairn_error_prefix(rc, "prune needs an index token of the admin scope") : 0;
}

static int run(gc_prune *p)
{
	cairn_sealer *s = NULL;
	cairn_gc_last st;
	int blocked = 0, rc;
	if ((rc = check_index(p)) ||
	    (rc = cairn_marker_start(&p->marker, p->repo, CAIRN_MARKER_PRUNE)) ||
	    (rc = wait_for_prunes(p)) || (rc = cairn_repo_sealer_new(p->repo, &s, 0)))
		goto out;
	cairn_hold("prune-started");
	if (!p->opts->dry_run && (rc = cairn_repo_upgrade(p->repo, CAIRN_REPO_VERSION)))
		goto out;
	if ((rc = cairn_repo_gc_last(p->repo, &st)) || (rc = list_packs(p)) ||
	    (rc = cairn_repo_gc_lost(p->repo, s, &p->lost, &p->n_lost, NULL, NULL)))
		goto out;
	if (st.done && (rc = resume_done(p, s, st.done)))
		goto out;
	/* What other clients registered in the store since this one last
	 * looked; a server knows it already. */
	if (!p->repo->index_remote && (rc = cairn_repo_sync_index(p->repo, 0, NULL)))
		goto out;
	if ((rc = settle_pending(p, s, &st, &blocked)) || blocked)
		goto out;
	/* A plan carried out: data/ as it is now, for the new one. */
	if (st.plan > st.done && (rc = list_packs(p)))
		goto out;
	if ((rc = gc_mark(p, NULL, 0, &p->live, &p->snapshots, &p->n_snapshots)))
		goto out;
	rc = new_plan(p, s, (st.plan > st.done ? st.plan : st.done) + 1);
	if (!rc)
		rc = tidy_records(p);
out:
	cairn_sealer_free(s);
	return rc;
}

int cairn_prune(cairn_repo *r, const cairn_prune_opts *opts, cairn_prune_result *out)
{
	gc_prune p = {.repo = r, .index = cairn_repo_index(r), .opts = opts, .res = out};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	memset(out, 0, sizeof(*out));
	p.threads = opts->threads ? opts->threads : (ncpu > 0 ? (unsigned)ncpu : 1);
	pthread_mutex_init(&p.lock, NULL);
	int rc = run(&p);
	cairn_marker_end(p.marker);
	gc_packs_free(&p.packs);
	gc_live_free(&p.live);
	free(p.snapshots);
	free(p.extra);
	free(p.lost);
	pthread_mutex_destroy(&p.lock);
	return rc;
}

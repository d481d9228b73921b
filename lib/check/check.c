/* cairn check: its steps in order, the packs of data/ they share, and
 * how they report problems and progress.
 *
 * 1. list data/ once: the packs and their sizes;
 * 2. every record in snapshots/ loads and its manifest reads; the chunks
 *    they reference make a sorted set of fingerprints (snapshots.c);
 * 3. every index/ object loads and agrees with the trailers of the packs
 *    it lists; every pack's blobs are listed by one (packs.c);
 * 4. every referenced chunk has a place in a pack that holds it
 *    (packs.c);
 * 5. with --read-data, the packs chosen are read whole (read_data.c);
 * 6. for the chunks problems concern, the snapshots and files that need
 *    them (snapshots.c). */
#include "check/check_internal.h"
#include "repo/gc_io.h"

#include "repo/repo_format.h"
#include "repo/repo_internal.h"
#include "util/hex.h"
#include "util/parallel.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_NS 100000000ll
#define REMOTE_MIN_THREADS 8
#define MAX_THREADS 64

const char *cairn_check_kind_name(enum cairn_check_kind kind)
{
	switch (kind) {
	case CAIRN_CHECK_SNAPSHOT:
		return "snapshot";
	case CAIRN_CHECK_MANIFEST:
		return "manifest";
	case CAIRN_CHECK_CHUNK_UNKNOWN:
		return "chunk-unknown";
	case CAIRN_CHECK_CHUNK_MISPLACED:
		return "chunk-misplaced";
	case CAIRN_CHECK_PACK_MISSING:
		return "pack-missing";
	case CAIRN_CHECK_PACK_SHORT:
		return "pack-short";
	case CAIRN_CHECK_PACK_TRAILER:
		return "pack-trailer";
	case CAIRN_CHECK_PACK_UNINDEXED:
		return "pack-unindexed";
	case CAIRN_CHECK_INDEX_OBJECT:
		return "index-object";
	case CAIRN_CHECK_INDEX_PACK_MISSING:
		return "index-pack-missing";
	case CAIRN_CHECK_INDEX_ENTRY:
		return "index-entry";
	case CAIRN_CHECK_PACK_ID:
		return "pack-id";
	case CAIRN_CHECK_BLOB:
		return "blob";
	}
	return "unknown";
}

void check_pack_object(char out[CAIRN_CHECK_OBJECT_MAX], const uint8_t id[CAIRN_ID_SIZE])
{
	char key[80];
	cairn_repo_pack_key(key, id);
	snprintf(out, CAIRN_CHECK_OBJECT_MAX, "%s", key);
}

void check_object_name(char out[CAIRN_CHECK_OBJECT_MAX], const char *prefix,
                       const uint8_t id[CAIRN_ID_SIZE])
{
	char hex[CAIRN_ID_HEX + 1];
	cairn_hex_encode(hex, id, CAIRN_ID_SIZE);
	snprintf(out, CAIRN_CHECK_OBJECT_MAX, "%s%s", prefix, hex);
}

static int pack_cmp(const void *a, const void *b)
{
	return memcmp(((const check_pack *)a)->id, ((const check_pack *)b)->id, CAIRN_ID_SIZE);
}

check_pack *check_pack_find(check_ctx *c, const uint8_t id[CAIRN_ID_SIZE])
{
	check_pack key;
	memcpy(key.id, id, CAIRN_ID_SIZE);
	return bsearch(&key, c->packs, c->n_packs, sizeof(*c->packs), pack_cmp);
}

uint64_t check_place_key(const uint8_t fp[CAIRN_FP_SIZE], uint32_t offset, uint32_t length)
{
	uint64_t k = cairn_get_u64le(fp);
	k ^= ((uint64_t)offset << 32 | length) * 0x9e3779b97f4a7c15ull;
	k ^= k >> 31;
	return k * 0xbf58476d1ce4e5b9ull;
}

/* ---- failures, problems, progress ---- */

static void stop(check_ctx *c, int rc)
{
	pthread_mutex_lock(&c->lock);
	if (!c->fatal) {
		c->fatal = rc;
		cairn_error_save(&c->fatal_error, rc);
	}
	pthread_mutex_unlock(&c->lock);
}

int check_outcome(check_ctx *c, int rc)
{
	if (rc == 0)
		return 0;
	if (rc == CAIRN_ECORRUPT || rc == CAIRN_ENOTFOUND)
		return 1;
	stop(c, rc);
	return rc;
}

int check_stopped(check_ctx *c)
{
	pthread_mutex_lock(&c->lock);
	int stopped = c->fatal != 0;
	pthread_mutex_unlock(&c->lock);
	return stopped;
}

int check_report_locked(check_ctx *c, enum cairn_check_kind kind, const char *object,
                        uint64_t offset, const char *detail, const uint8_t *fp, size_t *index_out)
{
	size_t i, len = strlen(object);
	/* A message that starts with the object's name need not repeat it. */
	if (strncmp(detail, object, len) == 0 && strncmp(detail + len, ": ", 2) == 0)
		detail += len + 2;
	int rc = check_problem_add(&c->problems, kind, object, offset, detail, 1, &i);
	if (!rc && fp)
		rc = check_problem_chunk(&c->problems, i, fp);
	if (!rc && index_out)
		*index_out = i;
	return rc;
}

int check_report(check_ctx *c, enum cairn_check_kind kind, const char *object, uint64_t offset,
                 const char *detail, const uint8_t *fp, size_t *index_out)
{
	pthread_mutex_lock(&c->lock);
	int rc = check_report_locked(c, kind, object, offset, detail, fp, index_out);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void progress_send(check_ctx *c, int force)
{
	int64_t now = cairn_now_ns(CLOCK_MONOTONIC);
	if (!c->opts->progress || (!force && now - c->progress_at < PROGRESS_NS))
		return;
	c->progress_at = now;
	c->opts->progress(c->opts->ud, &c->progress);
}

void check_progress_begin(check_ctx *c, const char *unit, uint64_t total, uint64_t bytes_total)
{
	pthread_mutex_lock(&c->lock);
	memset(&c->progress, 0, sizeof(c->progress));
	c->progress.unit = unit;
	c->progress.files_total = total;
	c->progress.bytes_total = bytes_total;
	progress_send(c, 1);
	pthread_mutex_unlock(&c->lock);
}

void check_progress_add(check_ctx *c, uint64_t done, uint64_t bytes)
{
	pthread_mutex_lock(&c->lock);
	c->progress.files_done += done;
	c->progress.bytes_done += bytes;
	progress_send(c, 0);
	pthread_mutex_unlock(&c->lock);
}

struct run {
	check_ctx *c;
	int (*fn)(void *ud, size_t i);
	void *ud;
};

static int run_one(void *ud, size_t i)
{
	struct run *run = ud;
	if (check_stopped(run->c))
		return 0;
	int rc = run->fn(run->ud, i);
	if (rc)
		stop(run->c, rc);
	return 0;
}

int check_run(check_ctx *c, size_t n, int (*fn)(void *ud, size_t i), void *ud)
{
	struct run run = {.c = c, .fn = fn, .ud = ud};
	int rc = cairn_parallel_for(n, c->threads, run_one, &run);
	if (rc)
		stop(c, rc);
	return c->fatal ? cairn_error_restore(&c->fatal_error) : 0;
}

/* ---- step 1: the packs of data/ ---- */

/* data/<aa>/<64 hex>, exactly as packs are written; other names (a local
 * store's temporary files) are not packs. */
static int collect_pack(const char *key, uint64_t size, void *ud)
{
	check_ctx *c = ud;
	uint8_t id[CAIRN_ID_SIZE];
	char again[80];
	const char *hex = strrchr(key, '/');
	if (!hex || strlen(++hex) != CAIRN_ID_HEX || cairn_hex_decode(id, CAIRN_ID_SIZE, hex))
		return 0;
	cairn_repo_pack_key(again, id);
	if (strcmp(again, key) != 0)
		return 0;
	int rc =
	    cairn_array_grow((void **)&c->packs, &c->cap_packs, c->n_packs + 1, sizeof(*c->packs));
	if (rc)
		return rc;
	check_pack *p = &c->packs[c->n_packs++];
	memset(p, 0, sizeof(*p));
	memcpy(p->id, id, CAIRN_ID_SIZE);
	p->size = size;
	return 0;
}

static int list_packs(check_ctx *c)
{
	int rc = cairn_store_list(cairn_repo_store(c->repo), CAIRN_DATA_PREFIX, collect_pack, c);
	if (rc)
		return cairn_error_prefix(rc < 0 ? rc : CAIRN_ERROR, "cannot list data/");
	qsort(c->packs, c->n_packs, sizeof(*c->packs), pack_cmp);
	size_t n = 0;
	for (size_t i = 0; i < c->n_packs; i++)
		if (n == 0 || pack_cmp(&c->packs[n - 1], &c->packs[i]) != 0)
			c->packs[n++] = c->packs[i];
	c->n_packs = n;
	c->res->packs = n;
	for (size_t i = 0; i < n; i++)
		c->res->pack_bytes += c->packs[i].size;
	return 0;
}

/* ---- the check ---- */

static unsigned thread_count(const check_ctx *c)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n =
	    c->opts->threads > 0 ? (unsigned)c->opts->threads : (ncpu > 0 ? (unsigned)ncpu : 1);
	/* From a remote store a thread mostly waits for its answer. */
	if (c->opts->threads <= 0 && cairn_repo_store_is_remote(c->repo) && n < REMOTE_MIN_THREADS)
		n = REMOTE_MIN_THREADS;
	return n > MAX_THREADS ? MAX_THREADS : n;
}

static void count_unreferenced(check_ctx *c)
{
	for (size_t i = 0; i < c->n_packs; i++) {
		if (c->packs[i].referenced)
			continue;
		c->res->packs_unreferenced++;
		c->res->bytes_unreferenced += c->packs[i].size;
	}
}

/* What an earlier check found lost: a chunk the index forgot then is
 * still named by the pack it was lost in. */
static int read_lost(check_ctx *c)
{
	cairn_sealer *s = NULL;
	int rc = cairn_repo_sealer_new(c->repo, &s, 0);
	if (!rc)
		rc = cairn_repo_gc_lost(c->repo, s, &c->lost, &c->n_lost, NULL, NULL);
	cairn_sealer_free(s);
	return rc;
}

static int read_pruned(check_ctx *c)
{
	cairn_gc_name *names = NULL;
	cairn_sealer *s = NULL;
	size_t n = 0, cap = 0;
	c->pruned_read = 1;
	int rc = cairn_repo_gc_list(c->repo, &names, &n);
	if (!rc)
		rc = cairn_repo_sealer_new(c->repo, &s, 0);
	for (size_t i = 0; i < n && !rc; i++) {
		cairn_gc_record done;
		if (names[i].type != CAIRN_GC_DONE)
			continue;
		if ((rc =
		         cairn_repo_gc_load(c->repo, s, names[i].generation, CAIRN_GC_DONE, &done)))
			break;
		rc = cairn_array_grow((void **)&c->pruned, &cap, c->n_pruned + done.n_packs,
		                      sizeof(*c->pruned));
		for (size_t k = 0; k < done.n_packs && !rc; k++)
			memcpy(c->pruned[c->n_pruned++], done.packs[k].id, CAIRN_ID_SIZE);
		cairn_gc_record_clear(&done);
	}
	if (c->n_pruned)
		qsort(c->pruned, c->n_pruned, sizeof(*c->pruned), cairn_fp_cmp);
	cairn_sealer_free(s);
	free(names);
	return rc;
}

int check_pack_pruned_locked(check_ctx *c, const uint8_t id[CAIRN_ID_SIZE])
{
	/* A done record that does not read leaves the pack counted as lost:
	 * the safe side. */
	if (!c->pruned_read && read_pruned(c) != 0)
		cairn_error_clear();
	return c->n_pruned && bsearch(id, c->pruned, c->n_pruned, CAIRN_ID_SIZE, cairn_fp_cmp);
}

int check_pack_pruned(check_ctx *c, const uint8_t id[CAIRN_ID_SIZE])
{
	pthread_mutex_lock(&c->lock);
	int pruned = check_pack_pruned_locked(c, id);
	pthread_mutex_unlock(&c->lock);
	return pruned;
}

int check_snapshot_gone(check_ctx *c, const uint8_t id[CAIRN_ID_SIZE])
{
	char key[CAIRN_CHECK_OBJECT_MAX];
	uint64_t size;
	check_object_name(key, CAIRN_SNAPSHOTS_PREFIX, id);
	return cairn_store_stat(cairn_repo_store(c->repo), key, &size) == CAIRN_ENOTFOUND;
}

static void ctx_free(check_ctx *c)
{
	for (size_t i = 0; i < c->n_packs; i++) {
		free(c->packs[i].listed);
		free(c->packs[i].places);
	}
	free(c->packs);
	free(c->snapshots_listed);
	free(c->snapshots);
	free(c->lost);
	free(c->pruned);
	cairn_sorted_fps_free(&c->refs);
	check_problems_free(&c->problems);
	pthread_mutex_destroy(&c->lock);
}

int cairn_check(cairn_repo *r, const cairn_check_opts *opts, cairn_check_result *out)
{
	static const cairn_check_opts defaults;
	check_ctx c = {.repo = r, .opts = opts ? opts : &defaults, .res = out};
	int rc;

	memset(out, 0, sizeof(*out));
	if (pthread_mutex_init(&c.lock, NULL) != 0)
		return cairn_error_set(CAIRN_ERROR, "cannot create a mutex");
	c.threads = thread_count(&c);
	if ((rc = list_packs(&c)) || (rc = read_lost(&c)) || (rc = check_snapshots(&c)) ||
	    (rc = check_index_objects(&c)) || (rc = check_references(&c)))
		goto out;
	if (c.opts->subset.read != CAIRN_CHECK_READ_NONE && (rc = check_read_data(&c)))
		goto out;
	if ((rc = check_needs(&c)))
		goto out;
	count_unreferenced(&c);
	if (check_heal(&c) != 0)
		snprintf(out->heal_error, sizeof(out->heal_error), "%s", cairn_error_last());
	check_problems_take(&c.problems, &out->problems, &out->n_problems);
	if (out->n_problems)
		rc = CAIRN_EPARTIAL;
out:
	ctx_free(&c);
	return rc;
}

void cairn_check_result_free(cairn_check_result *res)
{
	for (size_t i = 0; i < res->n_problems; i++)
		check_problem_clear(&res->problems[i]);
	free(res->problems);
	memset(res, 0, sizeof(*res));
}

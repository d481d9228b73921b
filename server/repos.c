/* The repositories the server holds, each under DIR/repos/<id>/:
 *
 *   index/shard-XX.db   the fingerprint index (lib's index core: SQLite
 *   index/log/          shards, a registration log, a table in memory)
 *   catalog.db          the snapshot catalogue
 *
 * plus, in memory, a Bloom filter of every fingerprint in the index, for
 * clients' prechecks. It is built from the core's table when the
 * repository is opened, and again, larger, when it holds more than it was
 * sized for. Repositories are opened by a thread of their own when the
 * server starts; until it is done, /healthz and the repositories' routes
 * answer 503. Its ETag is
 * a random epoch, new with each filter, and a version that counts the
 * registrations that changed it.
 *
 * With a quota, a repository holds at most so many rows: the server keeps
 * their count (counted in the shards when the repository is opened, when
 * its filter grows and after packs are dropped) and refuses a
 * registration whose new rows would pass it. A row is new unless a
 * lookup finds the fingerprint in the same pack, so a chunk registered
 * again in a second pack counts once more, as it is stored once more.
 * The snapshot catalogue has a quota too, checked against its count in
 * the transaction that adds to it. */
#include "server.h"

#include "cairn/bloom.h"
#include "cairn/errors.h"
#include "util/hex.h"
#include "util/json.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Filters are sized for a quarter more than the fingerprints they start
 * with, and for this many at least. */
#define BLOOM_MIN_CAPACITY 65536

struct srv_repo {
	char id[SRV_REPO_HEX + 1];
	char *dir;
	char *index_dir;
	unsigned nshards;
	cairn_index *ix;

	pthread_rwlock_t bloom_lock;
	cairn_bloom *bloom;
	uint64_t epoch, version;
	/* While the filter is rebuilt, registrations are also kept here. */
	int rebuilding;
	cairn_buf pending;
	pthread_mutex_t grow_lock;
	/* A larger filter is built on a thread of its own, not in the request
	 * that found the filter full. */
	_Atomic int growing;
	pthread_mutex_t grower_lock;
	pthread_t grower;
	int grower_started;

	pthread_mutex_t catalog_lock;
	sqlite3 *catalog;
	char *catalog_path;

	pthread_mutex_t rows_lock;
	uint64_t rows;     /* in the shards, and reserved by registrations */
	uint64_t max_rows; /* the quota; 0: none */
	uint64_t max_snapshots;
};

enum repos_state { REPOS_LOADING, REPOS_READY, REPOS_FAILED };

struct srv_repos {
	char *data_dir;
	unsigned nshards;
	uint64_t max_rows, max_snapshots;
	pthread_mutex_t lock;
	srv_repo **list;
	size_t n, cap;
	/* Opening the repositories already there, on a thread of its own. */
	pthread_t loader;
	int loader_started;
	_Atomic int state; /* enum repos_state */
	char failure[512];
	void (*on_done)(void *ud, const char *failure);
	void *done_ud;
};

static int mkdir_one(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create %s", path);
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* An existing index keeps the shard count it was made with. */
static unsigned existing_shards(const char *index_dir)
{
	char path[4096];
	unsigned n = 0;
	while (n < 256) {
		snprintf(path, sizeof(path), "%s/shard-%02x.db", index_dir, n);
		if (!file_exists(path))
			break;
		n++;
	}
	return (n && !(n & (n - 1))) ? n : 0;
}

/* ---- the Bloom filter ---- */

/* Fingerprints on their way into a filter, a group at a time. */
typedef struct bloom_fill {
	cairn_bloom *bloom;
	uint8_t fps[256][32];
	size_t n;
} bloom_fill;

static void bloom_add_fp(void *ud, const uint8_t fp[32])
{
	bloom_fill *f = ud;
	memcpy(f->fps[f->n++], fp, 32);
	if (f->n == sizeof(f->fps) / sizeof(f->fps[0])) {
		cairn_bloom_add_many(f->bloom, (const uint8_t(*)[32])f->fps, f->n);
		f->n = 0;
	}
}

static uint64_t capacity_for(uint64_t n)
{
	uint64_t c = n + n / 4;
	return c < BLOOM_MIN_CAPACITY ? BLOOM_MIN_CAPACITY : c;
}

static int build_bloom(srv_repo *r, uint64_t expected, cairn_bloom **out)
{
	bloom_fill *f = malloc(sizeof(*f));
	int rc = f ? cairn_bloom_new(out, capacity_for(expected))
	           : cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (!rc) {
		f->bloom = *out;
		f->n = 0;
		cairn_index_core_each(r->ix, bloom_add_fp, f);
		cairn_bloom_add_many(f->bloom, (const uint8_t(*)[32])f->fps, f->n);
	}
	free(f);
	return rc;
}

static uint64_t new_epoch(void)
{
	uint64_t e;
	randombytes_buf(&e, sizeof(e));
	return e;
}

/* Counts the rows again, for the quota, once rows went away (a count
 * that fails leaves the last one: the quota errs on the safe side).
 * Registrations in flight keep their reservations: rows they add while
 * the shards are counted may be counted twice until the next count. */
static void recount(srv_repo *r)
{
	uint64_t n;
	if (!r->max_rows)
		return;
	if (cairn_index_count(r->ix, &n)) {
		cairn_error_clear();
		return;
	}
	pthread_mutex_lock(&r->rows_lock);
	r->rows = n;
	pthread_mutex_unlock(&r->rows_lock);
}

/* Replaces a filter that holds more than it was sized for. */
static int grow_bloom(srv_repo *r)
{
	cairn_bloom *fresh = NULL;
	int rc = 0;
	pthread_mutex_lock(&r->grow_lock);
	pthread_rwlock_wrlock(&r->bloom_lock);
	uint64_t items = cairn_bloom_items(r->bloom);
	int needed = items > cairn_bloom_capacity(r->bloom);
	if (needed) {
		r->rebuilding = 1;
		cairn_buf_clear(&r->pending);
	}
	pthread_rwlock_unlock(&r->bloom_lock);
	if (!needed)
		goto out;

	rc = build_bloom(r, items + items / 4, &fresh);

	pthread_rwlock_wrlock(&r->bloom_lock);
	if (!rc) {
		for (size_t off = 0; off + 32 <= r->pending.len; off += 32)
			cairn_bloom_add(fresh, r->pending.data + off);
		cairn_bloom_free(r->bloom);
		r->bloom = fresh;
		r->epoch = new_epoch();
		r->version = 0;
	}
	r->rebuilding = 0;
	cairn_buf_free(&r->pending);
	pthread_rwlock_unlock(&r->bloom_lock);
out:
	pthread_mutex_unlock(&r->grow_lock);
	return rc;
}

static void *grower_main(void *ud)
{
	srv_repo *r = ud;
	/* A filter that could not grow stays as it was: more false positives
	 * until the next registration tries again. */
	if (grow_bloom(r))
		cairn_error_clear();
	atomic_store(&r->growing, 0);
	return NULL;
}

static void start_growing(srv_repo *r)
{
	int idle = 0;
	if (!atomic_compare_exchange_strong(&r->growing, &idle, 1))
		return;
	pthread_mutex_lock(&r->grower_lock);
	if (r->grower_started)
		pthread_join(r->grower, NULL); /* done: it cleared growing */
	r->grower_started = pthread_create(&r->grower, NULL, grower_main, r) == 0;
	if (!r->grower_started)
		atomic_store(&r->growing, 0);
	pthread_mutex_unlock(&r->grower_lock);
}

static void stop_growing(srv_repo *r)
{
	pthread_mutex_lock(&r->grower_lock);
	if (r->grower_started)
		pthread_join(r->grower, NULL);
	r->grower_started = 0;
	pthread_mutex_unlock(&r->grower_lock);
}

/* ---- the catalogue ---- */

static int catalog_fail(srv_repo *r, const char *what)
{
	return cairn_error_set(CAIRN_EIO, "%s: %s: %s", r->catalog_path, what,
	                       sqlite3_errmsg(r->catalog));
}

static int catalog_open(srv_repo *r)
{
	if (sqlite3_open_v2(r->catalog_path, &r->catalog,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK)
		return r->catalog ? catalog_fail(r, "cannot open")
		                  : cairn_error_set(CAIRN_ENOMEM, "out of memory");
	sqlite3_busy_timeout(r->catalog, 10000);
	if (sqlite3_exec(r->catalog,
	                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	                 "CREATE TABLE IF NOT EXISTS snapshots (id BLOB PRIMARY KEY,"
	                 " added INTEGER NOT NULL) WITHOUT ROWID",
	                 NULL, NULL, NULL) != SQLITE_OK)
		return catalog_fail(r, "cannot set up");
	return srv_catalog_upgrade(r->catalog, r->catalog_path);
}

/* ---- repositories ---- */

static void repo_free(srv_repo *r)
{
	if (!r)
		return;
	stop_growing(r);
	cairn_index_free(r->ix);
	cairn_bloom_free(r->bloom);
	cairn_buf_free(&r->pending);
	sqlite3_close_v2(r->catalog);
	pthread_rwlock_destroy(&r->bloom_lock);
	pthread_mutex_destroy(&r->grow_lock);
	pthread_mutex_destroy(&r->grower_lock);
	pthread_mutex_destroy(&r->catalog_lock);
	pthread_mutex_destroy(&r->rows_lock);
	free(r->dir);
	free(r->index_dir);
	free(r->catalog_path);
	free(r);
}

static int repo_open(srv_repos *rs, const char *id, srv_repo **out)
{
	cairn_buf b = CAIRN_BUF_INIT;
	uint64_t count = 0;
	int rc;
	*out = NULL;
	srv_repo *r = calloc(1, sizeof(*r));
	if (!r)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	pthread_rwlock_init(&r->bloom_lock, NULL);
	pthread_mutex_init(&r->grow_lock, NULL);
	pthread_mutex_init(&r->grower_lock, NULL);
	pthread_mutex_init(&r->catalog_lock, NULL);
	pthread_mutex_init(&r->rows_lock, NULL);
	memcpy(r->id, id, sizeof(r->id));
	r->max_rows = rs->max_rows;
	r->max_snapshots = rs->max_snapshots;
	if ((rc = cairn_buf_printf(&b, "%s/repos/%s", rs->data_dir, id)))
		goto out;
	r->dir = (char *)cairn_buf_detach(&b, NULL);
	if ((rc = cairn_buf_printf(&b, "%s/index", r->dir)))
		goto out;
	r->index_dir = (char *)cairn_buf_detach(&b, NULL);
	if ((rc = cairn_buf_printf(&b, "%s/catalog.db", r->dir)))
		goto out;
	r->catalog_path = (char *)cairn_buf_detach(&b, NULL);
	if ((rc = mkdir_one(r->dir)))
		goto out;
	r->nshards = existing_shards(r->index_dir);
	if (!r->nshards)
		r->nshards = rs->nshards;
	/* A server lives long and answers many clients: a larger page
	 * cache per repository, and checkpoints far apart so that merges of
	 * registrations are not held up by them. */
	const cairn_index_core_opts tuning = {SRV_CACHE_MIB, SRV_WAL_PAGES, 0};
	if ((rc = cairn_index_core_open(&r->ix, r->index_dir, r->nshards, &tuning)))
		goto out;
	if ((rc = catalog_open(r)))
		goto out;
	if ((rc = cairn_index_count(r->ix, &count)) || (rc = build_bloom(r, count, &r->bloom)))
		goto out;
	r->epoch = new_epoch();
	r->rows = count;
	*out = r;
	return 0;
out:
	cairn_buf_free(&b);
	cairn_error_prefix(rc, "repository %.16s", id);
	repo_free(r);
	return rc;
}

static int add_repo(srv_repos *rs, const char *id, srv_repo **out)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 8;
		srv_repo **l = realloc(rs->list, cap * sizeof(*l));
		if (!l)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		rs->list = l;
		rs->cap = cap;
	}
	int rc = repo_open(rs, id, out);
	if (!rc)
		rs->list[rs->n++] = *out;
	return rc;
}

/* Opens every repository under DIR/repos. */
static int load_all(srv_repos *rs)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int rc = cairn_buf_printf(&b, "%s/repos", rs->data_dir);
	DIR *d = rc ? NULL : opendir((const char *)b.data);
	if (!rc && !d)
		rc =
		    cairn_error_set_errno(CAIRN_EIO, errno, "cannot read %s", (const char *)b.data);
	struct dirent *de;
	while (!rc && d && (de = readdir(d)) != NULL) {
		srv_repo *r;
		if (!srv_repo_id_valid(de->d_name))
			continue;
		pthread_mutex_lock(&rs->lock);
		rc = add_repo(rs, de->d_name, &r);
		pthread_mutex_unlock(&rs->lock);
	}
	if (d)
		closedir(d);
	cairn_buf_free(&b);
	return rc;
}

static void *loader_main(void *ud)
{
	srv_repos *rs = ud;
	int failed = load_all(rs) != 0;
	if (failed)
		snprintf(rs->failure, sizeof(rs->failure), "%s", cairn_error_last());
	atomic_store(&rs->state, failed ? REPOS_FAILED : REPOS_READY);
	if (rs->on_done)
		rs->on_done(rs->done_ud, failed ? rs->failure : NULL);
	return NULL;
}

int srv_repos_open(srv_repos **out, const char *data_dir, unsigned nshards, uint64_t max_rows,
                   uint64_t max_snapshots, void (*on_done)(void *ud, const char *failure), void *ud)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int rc;
	*out = NULL;
	srv_repos *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	pthread_mutex_init(&rs->lock, NULL);
	rs->nshards = nshards;
	rs->max_rows = max_rows;
	rs->max_snapshots = max_snapshots;
	rs->on_done = on_done;
	rs->done_ud = ud;
	atomic_store(&rs->state, REPOS_LOADING);
	if (!(rs->data_dir = strdup(data_dir))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = mkdir_one(data_dir)) || (rc = cairn_buf_printf(&b, "%s/repos", data_dir)) ||
	    (rc = mkdir_one((const char *)b.data)))
		goto out;
	if (pthread_create(&rs->loader, NULL, loader_main, rs) != 0) {
		rc = cairn_error_set(CAIRN_ERROR, "cannot start a thread to open the repositories");
		goto out;
	}
	rs->loader_started = 1;
	cairn_buf_free(&b);
	*out = rs;
	return 0;
out:
	cairn_buf_free(&b);
	srv_repos_free(rs);
	return rc;
}

int srv_repos_ready(srv_repos *rs, const char **why)
{
	int state = atomic_load(&rs->state);
	*why = state == REPOS_FAILED    ? rs->failure
	       : state == REPOS_LOADING ? "opening the repositories' indexes"
	                                : NULL;
	return state == REPOS_READY;
}

void srv_repos_free(srv_repos *rs)
{
	if (!rs)
		return;
	if (rs->loader_started)
		pthread_join(rs->loader, NULL);
	for (size_t i = 0; i < rs->n; i++)
		repo_free(rs->list[i]);
	free(rs->list);
	free(rs->data_dir);
	pthread_mutex_destroy(&rs->lock);
	free(rs);
}

int srv_repos_get(srv_repos *rs, const char *id, srv_repo **out)
{
	int rc = 0;
	*out = NULL;
	if (atomic_load(&rs->state) != REPOS_READY)
		return 1;
	pthread_mutex_lock(&rs->lock);
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->list[i]->id, id) == 0) {
			*out = rs->list[i];
			break;
		}
	/* Opening a new repository is rare; holding the lock keeps two
	 * requests from creating it twice. */
	if (!*out)
		rc = add_repo(rs, id, out);
	pthread_mutex_unlock(&rs->lock);
	return rc;
}

/* ---- the operations ---- */

int srv_repo_lookup(srv_repo *r, const uint8_t (*fps)[32], size_t n, cairn_index_entry *out,
                    uint8_t *found, size_t *asked_out)
{
	size_t *ask = malloc((n ? n : 1) * sizeof(*ask));
	uint8_t(*sub)[32] = malloc((n ? n : 1) * 32);
	cairn_index_entry *sub_out = malloc((n ? n : 1) * sizeof(*sub_out));
	uint8_t *sub_found = malloc(n ? n : 1);
	size_t m = 0;
	int rc = 0;
	*asked_out = 0;
	if (!ask || !sub || !sub_out || !sub_found) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	memset(found, 0, n);
	pthread_rwlock_rdlock(&r->bloom_lock);
	for (size_t i = 0; i < n; i++)
		if (cairn_bloom_has(r->bloom, fps[i])) {
			ask[m] = i;
			memcpy(sub[m++], fps[i], 32);
		}
	pthread_rwlock_unlock(&r->bloom_lock);
	*asked_out = m;
	if (m && (rc = cairn_index_lookup(r->ix, (const uint8_t(*)[32])sub, m, sub_out, sub_found)))
		goto out;
	for (size_t k = 0; k < m; k++) {
		found[ask[k]] = sub_found[k];
		if (sub_found[k])
			out[ask[k]] = sub_out[k];
	}
out:
	free(ask);
	free(sub);
	free(sub_out);
	free(sub_found);
	return rc;
}

int srv_repo_presence(srv_repo *r, const uint8_t (*fps)[32], size_t n, cairn_index_entry *out,
                      uint8_t *found)
{
	return cairn_index_lookup_dedup(r->ix, fps, n, out, found);
}

const char *srv_repo_id(const srv_repo *r)
{
	return r->id;
}

/* The rows a registration may add: entries whose fingerprint is not in
 * the index with the same pack. */
static int new_rows(srv_repo *r, const cairn_index_entry *entries, size_t n, uint64_t *out)
{
	uint8_t(*fps)[32] = malloc((n ? n : 1) * 32);
	cairn_index_entry *got = malloc((n ? n : 1) * sizeof(*got));
	uint8_t *found = malloc(n ? n : 1);
	int rc = 0;
	*out = 0;
	if (!fps || !got || !found) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(fps[i], entries[i].fp, 32);
	if ((rc = srv_repo_presence(r, (const uint8_t(*)[32])fps, n, got, found)))
		goto out;
	for (size_t i = 0; i < n; i++)
		*out += !found[i] || memcmp(got[i].pack, entries[i].pack, 32) != 0;
out:
	free(fps);
	free(got);
	free(found);
	return rc;
}

/* Reserves the rows a registration adds under the quota. */
static int quota_reserve(srv_repo *r, const cairn_index_entry *entries, size_t n,
                         uint64_t *reserved, int *over_quota)
{
	uint64_t add;
	int rc = new_rows(r, entries, n, &add);
	if (rc)
		return rc;
	pthread_mutex_lock(&r->rows_lock);
	uint64_t held = r->rows;
	if (add > 0 && (held > r->max_rows || add > r->max_rows - held)) {
		pthread_mutex_unlock(&r->rows_lock);
		*over_quota = 1;
		return cairn_error_set(CAIRN_ERROR,
		                       "the repository's quota of %llu fingerprints is reached: it "
		                       "holds %llu, this registration would add %llu",
		                       (unsigned long long)r->max_rows, (unsigned long long)held,
		                       (unsigned long long)add);
	}
	r->rows += add;
	pthread_mutex_unlock(&r->rows_lock);
	*reserved = add;
	return 0;
}

int srv_repo_register(srv_repo *r, const cairn_index_entry *entries, size_t n, int *over_quota)
{
	uint64_t reserved = 0;
	int rc;
	*over_quota = 0;
	if (r->max_rows && (rc = quota_reserve(r, entries, n, &reserved, over_quota)))
		return rc;
	if ((rc = cairn_index_insert(r->ix, entries, n))) {
		pthread_mutex_lock(&r->rows_lock);
		r->rows -= reserved;
		pthread_mutex_unlock(&r->rows_lock);
		return rc;
	}
	int changed = 0, grow;
	pthread_rwlock_wrlock(&r->bloom_lock);
	for (size_t i = 0; i < n; i++) {
		changed |= cairn_bloom_add(r->bloom, entries[i].fp);
		if (r->rebuilding && (rc = cairn_buf_append(&r->pending, entries[i].fp, 32)))
			break;
	}
	if (changed)
		r->version++;
	grow = cairn_bloom_items(r->bloom) > cairn_bloom_capacity(r->bloom) && !r->rebuilding;
	pthread_rwlock_unlock(&r->bloom_lock);
	if (!rc && grow)
		start_growing(r);
	return rc;
}

int srv_repo_bloom(srv_repo *r, char etag[48], cairn_buf *out)
{
	int rc = 0;
	pthread_rwlock_rdlock(&r->bloom_lock);
	snprintf(etag, 48, "\"%016llx-%llu\"", (unsigned long long)r->epoch,
	         (unsigned long long)r->version);
	if (out)
		rc = cairn_bloom_serialize(r->bloom, out);
	pthread_rwlock_unlock(&r->bloom_lock);
	return rc;
}

int srv_repo_object_known(srv_repo *r, const uint8_t id[32], int *known)
{
	return cairn_index_object_known(r->ix, id, known);
}

int srv_repo_object_add(srv_repo *r, const uint8_t id[32])
{
	return cairn_index_object_add(r->ix, id);
}

/* Within the catalogue's transaction: whether n more ids may be added
 * (some may be there already; they count as new, erring on the safe
 * side). */
static int catalog_room(srv_repo *r, size_t n, int *over_quota)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(r->catalog, "SELECT count(*) FROM snapshots", -1, &st, NULL) !=
	        SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rc = catalog_fail(r, "cannot count snapshots");
	} else {
		uint64_t held = (uint64_t)sqlite3_column_int64(st, 0);
		if (held > r->max_snapshots || n > r->max_snapshots - held) {
			*over_quota = 1;
			rc = cairn_error_set(CAIRN_ERROR,
			                     "the repository's quota of %llu snapshots is reached: "
			                     "the catalogue holds %llu, this request adds %zu",
			                     (unsigned long long)r->max_snapshots,
			                     (unsigned long long)held, n);
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int srv_repo_snapshot_add(srv_repo *r, const uint8_t *ids, size_t n, const char *host,
                          int *over_quota)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, added = 0;
	*over_quota = 0;
	pthread_mutex_lock(&r->catalog_lock);
	if (sqlite3_exec(r->catalog, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = catalog_fail(r, "cannot begin");
		goto out;
	}
	if (r->max_snapshots && (rc = catalog_room(r, n, over_quota)))
		goto out;
	if (sqlite3_prepare_v2(r->catalog,
	                       "INSERT OR IGNORE INTO snapshots (id, added) VALUES (?1, ?2)", -1,
	                       &st, NULL) != SQLITE_OK) {
		rc = catalog_fail(r, "cannot prepare");
		goto out;
	}
	sqlite3_int64 now = (sqlite3_int64)time(NULL);
	for (size_t i = 0; i < n && !rc; i++) {
		sqlite3_bind_blob(st, 1, ids + 32 * i, 32, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = catalog_fail(r, "cannot add a snapshot");
		else
			added += sqlite3_changes(r->catalog) > 0;
		sqlite3_reset(st);
	}
	if (!rc && added)
		rc = srv_freshness_note(r->catalog, r->catalog_path, host, now);
	if (!rc && sqlite3_exec(r->catalog, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = catalog_fail(r, "cannot commit");
out:
	if (rc && !sqlite3_get_autocommit(r->catalog))
		sqlite3_exec(r->catalog, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->catalog_lock);
	return rc;
}

int srv_repo_snapshot_list(srv_repo *r, cairn_buf *out)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, s;
	pthread_mutex_lock(&r->catalog_lock);
	if (sqlite3_prepare_v2(r->catalog, "SELECT id FROM snapshots ORDER BY added, id", -1, &st,
	                       NULL) != SQLITE_OK) {
		rc = catalog_fail(r, "cannot prepare");
		goto out;
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW)
		if (sqlite3_column_bytes(st, 0) == 32 &&
		    (rc = cairn_buf_append(out, sqlite3_column_blob(st, 0), 32)))
			goto out;
	if (s != SQLITE_DONE)
		rc = catalog_fail(r, "cannot list snapshots");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->catalog_lock);
	return rc;
}

int srv_repo_snapshot_remove(srv_repo *r, const uint8_t id[32])
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	pthread_mutex_lock(&r->catalog_lock);
	if (sqlite3_prepare_v2(r->catalog, "DELETE FROM snapshots WHERE id = ?1", -1, &st, NULL) !=
	    SQLITE_OK) {
		rc = catalog_fail(r, "cannot prepare");
		goto out;
	}
	sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = catalog_fail(r, "cannot remove a snapshot");
	else
		rc = sqlite3_changes(r->catalog) > 0;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->catalog_lock);
	return rc;
}

static int catalog_count(srv_repo *r, uint64_t *n)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	pthread_mutex_lock(&r->catalog_lock);
	if (sqlite3_prepare_v2(r->catalog, "SELECT count(*) FROM snapshots", -1, &st, NULL) !=
	        SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		rc = catalog_fail(r, "cannot count snapshots");
	else
		*n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->catalog_lock);
	return rc;
}

int srv_repo_stats(srv_repo *r, cairn_buf *json)
{
	uint64_t fps = 0, snaps = 0;
	int rc;
	if ((rc = cairn_index_count(r->ix, &fps)) || (rc = catalog_count(r, &snaps)))
		return rc;
	pthread_rwlock_rdlock(&r->bloom_lock);
	uint64_t items = cairn_bloom_items(r->bloom), cap = cairn_bloom_capacity(r->bloom);
	uint64_t bytes = cairn_bloom_size(r->bloom);
	double fp_now = cairn_bloom_fp_rate(r->bloom, items);
	double fp_design = cairn_bloom_fp_rate(r->bloom, cap);
	pthread_rwlock_unlock(&r->bloom_lock);
	return cairn_buf_printf(json,
	                        "{\"repository\":\"%s\",\"fingerprints\":%llu,\"snapshots\":%llu,"
	                        "\"shards\":%u,\"bloom\":{\"bytes\":%llu,\"items\":%llu,"
	                        "\"capacity\":%llu,\"expected_fp_rate\":%.6g,"
	                        "\"design_fp_rate\":%.6g}}\n",
	                        r->id, (unsigned long long)fps, (unsigned long long)snaps,
	                        r->nshards, (unsigned long long)bytes, (unsigned long long)items,
	                        (unsigned long long)cap, fp_now, fp_design);
}

int srv_repo_clear(srv_repo *r)
{
	cairn_bloom *fresh;
	int rc = cairn_bloom_new(&fresh, BLOOM_MIN_CAPACITY);
	if (rc)
		return rc;
	pthread_mutex_lock(&r->grow_lock);
	rc = cairn_index_clear(r->ix);
	pthread_rwlock_wrlock(&r->bloom_lock);
	if (!rc) {
		cairn_bloom_free(r->bloom);
		r->bloom = fresh;
		fresh = NULL;
		r->epoch = new_epoch();
		r->version = 0;
	}
	pthread_rwlock_unlock(&r->bloom_lock);
	pthread_mutex_unlock(&r->grow_lock);
	cairn_bloom_free(fresh);
	if (!rc)
		recount(r);
	return rc;
}

int srv_repo_scan(srv_repo *r, const cairn_index_entry *after, cairn_index_entry *out, size_t max,
                  size_t *n_out)
{
	return cairn_index_scan(r->ix, after, out, max, n_out);
}

/* The filter cannot forget a fingerprint: until it is next built, one
 * whose rows are all gone costs a lookup in the shards, not a wrong
 * answer. */
int srv_repo_drop_packs(srv_repo *r, const uint8_t (*packs)[32], size_t n)
{
	int rc = cairn_index_drop_packs(r->ix, packs, n);
	if (!rc)
		recount(r);
	return rc;
}

int srv_repo_rows(srv_repo *r, const uint8_t (*fps)[32], size_t n, cairn_index_entry *out,
                  uint8_t *counts)
{
	return cairn_index_rows(r->ix, fps, n, CAIRN_INDEX_ROWS_MAX, out, counts);
}

int srv_repo_reject(srv_repo *r, const cairn_index_entry *rows, size_t n)
{
	return cairn_index_reject(r->ix, rows, n);
}

static int file_size(const char *path, uint64_t *size)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	*size = (uint64_t)st.st_size;
	return 0;
}

int srv_repos_metrics(srv_repos *rs, cairn_buf *out)
{
	char path[4096];
	int rc = cairn_buf_printf(out, "# HELP cairn_shard_bytes Size of an index shard on disk "
	                               "(database and write-ahead log).\n"
	                               "# TYPE cairn_shard_bytes gauge\n");
	pthread_mutex_lock(&rs->lock);
	for (size_t i = 0; !rc && i < rs->n; i++) {
		srv_repo *r = rs->list[i];
		for (unsigned k = 0; !rc && k < r->nshards; k++) {
			uint64_t db = 0, wal = 0;
			snprintf(path, sizeof(path), "%s/shard-%02x.db", r->index_dir, k);
			file_size(path, &db);
			snprintf(path, sizeof(path), "%s/shard-%02x.db-wal", r->index_dir, k);
			file_size(path, &wal);
			rc = cairn_buf_printf(
			    out, "cairn_shard_bytes{repo=\"%s\",shard=\"%02x\"} %llu\n", r->id, k,
			    (unsigned long long)(db + wal));
		}
	}
	if (!rc)
		rc = cairn_buf_printf(
		    out, "# HELP cairn_bloom_items Fingerprints in a repository's "
		         "Bloom filter.\n# TYPE cairn_bloom_items gauge\n"
		         "# HELP cairn_bloom_bytes Size of a repository's Bloom filter.\n"
		         "# TYPE cairn_bloom_bytes gauge\n"
		         "# HELP cairn_bloom_expected_fp_ratio False-positive rate "
		         "expected of the filter as full as it is.\n"
		         "# TYPE cairn_bloom_expected_fp_ratio gauge\n");
	for (size_t i = 0; !rc && i < rs->n; i++) {
		srv_repo *r = rs->list[i];
		pthread_rwlock_rdlock(&r->bloom_lock);
		uint64_t items = cairn_bloom_items(r->bloom), bytes = cairn_bloom_size(r->bloom);
		double fp = cairn_bloom_fp_rate(r->bloom, items);
		pthread_rwlock_unlock(&r->bloom_lock);
		rc = cairn_buf_printf(out,
		                      "cairn_bloom_items{repo=\"%s\"} %llu\n"
		                      "cairn_bloom_bytes{repo=\"%s\"} %llu\n"
		                      "cairn_bloom_expected_fp_ratio{repo=\"%s\"} %.6g\n",
		                      r->id, (unsigned long long)items, r->id,
		                      (unsigned long long)bytes, r->id, fp);
	}
	pthread_mutex_unlock(&rs->lock);
	return rc;
}

/* ---- freshness (freshness.c) ---- */

int srv_repos_freshness_metrics(srv_repos *rs, cairn_buf *out)
{
	int rc = srv_freshness_metrics_head(out);
	pthread_mutex_lock(&rs->lock);
	for (size_t i = 0; !rc && i < rs->n; i++) {
		srv_repo *r = rs->list[i];
		pthread_mutex_lock(&r->catalog_lock);
		rc = srv_freshness_metric(r->catalog, r->catalog_path, r->id, out);
		pthread_mutex_unlock(&r->catalog_lock);
	}
	pthread_mutex_unlock(&rs->lock);
	return rc;
}

int srv_repo_freshness(srv_repo *r, cairn_buf *json)
{
	pthread_mutex_lock(&r->catalog_lock);
	int rc = srv_freshness_json(r->catalog, r->catalog_path, r->id, json);
	pthread_mutex_unlock(&r->catalog_lock);
	return rc;
}

/* ---- check ---- */

static int check_db(const char *path, FILE *f)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	cairn_buf msg = CAIRN_BUF_INIT;
	int ok = 0, s;
	s = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (s == SQLITE_OK) {
		sqlite3_busy_timeout(db, 10000);
		s = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
	}
	while (s == SQLITE_OK && (s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(st, 0);
		if (line && strcmp(line, "ok") == 0 && msg.len == 0)
			ok = 1;
		else
			cairn_buf_printf(&msg, "%s%s", msg.len ? "; " : "", line ? line : "?");
		s = SQLITE_OK;
	}
	if (s != SQLITE_DONE) {
		ok = 0;
		cairn_buf_printf(&msg, "%s%s", msg.len ? "; " : "",
		                 db ? sqlite3_errmsg(db) : sqlite3_errstr(s));
	}
	if (msg.len)
		ok = 0;
	if (ok)
		fprintf(f, "ok    %s\n", path);
	else
		fprintf(f, "FAIL  %s: %s\n", path, msg.len ? (const char *)msg.data : "no result");
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	cairn_buf_free(&msg);
	return ok;
}

int srv_check_data(const char *data_dir, FILE *f)
{
	char path[4352];
	int all_ok = 1, checked = 0;
	snprintf(path, sizeof(path), "%s/tokens.db", data_dir);
	if (file_exists(path)) {
		all_ok &= check_db(path, f);
		checked++;
	}
	snprintf(path, sizeof(path), "%s/repos", data_dir);
	DIR *d = opendir(path);
	if (!d && errno != ENOENT)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot read %s", path);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (!srv_repo_id_valid(de->d_name))
			continue;
		char idx[4096];
		snprintf(idx, sizeof(idx), "%s/repos/%s/index", data_dir, de->d_name);
		for (unsigned k = 0; k < 256; k++) {
			snprintf(path, sizeof(path), "%s/shard-%02x.db", idx, k);
			if (!file_exists(path))
				break;
			all_ok &= check_db(path, f);
			checked++;
		}
		snprintf(path, sizeof(path), "%s/repos/%s/catalog.db", data_dir, de->d_name);
		if (file_exists(path)) {
			all_ok &= check_db(path, f);
			checked++;
		}
	}
	if (d)
		closedir(d);
	if (!checked)
		return cairn_error_set(CAIRN_ENOTFOUND, "no databases under %s", data_dir);
	return all_ok ? 0
	              : cairn_error_set(CAIRN_ECORRUPT, "a database under %s is damaged", data_dir);
}

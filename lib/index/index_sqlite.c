/* The embedded fingerprint index: SQLite databases, one per shard.
 *
 * A fingerprint's shard is given by the top bits of its first byte, so a
 * batch is split into per-shard runs and each run is one transaction. Each
 * shard has its own connection, prepared statements and mutex: threads
 * working on different shards never wait for each other, and several
 * processes may share the files (WAL mode, with a busy timeout).
 *
 * Shard files are "shard-XX.db" (two lowercase hex digits). Every shard
 * holds a blobs table; shard 0 also holds the ids of imported index
 * objects and a meta table recording the schema version and the number of
 * shards, so that a directory is never read with the wrong sharding. */
#include "cairn/sys/index.h"

#include "cairn/errors.h"
#include "util/parallel.h"
#include "util/path.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Version 2 added blobs.inner; an index of version 1 is brought up to it
 * when opened. */
#define SCHEMA_VERSION 2
/* Several processes (backups, a server) may use one cache directory. */
#define BUSY_TIMEOUT_MS 10000
/* The page cache is split over the shards, with a floor so that the
 * upper levels of each shard's B-tree stay in memory. */
#define CACHE_TOTAL_KIB (16 * 1024)
#define CACHE_MIN_KIB 1024
#define WAL_PAGES_DEFAULT 1000 /* SQLite's own default */
/* Threads that open or close shards: those steps wait on the disk. */
#define IO_THREADS 8

enum {
	ST_BEGIN,
	ST_BEGIN_WRITE,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_LOOKUP,
	ST_INSERT,
	ST_COUNT,
	ST_ANY,
	ST_CLEAR,
	ST_SHARD_COUNT, /* statements every shard has; those below are shard 0's */
	ST_OBJ_KNOWN = ST_SHARD_COUNT,
	ST_OBJ_ADD,
	ST_OBJ_CLEAR,
	ST_ALL_COUNT,
};

static const char *const stmt_sql[ST_ALL_COUNT] = {
    [ST_BEGIN] = "BEGIN",
    /* Writers take the write lock up front: upgrading a read transaction
     * fails at once with SQLITE_BUSY instead of waiting. */
    [ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_LOOKUP] = "SELECT pack, offset, length, raw_length, kind, inner FROM blobs "
                  "WHERE fp = ?1",
    [ST_INSERT] = "INSERT OR IGNORE INTO blobs (fp, pack, offset, length, raw_length, kind, "
                  "seen, inner) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_COUNT] = "SELECT count(*) FROM blobs",
    [ST_ANY] = "SELECT 1 FROM blobs LIMIT 1",
    [ST_CLEAR] = "DELETE FROM blobs",
    [ST_OBJ_KNOWN] = "SELECT 1 FROM objects WHERE id = ?1",
    [ST_OBJ_ADD] = "INSERT OR IGNORE INTO objects (id) VALUES (?1)",
    [ST_OBJ_CLEAR] = "DELETE FROM objects",
};

static const char schema_blobs[] = "CREATE TABLE IF NOT EXISTS blobs ("
                                   " fp BLOB PRIMARY KEY,"
                                   " pack BLOB NOT NULL,"
                                   " offset INTEGER NOT NULL,"
                                   " length INTEGER NOT NULL,"
                                   " raw_length INTEGER NOT NULL,"
                                   " kind INTEGER NOT NULL,"
                                   " seen INTEGER NOT NULL,"
                                   " inner INTEGER NOT NULL DEFAULT 0"
                                   ") WITHOUT ROWID";

static const char schema_shard0[] =
    "CREATE TABLE IF NOT EXISTS objects (id BLOB PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;";

typedef struct shard {
	pthread_mutex_t lock;
	int lock_ready;
	/* For lookup_dedup: 0 not known yet, 1 the shard held no fingerprint
	 * at the first one, 2 it did. Set once, under lock; read without it,
	 * so that a lookup that skips the shard does not wait for an insert. */
	_Atomic int empty_at_dedup;
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[ST_ALL_COUNT];
} shard;

typedef struct sqlite_index {
	cairn_index base;
	unsigned nshards;
	unsigned shift; /* shard = fp[0] >> shift */
	shard *shards;
	char *dir;
	uint64_t cache_kib; /* for all shards */
	unsigned wal_pages;
	int checkpoint_on_close;
} sqlite_index;

static int db_error(const shard *sh, int sqlite_rc, const char *what)
{
	int code = CAIRN_EIO;
	switch (sqlite_rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		code = CAIRN_ECORRUPT;
		break;
	case SQLITE_NOMEM:
		code = CAIRN_ENOMEM;
		break;
	}
	const char *msg = sh->db ? sqlite3_errmsg(sh->db) : sqlite3_errstr(sqlite_rc);
	return cairn_error_set(code, "index shard %s: %s: %s", sh->path, what, msg);
}

/* Runs a statement that returns no rows. */
static int run(shard *sh, int which, const char *what)
{
	sqlite3_stmt *st = sh->stmt[which];
	int r = sqlite3_step(st);
	int rc = r == SQLITE_DONE ? 0 : db_error(sh, r, what);
	sqlite3_reset(st);
	return rc;
}

static void rollback(shard *sh)
{
	if (!sqlite3_get_autocommit(sh->db)) {
		sqlite3_step(sh->stmt[ST_ROLLBACK]);
		sqlite3_reset(sh->stmt[ST_ROLLBACK]);
	}
}

static int run_sql(shard *sh, const char *sql, const char *what)
{
	int r = sqlite3_exec(sh->db, sql, NULL, NULL, NULL);
	return r == SQLITE_OK ? 0 : db_error(sh, r, what);
}

static unsigned shard_of(const sqlite_index *ix, const uint8_t *fp)
{
	return ix->shift >= 8 ? 0 : (unsigned)(fp[0] >> ix->shift);
}

struct sort_ctx {
	const uint8_t *base;
	size_t stride;
};

static _Thread_local struct sort_ctx sort_ctx;

static int by_fingerprint(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c =
	    memcmp(sort_ctx.base + i * sort_ctx.stride, sort_ctx.base + j * sort_ctx.stride, 32);
	return c ? c : (i > j) - (i < j);
}

/* Orders the n items of a batch (fingerprint i at base + i * stride) by
 * fingerprint, which groups them by shard: shard k's items are
 * order[start[k] .. start[k + 1]). In fingerprint order, consecutive
 * statements touch neighbouring pages of the shard's B-tree. Equal
 * fingerprints keep the batch's order, so the first one is inserted. */
static int group_by_shard(const sqlite_index *ix, const uint8_t *base, size_t stride, size_t n,
                          size_t **order_out, size_t start[257])
{
	memset(start, 0, 257 * sizeof(start[0]));
	*order_out = NULL;
	if (n > SIZE_MAX / sizeof(size_t))
		return cairn_error_set(CAIRN_ENOMEM, "index batch too large (%zu entries)", n);
	size_t *order = malloc((n ? n : 1) * sizeof(*order));
	if (!order)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory (index batch of %zu)", n);
	for (size_t i = 0; i < n; i++) {
		order[i] = i;
		start[shard_of(ix, base + i * stride) + 1]++;
	}
	for (unsigned k = 0; k < ix->nshards; k++)
		start[k + 1] += start[k];
	sort_ctx = (struct sort_ctx){base, stride};
	qsort(order, n, sizeof(*order), by_fingerprint);
	*order_out = order;
	return 0;
}

static int read_u32(sqlite3_stmt *st, int col, uint32_t *v)
{
	if (sqlite3_column_type(st, col) != SQLITE_INTEGER)
		return -1;
	sqlite3_int64 x = sqlite3_column_int64(st, col);
	if (x < 0 || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/* Whether the shard holds no fingerprint; in a transaction. */
static int shard_empty(shard *sh, int *empty)
{
	sqlite3_stmt *st = sh->stmt[ST_ANY];
	int r = sqlite3_step(st);
	sqlite3_reset(st);
	*empty = r == SQLITE_DONE;
	return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : db_error(sh, r, "cannot read");
}

/* Looks up fps[order[from .. to)]. With dedup set, a shard found empty at
 * the first such lookup is not asked again: what it holds since was
 * registered since. */
static int lookup_shard(shard *sh, const uint8_t (*fps)[32], const size_t *order, size_t from,
                        size_t to, cairn_index_entry *out, uint8_t *found, int dedup)
{
	sqlite3_stmt *st = sh->stmt[ST_LOOKUP];
	int rc = 0, empty;
	if (dedup && sh->empty_at_dedup == 1) {
		for (size_t k = from; k < to; k++)
			found[order[k]] = 0;
		return 0;
	}
	pthread_mutex_lock(&sh->lock);
	if ((rc = run(sh, ST_BEGIN, "cannot begin a lookup")))
		goto out;
	if (dedup && !sh->empty_at_dedup) {
		if ((rc = shard_empty(sh, &empty)))
			goto out;
		sh->empty_at_dedup = empty ? 1 : 2;
	}
	for (size_t k = from; k < to; k++) {
		size_t i = order[k];
		sqlite3_bind_blob(st, 1, fps[i], 32, SQLITE_STATIC);
		int r = sqlite3_step(st);
		if (r == SQLITE_DONE) {
			found[i] = 0;
		} else if (r == SQLITE_ROW) {
			cairn_index_entry *e = &out[i];
			uint32_t kind = 0;
			const void *pack = sqlite3_column_blob(st, 0);
			if (!pack || sqlite3_column_bytes(st, 0) != 32 ||
			    read_u32(st, 1, &e->offset) || read_u32(st, 2, &e->length) ||
			    read_u32(st, 3, &e->raw_length) || read_u32(st, 4, &kind) ||
			    kind > UINT8_MAX || read_u32(st, 5, &e->inner)) {
				sqlite3_reset(st);
				rc = cairn_error_set(CAIRN_ECORRUPT,
				                     "index shard %s: malformed entry", sh->path);
				goto out;
			}
			memcpy(e->fp, fps[i], 32);
			memcpy(e->pack, pack, 32);
			e->kind = (uint8_t)kind;
			found[i] = 1;
		} else {
			rc = db_error(sh, r, "lookup failed");
			sqlite3_reset(st);
			goto out;
		}
		sqlite3_reset(st);
	}
	rc = run(sh, ST_COMMIT, "cannot end a lookup");
out:
	if (rc)
		rollback(sh);
	sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&sh->lock);
	return rc;
}

static int lookup_batch(sqlite_index *ix, const uint8_t (*fps)[32], size_t n,
                        cairn_index_entry *out, uint8_t *found, int dedup)
{
	if (n == 0)
		return 0;
	size_t *order, start[257];
	int rc = group_by_shard(ix, fps[0], 32, n, &order, start);
	if (rc)
		return rc;
	for (unsigned k = 0; k < ix->nshards && !rc; k++)
		if (start[k] < start[k + 1])
			rc = lookup_shard(&ix->shards[k], fps, order, start[k], start[k + 1], out,
			                  found, dedup);
	free(order);
	return rc;
}

static int sqlite_lookup(cairn_index *base, const uint8_t (*fps)[32], size_t n,
                         cairn_index_entry *out, uint8_t *found)
{
	return lookup_batch((sqlite_index *)base, fps, n, out, found, 0);
}

static int sqlite_lookup_dedup(cairn_index *base, const uint8_t (*fps)[32], size_t n,
                               cairn_index_entry *out, uint8_t *found)
{
	return lookup_batch((sqlite_index *)base, fps, n, out, found, 1);
}

static int insert_shard(shard *sh, const cairn_index_entry *entries, const size_t *order,
                        size_t from, size_t to, sqlite3_int64 now)
{
	sqlite3_stmt *st = sh->stmt[ST_INSERT];
	pthread_mutex_lock(&sh->lock);
	int rc = run(sh, ST_BEGIN_WRITE, "cannot begin an insert");
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 7, now);
	for (size_t k = from; k < to; k++) {
		const cairn_index_entry *e = &entries[order[k]];
		sqlite3_bind_blob(st, 1, e->fp, 32, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, e->pack, 32, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, e->offset);
		sqlite3_bind_int64(st, 4, e->length);
		sqlite3_bind_int64(st, 5, e->raw_length);
		sqlite3_bind_int(st, 6, e->kind);
		sqlite3_bind_int64(st, 8, e->inner);
		rc = run(sh, ST_INSERT, "insert failed");
		if (rc)
			goto out;
	}
	rc = run(sh, ST_COMMIT, "cannot commit an insert");
out:
	if (rc)
		rollback(sh);
	/* The bound pointers are the caller's: do not keep them. */
	sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&sh->lock);
	return rc;
}

struct insert_run {
	sqlite_index *ix;
	const cairn_index_entry *entries;
	const size_t *order, *start;
	unsigned shards[256]; /* those with entries in the batch */
	sqlite3_int64 now;
};

static int insert_shard_at(void *ud, size_t i)
{
	struct insert_run *r = ud;
	unsigned k = r->shards[i];
	return insert_shard(&r->ix->shards[k], r->entries, r->order, r->start[k], r->start[k + 1],
	                    r->now);
}

/* Each shard's transaction is its own, so the shards of a large batch
 * are filled side by side, one thread per core: a backup's last batch
 * does not keep one core busy while the other waits. A small batch is
 * not worth the threads, and the server's requests run side by side
 * already. */
#define PARALLEL_INSERT_MIN 4096

static int sqlite_insert(cairn_index *base, const cairn_index_entry *entries, size_t n)
{
	sqlite_index *ix = (sqlite_index *)base;
	if (n == 0)
		return 0;
	size_t *order, start[257];
	int rc = group_by_shard(ix, entries[0].fp, sizeof(entries[0]), n, &order, start);
	if (rc)
		return rc;
	struct insert_run r = {.ix = ix,
	                       .entries = entries,
	                       .order = order,
	                       .start = start,
	                       .now = (sqlite3_int64)time(NULL)};
	size_t busy = 0;
	for (unsigned k = 0; k < ix->nshards; k++)
		if (start[k] < start[k + 1])
			r.shards[busy++] = k;
	long ncpu = n >= PARALLEL_INSERT_MIN ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
	rc = cairn_parallel_for(busy, ncpu > 1 ? (unsigned)ncpu : 1, insert_shard_at, &r);
	free(order);
	return rc;
}

static int sqlite_object_known(cairn_index *base, const uint8_t id[32], int *known_out)
{
	sqlite_index *ix = (sqlite_index *)base;
	shard *sh = &ix->shards[0];
	sqlite3_stmt *st = sh->stmt[ST_OBJ_KNOWN];
	int rc = 0;
	pthread_mutex_lock(&sh->lock);
	sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW || r == SQLITE_DONE)
		*known_out = r == SQLITE_ROW;
	else
		rc = db_error(sh, r, "cannot look up an index object");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&sh->lock);
	return rc;
}

static int sqlite_object_add(cairn_index *base, const uint8_t id[32])
{
	sqlite_index *ix = (sqlite_index *)base;
	shard *sh = &ix->shards[0];
	sqlite3_stmt *st = sh->stmt[ST_OBJ_ADD];
	pthread_mutex_lock(&sh->lock);
	sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
	int rc = run(sh, ST_OBJ_ADD, "cannot record an index object");
	sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&sh->lock);
	return rc;
}

static int sqlite_count(cairn_index *base, uint64_t *count_out)
{
	sqlite_index *ix = (sqlite_index *)base;
	uint64_t total = 0;
	for (unsigned k = 0; k < ix->nshards; k++) {
		shard *sh = &ix->shards[k];
		sqlite3_stmt *st = sh->stmt[ST_COUNT];
		int rc = 0;
		pthread_mutex_lock(&sh->lock);
		int r = sqlite3_step(st);
		if (r == SQLITE_ROW)
			total += (uint64_t)sqlite3_column_int64(st, 0);
		else
			rc = db_error(sh, r, "cannot count entries");
		sqlite3_reset(st);
		pthread_mutex_unlock(&sh->lock);
		if (rc)
			return rc;
	}
	*count_out = total;
	return 0;
}

static int sqlite_clear(cairn_index *base)
{
	sqlite_index *ix = (sqlite_index *)base;
	for (unsigned k = 0; k < ix->nshards; k++) {
		shard *sh = &ix->shards[k];
		pthread_mutex_lock(&sh->lock);
		int rc = run(sh, ST_BEGIN_WRITE, "cannot begin clearing");
		if (!rc)
			rc = run(sh, ST_CLEAR, "cannot clear");
		if (!rc && k == 0)
			rc = run(sh, ST_OBJ_CLEAR, "cannot clear");
		if (!rc)
			rc = run(sh, ST_COMMIT, "cannot commit clearing");
		if (rc)
			rollback(sh);
		pthread_mutex_unlock(&sh->lock);
		if (rc)
			return rc;
	}
	return 0;
}

static void close_shard(shard *sh)
{
	for (int i = 0; i < ST_ALL_COUNT; i++)
		sqlite3_finalize(sh->stmt[i]);
	sqlite3_close_v2(sh->db);
	if (sh->lock_ready)
		pthread_mutex_destroy(&sh->lock);
	free(sh->path);
}

static int close_shard_at(void *ud, size_t k)
{
	close_shard(&((sqlite_index *)ud)->shards[k]);
	return 0;
}

static void sqlite_free(cairn_index *base)
{
	sqlite_index *ix = (sqlite_index *)base;
	/* A close that checkpoints the shard's log syncs twice. */
	if (ix->shards)
		(void)cairn_parallel_for(ix->nshards, IO_THREADS, close_shard_at, ix);
	free(ix->shards);
	free(ix->dir);
	free(ix);
}

static const struct cairn_index_ops sqlite_ops = {
    .version = CAIRN_INDEX_OPS_VERSION,
    .name = "sqlite",
    .lookup = sqlite_lookup,
    .lookup_dedup = sqlite_lookup_dedup,
    .insert = sqlite_insert,
    .object_known = sqlite_object_known,
    .object_add = sqlite_object_add,
    .count = sqlite_count,
    .clear = sqlite_clear,
    .free = sqlite_free,
};

/* Records key = value in shard 0's meta table if absent, then checks that
 * the recorded value is value. */
static int check_meta(sqlite_index *ix, const char *key, sqlite3_int64 value, int mismatch_code,
                      const char *what)
{
	shard *sh = &ix->shards[0];
	sqlite3_stmt *ins = NULL, *sel = NULL;
	int rc = 0, r;
	r = sqlite3_prepare_v2(sh->db, "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
	                       -1, &ins, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_prepare_v2(sh->db, "SELECT value FROM meta WHERE key = ?1", -1, &sel,
		                       NULL);
	if (r != SQLITE_OK) {
		rc = db_error(sh, r, "cannot read meta");
		goto out;
	}
	sqlite3_bind_text(ins, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 2, value);
	r = sqlite3_step(ins);
	if (r != SQLITE_DONE) {
		rc = db_error(sh, r, "cannot write meta");
		goto out;
	}
	sqlite3_bind_text(sel, 1, key, -1, SQLITE_STATIC);
	r = sqlite3_step(sel);
	if (r != SQLITE_ROW) {
		rc = r == SQLITE_DONE
		         ? cairn_error_set(CAIRN_ECORRUPT, "index shard %s: no %s", sh->path, key)
		         : db_error(sh, r, "cannot read meta");
		goto out;
	}
	if (sqlite3_column_type(sel, 0) != SQLITE_INTEGER) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "index shard %s: %s is not a number", sh->path,
		                     key);
		goto out;
	}
	sqlite3_int64 got = sqlite3_column_int64(sel, 0);
	if (got != value)
		rc = cairn_error_set(mismatch_code, "index %s has %s %lld, not %lld", ix->dir, what,
		                     (long long)got, (long long)value);
out:
	sqlite3_finalize(ins);
	sqlite3_finalize(sel);
	return rc;
}

/* Adds blobs.inner to a shard made by schema version 1. Under the
 * caller's write transaction. */
static int add_inner_column(shard *sh)
{
	sqlite3_stmt *st = NULL;
	int r = sqlite3_prepare_v2(
	    sh->db, "SELECT 1 FROM pragma_table_info('blobs') WHERE name = 'inner'", -1, &st, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r == SQLITE_ROW)
		return 0;
	if (r != SQLITE_DONE)
		return db_error(sh, r, "cannot read the schema");
	return run_sql(sh, "ALTER TABLE blobs ADD COLUMN inner INTEGER NOT NULL DEFAULT 0",
	               "cannot upgrade the schema");
}

static int open_shard(void *ud, size_t k)
{
	sqlite_index *ix = ud;
	shard *sh = &ix->shards[k];
	size_t n = strlen(ix->dir) + sizeof("/shard-xx.db");
	sh->path = malloc(n);
	if (!sh->path)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	snprintf(sh->path, n, "%s/shard-%02x.db", ix->dir, (unsigned)k);
	if (pthread_mutex_init(&sh->lock, NULL) != 0)
		return cairn_error_set(CAIRN_ERROR, "cannot create a mutex for %s", sh->path);
	sh->lock_ready = 1;

	/* The shard's own mutex serialises every use of the connection. */
	int r =
	    sqlite3_open_v2(sh->path, &sh->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (r != SQLITE_OK)
		return db_error(sh, r, "cannot open");
	sqlite3_extended_result_codes(sh->db, 1);
	sqlite3_busy_timeout(sh->db, BUSY_TIMEOUT_MS);
	/* What the log holds is as durable as the database: a later open
	 * reads it, a later write transaction checkpoints it. */
	if (!ix->checkpoint_on_close)
		sqlite3_db_config(sh->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);

	char pragmas[200];
	uint64_t cache_kib = ix->cache_kib / ix->nshards;
	if (cache_kib < CACHE_MIN_KIB)
		cache_kib = CACHE_MIN_KIB;
	snprintf(pragmas, sizeof(pragmas),
	         "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-%llu; "
	         "PRAGMA wal_autocheckpoint=%u;",
	         (unsigned long long)cache_kib, ix->wal_pages);
	int rc = run_sql(sh, pragmas, "cannot configure");
	if (rc)
		return rc;

	/* In one write transaction, so that processes opening a new index at
	 * the same time do not trip over each other's half-made schema. */
	rc = run_sql(sh, "BEGIN IMMEDIATE", "cannot create tables");
	if (!rc)
		rc = run_sql(sh, schema_blobs, "cannot create tables");
	if (!rc)
		rc = add_inner_column(sh);
	if (!rc && k == 0)
		rc = run_sql(sh, schema_shard0, "cannot create tables");
	if (!rc && k == 0)
		rc = run_sql(sh,
		             "UPDATE meta SET value = 2 WHERE key = 'schema_version' AND value = 1",
		             "cannot upgrade the schema");
	if (!rc && k == 0)
		rc =
		    check_meta(ix, "schema_version", SCHEMA_VERSION, CAIRN_ERROR, "schema version");
	if (!rc && k == 0)
		rc = check_meta(ix, "shards", ix->nshards, CAIRN_EINVAL, "shard count");
	if (!rc)
		rc = run_sql(sh, "COMMIT", "cannot create tables");
	if (rc) {
		sqlite3_exec(sh->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}

	int nstmt = k == 0 ? ST_ALL_COUNT : ST_SHARD_COUNT;
	for (int i = 0; i < nstmt; i++) {
		r = sqlite3_prepare_v3(sh->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                       &sh->stmt[i], NULL);
		if (r != SQLITE_OK)
			return db_error(sh, r, "cannot prepare a statement");
	}
	return 0;
}

static int open_other_shard(void *ud, size_t k)
{
	return open_shard(ud, k + 1);
}

int cairn_index_sqlite_open(cairn_index **out, const char *dir, unsigned nshards)
{
	return cairn_index_sqlite_open_ex(out, dir, nshards, NULL);
}

int cairn_index_sqlite_tune_process(void)
{
	if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
		return cairn_error_set(CAIRN_ERROR, "SQLite is in use already: it cannot be tuned");
	return 0;
}

int cairn_index_sqlite_open_ex(cairn_index **out, const char *dir, unsigned nshards,
                               const cairn_index_sqlite_opts *opts)
{
	*out = NULL;
	if (nshards < 1 || nshards > 256 || (nshards & (nshards - 1)))
		return cairn_error_set(CAIRN_EINVAL,
		                       "index shard count %u is not a power of two from 1 to 256",
		                       nshards);
	if (!dir || !dir[0])
		return cairn_error_set(CAIRN_EINVAL, "empty index directory");
	if (!sqlite3_threadsafe())
		return cairn_error_set(CAIRN_ERROR, "SQLite was built without thread support");

	int rc = 0;
	sqlite_index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	ix->base.ops = &sqlite_ops;
	ix->nshards = nshards;
	ix->cache_kib =
	    opts && opts->cache_mib ? (uint64_t)opts->cache_mib * 1024 : CACHE_TOTAL_KIB;
	ix->wal_pages = opts && opts->wal_pages ? opts->wal_pages : WAL_PAGES_DEFAULT;
	ix->checkpoint_on_close = opts && opts->checkpoint_on_close;
	ix->shift = 8;
	for (unsigned m = nshards; m > 1; m >>= 1)
		ix->shift--;
	ix->dir = strdup(dir);
	ix->shards = calloc(nshards, sizeof(*ix->shards));
	if (!ix->dir || !ix->shards) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	size_t n = strlen(ix->dir);
	while (n > 1 && ix->dir[n - 1] == '/')
		ix->dir[--n] = '\0';
	rc = cairn_mkdir_p(ix->dir, 0755);
	if (rc)
		goto out;
	/* Shard 0 first: it says whether the index is the one expected
	 * (schema, shard count), before the others are made. Creating a
	 * shard waits on the disk several times: the others side by side. */
	rc = open_shard(ix, 0);
	if (!rc)
		rc = cairn_parallel_for(nshards - 1, IO_THREADS, open_other_shard, ix);
	if (rc)
		goto out;
	*out = &ix->base;
	return 0;

out:
	sqlite_free(&ix->base);
	return rc;
}

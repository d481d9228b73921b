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
 * shards, so that a directory is never read with the wrong sharding.
 *
 * A chunk may be stored in several packs (two backups raced on it): blobs
 * has one row per (fingerprint, pack), and a lookup answers with the row
 * of the lowest pack id (memcmp order, the primary key's), so that every
 * lookup of a fingerprint gives the same location. A row a client found
 * false (reject: its pack does not hold the blob there) is marked bad and
 * offered only when the fingerprint has no other. */
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

/* Version 2 added blobs.inner, version 3 made the primary key (fp, pack)
 * instead of fp, version 4 added blobs.bad; an older index is brought up
 * to date when opened (upgrade_blobs). */
#define SCHEMA_VERSION 4
/* Several processes (backups, a server) may use one cache directory. */
#define BUSY_TIMEOUT_MS 10000
/* The page cache is split over the shards, with a floor so that the
 * upper levels of each shard's B-tree stay in memory. */
#define CACHE_TOTAL_KIB (16 * 1024)
#define CACHE_MIN_KIB 1024
#define WAL_PAGES_DEFAULT 1000 /* SQLite's own default */
/* Threads that open or close shards: those steps wait on the disk. */
#define IO_THREADS 8
/* Rows of one fingerprint a lookup reads at most, looking for one not
 * bad: more than a race of clients ever leaves. */
#define ROWS_READ_MAX "64"

enum {
	ST_BEGIN,
	ST_BEGIN_WRITE,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_LOOKUP,
	ST_REJECT,
	ST_INSERT,
	ST_COUNT,
	ST_ANY,
	ST_CLEAR,
	ST_SCAN_FIRST,
	ST_SCAN_AFTER,
	ST_DROP,
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
    /* Bad rows are passed over in C (take_rows), not by ORDER BY: that
     * would sort every lookup's rows in a temporary B-tree. */
    [ST_LOOKUP] = "SELECT pack, offset, length, raw_length, kind, inner, bad FROM blobs "
                  "WHERE fp = ?1 ORDER BY pack LIMIT " ROWS_READ_MAX,
    [ST_REJECT] = "UPDATE blobs SET bad = 1 WHERE fp = ?1 AND pack = ?2",
    [ST_INSERT] = "INSERT OR IGNORE INTO blobs (fp, pack, offset, length, raw_length, kind, "
                  "seen, inner) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_COUNT] = "SELECT count(*) FROM blobs",
    [ST_ANY] = "SELECT 1 FROM blobs LIMIT 1",
    [ST_CLEAR] = "DELETE FROM blobs",
    /* The columns of ST_LOOKUP, then fp: read_row() reads either. */
    [ST_SCAN_FIRST] = "SELECT pack, offset, length, raw_length, kind, inner, fp FROM blobs "
                      "ORDER BY fp, pack LIMIT ?1",
    [ST_SCAN_AFTER] = "SELECT pack, offset, length, raw_length, kind, inner, fp FROM blobs "
                      "WHERE (fp, pack) > (?2, ?3) ORDER BY fp, pack LIMIT ?1",
    /* One pass over the shard, whatever the number of packs. */
    [ST_DROP] = "DELETE FROM blobs WHERE cairn_dropped(pack)",
    [ST_OBJ_KNOWN] = "SELECT 1 FROM objects WHERE id = ?1",
    [ST_OBJ_ADD] = "INSERT OR IGNORE INTO objects (id) VALUES (?1)",
    [ST_OBJ_CLEAR] = "DELETE FROM objects",
};

/* The blobs table of schema 4, for a new shard and for an upgrade. */
#define BLOBS_COLUMNS                                                                              \
	"(fp BLOB NOT NULL, pack BLOB NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL," \
	" raw_length INTEGER NOT NULL, kind INTEGER NOT NULL, seen INTEGER NOT NULL,"              \
	" inner INTEGER NOT NULL DEFAULT 0, bad INTEGER NOT NULL DEFAULT 0,"                       \
	" PRIMARY KEY (fp, pack)) WITHOUT ROWID"

static const char schema_blobs[] = "CREATE TABLE IF NOT EXISTS blobs " BLOBS_COLUMNS;

static const char upgrade_to_v3[] =
    "CREATE TABLE blobs_v3 " BLOBS_COLUMNS ";"
    "INSERT INTO blobs_v3 (fp, pack, offset, length, raw_length, kind, seen, inner)"
    " SELECT fp, pack, offset, length, raw_length, kind, seen, inner FROM blobs;"
    "DROP TABLE blobs;"
    "ALTER TABLE blobs_v3 RENAME TO blobs";

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
	/* The sorted packs of the drop_packs call under way, for the SQL
	 * function cairn_dropped(); under lock. */
	const uint8_t (*dropping)[32];
	size_t n_dropping;
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
	sqlite3_int64 schema_found; /* shard 0's schema version when opened */
	uint64_t cache_kib;         /* for all shards */
	unsigned wal_pages;
	int checkpoint_on_close;
	int durable;
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

/* Ends the transaction a shard's caller began under its lock: commits it
 * if rc is 0, else rolls it back; forgets st's bindings (pointers into
 * the caller's memory) and releases the shard. */
static int end_transaction(shard *sh, sqlite3_stmt *st, int rc, const char *what)
{
	if (!rc)
		rc = run(sh, ST_COMMIT, what);
	if (rc)
		rollback(sh);
	if (st)
		sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&sh->lock);
	return rc;
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
 * fingerprints keep the batch's order, so of two equal rows the first
 * one is inserted. */
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

/* Reads a row's location (pack, offset, length, raw_length, kind, inner:
 * columns 0 to 5) into e. */
static int read_row(const shard *sh, sqlite3_stmt *st, cairn_index_entry *e)
{
	uint32_t kind = 0;
	const void *pack = sqlite3_column_blob(st, 0);
	if (!pack || sqlite3_column_bytes(st, 0) != 32 || read_u32(st, 1, &e->offset) ||
	    read_u32(st, 2, &e->length) || read_u32(st, 3, &e->raw_length) ||
	    read_u32(st, 4, &kind) || kind > UINT8_MAX || read_u32(st, 5, &e->inner))
		return cairn_error_set(CAIRN_ECORRUPT, "index shard %s: malformed entry", sh->path);
	memcpy(e->pack, pack, 32);
	e->kind = (uint8_t)kind;
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

/* Reads the rows of the fingerprint bound to st (ST_LOOKUP) into out: up
 * to max, those never rejected first, in pack order; *count_out of them. */
static int take_rows(const shard *sh, sqlite3_stmt *st, cairn_index_entry *out, size_t max,
                     size_t *count_out)
{
	cairn_index_entry bad[CAIRN_INDEX_ROWS_MAX];
	size_t good = 0, n_bad = 0;
	int r, rc = 0;
	while (good < max && (r = sqlite3_step(st)) == SQLITE_ROW) {
		int is_bad = sqlite3_column_int(st, 6) != 0;
		cairn_index_entry *e = is_bad ? (n_bad < max ? &bad[n_bad] : NULL) : &out[good];
		if (!e)
			continue;
		if ((rc = read_row(sh, st, e)))
			break;
		is_bad ? n_bad++ : good++;
	}
	if (!rc && good < max && r != SQLITE_DONE)
		rc = db_error(sh, r, "lookup failed");
	sqlite3_reset(st);
	for (size_t k = 0; k < n_bad && good < max; k++)
		out[good++] = bad[k];
	*count_out = good;
	return rc;
}

/* Looks up fps[order[from .. to)]: up to max rows of fingerprint i into
 * out[i * max ...], counts[i] of them. With dedup set, a shard found empty
 * at the first such lookup is not asked again: what it holds since was
 * registered since. */
static int lookup_shard(shard *sh, const uint8_t (*fps)[32], const size_t *order, size_t from,
                        size_t to, cairn_index_entry *out, uint8_t *counts, size_t max, int dedup)
{
	sqlite3_stmt *st = sh->stmt[ST_LOOKUP];
	int rc = 0, empty;
	if (dedup && sh->empty_at_dedup == 1) {
		for (size_t k = from; k < to; k++)
			counts[order[k]] = 0;
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
	for (size_t k = from; k < to && !rc; k++) {
		size_t i = order[k], n = 0;
		sqlite3_bind_blob(st, 1, fps[i], 32, SQLITE_STATIC);
		rc = take_rows(sh, st, &out[i * max], max, &n);
		for (size_t j = 0; j < n; j++)
			memcpy(out[i * max + j].fp, fps[i], 32);
		counts[i] = (uint8_t)n;
	}
out:
	return end_transaction(sh, st, rc, "cannot end a lookup");
}

static int lookup_batch(sqlite_index *ix, const uint8_t (*fps)[32], size_t n,
                        cairn_index_entry *out, uint8_t *counts, size_t max, int dedup)
{
	if (n == 0)
		return 0;
	if (max < 1 || max > CAIRN_INDEX_ROWS_MAX)
		return cairn_error_set(CAIRN_EINVAL, "index rows: %zu rows asked of each", max);
	size_t *order, start[257];
	int rc = group_by_shard(ix, fps[0], 32, n, &order, start);
	if (rc)
		return rc;
	for (unsigned k = 0; k < ix->nshards && !rc; k++)
		if (start[k] < start[k + 1])
			rc = lookup_shard(&ix->shards[k], fps, order, start[k], start[k + 1], out,
			                  counts, max, dedup);
	free(order);
	return rc;
}

static int sqlite_lookup(cairn_index *base, const uint8_t (*fps)[32], size_t n,
                         cairn_index_entry *out, uint8_t *found)
{
	return lookup_batch((sqlite_index *)base, fps, n, out, found, 1, 0);
}

static int sqlite_rows(cairn_index *base, const uint8_t (*fps)[32], size_t n, size_t max,
                       cairn_index_entry *out, uint8_t *counts)
{
	return lookup_batch((sqlite_index *)base, fps, n, out, counts, max, 0);
}

static int sqlite_lookup_dedup(cairn_index *base, const uint8_t (*fps)[32], size_t n,
                               cairn_index_entry *out, uint8_t *found)
{
	return lookup_batch((sqlite_index *)base, fps, n, out, found, 1, 1);
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
	/* lookup_dedup asks this shard again: what this handle registers
	 * must be found (a backup's own chunks, past its dedup set). */
	if (sh->empty_at_dedup == 1)
		sh->empty_at_dedup = 2;
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
out:
	return end_transaction(sh, st, rc, "cannot commit an insert");
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

static int reject_shard(shard *sh, const cairn_index_entry *rows, const size_t *order, size_t from,
                        size_t to)
{
	sqlite3_stmt *st = sh->stmt[ST_REJECT];
	pthread_mutex_lock(&sh->lock);
	int rc = run(sh, ST_BEGIN_WRITE, "cannot begin a rejection");
	for (size_t k = from; k < to && !rc; k++) {
		sqlite3_bind_blob(st, 1, rows[order[k]].fp, 32, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, rows[order[k]].pack, 32, SQLITE_STATIC);
		rc = run(sh, ST_REJECT, "rejection failed");
	}
	return end_transaction(sh, st, rc, "cannot commit a rejection");
}

static int sqlite_reject(cairn_index *base, const cairn_index_entry *rows, size_t n)
{
	sqlite_index *ix = (sqlite_index *)base;
	if (n == 0)
		return 0;
	size_t *order, start[257];
	int rc = group_by_shard(ix, rows[0].fp, sizeof(rows[0]), n, &order, start);
	for (unsigned k = 0; k < ix->nshards && !rc; k++)
		if (start[k] < start[k + 1])
			rc = reject_shard(&ix->shards[k], rows, order, start[k], start[k + 1]);
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
		if ((rc = end_transaction(sh, NULL, rc, "cannot commit clearing")))
			return rc;
	}
	return 0;
}

/* Up to max rows of one shard in (fp, pack) order, those after the
 * cursor or, without one, from its first; one read transaction. */
static int scan_shard(shard *sh, const cairn_index_entry *after, cairn_index_entry *out, size_t max,
                      size_t *n_out)
{
	sqlite3_stmt *st = sh->stmt[after ? ST_SCAN_AFTER : ST_SCAN_FIRST];
	size_t n = 0;
	int r = SQLITE_DONE;
	pthread_mutex_lock(&sh->lock);
	int rc = run(sh, ST_BEGIN, "cannot begin a scan");
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, max < INT64_MAX ? (sqlite3_int64)max : INT64_MAX);
	if (after) {
		sqlite3_bind_blob(st, 2, after->fp, 32, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, after->pack, 32, SQLITE_STATIC);
	}
	while (n < max && (r = sqlite3_step(st)) == SQLITE_ROW) {
		const void *fp = sqlite3_column_blob(st, 6);
		if ((rc = read_row(sh, st, &out[n])))
			break;
		if (!fp || sqlite3_column_bytes(st, 6) != 32) {
			rc = cairn_error_set(CAIRN_ECORRUPT, "index shard %s: malformed entry",
			                     sh->path);
			break;
		}
		memcpy(out[n++].fp, fp, 32);
	}
	if (!rc && r != SQLITE_ROW && r != SQLITE_DONE)
		rc = db_error(sh, r, "scan failed");
	sqlite3_reset(st);
out:
	rc = end_transaction(sh, st, rc, "cannot end a scan");
	*n_out = rc ? 0 : n;
	return rc;
}

/* The shards in order: the shard is the fingerprint's top bits, so
 * shard order is fingerprint order. */
static int sqlite_scan(cairn_index *base, const cairn_index_entry *after, cairn_index_entry *out,
                       size_t max, size_t *n_out)
{
	sqlite_index *ix = (sqlite_index *)base;
	size_t n = 0;
	int rc = 0;
	*n_out = 0;
	for (unsigned k = after ? shard_of(ix, after->fp) : 0; k < ix->nshards && n < max; k++) {
		size_t got;
		if ((rc = scan_shard(&ix->shards[k], after, out + n, max - n, &got)))
			return rc;
		after = NULL; /* the next shards from their first row */
		n += got;
	}
	*n_out = n;
	return 0;
}

static int by_pack(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* cairn_dropped(pack): whether pack is one of the drop_packs call's. */
static void dropped_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const shard *sh = sqlite3_user_data(ctx);
	const void *pack = sqlite3_value_blob(argv[0]);
	int hit = pack && sqlite3_value_bytes(argv[0]) == 32 &&
	          bsearch(pack, sh->dropping, sh->n_dropping, 32, by_pack) != NULL;
	sqlite3_result_int(ctx, hit);
}

struct drop_run {
	sqlite_index *ix;
	const uint8_t (*packs)[32]; /* sorted */
	size_t n;
};

static int drop_shard_at(void *ud, size_t k)
{
	struct drop_run *d = ud;
	shard *sh = &d->ix->shards[k];
	pthread_mutex_lock(&sh->lock);
	sh->dropping = d->packs;
	sh->n_dropping = d->n;
	int rc = run(sh, ST_BEGIN_WRITE, "cannot begin dropping packs");
	if (!rc)
		rc = run(sh, ST_DROP, "cannot drop packs");
	sh->dropping = NULL;
	sh->n_dropping = 0;
	return end_transaction(sh, NULL, rc, "cannot commit dropping packs");
}

/* Every shard is read whole, one transaction each, side by side. */
static int sqlite_drop_packs(cairn_index *base, const uint8_t (*packs)[32], size_t n)
{
	sqlite_index *ix = (sqlite_index *)base;
	if (n == 0)
		return 0;
	if (n > SIZE_MAX / 32)
		return cairn_error_set(CAIRN_ENOMEM, "too many packs to drop (%zu)", n);
	uint8_t(*sorted)[32] = malloc(n * 32);
	if (!sorted)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory (%zu packs to drop)", n);
	memcpy(sorted, packs, n * 32);
	qsort(sorted, n, 32, by_pack);
	struct drop_run d = {ix, (const uint8_t(*)[32])sorted, n};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int rc = cairn_parallel_for(ix->nshards, ncpu > 1 ? (unsigned)ncpu : 1, drop_shard_at, &d);
	free(sorted);
	return rc;
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
    .scan = sqlite_scan,
    .drop_packs = sqlite_drop_packs,
    .rows = sqlite_rows,
    .reject = sqlite_reject,
    .object_known = sqlite_object_known,
    .object_add = sqlite_object_add,
    .count = sqlite_count,
    .clear = sqlite_clear,
    .free = sqlite_free,
};

/* The value of key in shard 0's meta table, recording value first if the
 * key is absent. */
static int read_meta(sqlite_index *ix, const char *key, sqlite3_int64 value, sqlite3_int64 *got)
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
	*got = sqlite3_column_int64(sel, 0);
out:
	sqlite3_finalize(ins);
	sqlite3_finalize(sel);
	return rc;
}

/* Shard 0's meta: a schema this code reads (an older one is brought up to
 * date as the shards are opened), and the shard count asked for. */
static int check_meta(sqlite_index *ix)
{
	sqlite3_int64 v;
	int rc = read_meta(ix, "schema_version", SCHEMA_VERSION, &v);
	if (rc)
		return rc;
	if (v > SCHEMA_VERSION)
		return cairn_error_set(CAIRN_ERROR,
		                       "index %s has schema version %lld, newer than this "
		                       "cairn's %d: upgrade cairn",
		                       ix->dir, (long long)v, SCHEMA_VERSION);
	if (v < 1)
		return cairn_error_set(CAIRN_ECORRUPT, "index %s has schema version %lld", ix->dir,
		                       (long long)v);
	ix->schema_found = v;
	if ((rc = read_meta(ix, "shards", ix->nshards, &v)))
		return rc;
	if (v != ix->nshards)
		return cairn_error_set(CAIRN_EINVAL, "index %s has shard count %lld, not %u",
		                       ix->dir, (long long)v, ix->nshards);
	return 0;
}

/* The number a query of the shard's schema answers; under the caller's
 * transaction. */
static int schema_count(shard *sh, const char *sql, int *out)
{
	sqlite3_stmt *st = NULL;
	int r = sqlite3_prepare_v2(sh->db, sql, -1, &st, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_step(st);
	*out = r == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	int rc = r == SQLITE_ROW ? 0 : db_error(sh, r, "cannot read the schema");
	sqlite3_finalize(st);
	return rc;
}

/* Brings a shard's blobs table made by schema 1 (no inner) or 2 (primary
 * key fp) to schema 3 (primary key fp, pack): the column added if it
 * lacks it (0, right for the entries version 1 knew), then a new table,
 * the rows copied, the old one dropped and the new one renamed; then to
 * schema 4 (the column bad, 0 for every row). All under the
 * caller's write transaction. Each shard is judged by its own table, so
 * that an upgrade cut short leaves only the shards not yet done to do. */
static int upgrade_blobs(shard *sh)
{
	int keys, has_inner = 1, has_bad;
	int rc =
	    schema_count(sh, "SELECT count(*) FROM pragma_table_info('blobs') WHERE pk > 0", &keys);
	if (!rc && keys != 2)
		rc = schema_count(
		    sh, "SELECT count(*) FROM pragma_table_info('blobs') WHERE name = 'inner'",
		    &has_inner);
	if (!rc && !has_inner)
		rc = run_sql(sh, "ALTER TABLE blobs ADD COLUMN inner INTEGER NOT NULL DEFAULT 0",
		             "cannot upgrade the schema");
	if (!rc && keys != 2)
		rc = run_sql(sh, upgrade_to_v3, "cannot upgrade the schema");
	if (!rc)
		rc = schema_count(
		    sh, "SELECT count(*) FROM pragma_table_info('blobs') WHERE name = 'bad'",
		    &has_bad);
	if (!rc && !has_bad)
		rc = run_sql(sh, "ALTER TABLE blobs ADD COLUMN bad INTEGER NOT NULL DEFAULT 0",
		             "cannot upgrade the schema");
	return rc;
}

/* Opens shard k's connection and configures it. */
static int connect_shard(sqlite_index *ix, shard *sh, size_t k)
{
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
	r = sqlite3_create_function_v2(sh->db, "cairn_dropped", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY,
	                               sh, dropped_fn, NULL, NULL, NULL);
	if (r != SQLITE_OK)
		return db_error(sh, r, "cannot configure");

	char pragmas[200];
	uint64_t cache_kib = ix->cache_kib / ix->nshards;
	if (cache_kib < CACHE_MIN_KIB)
		cache_kib = CACHE_MIN_KIB;
	snprintf(pragmas, sizeof(pragmas),
	         "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA cache_size=-%llu; "
	         "PRAGMA wal_autocheckpoint=%u;",
	         ix->durable ? "FULL" : "NORMAL", (unsigned long long)cache_kib, ix->wal_pages);
	return run_sql(sh, pragmas, "cannot configure");
}

static int open_shard(void *ud, size_t k)
{
	sqlite_index *ix = ud;
	shard *sh = &ix->shards[k];
	int rc = connect_shard(ix, sh, k);
	if (rc)
		return rc;

	/* In one write transaction, so that processes opening a new index at
	 * the same time do not trip over each other's half-made schema.
	 * Shard 0's meta is checked before any shard is upgraded. */
	rc = run_sql(sh, "BEGIN IMMEDIATE", "cannot create tables");
	if (!rc)
		rc = run_sql(sh, schema_blobs, "cannot create tables");
	if (!rc && k == 0)
		rc = run_sql(sh, schema_shard0, "cannot create tables");
	if (!rc && k == 0)
		rc = check_meta(ix);
	if (!rc)
		rc = upgrade_blobs(sh);
	if (!rc)
		rc = run_sql(sh, "COMMIT", "cannot create tables");
	if (rc) {
		sqlite3_exec(sh->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}

	int nstmt = k == 0 ? ST_ALL_COUNT : ST_SHARD_COUNT;
	for (int i = 0; i < nstmt; i++) {
		int r = sqlite3_prepare_v3(sh->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
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
	ix->durable = opts && opts->durable;
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
	/* Every shard is of this schema now: say so, last. */
	if (!rc && ix->schema_found < SCHEMA_VERSION) {
		char sql[128];
		snprintf(sql, sizeof(sql),
		         "UPDATE meta SET value = %d WHERE key = 'schema_version' AND value < %d",
		         SCHEMA_VERSION, SCHEMA_VERSION);
		rc = run_sql(&ix->shards[0], sql, "cannot upgrade the schema");
	}
	if (rc)
		goto out;
	*out = &ix->base;
	return 0;

out:
	sqlite_free(&ix->base);
	return rc;
}

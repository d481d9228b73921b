/* The index core: answers from memory, SQLite underneath.
 *
 * Three parts (docs/SERVER.md, "The index core"):
 *  - SQLite shards (index_sqlite.c), the durable store of full rows,
 *    written with synchronous=FULL;
 *  - a registration log (reglog.c): a registration is acknowledged once
 *    its group is synced there, and the rows then enter
 *  - an exact table in memory (memtable.c) of every row's fingerprint,
 *    pack and offset, loaded from the shards when the index opens.
 * A thread merges what the log holds into the shards every 30 s, or once
 * an eighth of the table (a million rows at least) waits there: it reads
 * the log back, inserts it in sorted batches, then removes the merged
 * segments. The larger a batch, the fewer of a shard's pages each row
 * costs. A
 * lookup that needs full rows (a restore's) reads only the fingerprints
 * the table has from the shards, merging first if one is not there yet;
 * a lookup for deduplication is answered from the table alone, with the
 * pack and the offset (a compact entry, length 0). */
#include "cairn/sys/index.h"

#include "cairn/errors.h"
#include "cairn/index.h"
#include "index/core_table.h"
#include "index/memtable.h"
#include "index/reglog.h"
#include "util/buf.h"
#include "util/parallel.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MERGE_MS_DEFAULT 30000
/* A merge starts early when an eighth of the table waits, or this many. */
#define MERGE_ROWS_MIN 1048576
/* Rows read back from the log and inserted at once. */
#define MERGE_BATCH 1048576
/* Bytes of a shard file per row, for sizing the table before loading. */
#define SHARD_BYTES_PER_ROW 110
#define LOAD_THREADS 8

typedef struct core_index {
	cairn_index base;
	cairn_index *db;
	cairn_memtable *mt;
	cairn_reglog *log;
	char *dir;
	unsigned nshards;

	/* Rows on stable storage in the log, not yet merged into the shards,
	 * and about how many the table holds (what the next merge waits for
	 * depends on it). */
	pthread_mutex_t pending_lock;
	uint64_t npending, rows;

	pthread_mutex_t merge_lock; /* one merge at a time */
	pthread_t merger;
	int merger_started;
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
	int stopping;
	unsigned merge_ms;
} core_index;

/* ---- merging the log into the shards ---- */

/* Rows a merge waits for: an eighth of the table, a million at least. A
 * merge rewrites about every page of a shard it touches, whatever the
 * rows it brings: the more it brings, the less each costs. */
static uint64_t merge_rows(const core_index *ix)
{
	uint64_t n = ix->rows / 8;
	return n < MERGE_ROWS_MIN ? MERGE_ROWS_MIN : n;
}

/* Rows the log made durable (under the log's lock): into the table. */
static int on_durable(void *ud, const cairn_index_entry *e, size_t n)
{
	core_index *ix = ud;
	int rc = 0, wake;
	uint32_t num = 0;
	uint64_t added = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		int fresh = 0;
		/* A registration's rows come pack by pack. */
		if (i == 0 || memcmp(e[i].pack, e[i - 1].pack, 32))
			rc = cairn_memtable_intern(ix->mt, e[i].pack, &num);
		if (!rc)
			rc = cairn_memtable_add(ix->mt, e[i].fp, num, e[i].offset, &fresh);
		added += (uint64_t)fresh;
	}
	pthread_mutex_lock(&ix->pending_lock);
	ix->npending += n;
	ix->rows += added;
	wake = ix->npending >= merge_rows(ix);
	pthread_mutex_unlock(&ix->pending_lock);
	if (wake) {
		pthread_mutex_lock(&ix->wake_lock);
		pthread_cond_signal(&ix->wake);
		pthread_mutex_unlock(&ix->wake_lock);
	}
	return rc;
}

/* Rows read back from the log on their way into the shards, a batch at a
 * time. */
typedef struct merge_batch {
	cairn_index *db;
	cairn_index_entry *rows;
	size_t n, cap;
} merge_batch;

static int merge_flush(merge_batch *b)
{
	int rc = b->n ? cairn_index_insert(b->db, b->rows, b->n) : 0;
	b->n = 0;
	return rc;
}

static int merge_take(void *ud, const cairn_index_entry *e, size_t n)
{
	merge_batch *b = ud;
	int rc = cairn_array_grow((void **)&b->rows, &b->cap, b->n + n, sizeof(*b->rows));
	if (rc)
		return rc;
	memcpy(b->rows + b->n, e, n * sizeof(*e));
	b->n += n;
	return b->n >= MERGE_BATCH ? merge_flush(b) : 0;
}

/* Merges every row the log holds into the shards: the segments before a
 * new one are read back, inserted, then removed. Under merge_lock. */
static int merge_locked(core_index *ix)
{
	uint64_t sealed;
	merge_batch b = {ix->db, NULL, 0, 0};
	int rc = cairn_reglog_rotate(ix->log, &sealed);
	if (rc)
		return rc;
	pthread_mutex_lock(&ix->pending_lock);
	uint64_t taken = ix->npending;
	ix->npending = 0;
	pthread_mutex_unlock(&ix->pending_lock);
	rc = cairn_reglog_replay(cairn_reglog_dir(ix->log), sealed + 1, merge_take, &b, NULL);
	if (!rc)
		rc = merge_flush(&b);
	free(b.rows);
	if (!rc)
		return cairn_reglog_remove_upto(ix->log, sealed);
	/* The segments stay, for the next merge or the next open. */
	pthread_mutex_lock(&ix->pending_lock);
	ix->npending += taken;
	pthread_mutex_unlock(&ix->pending_lock);
	return rc;
}

static int merge_now(core_index *ix)
{
	pthread_mutex_lock(&ix->merge_lock);
	int rc = merge_locked(ix);
	pthread_mutex_unlock(&ix->merge_lock);
	return rc;
}

static uint64_t pending_count(core_index *ix)
{
	pthread_mutex_lock(&ix->pending_lock);
	uint64_t n = ix->npending;
	pthread_mutex_unlock(&ix->pending_lock);
	return n;
}

static void *merger_main(void *ud)
{
	core_index *ix = ud;
	pthread_mutex_lock(&ix->wake_lock);
	while (!ix->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(ix->merge_ms % 1000) * 1000000L;
		until.tv_sec += ix->merge_ms / 1000 + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&ix->wake, &ix->wake_lock, &until);
		if (ix->stopping)
			break;
		pthread_mutex_unlock(&ix->wake_lock);
		/* A merge that fails is tried again at the next turn; the rows
		 * stay in the log and in the table meanwhile. */
		if (pending_count(ix) && merge_now(ix))
			cairn_error_clear();
		pthread_mutex_lock(&ix->wake_lock);
	}
	pthread_mutex_unlock(&ix->wake_lock);
	return NULL;
}

/* ---- the backend ---- */

/* Full rows from the shards, for the fingerprints the table has. The
 * table and the shards prefer the same row of a fingerprint (the lowest
 * pack id never rejected); a row the shards do not give yet is still in
 * the log: the log is merged and the shards asked again. */
static int core_lookup(cairn_index *base, const uint8_t (*fps)[32], size_t n,
                       cairn_index_entry *out, uint8_t *found)
{
	core_index *ix = (core_index *)base;
	size_t *ask = malloc((n ? n : 1) * sizeof(*ask)), m = 0, missed;
	uint8_t(*sub)[32] = malloc((n ? n : 1) * 32);
	uint32_t *want = malloc((n ? n : 1) * sizeof(*want));
	cairn_index_entry *got = malloc((n ? n : 1) * sizeof(*got));
	uint8_t *got_found = malloc(n ? n : 1);
	int rc = 0;
	if (!ask || !sub || !want || !got || !got_found) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	memset(found, 0, n);
	for (size_t i = 0; i < n; i++) {
		cairn_memtable_row row;
		if (cairn_memtable_find(ix->mt, fps[i], &row)) {
			ask[m] = i;
			want[m] = row.pack;
			memcpy(sub[m++], fps[i], 32);
		}
	}
	for (int round = 0; m && round < 2; round++) {
		if ((rc = cairn_index_lookup(ix->db, (const uint8_t(*)[32])sub, m, got, got_found)))
			goto out;
		missed = 0;
		for (size_t k = 0; k < m; k++) {
			if (got_found[k] &&
			    (round ||
			     !memcmp(got[k].pack, cairn_memtable_pack_id(ix->mt, want[k]), 32))) {
				found[ask[k]] = 1;
				out[ask[k]] = got[k];
				continue;
			}
			ask[missed] = ask[k];
			want[missed] = want[k];
			memcpy(sub[missed++], sub[k], 32);
		}
		m = missed;
		if (m && round == 0 && (rc = merge_now(ix)))
			goto out;
	}
out:
	free(ask);
	free(sub);
	free(want);
	free(got);
	free(got_found);
	return rc;
}

static int core_lookup_dedup(cairn_index *base, const uint8_t (*fps)[32], size_t n,
                             cairn_index_entry *out, uint8_t *found)
{
	core_index *ix = (core_index *)base;
	for (size_t i = 0; i < n; i++) {
		cairn_memtable_row row;
		found[i] = (uint8_t)cairn_memtable_find(ix->mt, fps[i], &row);
		if (!found[i])
			continue;
		memset(&out[i], 0, sizeof(out[i]));
		memcpy(out[i].fp, fps[i], 32);
		memcpy(out[i].pack, cairn_memtable_pack_id(ix->mt, row.pack), 32);
		out[i].offset = row.offset;
	}
	return 0;
}

static int core_insert(cairn_index *base, const cairn_index_entry *entries, size_t n)
{
	core_index *ix = (core_index *)base;
	return cairn_reglog_append(ix->log, entries, n);
}

static int core_object_known(cairn_index *base, const uint8_t id[32], int *known_out)
{
	return cairn_index_object_known(((core_index *)base)->db, id, known_out);
}

static int core_object_add(cairn_index *base, const uint8_t id[32])
{
	return cairn_index_object_add(((core_index *)base)->db, id);
}

static int core_count(cairn_index *base, uint64_t *count_out)
{
	*count_out = cairn_memtable_count(((core_index *)base)->mt);
	return 0;
}

static int core_clear(cairn_index *base)
{
	core_index *ix = (core_index *)base;
	pthread_mutex_lock(&ix->merge_lock);
	int rc = merge_locked(ix);
	if (!rc)
		rc = cairn_index_clear(ix->db);
	if (!rc)
		cairn_memtable_clear(ix->mt);
	if (!rc) {
		pthread_mutex_lock(&ix->pending_lock);
		ix->rows = 0;
		pthread_mutex_unlock(&ix->pending_lock);
	}
	pthread_mutex_unlock(&ix->merge_lock);
	return rc;
}

static int core_scan(cairn_index *base, const cairn_index_entry *after, cairn_index_entry *out,
                     size_t max, size_t *n_out)
{
	core_index *ix = (core_index *)base;
	int rc = pending_count(ix) ? merge_now(ix) : 0;
	return rc ? rc : cairn_index_scan(ix->db, after, out, max, n_out);
}

static int core_drop_packs(cairn_index *base, const uint8_t (*packs)[32], size_t n)
{
	core_index *ix = (core_index *)base;
	uint64_t gone = 0;
	pthread_mutex_lock(&ix->merge_lock);
	int rc = merge_locked(ix);
	if (!rc)
		rc = cairn_index_drop_packs(ix->db, packs, n);
	if (!rc)
		rc = cairn_memtable_drop_packs(ix->mt, packs, n, &gone);
	pthread_mutex_lock(&ix->pending_lock);
	ix->rows -= gone < ix->rows ? gone : ix->rows;
	pthread_mutex_unlock(&ix->pending_lock);
	pthread_mutex_unlock(&ix->merge_lock);
	return rc;
}

static int core_rows(cairn_index *base, const uint8_t (*fps)[32], size_t n, size_t max,
                     cairn_index_entry *out, uint8_t *counts)
{
	core_index *ix = (core_index *)base;
	int rc = pending_count(ix) ? merge_now(ix) : 0;
	return rc ? rc : cairn_index_rows(ix->db, fps, n, max, out, counts);
}

static int core_reject(cairn_index *base, const cairn_index_entry *rows, size_t n)
{
	core_index *ix = (core_index *)base;
	int rc = pending_count(ix) ? merge_now(ix) : 0;
	if (!rc)
		rc = cairn_index_reject(ix->db, rows, n);
	for (size_t i = 0; !rc && i < n; i++) {
		uint32_t num;
		if (!(rc = cairn_memtable_intern(ix->mt, rows[i].pack, &num)))
			cairn_memtable_mark_bad(ix->mt, rows[i].fp, num);
	}
	return rc;
}

static void core_free(cairn_index *base)
{
	core_index *ix = (core_index *)base;
	cairn_error_saved caller;
	if (!ix)
		return;
	/* Freed on a failure's way out: its message is the caller's. */
	cairn_error_save(&caller, CAIRN_ERROR);
	if (ix->merger_started) {
		pthread_mutex_lock(&ix->wake_lock);
		ix->stopping = 1;
		pthread_cond_signal(&ix->wake);
		pthread_mutex_unlock(&ix->wake_lock);
		pthread_join(ix->merger, NULL);
	}
	/* What is not merged stays in the log for the next open, and the
	 * table (which holds it too) is saved for it: a stop waits for no
	 * merge. */
	int save = ix->log && ix->db && ix->mt && ix->merger_started;
	cairn_reglog_free(ix->log);
	cairn_index_free(ix->db);
	if (save)
		cairn_core_table_save(ix->dir, ix->nshards, ix->mt);
	cairn_memtable_free(ix->mt);
	pthread_mutex_destroy(&ix->pending_lock);
	pthread_mutex_destroy(&ix->merge_lock);
	pthread_mutex_destroy(&ix->wake_lock);
	pthread_cond_destroy(&ix->wake);
	free(ix->dir);
	free(ix);
	cairn_error_restore(&caller);
}

static const struct cairn_index_ops core_ops = {
    .version = CAIRN_INDEX_OPS_VERSION,
    .name = "core",
    .lookup = core_lookup,
    .insert = core_insert,
    .object_known = core_object_known,
    .object_add = core_object_add,
    .count = core_count,
    .clear = core_clear,
    .free = core_free,
    .lookup_dedup = core_lookup_dedup,
    .scan = core_scan,
    .drop_packs = core_drop_packs,
    .rows = core_rows,
    .reject = core_reject,
};

/* ---- opening: the log's leftovers, then the table ---- */

static int replay_into_shards(void *ud, const cairn_index_entry *e, size_t n)
{
	return cairn_index_insert(ud, e, n);
}

typedef struct pack_map {
	uint8_t (*ids)[32];
	uint32_t *slots; /* number + 1 */
	size_t n, cap, nslots;
} pack_map;

/* A loading thread's own numbering of the packs it meets. */
static int local_pack(pack_map *m, const uint8_t *id, uint32_t *num)
{
	if (2 * (m->n + 1) > m->nslots) {
		size_t ns = m->nslots ? 2 * m->nslots : 4096;
		uint32_t *s = calloc(ns, sizeof(*s));
		if (!s)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		for (size_t i = 0; i < m->n; i++) {
			uint64_t h;
			memcpy(&h, m->ids[i], 8);
			size_t k = h & (ns - 1);
			while (s[k])
				k = (k + 1) & (ns - 1);
			s[k] = (uint32_t)i + 1;
		}
		free(m->slots);
		m->slots = s;
		m->nslots = ns;
	}
	uint64_t h;
	memcpy(&h, id, 8);
	size_t k = h & (m->nslots - 1);
	for (; m->slots[k]; k = (k + 1) & (m->nslots - 1))
		if (!memcmp(m->ids[m->slots[k] - 1], id, 32)) {
			*num = m->slots[k] - 1;
			return 0;
		}
	int rc = cairn_array_grow((void **)&m->ids, &m->cap, m->n + 1, 32);
	if (rc)
		return rc;
	memcpy(m->ids[m->n], id, 32);
	m->slots[k] = (uint32_t)m->n + 1;
	*num = (uint32_t)m->n++;
	return 0;
}

static int read_shard(sqlite3 *db, const char *path, pack_map *m, cairn_memtable_loader *ld)
{
	sqlite3_stmt *st = NULL;
	int s = sqlite3_prepare_v2(db, "SELECT fp, pack, offset, bad FROM blobs", -1, &st, NULL);
	int rc = 0;
	while (s == SQLITE_OK && (s = sqlite3_step(st)) == SQLITE_ROW) {
		uint32_t num = 0;
		s = SQLITE_OK;
		const uint8_t *fp = sqlite3_column_blob(st, 0), *pack = sqlite3_column_blob(st, 1);
		if (sqlite3_column_bytes(st, 0) != 32 || sqlite3_column_bytes(st, 1) != 32)
			continue; /* not a row a lookup could give */
		if ((rc = local_pack(m, pack, &num)) ||
		    (rc = cairn_memtable_loader_add(ld, fp, num,
		                                    (uint32_t)sqlite3_column_int64(st, 2),
		                                    sqlite3_column_int(st, 3) != 0)))
			break;
	}
	if (!rc && s != SQLITE_DONE)
		rc = cairn_error_set(CAIRN_EIO, "index shard %s: cannot read it: %s", path,
		                     sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

static int load_shard(void *ud, size_t k)
{
	core_index *ix = ud;
	char path[4096];
	sqlite3 *db = NULL;
	pack_map m = {0};
	uint32_t *map = NULL;
	cairn_memtable_loader *ld = NULL;
	unsigned per = 256 / ix->nshards;
	struct stat st;
	snprintf(path, sizeof(path), "%s/shard-%02x.db", ix->dir, (unsigned)k);
	size_t expected = stat(path, &st) == 0 ? (size_t)st.st_size / SHARD_BYTES_PER_ROW : 0;
	int rc = cairn_memtable_loader_new(&ld, ix->mt, (unsigned)k * per, (unsigned)(k + 1) * per,
	                                   expected + expected / 8);
	if (rc)
		return rc;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		rc = cairn_error_set(CAIRN_EIO, "index shard %s: cannot open it: %s", path,
		                     db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(db, 10000);
	/* Pages mapped, not copied by read(): a load reads every one. */
	sqlite3_exec(db, "PRAGMA mmap_size=4294967296", NULL, NULL, NULL);
	if ((rc = read_shard(db, path, &m, ld)))
		goto out;
	if (!(map = malloc((m.n ? m.n : 1) * sizeof(*map)))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < m.n && !rc; i++)
		rc = cairn_memtable_intern(ix->mt, m.ids[i], &map[i]);
	if (!rc)
		rc = cairn_memtable_loader_finish(ld, map);
out:
	sqlite3_close_v2(db);
	cairn_memtable_loader_free(ld);
	free(map);
	free(m.ids);
	free(m.slots);
	return rc;
}

/* The rows the shards hold, estimated from their files' sizes. */
static uint64_t rows_estimate(const char *dir, unsigned nshards)
{
	char path[4096];
	uint64_t bytes = 0;
	for (unsigned k = 0; k < nshards; k++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/shard-%02x.db", dir, k);
		if (stat(path, &st) == 0)
			bytes += (uint64_t)st.st_size;
	}
	return bytes / SHARD_BYTES_PER_ROW;
}

static int count_rows(void *ud, const cairn_index_entry *e, size_t n)
{
	(void)e;
	*(size_t *)ud += n;
	return 0;
}

static int open_parts(core_index *ix, const cairn_index_core_opts *opts)
{
	char log_dir[4096];
	cairn_index_sqlite_opts db_opts = {0};
	if (opts) {
		db_opts.cache_mib = opts->cache_mib;
		db_opts.wal_pages = opts->wal_pages;
	}
	db_opts.checkpoint_on_close = 1;
	db_opts.durable = 1;
	size_t in_log = 0;
	snprintf(log_dir, sizeof(log_dir), "%s/log", ix->dir);
	/* Before the shards are opened: their stamps say whether the table
	 * saved at the last stop holds. It has the rows the log holds too,
	 * which the merger then brings to the shards; without it, what the
	 * log holds goes to the shards first, and the table is read from
	 * them. */
	ix->mt = cairn_core_table_load(ix->dir, ix->nshards);
	int rc = cairn_index_sqlite_open_ex(&ix->db, ix->dir, ix->nshards, &db_opts);
	if (!rc)
		rc = ix->mt ? cairn_reglog_replay(log_dir, 0, count_rows, &in_log, NULL)
		            : cairn_reglog_replay(log_dir, 0, replay_into_shards, ix->db, NULL);
	if (rc || (rc = cairn_reglog_open(&ix->log, log_dir, on_durable, ix)))
		return rc;
	ix->npending = in_log;
	if (ix->mt)
		return 0;
	uint64_t sealed;
	if ((rc = cairn_reglog_rotate(ix->log, &sealed)) ||
	    (rc = cairn_reglog_remove_upto(ix->log, sealed)))
		return rc;
	if ((rc = cairn_memtable_new(&ix->mt,
	                             cairn_memtable_bits_for(rows_estimate(ix->dir, ix->nshards)))))
		return rc;
	return cairn_parallel_for(ix->nshards, LOAD_THREADS, load_shard, ix);
}

int cairn_index_core_open(cairn_index **out, const char *dir, unsigned nshards,
                          const cairn_index_core_opts *opts)
{
	*out = NULL;
	core_index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	ix->base.ops = &core_ops;
	ix->nshards = nshards;
	ix->merge_ms = opts && opts->merge_ms ? opts->merge_ms : MERGE_MS_DEFAULT;
	pthread_mutex_init(&ix->pending_lock, NULL);
	pthread_mutex_init(&ix->merge_lock, NULL);
	pthread_mutex_init(&ix->wake_lock, NULL);
	pthread_cond_init(&ix->wake, NULL);
	int rc = 0;
	if (!(ix->dir = strdup(dir)))
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (!rc)
		rc = open_parts(ix, opts);
	if (!rc)
		ix->rows = cairn_memtable_count(ix->mt);
	if (!rc && pthread_create(&ix->merger, NULL, merger_main, ix) != 0)
		rc = cairn_error_set(CAIRN_ERROR, "cannot start the index's merging thread");
	if (rc) {
		core_free(&ix->base);
		return rc;
	}
	ix->merger_started = 1;
	*out = &ix->base;
	return 0;
}

void cairn_index_core_each(cairn_index *base, void (*fn)(void *ud, const uint8_t fp[32]), void *ud)
{
	cairn_memtable_each(((core_index *)base)->mt, fn, ud);
}

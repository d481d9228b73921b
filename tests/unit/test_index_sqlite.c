/* The embedded SQLite index, in a fresh temporary directory per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "index_entry_assert.h"

#include "cairn/errors.h"
#include "cairn/index.h"

#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fixture {
	char dir[64];
	char ixdir[96];
} fixture;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cairn-test-index-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->ixdir, sizeof(f->ixdir), "%s/cache/index", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill_random(uint8_t *p, size_t n, uint64_t *seed)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = splitmix(seed);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

/* A deterministic entry for number i: same i, same entry. */
static cairn_index_entry make_entry(uint64_t i)
{
	cairn_index_entry e;
	memset(&e, 0, sizeof(e));
	uint64_t seed = i * 2 + 1;
	fill_random(e.fp, 32, &seed);
	fill_random(e.pack, 32, &seed);
	e.offset = (uint32_t)splitmix(&seed);
	e.length = (uint32_t)(i * 17 + 1);
	e.raw_length = UINT32_MAX - (uint32_t)i;
	e.kind = (uint8_t)(i % 3);
	e.inner = (uint32_t)(i * 3);
	return e;
}

static cairn_index *open_index(const fixture *f, unsigned nshards)
{
	cairn_index *ix = NULL;
	int rc = cairn_index_sqlite_open(&ix, f->ixdir, nshards);
	if (rc)
		fail_msg("open: %s", cairn_error_last());
	assert_non_null(ix);
	return ix;
}

static void insert_range(cairn_index *ix, uint64_t from, uint64_t to)
{
	size_t n = (size_t)(to - from);
	cairn_index_entry *e = calloc(n ? n : 1, sizeof(*e));
	assert_non_null(e);
	for (size_t i = 0; i < n; i++)
		e[i] = make_entry(from + i);
	assert_int_equal(cairn_index_insert(ix, e, n), 0);
	free(e);
}

typedef int (*lookup_fn)(cairn_index *ix, const uint8_t (*fps)[32], size_t n,
                         cairn_index_entry *out, uint8_t *found);

/* Looks up entries from..to with lookup; asserts which are present (those
 * < present_below). */
static void check_range_with(cairn_index *ix, lookup_fn lookup, uint64_t from, uint64_t to,
                             uint64_t present_below)
{
	size_t n = (size_t)(to - from);
	uint8_t(*fps)[32] = calloc(n, 32);
	cairn_index_entry *out = calloc(n, sizeof(*out));
	uint8_t *found = calloc(n, 1);
	assert_true(fps && out && found);
	for (size_t i = 0; i < n; i++) {
		cairn_index_entry e = make_entry(from + i);
		memcpy(fps[i], e.fp, 32);
		found[i] = 2;
	}
	assert_int_equal(lookup(ix, (const uint8_t(*)[32])fps, n, out, found), 0);
	for (size_t i = 0; i < n; i++) {
		if (from + i < present_below) {
			assert_int_equal(found[i], 1);
			cairn_index_entry e = make_entry(from + i);
			assert_entry_equal(&out[i], &e);
		} else {
			assert_int_equal(found[i], 0);
		}
	}
	free(fps);
	free(out);
	free(found);
}

static void check_range(cairn_index *ix, uint64_t from, uint64_t to, uint64_t present_below)
{
	check_range_with(ix, ix->ops->lookup, from, to, present_below);
}

static uint64_t count_of(cairn_index *ix)
{
	uint64_t n = 12345;
	assert_int_equal(cairn_index_count(ix, &n), 0);
	return n;
}

static void shard_path(char *out, size_t cap, const fixture *f, unsigned k)
{
	snprintf(out, cap, "%s/shard-%02x.db", f->ixdir, k);
}

static void assert_shard_integrity(const fixture *f, unsigned k)
{
	char path[256];
	shard_path(path, sizeof(path), f, k);
	sqlite3 *db;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Runs one SQL statement on a shard file behind the index's back. */
static void shard_exec(const fixture *f, unsigned k, const char *sql)
{
	char path[256];
	shard_path(path, sizeof(path), f, k);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* The integer a query on a shard file answers. */
static long long shard_int(const fixture *f, unsigned k, const char *sql)
{
	char path[256];
	shard_path(path, sizeof(path), f, k);
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	long long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* What cairn_index_sqlite_tune_process answered when main() called it,
 * first thing, as the programs do. */
static int tuned = -1;

static void test_index_sqlite__tuning_turns_off_memory_statistics(void **state)
{
	fixture *f = *state;
	assert_int_equal(tuned, 0);
	cairn_index *ix = open_index(f, 16);
	insert_range(ix, 0, 2000);
	check_range(ix, 0, 3000, 2000);
	/* SQLite keeps no count of its memory: no global mutex taken. */
	assert_int_equal(sqlite3_memory_used(), 0);
	/* In use now: too late to change. */
	assert_int_equal(cairn_index_sqlite_tune_process(), CAIRN_ERROR);
	cairn_index_free(ix);
}

static void test_index_sqlite__inserted_entries_are_found_and_others_are_not(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 16);
	assert_string_equal(ix->ops->name, "sqlite");
	insert_range(ix, 0, 500);
	/* Found and missing fingerprints interleave across every shard. */
	check_range(ix, 0, 1000, 500);
	check_range(ix, 400, 600, 500);
	check_range(ix, 2000, 2100, 500);
	assert_int_equal(count_of(ix), 500);
	/* An empty batch is fine. */
	assert_int_equal(cairn_index_lookup(ix, NULL, 0, NULL, NULL), 0);
	assert_int_equal(cairn_index_insert(ix, NULL, 0), 0);
	cairn_index_free(ix);
}

static void lookup_one(cairn_index *ix, lookup_fn lookup, const uint8_t fp[32],
                       cairn_index_entry *out)
{
	uint8_t found = 0;
	assert_int_equal(lookup(ix, (const uint8_t(*)[32])fp, 1, out, &found), 0);
	assert_int_equal(found, 1);
}

static void
test_index_sqlite__a_chunk_in_two_packs_has_two_rows_and_the_lower_pack_is_found(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 16);
	cairn_index_entry low = make_entry(7), high = make_entry(7), got;
	memset(low.pack, 0x11, 32);
	memset(high.pack, 0xee, 32);
	high.offset = 1;
	high.length = 2;
	/* The higher one first: the answer does not depend on the order. */
	assert_int_equal(cairn_index_insert(ix, &high, 1), 0);
	lookup_one(ix, ix->ops->lookup, high.fp, &got);
	assert_entry_equal(&got, &high);
	assert_int_equal(cairn_index_insert(ix, &low, 1), 0);
	assert_int_equal(count_of(ix), 2);
	lookup_one(ix, ix->ops->lookup, low.fp, &got);
	assert_entry_equal(&got, &low);
	lookup_one(ix, ix->ops->lookup_dedup, low.fp, &got);
	assert_entry_equal(&got, &low);

	/* The same (fingerprint, pack) again changes nothing. */
	cairn_index_entry again = low;
	again.offset = 99;
	assert_int_equal(cairn_index_insert(ix, &again, 1), 0);
	assert_int_equal(count_of(ix), 2);
	lookup_one(ix, ix->ops->lookup, low.fp, &got);
	assert_entry_equal(&got, &low);

	/* Also within one batch: the first of two equal rows is kept. */
	cairn_index_entry batch[2] = {make_entry(8), make_entry(8)};
	batch[1].kind = 99;
	assert_int_equal(cairn_index_insert(ix, batch, 2), 0);
	lookup_one(ix, ix->ops->lookup, batch[0].fp, &got);
	assert_entry_equal(&got, &batch[0]);
	assert_int_equal(count_of(ix), 3);
	cairn_index_free(ix);
}

static int by_row(const void *a, const void *b)
{
	const cairn_index_entry *x = a, *y = b;
	int c = memcmp(x->fp, y->fp, 32);
	return c ? c : memcmp(x->pack, y->pack, 32);
}

/* Entries 0..n-1, and for every seventh a second location in pack 0xee..;
 * rows_out gets every row in (fp, pack) order (the caller frees it). */
static size_t insert_with_second_locations(cairn_index *ix, uint64_t n,
                                           cairn_index_entry **rows_out)
{
	cairn_index_entry *rows = calloc(n + n / 7 + 1, sizeof(*rows));
	assert_non_null(rows);
	size_t m = 0;
	for (uint64_t i = 0; i < n; i++) {
		rows[m++] = make_entry(i);
		if (i % 7 == 0) {
			rows[m] = make_entry(i);
			memset(rows[m].pack, 0xee, 32);
			rows[m++].offset = 7;
		}
	}
	assert_int_equal(cairn_index_insert(ix, rows, m), 0);
	qsort(rows, m, sizeof(*rows), by_row);
	*rows_out = rows;
	return m;
}

/* Every row, page by page of max rows, each page after the last row of
 * the one before; checks that only the last page is short. */
static size_t scan_all(cairn_index *ix, size_t max, cairn_index_entry *out, size_t cap)
{
	size_t total = 0, got = max;
	while (got == max) {
		assert_true(total + max <= cap);
		got = 12345;
		assert_int_equal(
		    cairn_index_scan(ix, total ? &out[total - 1] : NULL, out + total, max, &got),
		    0);
		assert_true(got <= max);
		total += got;
	}
	return total;
}

static void test_index_sqlite__scan_gives_every_row_in_order_across_shards_and_pages(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 16);
	assert_true(cairn_index_can_prune(ix));
	size_t got = 99;
	cairn_index_entry page[4];
	assert_int_equal(cairn_index_scan(ix, NULL, page, 4, &got), 0);
	assert_int_equal(got, 0); /* empty */

	cairn_index_entry *rows;
	size_t n = insert_with_second_locations(ix, 2000, &rows);
	assert_int_equal(count_of(ix), n);
	size_t cap = 2 * n + 2;
	cairn_index_entry *out = calloc(cap, sizeof(*out));
	assert_non_null(out);
	const size_t maxes[] = {1, 2, 1000, n, n + 1};
	for (size_t t = 0; t < sizeof(maxes) / sizeof(maxes[0]); t++) {
		memset(out, 0, cap * sizeof(*out));
		assert_int_equal(scan_all(ix, maxes[t], out, cap), n);
		for (size_t i = 0; i < n; i++)
			assert_entry_equal(&out[i], &rows[i]);
	}

	/* After a row in the middle: the rows that follow it, shard or not. */
	size_t mid = n / 2;
	assert_int_equal(cairn_index_scan(ix, &rows[mid], page, 4, &got), 0);
	assert_int_equal(got, 4);
	for (size_t i = 0; i < 4; i++)
		assert_entry_equal(&page[i], &rows[mid + 1 + i]);
	/* After a place that is no row: from the next row. */
	cairn_index_entry between = rows[mid];
	memset(between.pack, 0xff, 32);
	size_t next = mid + 1;
	while (memcmp(rows[next].fp, rows[mid].fp, 32) == 0)
		next++;
	assert_int_equal(cairn_index_scan(ix, &between, page, 1, &got), 0);
	assert_int_equal(got, 1);
	assert_entry_equal(&page[0], &rows[next]);
	/* After the last row: the end. */
	assert_int_equal(cairn_index_scan(ix, &rows[n - 1], page, 4, &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(cairn_index_scan(ix, &rows[n - 3], page, 4, &got), 0);
	assert_int_equal(got, 2);
	free(out);
	free(rows);
	cairn_index_free(ix);
}

static void test_index_sqlite__drop_packs_removes_exactly_those_packs_rows(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 16);
	/* Entry i in pack i % 10, and every third also in pack 0xee... */
	uint8_t packs[11][32];
	for (int p = 0; p < 10; p++)
		memset(packs[p], 0x10 + p, 32);
	memset(packs[10], 0xee, 32);
	size_t n = 0;
	cairn_index_entry *e = calloc(3000 + 1000, sizeof(*e));
	assert_non_null(e);
	for (uint64_t i = 0; i < 3000; i++) {
		e[n] = make_entry(i);
		memcpy(e[n++].pack, packs[i % 10], 32);
		if (i % 3 == 0) {
			e[n] = make_entry(i);
			memcpy(e[n++].pack, packs[10], 32);
		}
	}
	assert_int_equal(cairn_index_insert(ix, e, n), 0);
	assert_int_equal(count_of(ix), 4000);

	/* Packs 3 and 7 (one named twice) and one that holds nothing. */
	uint8_t drop[4][32];
	memcpy(drop[0], packs[7], 32);
	memcpy(drop[1], packs[3], 32);
	memset(drop[2], 0x99, 32);
	memcpy(drop[3], packs[7], 32);
	assert_int_equal(cairn_index_drop_packs(ix, (const uint8_t(*)[32])drop, 4), 0);
	assert_int_equal(cairn_index_drop_packs(ix, NULL, 0), 0);
	assert_int_equal(count_of(ix), 4000 - 600);

	for (uint64_t i = 0; i < 3000; i++) {
		cairn_index_entry want = make_entry(i), got;
		uint8_t found = 9;
		int dropped = i % 10 == 3 || i % 10 == 7;
		assert_int_equal(
		    cairn_index_lookup(ix, (const uint8_t(*)[32])want.fp, 1, &got, &found), 0);
		/* a chunk with a second location keeps it */
		assert_int_equal(found, !dropped || i % 3 == 0);
		if (found) {
			memcpy(want.pack, dropped ? packs[10] : packs[i % 10], 32);
			assert_entry_equal(&got, &want);
		}
	}
	cairn_index_entry *out = calloc(4000, sizeof(*out));
	assert_non_null(out);
	size_t left = scan_all(ix, 1000, out, 4000);
	assert_int_equal(left, 3400);
	for (size_t i = 0; i < left; i++) {
		assert_memory_not_equal(out[i].pack, packs[3], 32);
		assert_memory_not_equal(out[i].pack, packs[7], 32);
	}
	free(out);
	free(e);
	cairn_index_free(ix);
	for (unsigned k = 0; k < 16; k++)
		assert_shard_integrity(f, k);
}

static void test_index_sqlite__imported_objects_are_remembered(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 4);
	uint8_t a[32], b[32];
	memset(a, 0xa1, 32);
	memset(b, 0xb2, 32);
	int known = -1;
	assert_int_equal(cairn_index_object_known(ix, a, &known), 0);
	assert_int_equal(known, 0);
	assert_int_equal(cairn_index_object_add(ix, a), 0);
	assert_int_equal(cairn_index_object_add(ix, a), 0);
	assert_int_equal(cairn_index_object_known(ix, a, &known), 0);
	assert_int_equal(known, 1);
	assert_int_equal(cairn_index_object_known(ix, b, &known), 0);
	assert_int_equal(known, 0);
	/* Objects are not fingerprints. */
	assert_int_equal(count_of(ix), 0);
	cairn_index_free(ix);
}

static void test_index_sqlite__clear_removes_entries_and_objects(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 16);
	insert_range(ix, 0, 300);
	uint8_t id[32];
	memset(id, 0x42, 32);
	assert_int_equal(cairn_index_object_add(ix, id), 0);
	assert_int_equal(count_of(ix), 300);

	assert_int_equal(cairn_index_clear(ix), 0);
	assert_int_equal(count_of(ix), 0);
	check_range(ix, 0, 300, 0);
	int known = -1;
	assert_int_equal(cairn_index_object_known(ix, id, &known), 0);
	assert_int_equal(known, 0);

	/* Still usable afterwards. */
	insert_range(ix, 0, 10);
	check_range(ix, 0, 20, 10);
	cairn_index_free(ix);
}

static void test_index_sqlite__data_survives_closing_and_reopening(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 16);
	insert_range(ix, 0, 1000);
	uint8_t id[32];
	memset(id, 0x17, 32);
	assert_int_equal(cairn_index_object_add(ix, id), 0);
	cairn_index_free(ix);

	ix = open_index(f, 16);
	assert_int_equal(count_of(ix), 1000);
	check_range(ix, 0, 1200, 1000);
	int known = 0;
	assert_int_equal(cairn_index_object_known(ix, id, &known), 0);
	assert_int_equal(known, 1);
	cairn_index_free(ix);

	for (unsigned k = 0; k < 16; k++)
		assert_shard_integrity(f, k);
}

/* Bytes in the shards' write-ahead logs; -1 when none of them exists. */
static long long wal_bytes(const fixture *f, unsigned nshards)
{
	long long total = -1;
	char path[256];
	for (unsigned k = 0; k < nshards; k++) {
		struct stat st;
		shard_path(path, sizeof(path) - 4, f, k);
		strcat(path, "-wal");
		if (stat(path, &st) == 0)
			total = (total < 0 ? 0 : total) + st.st_size;
	}
	return total;
}

static void test_index_sqlite__closing_leaves_the_log_unless_told_to_fold_it(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 4);
	insert_range(ix, 0, 500);
	cairn_index_free(ix);
	/* The rows are in the logs, not yet in the databases... */
	assert_true(wal_bytes(f, 4) > 0);
	/* ...and the next open finds them there. */
	ix = open_index(f, 4);
	assert_int_equal(count_of(ix), 500);
	cairn_index_free(ix);

	const cairn_index_sqlite_opts fold = {.checkpoint_on_close = 1};
	assert_int_equal(cairn_index_sqlite_open_ex(&ix, f->ixdir, 4, &fold), 0);
	insert_range(ix, 500, 600);
	cairn_index_free(ix);
	assert_int_equal(wal_bytes(f, 4), -1);
	for (unsigned k = 0; k < 4; k++)
		assert_shard_integrity(f, k);
	ix = open_index(f, 4);
	assert_int_equal(count_of(ix), 600);
	check_range(ix, 0, 700, 600);
	cairn_index_free(ix);
}

static void check_sharding(const fixture *f, unsigned nshards)
{
	cairn_index *ix = open_index(f, nshards);
	insert_range(ix, 0, 3000);
	check_range(ix, 0, 4000, 3000);
	assert_int_equal(count_of(ix), 3000);
	cairn_index_free(ix);

	char path[256];
	for (unsigned k = 0; k < nshards; k++) {
		shard_path(path, sizeof(path), f, k);
		assert_int_equal(access(path, F_OK), 0);
	}
	shard_path(path, sizeof(path), f, nshards);
	assert_int_not_equal(access(path, F_OK), 0);

	/* Each entry sits in the shard named by the top bits of fp[0]. */
	cairn_index_entry e = make_entry(123);
	unsigned shift = 8;
	for (unsigned m = nshards; m > 1; m >>= 1)
		shift--;
	unsigned want = shift >= 8 ? 0 : e.fp[0] >> shift;
	for (unsigned k = 0; k < nshards; k++) {
		shard_path(path, sizeof(path), f, k);
		sqlite3 *db;
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM blobs WHERE fp = ?",
		                                    -1, &st, NULL),
		                 SQLITE_OK);
		sqlite3_bind_blob(st, 1, e.fp, 32, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), k == want ? 1 : 0);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	assert_shard_integrity(f, 0);
	assert_shard_integrity(f, nshards - 1);
}

static void test_index_sqlite__one_shard_works(void **state)
{
	check_sharding(*state, 1);
}

static void test_index_sqlite__sixteen_shards_work(void **state)
{
	check_sharding(*state, 16);
}

static void test_index_sqlite__two_hundred_fifty_six_shards_work(void **state)
{
	check_sharding(*state, 256);
}

static void test_index_sqlite__bad_shard_counts_are_rejected(void **state)
{
	fixture *f = *state;
	cairn_index *ix = (cairn_index *)0x1;
	assert_int_equal(cairn_index_sqlite_open(&ix, f->ixdir, 0), CAIRN_EINVAL);
	assert_null(ix);
	assert_int_equal(cairn_index_sqlite_open(&ix, f->ixdir, 3), CAIRN_EINVAL);
	assert_int_equal(cairn_index_sqlite_open(&ix, f->ixdir, 512), CAIRN_EINVAL);
	assert_int_equal(cairn_index_sqlite_open(&ix, "", 1), CAIRN_EINVAL);
}

static void test_index_sqlite__reopening_with_another_shard_count_is_refused(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 16);
	insert_range(ix, 0, 10);
	cairn_index_free(ix);
	assert_int_equal(cairn_index_sqlite_open(&ix, f->ixdir, 256), CAIRN_EINVAL);
	assert_null(ix);
	assert_non_null(strstr(cairn_error_last(), f->ixdir));
	/* Nothing was created for the wrong layout. */
	char path[256];
	shard_path(path, sizeof(path), f, 0x10);
	assert_int_not_equal(access(path, F_OK), 0);
}

static void test_index_sqlite__a_newer_schema_is_refused(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 1);
	cairn_index_free(ix);
	shard_exec(f, 0, "UPDATE meta SET value = 5 WHERE key = 'schema_version'");
	assert_int_equal(cairn_index_sqlite_open(&ix, f->ixdir, 1), CAIRN_ERROR);
	assert_non_null(strstr(cairn_error_last(), "schema version 5"));
	/* and left as it was */
	assert_int_equal(shard_int(f, 0, "SELECT value FROM meta WHERE key = 'schema_version'"), 5);
}

/* Makes shard k of an index of nshards as schema version 1 (no inner), 2
 * (primary key fp) or 3 (primary key fp, pack) made it, holding those of
 * entries e[0 .. n) that belong to it. */
static void make_old_shard(const fixture *f, unsigned k, unsigned nshards, int version,
                           const cairn_index_entry *e, size_t n)
{
	char path[256], sql[512];
	snprintf(path, sizeof(path), "%s/cache", f->dir);
	mkdir(path, 0755);
	mkdir(f->ixdir, 0755);
	shard_path(path, sizeof(path), f, k);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql),
	         "PRAGMA journal_mode=WAL; CREATE TABLE blobs (fp BLOB %s, pack BLOB NOT NULL, "
	         "offset INTEGER NOT NULL, length INTEGER NOT NULL, raw_length INTEGER NOT NULL, "
	         "kind INTEGER NOT NULL, seen INTEGER NOT NULL%s%s) WITHOUT ROWID",
	         version >= 3 ? "NOT NULL" : "PRIMARY KEY",
	         version >= 2 ? ", inner INTEGER NOT NULL DEFAULT 0" : "",
	         version >= 3 ? ", PRIMARY KEY (fp, pack)" : "");
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	if (k == 0) {
		snprintf(sql, sizeof(sql),
		         "CREATE TABLE objects (id BLOB PRIMARY KEY) WITHOUT ROWID;"
		         "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
		         "INSERT INTO meta VALUES ('schema_version', %d), ('shards', %u);"
		         "INSERT INTO objects VALUES (x'%064d')",
		         version, nshards, 42);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	sqlite3_stmt *st;
	assert_int_equal(
	    sqlite3_prepare_v2(db,
	                       version >= 2
	                           ? "INSERT INTO blobs VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)"
	                           : "INSERT INTO blobs VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)",
	                       -1, &st, NULL),
	    SQLITE_OK);
	unsigned shift = 8;
	for (unsigned m = nshards; m > 1; m >>= 1)
		shift--;
	for (size_t i = 0; i < n; i++) {
		if ((shift >= 8 ? 0u : (unsigned)(e[i].fp[0] >> shift)) != k)
			continue;
		sqlite3_bind_blob(st, 1, e[i].fp, 32, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, e[i].pack, 32, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, e[i].offset);
		sqlite3_bind_int64(st, 4, e[i].length);
		sqlite3_bind_int64(st, 5, e[i].raw_length);
		sqlite3_bind_int(st, 6, e[i].kind);
		if (version >= 2)
			sqlite3_bind_int64(st, 7, e[i].inner);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* An old index of 4 shards holding entries 0..99 and one imported object;
 * shard 2 is of schema 3 already (and has no column bad), as an upgrade
 * cut short after it leaves it. */
static void check_old_index_upgrade(const fixture *f, int version)
{
	cairn_index_entry e[100];
	for (uint64_t i = 0; i < 100; i++) {
		e[i] = make_entry(i);
		if (version < 2)
			e[i].inner = 0;
	}
	for (unsigned k = 0; k < 4; k++)
		make_old_shard(f, k, 4, k == 2 ? 3 : version, e, 100);

	cairn_index *ix = open_index(f, 4);
	assert_int_equal(count_of(ix), 100);
	for (uint64_t i = 0; i < 100; i++) {
		cairn_index_entry got;
		lookup_one(ix, ix->ops->lookup, e[i].fp, &got);
		assert_entry_equal(&got, &e[i]);
	}
	int known = 0;
	uint8_t id[32] = {0};
	id[31] = 0x42;
	assert_int_equal(cairn_index_object_known(ix, id, &known), 0);
	assert_int_equal(known, 1);
	/* A second location of a chunk is a row of its own now. */
	cairn_index_entry other = e[5];
	memset(other.pack, 0xff, 32);
	assert_int_equal(cairn_index_insert(ix, &other, 1), 0);
	assert_int_equal(count_of(ix), 101);
	insert_range(ix, 100, 200);
	check_range(ix, 100, 300, 200);
	cairn_index_free(ix);
	for (unsigned k = 0; k < 4; k++) {
		assert_int_equal(
		    shard_int(f, k, "SELECT count(*) FROM pragma_table_info('blobs') WHERE pk > 0"),
		    2);
		assert_int_equal(shard_int(f, k,
		                           "SELECT count(*) FROM pragma_table_info('blobs') WHERE "
		                           "name = 'bad'"),
		                 1);
		assert_shard_integrity(f, k);
	}
	assert_int_equal(shard_int(f, 0, "SELECT value FROM meta WHERE key = 'schema_version'"), 4);
	/* and it stays so */
	ix = open_index(f, 4);
	assert_int_equal(count_of(ix), 201);
	check_range(ix, 100, 300, 200);
	cairn_index_free(ix);
}

static void test_index_sqlite__a_version_1_index_is_brought_up_to_date(void **state)
{
	check_old_index_upgrade(*state, 1);
}

static void test_index_sqlite__a_version_2_index_is_brought_up_to_date(void **state)
{
	check_old_index_upgrade(*state, 2);
}

static void test_index_sqlite__a_version_3_index_is_brought_up_to_date(void **state)
{
	check_old_index_upgrade(*state, 3);
}

/* Rows of one fingerprint: lookup's choice first, a rejected row last. */
static void test_index_sqlite__a_rejected_row_is_offered_last(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 4);
	cairn_index_entry e[3], rows[2 * CAIRN_INDEX_ROWS_MAX], got;
	uint8_t counts[2];
	for (int i = 0; i < 3; i++) {
		e[i] = make_entry(7);
		memset(e[i].pack, 0x10 * (i + 1), 32);
		e[i].offset = 100u * (unsigned)i;
	}
	assert_int_equal(cairn_index_insert(ix, e, 3), 0);
	lookup_one(ix, ix->ops->lookup, e[0].fp, &got);
	assert_entry_equal(&got, &e[0]);

	/* the lowest pack rejected: the next one is the answer */
	assert_int_equal(cairn_index_reject(ix, &e[0], 1), 0);
	lookup_one(ix, ix->ops->lookup, e[0].fp, &got);
	assert_entry_equal(&got, &e[1]);
	/* registering it again does not make it good */
	assert_int_equal(cairn_index_insert(ix, &e[0], 1), 0);
	lookup_one(ix, ix->ops->lookup, e[0].fp, &got);
	assert_entry_equal(&got, &e[1]);

	cairn_index_entry other = make_entry(8);
	uint8_t fps[2][32];
	memcpy(fps[0], e[0].fp, 32);
	memcpy(fps[1], other.fp, 32);
	assert_int_equal(
	    cairn_index_rows(ix, (const uint8_t(*)[32])fps, 2, CAIRN_INDEX_ROWS_MAX, rows, counts),
	    0);
	assert_int_equal(counts[0], 3);
	assert_int_equal(counts[1], 0);
	assert_entry_equal(&rows[0], &e[1]);
	assert_entry_equal(&rows[1], &e[2]);
	assert_entry_equal(&rows[2], &e[0]);
	/* at most max */
	assert_int_equal(cairn_index_rows(ix, (const uint8_t(*)[32])fps, 1, 2, rows, counts), 0);
	assert_int_equal(counts[0], 2);
	assert_entry_equal(&rows[1], &e[2]);

	/* every row rejected: still found, lowest pack first */
	assert_int_equal(cairn_index_reject(ix, &e[1], 2), 0);
	lookup_one(ix, ix->ops->lookup, e[0].fp, &got);
	assert_entry_equal(&got, &e[0]);
	/* a row not in the index is passed over */
	assert_int_equal(cairn_index_reject(ix, &other, 1), 0);
	assert_int_equal(count_of(ix), 3);
	cairn_index_free(ix);
}

static void test_index_sqlite__a_malformed_row_is_reported_as_corrupt(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 1);
	insert_range(ix, 0, 3);
	shard_exec(f, 0, "UPDATE blobs SET pack = x'0102'");
	cairn_index_entry e = make_entry(1), out;
	uint8_t found;
	assert_int_equal(cairn_index_lookup(ix, (const uint8_t(*)[32])e.fp, 1, &out, &found),
	                 CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "shard-00.db"));
	/* The shard stays usable. */
	insert_range(ix, 10, 11);
	check_range(ix, 10, 11, 11);
	cairn_index_free(ix);
}

/* Replaces shard k's file (and drops its log) with text that is not a
 * database; path gets the file's name. */
static void damage_shard(const fixture *f, unsigned k, char *path, size_t size)
{
	char wal[300];
	shard_path(path, size, f, k);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	unlink(wal);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	for (int i = 0; i < 512; i++)
		fputs("not a database ", fp);
	fclose(fp);
}

static void test_index_sqlite__a_file_that_is_not_a_database_is_an_error(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 1);
	cairn_index_free(ix);
	char path[256];
	damage_shard(f, 0, path, sizeof(path));
	int rc = cairn_index_sqlite_open(&ix, f->ixdir, 1);
	assert_int_equal(rc, CAIRN_ECORRUPT);
	assert_null(ix);
	assert_non_null(strstr(cairn_error_last(), path));
}

/* Shards other than the first are opened side by side: the failure of
 * the lowest one is the one reported, and every shard is closed again. */
static void test_index_sqlite__a_damaged_shard_among_many_is_named(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 16);
	cairn_index_free(ix);
	char path[256], first[256];
	damage_shard(f, 9, path, sizeof(path));
	damage_shard(f, 5, first, sizeof(first));
	for (int round = 0; round < 3; round++) {
		ix = (cairn_index *)0x1;
		assert_int_equal(cairn_index_sqlite_open(&ix, f->ixdir, 16), CAIRN_ECORRUPT);
		assert_null(ix);
		assert_non_null(strstr(cairn_error_last(), first));
	}
}

static void test_index_sqlite__a_large_batch_round_trips(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 16);
	insert_range(ix, 0, 100000);
	assert_int_equal(count_of(ix), 100000);
	check_range(ix, 50000, 150000, 100000);
	cairn_index_free(ix);
}

#define THREADS 4
#define PER_THREAD 2000
#define BATCH 250

typedef struct worker {
	cairn_index *ix;
	int id;
	int errors;
} worker;

static void *insert_and_look_up(void *arg)
{
	worker *w = arg;
	cairn_index_entry batch[BATCH], out[BATCH];
	uint8_t fps[BATCH][32], found[BATCH];
	uint64_t base = (uint64_t)w->id * PER_THREAD;
	for (uint64_t done = 0; done < PER_THREAD; done += BATCH) {
		for (size_t i = 0; i < BATCH; i++)
			batch[i] = make_entry(base + done + i);
		if (cairn_index_insert(w->ix, batch, BATCH))
			w->errors++;
		/* Own entries just written, and whatever the others have by now. */
		for (size_t i = 0; i < BATCH; i++) {
			uint64_t n =
			    i % 2 ? base + done + i : (i * 7919 + done) % (THREADS * PER_THREAD);
			cairn_index_entry e = make_entry(n);
			memcpy(fps[i], e.fp, 32);
		}
		if (cairn_index_lookup(w->ix, (const uint8_t(*)[32])fps, BATCH, out, found))
			w->errors++;
		for (size_t i = 1; i < BATCH; i += 2) {
			cairn_index_entry e = make_entry(base + done + i);
			if (!found[i] || memcmp(&out[i].pack, e.pack, 32) ||
			    out[i].length != e.length)
				w->errors++;
		}
		uint64_t c;
		if (cairn_index_count(w->ix, &c))
			w->errors++;
	}
	return NULL;
}

static void test_index_sqlite__concurrent_lookups_and_inserts_agree(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 16);
	pthread_t t[THREADS];
	worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (worker){.ix = ix, .id = i};
		assert_int_equal(pthread_create(&t[i], NULL, insert_and_look_up, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].errors, 0);
	}
	assert_int_equal(count_of(ix), THREADS * PER_THREAD);
	check_range(ix, 0, THREADS * PER_THREAD + 100, THREADS * PER_THREAD);
	cairn_index_free(ix);
	for (unsigned k = 0; k < 16; k++)
		assert_shard_integrity(f, k);
}

typedef struct prune_worker {
	cairn_index *ix;
	int role; /* 0, 1: insert; 2: add and drop pack 0xdd..; 3: scan */
	int errors;
} prune_worker;

static void *insert_drop_or_scan(void *arg)
{
	prune_worker *w = arg;
	cairn_index_entry batch[BATCH];
	uint8_t doomed[1][32];
	memset(doomed[0], 0xdd, 32);
	for (uint64_t done = 0; done < PER_THREAD; done += BATCH) {
		if (w->role < 2) {
			for (size_t i = 0; i < BATCH; i++)
				batch[i] = make_entry((uint64_t)w->role * PER_THREAD + done + i);
			w->errors += cairn_index_insert(w->ix, batch, BATCH) != 0;
		} else if (w->role == 2) {
			/* second locations of the chunks the others insert */
			for (size_t i = 0; i < BATCH; i++) {
				batch[i] = make_entry((done + i) * 2 % (2 * PER_THREAD));
				memcpy(batch[i].pack, doomed[0], 32);
			}
			w->errors += cairn_index_insert(w->ix, batch, BATCH) != 0;
			w->errors +=
			    cairn_index_drop_packs(w->ix, (const uint8_t(*)[32])doomed, 1) != 0;
		} else {
			cairn_index_entry page[100];
			size_t got = 100;
			int first = 1;
			while (got == 100) {
				if (cairn_index_scan(w->ix, first ? NULL : &batch[0], page, 100,
				                     &got))
					w->errors++;
				for (size_t i = 0; i < got; i++) {
					if (!first && by_row(&batch[0], &page[i]) >= 0)
						w->errors++; /* not in order */
					batch[0] = page[i];
					first = 0;
				}
			}
		}
	}
	return NULL;
}

static void test_index_sqlite__scans_and_drops_run_beside_inserts(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 16);
	pthread_t t[4];
	prune_worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (prune_worker){.ix = ix, .role = i};
		assert_int_equal(pthread_create(&t[i], NULL, insert_drop_or_scan, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].errors, 0);
	}
	/* The dropper's last batch was dropped too: only the others' rows. */
	assert_int_equal(count_of(ix), 2 * PER_THREAD);
	check_range(ix, 0, 2 * PER_THREAD + 100, 2 * PER_THREAD);
	cairn_index_free(ix);
}

static void test_index_sqlite__two_handles_on_one_directory_share_data(void **state)
{
	fixture *f = *state;
	cairn_index *a = open_index(f, 16), *b = open_index(f, 16);
	insert_range(a, 0, 100);
	check_range(b, 0, 200, 100);
	insert_range(b, 100, 200);
	check_range(a, 0, 300, 200);
	cairn_index_free(a);
	cairn_index_free(b);
}

static void test_index_sqlite__dedup_lookups_skip_a_shard_that_was_empty(void **state)
{
	fixture *f = *state;
	cairn_index *ix = open_index(f, 1);
	lookup_fn dedup = ix->ops->lookup_dedup;
	assert_non_null(dedup);
	check_range_with(ix, dedup, 0, 10, 0); /* the shard is empty now */
	cairn_index *other = open_index(f, 1);
	insert_range(other, 0, 10);
	cairn_index_free(other);
	/* What another process registered since is missed, and only by dedup
	 * lookups. */
	check_range_with(ix, dedup, 0, 10, 0);
	check_range(ix, 0, 20, 10);
	/* What this handle registers is found: the shard is asked again. */
	insert_range(ix, 10, 15);
	check_range_with(ix, dedup, 0, 20, 15);
	cairn_index_free(ix);

	/* Another process finds it holding entries: asked every time. */
	ix = open_index(f, 1);
	check_range_with(ix, ix->ops->lookup_dedup, 0, 20, 15);
	insert_range(ix, 15, 18);
	check_range_with(ix, ix->ops->lookup_dedup, 0, 20, 18);
	cairn_index_free(ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	    T(test_index_sqlite__tuning_turns_off_memory_statistics),
	    T(test_index_sqlite__inserted_entries_are_found_and_others_are_not),
	    T(test_index_sqlite__a_chunk_in_two_packs_has_two_rows_and_the_lower_pack_is_found),
	    T(test_index_sqlite__scan_gives_every_row_in_order_across_shards_and_pages),
	    T(test_index_sqlite__drop_packs_removes_exactly_those_packs_rows),
	    T(test_index_sqlite__imported_objects_are_remembered),
	    T(test_index_sqlite__clear_removes_entries_and_objects),
	    T(test_index_sqlite__data_survives_closing_and_reopening),
	    T(test_index_sqlite__closing_leaves_the_log_unless_told_to_fold_it),
	    T(test_index_sqlite__one_shard_works),
	    T(test_index_sqlite__sixteen_shards_work),
	    T(test_index_sqlite__two_hundred_fifty_six_shards_work),
	    T(test_index_sqlite__bad_shard_counts_are_rejected),
	    T(test_index_sqlite__reopening_with_another_shard_count_is_refused),
	    T(test_index_sqlite__a_newer_schema_is_refused),
	    T(test_index_sqlite__a_version_1_index_is_brought_up_to_date),
	    T(test_index_sqlite__a_version_2_index_is_brought_up_to_date),
	    T(test_index_sqlite__a_version_3_index_is_brought_up_to_date),
	    T(test_index_sqlite__a_rejected_row_is_offered_last),
	    T(test_index_sqlite__a_malformed_row_is_reported_as_corrupt),
	    T(test_index_sqlite__a_file_that_is_not_a_database_is_an_error),
	    T(test_index_sqlite__a_damaged_shard_among_many_is_named),
	    T(test_index_sqlite__a_large_batch_round_trips),
	    T(test_index_sqlite__concurrent_lookups_and_inserts_agree),
	    T(test_index_sqlite__scans_and_drops_run_beside_inserts),
	    T(test_index_sqlite__two_handles_on_one_directory_share_data),
	    T(test_index_sqlite__dedup_lookups_skip_a_shard_that_was_empty),
#undef T
	};
	tuned = cairn_index_sqlite_tune_process();
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The index core (cairn/sys/index.h): answers from memory, full rows from
 * the shards, and every acknowledged registration there again after a
 * process dies without closing it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "index_entry_assert.h"

#include "cairn/errors.h"
#include "cairn/index.h"

#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct fixture {
	char dir[64];
} fixture;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cairn-test-core-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
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

static cairn_index_entry entry(uint32_t i, uint8_t pack)
{
	cairn_index_entry e;
	memset(&e, 0, sizeof(e));
	for (int k = 0; k < 32; k++)
		e.fp[k] = (uint8_t)(i * 131 + k * 7 + (i >> 8) * 17 + 1);
	memcpy(e.fp, &i, sizeof(i));
	memset(e.pack, pack, 32);
	e.offset = 4096 * i;
	e.length = 1000 + i;
	e.raw_length = 2000 + i;
	e.kind = 1;
	return e;
}

static void lookup_all(cairn_index *ix, const cairn_index_entry *e, size_t n, int dedup,
                       cairn_index_entry *out, uint8_t *found)
{
	uint8_t(*fps)[32] = malloc(n * 32);
	for (size_t i = 0; i < n; i++)
		memcpy(fps[i], e[i].fp, 32);
	if (dedup)
		assert_int_equal(
		    cairn_index_lookup_dedup(ix, (const uint8_t(*)[32])fps, n, out, found), 0);
	else
		assert_int_equal(cairn_index_lookup(ix, (const uint8_t(*)[32])fps, n, out, found),
		                 0);
	free(fps);
}

static void test_index_core__answers_compact_from_memory_and_full_from_the_shards(void **state)
{
	fixture *f = *state;
	cairn_index *ix;
	enum { N = 500 };
	cairn_index_entry e[N], out[N];
	uint8_t found[N];
	for (uint32_t i = 0; i < N; i++)
		e[i] = entry(i, (uint8_t)(1 + i % 3));
	assert_int_equal(cairn_index_core_open(&ix, f->dir, 4, NULL), 0);
	assert_int_equal(cairn_index_insert(ix, e, N / 2), 0);
	lookup_all(ix, e, N, 1, out, found);
	for (int i = 0; i < N; i++) {
		assert_int_equal(found[i], i < N / 2);
		if (!found[i])
			continue;
		assert_memory_equal(out[i].pack, e[i].pack, 32);
		assert_int_equal(out[i].offset, e[i].offset);
		assert_int_equal(out[i].length, 0); /* compact */
	}
	/* A restore's lookup: the full rows, merged from the log first. */
	lookup_all(ix, e, N, 0, out, found);
	for (int i = 0; i < N; i++) {
		assert_int_equal(found[i], i < N / 2);
		if (found[i])
			assert_entry_equal(&out[i], &e[i]);
	}
	uint64_t count;
	assert_int_equal(cairn_index_count(ix, &count), 0);
	assert_int_equal(count, N / 2);
	cairn_index_free(ix);
	/* Opened again: loaded from the shards. */
	assert_int_equal(cairn_index_core_open(&ix, f->dir, 4, NULL), 0);
	lookup_all(ix, e, N, 1, out, found);
	for (int i = 0; i < N; i++)
		assert_int_equal(found[i], i < N / 2);
	cairn_index_free(ix);
}

static void test_index_core__rejected_rows_and_dropped_packs_are_not_offered(void **state)
{
	fixture *f = *state;
	cairn_index *ix;
	cairn_index_entry honest = entry(7, 0x40), bogus = entry(7, 0x20), other = entry(8, 0x20);
	cairn_index_entry out[2];
	uint8_t found[2];
	assert_int_equal(cairn_index_core_open(&ix, f->dir, 2, NULL), 0);
	cairn_index_entry rows[3] = {honest, bogus, other};
	assert_int_equal(cairn_index_insert(ix, rows, 3), 0);
	/* The lower pack id is offered first, by both lookups. */
	lookup_all(ix, &bogus, 1, 1, out, found);
	assert_true(found[0]);
	assert_memory_equal(out[0].pack, bogus.pack, 32);
	lookup_all(ix, &bogus, 1, 0, out, found);
	assert_entry_equal(&out[0], &bogus);
	assert_int_equal(cairn_index_reject(ix, &bogus, 1), 0);
	lookup_all(ix, &bogus, 1, 1, out, found);
	assert_memory_equal(out[0].pack, honest.pack, 32);
	lookup_all(ix, &bogus, 1, 0, out, found);
	assert_entry_equal(&out[0], &honest);
	/* Pack 0x20 dropped: its other row goes. */
	uint8_t packs[1][32];
	memcpy(packs[0], bogus.pack, 32);
	assert_int_equal(cairn_index_drop_packs(ix, (const uint8_t(*)[32])packs, 1), 0);
	cairn_index_entry both[2] = {honest, other};
	lookup_all(ix, both, 2, 1, out, found);
	assert_true(found[0]);
	assert_false(found[1]);
	cairn_index_free(ix);
}

static void test_index_core__acknowledged_rows_survive_a_process_that_dies(void **state)
{
	fixture *f = *state;
	enum { N = 300 };
	cairn_index_entry e[N], out[N];
	uint8_t found[N];
	for (uint32_t i = 0; i < N; i++)
		e[i] = entry(1000 + i, 0x55);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		cairn_index *ix;
		/* Never merged before it dies: every row is in the log only. */
		cairn_index_core_opts opts = {.merge_ms = 3600 * 1000};
		if (cairn_index_core_open(&ix, f->dir, 4, &opts) || cairn_index_insert(ix, e, N))
			_exit(1);
		_exit(0); /* no free, no merge: as SIGKILL leaves it */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cairn_index *ix;
	assert_int_equal(cairn_index_core_open(&ix, f->dir, 4, NULL), 0);
	lookup_all(ix, e, N, 0, out, found);
	for (int i = 0; i < N; i++) {
		assert_true(found[i]);
		assert_entry_equal(&out[i], &e[i]);
	}
	cairn_index_free(ix);
}

static void test_index_core__a_clean_close_saves_the_table_for_one_open(void **state)
{
	fixture *f = *state;
	cairn_index *ix;
	enum { N = 400 };
	cairn_index_entry e[N], out[N];
	uint8_t found[N];
	char table[128];
	struct stat st;
	for (uint32_t i = 0; i < N; i++)
		e[i] = entry(5000 + i, (uint8_t)(0x60 + i % 5));
	snprintf(table, sizeof(table), "%s/table", f->dir);
	assert_int_equal(cairn_index_core_open(&ix, f->dir, 4, NULL), 0);
	assert_int_equal(cairn_index_insert(ix, e, N), 0);
	assert_int_equal(cairn_index_reject(ix, &e[0], 1), 0);
	cairn_index_free(ix);
	assert_int_equal(stat(table, &st), 0);
	/* Read back from the saved table, which is then gone. */
	assert_int_equal(cairn_index_core_open(&ix, f->dir, 4, NULL), 0);
	assert_int_not_equal(stat(table, &st), 0);
	lookup_all(ix, e, N, 1, out, found);
	for (int i = 0; i < N; i++) {
		assert_int_equal(found[i], i != 0); /* the rejected row stays rejected */
		if (found[i])
			assert_int_equal(out[i].offset, e[i].offset);
	}
	cairn_index_free(ix);
	/* The shards changed after the save (every row deleted behind the
	 * index's back): the table is not believed. */
	assert_int_equal(stat(table, &st), 0);
	usleep(50000); /* past the file system's clock tick of the save */
	for (int k = 0; k < 4; k++) {
		char shard[128];
		sqlite3 *db;
		snprintf(shard, sizeof(shard), "%s/shard-%02x.db", f->dir, k);
		assert_int_equal(sqlite3_open(shard, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "DELETE FROM blobs", NULL, NULL, NULL),
		                 SQLITE_OK);
		sqlite3_close(db);
	}
	assert_int_equal(cairn_index_core_open(&ix, f->dir, 4, NULL), 0);
	lookup_all(ix, e, N, 1, out, found);
	for (int i = 0; i < N; i++)
		assert_false(found[i]);
	cairn_index_free(ix);
}

static void test_index_core__a_stop_waits_for_no_merge_and_loses_nothing(void **state)
{
	fixture *f = *state;
	cairn_index *ix;
	enum { N = 200 };
	cairn_index_entry e[N], out[N];
	uint8_t found[N];
	cairn_index_core_opts never = {.merge_ms = 3600 * 1000};
	for (uint32_t i = 0; i < N; i++)
		e[i] = entry(9000 + i, 0x77);
	/* Registered, never merged: at the stop the rows are in the log and
	 * in the saved table only. */
	assert_int_equal(cairn_index_core_open(&ix, f->dir, 4, &never), 0);
	assert_int_equal(cairn_index_insert(ix, e, N), 0);
	cairn_index_free(ix);
	assert_int_equal(cairn_index_core_open(&ix, f->dir, 4, &never), 0);
	lookup_all(ix, e, N, 1, out, found);
	for (int i = 0; i < N; i++)
		assert_true(found[i]);
	/* The full rows: the log merged into the shards on demand. */
	lookup_all(ix, e, N, 0, out, found);
	for (int i = 0; i < N; i++) {
		assert_true(found[i]);
		assert_entry_equal(&out[i], &e[i]);
	}
	cairn_index_free(ix);
	assert_int_equal(cairn_index_core_open(&ix, f->dir, 4, NULL), 0);
	lookup_all(ix, e, N, 0, out, found);
	for (int i = 0; i < N; i++)
		assert_true(found[i]);
	cairn_index_free(ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_index_core__answers_compact_from_memory_and_full_from_the_shards, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_index_core__rejected_rows_and_dropped_packs_are_not_offered, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_index_core__acknowledged_rows_survive_a_process_that_dies, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_index_core__a_clean_close_saves_the_table_for_one_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_index_core__a_stop_waits_for_no_merge_and_loses_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Repository engine tests on a real local store in a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/cairn.h"

struct fixture {
	char dir[64];
	char repo[128];
	char cache[128];
};

static const char password[] = "correct horse";

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/cairn-test-repo-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->repo, sizeof(f->repo), "%s/repo", f->dir);
	snprintf(f->cache, sizeof(f->cache), "%s/cache", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

static void init_repo(struct fixture *f, int encrypted)
{
	cairn_init_opts o = {.password = password, .password_len = strlen(password),
			     .encrypted = encrypted, .chunk_min = 4096, .chunk_avg = 16384,
			     .chunk_max = 65536};
	o.kdf.opslimit = 1;
	o.kdf.memlimit = 8192 * 1024;
	assert_int_equal(cairn_repo_init(f->repo, &o, NULL), 0);
}

static cairn_repo *open_repo(struct fixture *f, const char *pw)
{
	cairn_open_opts o = {.password = pw, .password_len = pw ? strlen(pw) : 0,
			     .cache_dir = f->cache};
	cairn_repo *r = NULL;
	assert_int_equal(cairn_repo_open(&r, f->repo, &o), 0);
	return r;
}

static void test_repo__init_twice_refuses_and_keeps_the_first(void **state)
{
	struct fixture *f = *state;
	uint8_t id1[32];
	cairn_init_opts o = {.password = password, .password_len = strlen(password),
			     .encrypted = 1};
	o.kdf.opslimit = 1;
	o.kdf.memlimit = 8192 * 1024;
	assert_int_equal(cairn_repo_init(f->repo, &o, id1), 0);
	assert_int_equal(cairn_repo_init(f->repo, &o, NULL), CAIRN_EEXISTS);
	cairn_repo *r = open_repo(f, password);
	assert_memory_equal(cairn_repo_config_get(r)->id, id1, 32);
	cairn_repo_free(r);
}

static void test_repo__wrong_password_and_missing_repo_are_told_apart(void **state)
{
	struct fixture *f = *state;
	cairn_repo *r = NULL;
	cairn_open_opts o = {.password = "nope", .password_len = 4, .cache_dir = f->cache};
	assert_int_equal(cairn_repo_open(&r, f->repo, &o), CAIRN_ENOREPO);
	assert_int_equal(cairn_repo_needs_password(f->repo), CAIRN_ENOREPO);
	init_repo(f, 1);
	assert_int_equal(cairn_repo_needs_password(f->repo), 1);
	assert_int_equal(cairn_repo_open(&r, f->repo, &o), CAIRN_EAUTH);
	assert_null(r);
	o.password = NULL;
	assert_int_equal(cairn_repo_open(&r, f->repo, &o), CAIRN_EINVAL);
}

static void test_repo__unencrypted_repository_needs_no_password(void **state)
{
	struct fixture *f = *state;
	init_repo(f, 0);
	assert_int_equal(cairn_repo_needs_password(f->repo), 0);
	cairn_repo *r = open_repo(f, NULL);
	assert_false(cairn_repo_config_get(r)->encrypted);
	cairn_repo_free(r);
}

static void commit_blobs(cairn_repo *r, uint8_t fps[][32], int n)
{
	cairn_sealer *s;
	cairn_fingerprinter *fp;
	cairn_pack_writer w;
	char data[64];
	assert_int_equal(cairn_repo_sealer_new(r, &s, 0), 0);
	assert_int_equal(cairn_repo_fingerprinter_new(r, &fp), 0);
	cairn_pack_writer_init(&w);
	for (int i = 0; i < n; i++) {
		snprintf(data, sizeof(data), "blob number %d", i);
		assert_int_equal(cairn_fingerprint(fp, fps[i], data, strlen(data)), 0);
		assert_int_equal(cairn_pack_add(&w, s, fps[i], CAIRN_BLOB_DATA, data, strlen(data)), 0);
	}
	assert_int_equal(cairn_repo_commit_pack(r, s, &w), 0);
	cairn_pack_writer_free(&w);
	cairn_sealer_free(s);
	cairn_fingerprinter_free(fp);
}

static void read_back(cairn_repo *r, uint8_t fps[][32], int n)
{
	cairn_sealer *s;
	cairn_fingerprinter *fp;
	cairn_buf out = CAIRN_BUF_INIT;
	char want[64];
	assert_int_equal(cairn_repo_sealer_new(r, &s, 0), 0);
	assert_int_equal(cairn_repo_fingerprinter_new(r, &fp), 0);
	for (int i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "blob number %d", i);
		assert_int_equal(cairn_repo_read_blob(r, s, fp, fps[i], CAIRN_BLOB_DATA, &out), 0);
		assert_int_equal(out.len, strlen(want));
		assert_memory_equal(out.data, want, out.len);
	}
	cairn_buf_free(&out);
	cairn_sealer_free(s);
	cairn_fingerprinter_free(fp);
}

static void test_repo__committed_blobs_read_back_after_the_index_is_lost(void **state)
{
	struct fixture *f = *state;
	uint8_t fps[20][32];
	char cmd[256];
	init_repo(f, 1);
	cairn_repo *r = open_repo(f, password);
	commit_blobs(r, fps, 20);
	read_back(r, fps, 20);
	cairn_repo_free(r);

	/* Without the cache, opening imports the store's index objects. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->cache);
	assert_int_equal(system(cmd), 0);
	r = open_repo(f, password);
	read_back(r, fps, 20);
	uint64_t imported = 0;
	assert_int_equal(cairn_repo_sync_index(r, 1, &imported), 0);
	assert_int_equal(imported, 1);
	read_back(r, fps, 20);
	cairn_repo_free(r);
}

/* How many of the n fingerprints the repository's index answers. */
static int indexed(cairn_repo *r, uint8_t fps[][32], int n)
{
	cairn_index *ix = cairn_repo_index(r);
	cairn_index_entry e[n];
	uint8_t found[n];
	int k = 0;
	assert_int_equal(ix->ops->lookup(ix, (const uint8_t(*)[32])fps, (size_t)n, e, found), 0);
	for (int i = 0; i < n; i++)
		k += found[i];
	return k;
}

static void test_repo__committed_blobs_are_registered_in_batches(void **state)
{
	struct fixture *f = *state;
	uint8_t fps[10][32];
	init_repo(f, 1);
	cairn_repo *r = open_repo(f, password);
	commit_blobs(r, fps, 5);
	commit_blobs(r, fps + 5, 5);
	assert_int_equal(indexed(r, fps, 10), 0); /* queued, not registered yet */
	assert_int_equal(cairn_repo_flush_index(r), 0);
	assert_int_equal(indexed(r, fps, 10), 10);
	assert_int_equal(cairn_repo_flush_index(r), 0); /* nothing left: fine */
	cairn_repo_free(r);
}

static void test_repo__a_blob_committed_is_readable_before_a_flush(void **state)
{
	struct fixture *f = *state;
	uint8_t fps[3][32];
	init_repo(f, 0);
	cairn_repo *r = open_repo(f, NULL);
	commit_blobs(r, fps, 3);
	read_back(r, fps, 3);
	cairn_repo_free(r);
}

static void test_repo__registrations_left_queued_are_imported_by_the_next_open(void **state)
{
	struct fixture *f = *state;
	uint8_t fps[4][32];
	init_repo(f, 1);
	cairn_repo *r = open_repo(f, password);
	commit_blobs(r, fps, 4);
	cairn_repo_free(r); /* as if the process had died before a flush */
	r = open_repo(f, password);
	assert_int_equal(indexed(r, fps, 4), 4);
	cairn_repo_free(r);
}

static void test_repo__unknown_blob_is_not_found(void **state)
{
	struct fixture *f = *state;
	uint8_t fp[32] = {1, 2, 3};
	cairn_sealer *s;
	cairn_fingerprinter *fpr;
	cairn_buf out = CAIRN_BUF_INIT;
	init_repo(f, 0);
	cairn_repo *r = open_repo(f, NULL);
	assert_int_equal(cairn_repo_sealer_new(r, &s, 0), 0);
	assert_int_equal(cairn_repo_fingerprinter_new(r, &fpr), 0);
	assert_int_equal(cairn_repo_read_blob(r, s, fpr, fp, CAIRN_BLOB_DATA, &out), CAIRN_ENOTFOUND);
	cairn_sealer_free(s);
	cairn_fingerprinter_free(fpr);
	cairn_repo_free(r);
}

static void test_repo__snapshots_save_load_list_and_resolve(void **state)
{
	struct fixture *f = *state;
	cairn_snapshot a = {0}, b = {0}, got;
	char *paths[] = {"/x", NULL};
	uint8_t id[32];
	char hex[65];
	init_repo(f, 1);
	cairn_repo *r = open_repo(f, password);
	a.time_ns = 1000;
	a.host = "h";
	a.user = "u";
	a.paths = paths;
	a.n_paths = 1;
	b = a;
	b.time_ns = 2000;
	assert_int_equal(cairn_snapshot_save(r, &a), 0);
	assert_int_equal(cairn_snapshot_save(r, &b), 0);
	assert_int_equal(cairn_snapshot_resolve(r, "latest", id), 0);
	assert_memory_equal(id, b.id, 32);
	for (int i = 0; i < 64; i++)
		hex[i] = "0123456789abcdef"[(a.id[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	hex[12] = '\0';
	assert_int_equal(cairn_snapshot_resolve(r, hex, id), 0);
	assert_memory_equal(id, a.id, 32);
	assert_int_equal(cairn_snapshot_resolve(r, "zz", id), CAIRN_EINVAL);
	assert_int_equal(cairn_snapshot_resolve(r, "0000000000000000000000", id), CAIRN_ENOTFOUND);
	assert_int_equal(cairn_snapshot_load(r, a.id, &got), 0);
	assert_string_equal(got.paths[0], "/x");
	assert_true(got.time_ns == 1000);
	cairn_snapshot_clear(&got);
	cairn_snapshot *list;
	size_t n;
	assert_int_equal(cairn_snapshot_list(r, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_true(list[0].time_ns == 1000 && list[1].time_ns == 2000);
	cairn_snapshot_list_free(list, n);
	cairn_repo_free(r);
}

static int sink_store(void *ud, const uint8_t fp[32], uint8_t kind, const uint8_t *data, size_t len)
{
	cairn_pack_writer *w = ((void **)ud)[0];
	cairn_sealer *s = ((void **)ud)[1];
	return cairn_pack_add(w, s, fp, kind, data, len);
}

static void test_repo__tree_written_in_chunks_reads_back_in_order(void **state)
{
	struct fixture *f = *state;
	cairn_sealer *s;
	cairn_fingerprinter *fp;
	cairn_pack_writer w;
	cairn_tree_writer *tw;
	cairn_snapshot snap = {0};
	char path[64];
	init_repo(f, 1);
	cairn_repo *r = open_repo(f, password);
	assert_int_equal(cairn_repo_sealer_new(r, &s, 0), 0);
	assert_int_equal(cairn_repo_fingerprinter_new(r, &fp), 0);
	cairn_pack_writer_init(&w);
	void *ud[2] = {&w, s};
	assert_int_equal(cairn_tree_writer_new(&tw, &cairn_repo_config_get(r)->chunker, fp, sink_store, ud), 0);
	for (int i = 0; i < 3000; i++) {
		cairn_entry e = {0};
		snprintf(path, sizeof(path), "/dir/file-%05d", i);
		e.type = CAIRN_ENTRY_DIR;
		e.path = path;
		e.mode = 0755;
		e.mtime_ns = i;
		assert_int_equal(cairn_tree_writer_add(tw, &e), 0);
	}
	assert_int_equal(cairn_tree_writer_finish(tw, &snap.manifest, &snap.n_manifest, &snap.manifest_size), 0);
	assert_true(snap.n_manifest > 1); /* the stream was cut into several chunks */
	assert_int_equal(cairn_repo_commit_pack(r, s, &w), 0);

	cairn_tree_reader *tr;
	cairn_entry e;
	int i = 0, rc;
	assert_int_equal(cairn_tree_reader_open(&tr, r, &snap), 0);
	while ((rc = cairn_tree_reader_next(tr, &e)) == 1) {
		snprintf(path, sizeof(path), "/dir/file-%05d", i);
		assert_string_equal(e.path, path);
		assert_true(e.mtime_ns == i);
		cairn_entry_clear(&e);
		i++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(i, 3000);
	cairn_tree_reader_free(tr);
	cairn_tree_writer_free(tw);
	free(snap.manifest);
	cairn_pack_writer_free(&w);
	cairn_sealer_free(s);
	cairn_fingerprinter_free(fp);
	cairn_repo_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_repo__init_twice_refuses_and_keeps_the_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo__wrong_password_and_missing_repo_are_told_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo__unencrypted_repository_needs_no_password, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo__committed_blobs_read_back_after_the_index_is_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo__committed_blobs_are_registered_in_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo__a_blob_committed_is_readable_before_a_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo__registrations_left_queued_are_imported_by_the_next_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo__unknown_blob_is_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo__snapshots_save_load_list_and_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo__tree_written_in_chunks_reads_back_in_order, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

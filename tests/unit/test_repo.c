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
	cairn_init_opts o = {.password = password,
	                     .password_len = strlen(password),
	                     .encrypted = encrypted,
	                     .chunk_min = 4096,
	                     .chunk_avg = 16384,
	                     .chunk_max = 65536};
	o.kdf.opslimit = 1;
	o.kdf.memlimit = 8192 * 1024;
	o.cache_dir = f->cache;
	assert_int_equal(cairn_repo_init(f->repo, &o, NULL), 0);
}

static cairn_repo *open_repo(struct fixture *f, const char *pw)
{
	cairn_open_opts o = {
	    .password = pw, .password_len = pw ? strlen(pw) : 0, .cache_dir = f->cache};
	cairn_repo *r = NULL;
	assert_int_equal(cairn_repo_open(&r, f->repo, &o), 0);
	return r;
}

static void test_repo__init_twice_refuses_and_keeps_the_first(void **state)
{
	struct fixture *f = *state;
	uint8_t id1[32];
	cairn_init_opts o = {
	    .password = password, .password_len = strlen(password), .encrypted = 1};
	o.kdf.opslimit = 1;
	o.kdf.memlimit = 8192 * 1024;
	o.cache_dir = f->cache;
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

/* Commits one pack of the blobs "blob number first" .. first + n - 1. */
static void commit_blobs_from(cairn_repo *r, uint8_t fps[][32], int n, int first)
{
	cairn_sealer *s;
	cairn_fingerprinter *fp;
	cairn_pack_writer w;
	char data[64];
	assert_int_equal(cairn_repo_sealer_new(r, &s, 0), 0);
	assert_int_equal(cairn_repo_fingerprinter_new(r, &fp), 0);
	cairn_pack_writer_init(&w);
	for (int i = 0; i < n; i++) {
		snprintf(data, sizeof(data), "blob number %d", first + i);
		assert_int_equal(cairn_fingerprint(fp, fps[i], data, strlen(data)), 0);
		assert_int_equal(cairn_pack_add(&w, s, fps[i], CAIRN_BLOB_DATA, data, strlen(data)),
		                 0);
	}
	assert_int_equal(cairn_repo_commit_pack(r, s, &w), 0);
	cairn_pack_writer_free(&w);
	cairn_sealer_free(s);
	cairn_fingerprinter_free(fp);
}

static void commit_blobs(cairn_repo *r, uint8_t fps[][32], int n)
{
	commit_blobs_from(r, fps, n, 0);
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
	assert_int_equal(cairn_repo_flush_index(r), 0);
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

/* A read does not flush the queue of registrations; a blob the index
 * does not know is looked for again after the index is brought up to
 * the store, whose index/ objects list it already. */
static void test_repo__a_read_finds_blobs_the_stores_index_objects_list(void **state)
{
	struct fixture *f = *state;
	uint8_t fps[3][32];
	cairn_sealer *s;
	cairn_fingerprinter *fpr;
	cairn_buf out = CAIRN_BUF_INIT;
	init_repo(f, 0);
	cairn_repo *r = open_repo(f, NULL);
	commit_blobs(r, fps, 3);
	assert_int_equal(indexed(r, fps, 3), 0);
	assert_int_equal(cairn_repo_sealer_new(r, &s, 0), 0);
	assert_int_equal(cairn_repo_fingerprinter_new(r, &fpr), 0);
	assert_int_equal(cairn_repo_read_blob(r, s, fpr, fps[0], CAIRN_BLOB_DATA, &out), 0);
	assert_int_equal(indexed(r, fps, 3), 3);
	assert_int_equal(cairn_repo_flush_index(r), 0);
	read_back(r, fps, 3);
	cairn_buf_free(&out);
	cairn_sealer_free(s);
	cairn_fingerprinter_free(fpr);
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
	assert_int_equal(cairn_repo_read_blob(r, s, fpr, fp, CAIRN_BLOB_DATA, &out),
	                 CAIRN_ENOTFOUND);
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
	assert_int_equal(
	    cairn_tree_writer_new(&tw, &cairn_repo_config_get(r)->chunker, fp, sink_store, ud), 0);
	for (int i = 0; i < 3000; i++) {
		cairn_entry e = {0};
		snprintf(path, sizeof(path), "/dir/file-%05d", i);
		e.type = CAIRN_ENTRY_DIR;
		e.path = path;
		e.mode = 0755;
		e.mtime_ns = i;
		assert_int_equal(cairn_tree_writer_add(tw, &e), 0);
	}
	assert_int_equal(
	    cairn_tree_writer_finish(tw, &snap.manifest, &snap.n_manifest, &snap.manifest_size), 0);
	assert_true(snap.n_manifest > 1); /* the stream was cut into several chunks */
	assert_int_equal(cairn_repo_commit_pack(r, s, &w), 0);
	assert_int_equal(cairn_repo_flush_index(r), 0);

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

/* ---- plan_ranges: pure, no repository ------------------------------- */

static cairn_blob_loc blob(uint8_t pack, uint32_t offset, uint32_t length, size_t id)
{
	cairn_blob_loc b;
	memset(&b, 0, sizeof(b));
	memset(b.pack, pack, sizeof(b.pack));
	b.offset = offset;
	b.length = length;
	b.id = id;
	return b;
}

static void check_range(const cairn_pack_range *r, uint64_t offset, uint64_t length, size_t first,
                        size_t count)
{
	assert_int_equal(r->offset, offset);
	assert_int_equal(r->length, length);
	assert_int_equal(r->first, first);
	assert_int_equal(r->count, count);
}

static void test_repo__no_blobs_plan_no_ranges(void **state)
{
	cairn_pack_range *r = (cairn_pack_range *)&r;
	size_t n = 99;
	assert_int_equal(cairn_repo_plan_ranges(NULL, 0, 100, 1000, &r, &n), 0);
	assert_null(r);
	assert_int_equal(n, 0);
}

static void test_repo__one_blob_is_one_range(void **state)
{
	cairn_blob_loc b[] = {blob(1, 500, 77, 42)};
	cairn_pack_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_repo_plan_ranges(b, 1, 0, 1000, &r, &n), 0);
	assert_int_equal(n, 1);
	check_range(&r[0], 500, 77, 0, 1);
	assert_int_equal(b[0].id, 42);
	free(r);
}

static void test_repo__blobs_are_sorted_by_pack_then_offset(void **state)
{
	cairn_blob_loc b[] = {blob(2, 300, 10, 0), blob(1, 200, 10, 1), blob(2, 100, 10, 2),
	                      blob(1, 0, 10, 3)};
	cairn_pack_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_repo_plan_ranges(b, 4, 0, 1 << 20, &r, &n), 0);
	assert_int_equal(b[0].id, 3);
	assert_int_equal(b[1].id, 1);
	assert_int_equal(b[2].id, 2);
	assert_int_equal(b[3].id, 0);
	/* Gap 0: none of them touch, so four ranges in sorted order. */
	assert_int_equal(n, 4);
	check_range(&r[0], 0, 10, 0, 1);
	check_range(&r[1], 200, 10, 1, 1);
	check_range(&r[2], 100, 10, 2, 1);
	check_range(&r[3], 300, 10, 3, 1);
	free(r);
}

static void test_repo__neighbours_within_the_gap_share_a_range(void **state)
{
	cairn_blob_loc b[] = {blob(1, 0, 100, 0), blob(1, 150, 100, 1), blob(1, 300, 10, 2)};
	cairn_pack_range *r = NULL;
	size_t n = 0;
	/* 150 is exactly 50 after 100: joins; 300 is 50 after 250: joins. */
	assert_int_equal(cairn_repo_plan_ranges(b, 3, 50, 1 << 20, &r, &n), 0);
	assert_int_equal(n, 1);
	check_range(&r[0], 0, 310, 0, 3);
	free(r);
}

static void test_repo__a_gap_wider_than_allowed_starts_a_new_range(void **state)
{
	cairn_blob_loc b[] = {blob(1, 0, 100, 0), blob(1, 150, 100, 1), blob(1, 250, 10, 2)};
	cairn_pack_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_repo_plan_ranges(b, 3, 49, 1 << 20, &r, &n), 0);
	assert_int_equal(n, 2);
	check_range(&r[0], 0, 100, 0, 1);
	check_range(&r[1], 150, 110, 1, 2); /* 250 touches 150..250 */
	free(r);
}

static void test_repo__different_packs_never_share_a_range(void **state)
{
	cairn_blob_loc b[] = {blob(1, 0, 100, 0), blob(2, 100, 100, 1)};
	cairn_pack_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_repo_plan_ranges(b, 2, 1 << 20, 1 << 20, &r, &n), 0);
	assert_int_equal(n, 2);
	check_range(&r[0], 0, 100, 0, 1);
	check_range(&r[1], 100, 100, 1, 1);
	free(r);
}

static void test_repo__ranges_stay_within_the_maximum_length(void **state)
{
	cairn_blob_loc b[] = {blob(1, 0, 100, 0), blob(1, 100, 100, 1), blob(1, 200, 100, 2),
	                      blob(1, 300, 100, 3), blob(1, 400, 50, 4)};
	cairn_pack_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_repo_plan_ranges(b, 5, 1000, 200, &r, &n), 0);
	assert_int_equal(n, 3);
	check_range(&r[0], 0, 200, 0, 2);
	check_range(&r[1], 200, 200, 2, 2);
	check_range(&r[2], 400, 50, 4, 1);
	for (size_t i = 0; i < n; i++)
		assert_true(r[i].length <= 200);
	free(r);
}

static void test_repo__a_blob_longer_than_the_maximum_gets_its_own_range(void **state)
{
	cairn_blob_loc b[] = {blob(1, 0, 10, 0), blob(1, 10, 1000, 1), blob(1, 1010, 10, 2)};
	cairn_pack_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_repo_plan_ranges(b, 3, 0, 100, &r, &n), 0);
	assert_int_equal(n, 3);
	check_range(&r[0], 0, 10, 0, 1);
	check_range(&r[1], 10, 1000, 1, 1);
	check_range(&r[2], 1010, 10, 2, 1);
	free(r);
}

static void test_repo__overlapping_blobs_share_a_range(void **state)
{
	cairn_blob_loc b[] = {blob(1, 50, 30, 0), blob(1, 0, 100, 1), blob(1, 90, 60, 2),
	                      blob(1, 0, 100, 3)};
	cairn_pack_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_repo_plan_ranges(b, 4, 0, 1000, &r, &n), 0);
	assert_int_equal(n, 1);
	check_range(&r[0], 0, 150, 0, 4);
	free(r);

	/* A blob inside the range does not shorten it. */
	cairn_blob_loc c[] = {blob(1, 0, 100, 0), blob(1, 10, 20, 1), blob(1, 120, 10, 2)};
	assert_int_equal(cairn_repo_plan_ranges(c, 3, 0, 1000, &r, &n), 0);
	assert_int_equal(n, 2);
	check_range(&r[0], 0, 100, 0, 2);
	check_range(&r[1], 120, 10, 2, 1);
	free(r);
}

/* Every blob lies inside the range that lists it, and ranges partition
 * the sorted blobs in order. */
static void test_repo__ranges_cover_every_blob_exactly_once(void **state)
{
	enum { N = 500 };
	cairn_blob_loc *b = calloc(N, sizeof(*b));
	assert_non_null(b);
	unsigned seed = 12345;
	for (size_t i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		uint8_t pack = (uint8_t)(seed >> 28);
		seed = seed * 1103515245u + 12345u;
		uint32_t off = (seed >> 8) % 100000;
		seed = seed * 1103515245u + 12345u;
		b[i] = blob(pack, off, 1 + (seed >> 8) % 3000, i);
	}
	cairn_pack_range *r = NULL;
	size_t n = 0;
	assert_int_equal(cairn_repo_plan_ranges(b, N, 512, 8192, &r, &n), 0);
	size_t next = 0;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(r[i].first, next);
		assert_true(r[i].count >= 1);
		assert_true(r[i].count == 1 || r[i].length <= 8192);
		for (size_t k = r[i].first; k < r[i].first + r[i].count; k++) {
			assert_memory_equal(b[k].pack, b[r[i].first].pack, sizeof(b[k].pack));
			assert_true(b[k].offset >= r[i].offset);
			assert_true((uint64_t)b[k].offset + b[k].length <=
			            r[i].offset + r[i].length);
		}
		next += r[i].count;
	}
	assert_int_equal(next, N);
	free(r);
	free(b);
}

/* ---- recovering from damage ---- */

/* Runs a shell command built from fmt; asserts that it succeeds. */
static void shell(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

/* Flips a bit of the byte at offset from_end bytes before the end of path. */
static void flip_from_end(const char *path, long from_end)
{
	FILE *fh = fopen(path, "r+b");
	assert_non_null(fh);
	assert_int_equal(fseek(fh, -from_end, SEEK_END), 0);
	int c = fgetc(fh);
	assert_int_not_equal(c, EOF);
	assert_int_equal(fseek(fh, -from_end, SEEK_END), 0);
	fputc(c ^ 0x10, fh);
	assert_int_equal(fclose(fh), 0);
}

static void hex_of(char out[65], const uint8_t id[32])
{
	for (int i = 0; i < 64; i++)
		out[i] = "0123456789abcdef"[(id[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[64] = '\0';
}

/* The warnings a call gave: the last path and message, and how many. */
struct warnings {
	char path[128];
	char message[256];
	int n;
};

static void collect_warning(void *ud, const char *path, const char *message)
{
	struct warnings *w = ud;
	snprintf(w->path, sizeof(w->path), "%s", path);
	snprintf(w->message, sizeof(w->message), "%s", message);
	w->n++;
}

static void test_repo__rebuild_recovers_from_trailers_the_packs_no_index_object_lists(void **state)
{
	struct fixture *f = *state;
	uint8_t fps[12][32];
	cairn_index_rebuild res;
	init_repo(f, 1);
	cairn_repo *r = open_repo(f, password);
	commit_blobs_from(r, fps, 5, 0);
	commit_blobs_from(r, fps + 5, 7, 5);
	assert_int_equal(cairn_repo_flush_index(r), 0);
	cairn_repo_free(r);

	shell("rm -rf '%s' '%s'/index/*", f->cache, f->repo);
	r = open_repo(f, password);
	assert_int_equal(indexed(r, fps, 12), 0);
	assert_int_equal(cairn_repo_rebuild_index(r, NULL, NULL, &res), 0);
	assert_int_equal(res.objects, 0);
	assert_int_equal(res.packs_recovered, 2);
	assert_int_equal(res.blobs_recovered, 12);
	assert_int_equal(res.objects_written, 1);
	assert_int_equal(res.packs_damaged, 0);
	assert_int_equal(indexed(r, fps, 12), 12);
	cairn_repo_free(r);

	/* The store knows them again: a new client's index imports them. */
	shell("rm -rf '%s'", f->cache);
	r = open_repo(f, password);
	assert_int_equal(indexed(r, fps, 12), 12);
	assert_int_equal(cairn_repo_rebuild_index(r, NULL, NULL, &res), 0);
	assert_int_equal(res.objects, 1);
	assert_int_equal(res.packs_recovered, 0);
	assert_int_equal(res.objects_written, 0);
	cairn_repo_free(r);
}

static void test_repo__rebuild_names_a_pack_whose_trailer_fails_and_recovers_the_rest(void **state)
{
	struct fixture *f = *state;
	uint8_t fps[8][32];
	struct warnings w = {0};
	cairn_index_rebuild res;
	char pack[256], want[160];
	init_repo(f, 1);
	cairn_repo *r = open_repo(f, password);
	commit_blobs_from(r, fps, 4, 0);
	cairn_repo_free(r);
	/* The only pack so far is the one to damage. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "find '%s/data' -type f", f->repo);
	FILE *p = popen(cmd, "r");
	assert_non_null(fgets(pack, sizeof(pack), p));
	pclose(p);
	pack[strcspn(pack, "\n")] = '\0';
	flip_from_end(pack, 10);
	r = open_repo(f, password);
	commit_blobs_from(r, fps + 4, 4, 4);
	cairn_repo_free(r);

	shell("rm -rf '%s' '%s'/index/*", f->cache, f->repo);
	r = open_repo(f, password);
	assert_int_equal(cairn_repo_rebuild_index(r, collect_warning, &w, &res), 0);
	assert_int_equal(res.packs_damaged, 1);
	assert_int_equal(res.packs_recovered, 1);
	assert_int_equal(res.blobs_recovered, 4);
	assert_int_equal(w.n, 1);
	snprintf(want, sizeof(want), "data/%s", strstr(pack, "/data/") + 6);
	assert_string_equal(w.path, want);
	assert_non_null(strstr(w.message, "authentication"));
	assert_int_equal(indexed(r, fps, 4), 0);
	assert_int_equal(indexed(r, fps + 4, 4), 4);
	cairn_repo_free(r);
}

/* Saves a snapshot of time t; its id goes to id. */
static void save_snapshot(cairn_repo *r, int64_t t, uint8_t id[32])
{
	cairn_snapshot s = {0};
	char *paths[] = {"/x", NULL};
	s.time_ns = t;
	s.host = "h";
	s.user = "u";
	s.paths = paths;
	s.n_paths = 1;
	assert_int_equal(cairn_snapshot_save(r, &s), 0);
	memcpy(id, s.id, 32);
}

static void test_repo__a_damaged_snapshot_record_is_skipped_and_named(void **state)
{
	struct fixture *f = *state;
	uint8_t a[32], b[32], c[32], id[32];
	char hex[65], path[256], want[128];
	struct warnings w = {0};
	cairn_snapshot_skips skips = {collect_warning, &w, 0};
	cairn_snapshot *list, got;
	size_t n;
	init_repo(f, 1);
	cairn_repo *r = open_repo(f, password);
	save_snapshot(r, 1000, a);
	save_snapshot(r, 2000, b);
	save_snapshot(r, 3000, c);
	hex_of(hex, c);
	snprintf(path, sizeof(path), "%s/snapshots/%s", f->repo, hex);
	flip_from_end(path, 20);

	/* The strict calls fail, naming it. */
	assert_int_equal(cairn_snapshot_list(r, &list, &n), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), hex));
	assert_int_equal(cairn_snapshot_resolve(r, "latest", id), CAIRN_ECORRUPT);

	assert_int_equal(cairn_snapshot_list_readable(r, &list, &n, &skips), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(list[0].id, a, 32);
	assert_memory_equal(list[1].id, b, 32);
	cairn_snapshot_list_free(list, n);
	assert_int_equal(skips.count, 1);
	assert_int_equal(w.n, 1);
	snprintf(want, sizeof(want), "snapshots/%s", hex);
	assert_string_equal(w.path, want);
	assert_string_equal(w.message, "content does not match its id");

	assert_int_equal(cairn_snapshot_resolve_readable(r, "latest", id, &skips), 0);
	assert_memory_equal(id, b, 32);
	assert_int_equal(skips.count, 2);
	/* Named, it is found, and loading it fails naming it. */
	assert_int_equal(cairn_snapshot_resolve_readable(r, hex, id, &skips), 0);
	assert_memory_equal(id, c, 32);
	assert_int_equal(skips.count, 2);
	assert_int_equal(cairn_snapshot_load(r, c, &got), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), want));
	cairn_repo_free(r);
}

static void test_repo__a_prefix_of_a_damaged_record_and_another_stays_ambiguous(void **state)
{
	struct fixture *f = *state;
	uint8_t bad[32], other[32], id[32];
	char hex[65], path[256], prefix[2];
	cairn_snapshot_skips skips = {0};
	init_repo(f, 0);
	cairn_repo *r = open_repo(f, NULL);
	save_snapshot(r, 1000, bad);
	hex_of(hex, bad);
	snprintf(path, sizeof(path), "%s/snapshots/%s", f->repo, hex);
	flip_from_end(path, 5);
	/* Records until one shares the damaged one's first digit. */
	int t = 2000;
	do
		save_snapshot(r, t++, other);
	while (other[0] >> 4 != bad[0] >> 4);
	prefix[0] = hex[0];
	prefix[1] = '\0';
	assert_int_equal(cairn_snapshot_resolve_readable(r, prefix, id, &skips), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "ambiguous"));
	assert_int_equal(cairn_snapshot_resolve(r, prefix, id), CAIRN_EINVAL);
	cairn_repo_free(r);
}

static void test_repo__a_record_that_does_not_parse_is_skipped_as_well(void **state)
{
	struct fixture *f = *state;
	uint8_t a[32], id[32];
	/* An unencrypted record is its flag byte and the JSON: this one is
	 * stored under its true id, so only parsing can fail. */
	static const char record[] = "\0{\"version\":1,\"time\":\"then\"}";
	char hex[65], path[256];
	struct warnings w = {0};
	cairn_snapshot_skips skips = {collect_warning, &w, 0};
	cairn_snapshot *list;
	size_t n;
	init_repo(f, 0);
	cairn_repo *r = open_repo(f, NULL);
	save_snapshot(r, 1000, a);
	cairn_sha256(id, record, sizeof(record) - 1);
	hex_of(hex, id);
	snprintf(path, sizeof(path), "%s/snapshots/%s", f->repo, hex);
	FILE *fh = fopen(path, "wb");
	assert_non_null(fh);
	assert_int_equal(fwrite(record, 1, sizeof(record) - 1, fh), sizeof(record) - 1);
	assert_int_equal(fclose(fh), 0);

	assert_int_equal(cairn_snapshot_list_readable(r, &list, &n, &skips), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(list[0].id, a, 32);
	cairn_snapshot_list_free(list, n);
	assert_int_equal(skips.count, 1);
	assert_non_null(strstr(w.path, hex));
	assert_non_null(strstr(w.message, "time"));
	cairn_repo_free(r);
}

/* Writes text to dir/name, making dir first. */
static void put_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "mkdir -p '%s'", dir);
	assert_int_equal(system(path), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_repo__init_check_refuses_what_is_not_empty(void **state)
{
	struct fixture *f = *state;
	char where[256], keys[300];
	/* Nothing there, or an empty directory: init may create it. */
	assert_int_equal(cairn_repo_init_check(f->repo), 0);
	snprintf(where, sizeof(where), "%s/empty", f->dir);
	put_file(where, ".keep", "");
	assert_int_equal(cairn_repo_init_check(where), CAIRN_EEXISTS);
	assert_non_null(strstr(cairn_error_last(), "is not empty and is not a cairn repository"));
	init_repo(f, 1);
	assert_int_equal(cairn_repo_init_check(f->repo), CAIRN_EEXISTS);
	assert_non_null(strstr(cairn_error_last(), "a repository already exists"));
	/* Other tools' repositories. */
	snprintf(where, sizeof(where), "%s/borg", f->dir);
	put_file(where, "README", "This is a Borg Backup repository.\n");
	assert_int_equal(cairn_repo_init_check(where), CAIRN_EEXISTS);
	assert_non_null(
	    strstr(cairn_error_last(), "looks like a borg repository, not a cairn one"));
	assert_int_equal(cairn_repo_needs_password(where), CAIRN_ENOREPO);
	assert_non_null(strstr(cairn_error_last(), "looks like a borg repository"));
	snprintf(where, sizeof(where), "%s/kopia", f->dir);
	put_file(where, "kopia.repository.f", "{}");
	assert_int_equal(cairn_repo_needs_password(where), CAIRN_ENOREPO);
	assert_non_null(strstr(cairn_error_last(), "looks like a kopia repository"));
	snprintf(where, sizeof(where), "%s/restic", f->dir);
	snprintf(keys, sizeof(keys), "%s/keys", where);
	put_file(where, "config", "\001\002sealed");
	put_file(keys, "0123abcd", "{\"kdf\":\"scrypt\"}");
	assert_int_equal(cairn_repo_needs_password(where), CAIRN_ENOREPO);
	assert_non_null(strstr(cairn_error_last(), "looks like a restic repository"));
	/* cairn's own repository with a damaged config is not restic's. */
	put_file(f->repo, "config", "\001\002damaged");
	assert_int_equal(cairn_repo_needs_password(f->repo), CAIRN_ECORRUPT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_repo__init_twice_refuses_and_keeps_the_first,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_repo__init_check_refuses_what_is_not_empty, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_repo__wrong_password_and_missing_repo_are_told_apart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_repo__unencrypted_repository_needs_no_password,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_repo__committed_blobs_read_back_after_the_index_is_lost, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_repo__committed_blobs_are_registered_in_batches,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_repo__a_read_finds_blobs_the_stores_index_objects_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_repo__registrations_left_queued_are_imported_by_the_next_open, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_repo__unknown_blob_is_not_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_repo__snapshots_save_load_list_and_resolve, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_repo__tree_written_in_chunks_reads_back_in_order,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_repo__rebuild_recovers_from_trailers_the_packs_no_index_object_lists, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_repo__rebuild_names_a_pack_whose_trailer_fails_and_recovers_the_rest, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_repo__a_damaged_snapshot_record_is_skipped_and_named, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_repo__a_prefix_of_a_damaged_record_and_another_stays_ambiguous, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_repo__a_record_that_does_not_parse_is_skipped_as_well, setup, teardown),
	    cmocka_unit_test(test_repo__no_blobs_plan_no_ranges),
	    cmocka_unit_test(test_repo__one_blob_is_one_range),
	    cmocka_unit_test(test_repo__blobs_are_sorted_by_pack_then_offset),
	    cmocka_unit_test(test_repo__neighbours_within_the_gap_share_a_range),
	    cmocka_unit_test(test_repo__a_gap_wider_than_allowed_starts_a_new_range),
	    cmocka_unit_test(test_repo__different_packs_never_share_a_range),
	    cmocka_unit_test(test_repo__ranges_stay_within_the_maximum_length),
	    cmocka_unit_test(test_repo__a_blob_longer_than_the_maximum_gets_its_own_range),
	    cmocka_unit_test(test_repo__overlapping_blobs_share_a_range),
	    cmocka_unit_test(test_repo__ranges_cover_every_blob_exactly_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

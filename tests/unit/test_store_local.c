/* The local-directory store, in a fresh temporary directory per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "cairn/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* pwrite64, which the library calls, is wrapped (-Wl,--wrap=pwrite64):
 * refuse_direct direct writes, after let_direct more have gone through,
 * fail with EINVAL, as some file systems answer for some files although
 * statx gave an alignment. */
static int let_direct, refuse_direct, refused;

ssize_t __real_pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t __wrap_pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t __wrap_pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	int fl = fcntl(fd, F_GETFL);
	if (refuse_direct > 0 && fl >= 0 && (fl & O_DIRECT)) {
		if (let_direct > 0) {
			let_direct--;
		} else {
			refuse_direct--;
			refused++;
			errno = EINVAL;
			return -1;
		}
	}
	return __real_pwrite64(fd, buf, n, off);
}

typedef struct fixture {
	char dir[64];
	char root[96];
	cairn_store *store;
} fixture;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cairn-test-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->root, sizeof(f->root), "%s/repo", f->dir);
	assert_int_equal(cairn_store_local_open(&f->store, f->root, 1), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	cairn_store_free(f->store);
	nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void put_str(cairn_store *s, const char *key, const char *text)
{
	assert_int_equal(cairn_store_put(s, key, text, strlen(text), 0), 0);
}

static void assert_content(cairn_store *s, const char *key, const char *text)
{
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_store_get(s, key, 0, CAIRN_GET_ALL, &b), 0);
	assert_int_equal(b.len, strlen(text));
	assert_memory_equal(b.data, text, b.len);
	cairn_buf_free(&b);
}

/* Counts names starting with ".tmp-" anywhere under dir. */
static int count_temp_files(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!strncmp(e->d_name, ".tmp-", 5))
			n++;
		char sub[512];
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		struct stat sb;
		if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode))
			n += count_temp_files(sub);
	}
	closedir(d);
	return n;
}

static void test_store_local__put_then_get_returns_the_same_bytes(void **state)
{
	fixture *f = *state;
	uint8_t big[100000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + (i >> 8));
	assert_int_equal(cairn_store_put(f->store, "data/ab/ab01", big, sizeof(big), 0), 0);
	put_str(f->store, "config", "{\"version\":1}");
	assert_int_equal(cairn_store_put(f->store, "keys/empty", "", 0, 0), 0);

	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_store_get(f->store, "data/ab/ab01", 0, CAIRN_GET_ALL, &b), 0);
	assert_int_equal(b.len, sizeof(big));
	assert_memory_equal(b.data, big, sizeof(big));
	assert_int_equal(cairn_store_get(f->store, "keys/empty", 0, CAIRN_GET_ALL, &b), 0);
	assert_int_equal(b.len, 0);
	cairn_buf_free(&b);
	assert_content(f->store, "config", "{\"version\":1}");

	char path[256];
	snprintf(path, sizeof(path), "%s/data/ab/ab01", f->root);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, sizeof(big));
	assert_int_equal(count_temp_files(f->root), 0);
}

static void test_store_local__get_reads_the_requested_range(void **state)
{
	fixture *f = *state;
	put_str(f->store, "snapshots/0123", "0123456789");
	cairn_buf b = CAIRN_BUF_INIT;
	/* Old contents of the buffer are replaced, not appended to. */
	assert_int_equal(cairn_buf_append(&b, "junk", 4), 0);

	assert_int_equal(cairn_store_get(f->store, "snapshots/0123", 2, 3, &b), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "234", 3);

	assert_int_equal(cairn_store_get(f->store, "snapshots/0123", 7, CAIRN_GET_ALL, &b), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "789", 3);

	assert_int_equal(cairn_store_get(f->store, "snapshots/0123", 8, 100, &b), 0);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "89", 2);

	assert_int_equal(cairn_store_get(f->store, "snapshots/0123", 10, 5, &b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(cairn_store_get(f->store, "snapshots/0123", 1000, CAIRN_GET_ALL, &b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(cairn_store_get(f->store, "snapshots/0123", 0, 0, &b), 0);
	assert_int_equal(b.len, 0);
	cairn_buf_free(&b);
}

static void test_store_local__stat_gives_the_size(void **state)
{
	fixture *f = *state;
	put_str(f->store, "index/aa", "hello");
	uint64_t size = 99;
	assert_int_equal(cairn_store_stat(f->store, "index/aa", &size), 0);
	assert_int_equal(size, 5);
	assert_int_equal(cairn_store_stat(f->store, "index/bb", &size), CAIRN_ENOTFOUND);
	/* A directory is not an object. */
	assert_int_equal(cairn_store_stat(f->store, "index", &size), CAIRN_ENOTFOUND);
	/* Nor is a name below a file. */
	assert_int_equal(cairn_store_stat(f->store, "index/aa/x", &size), CAIRN_ENOTFOUND);
}

static void test_store_local__get_of_a_missing_key_is_not_found(void **state)
{
	fixture *f = *state;
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_store_get(f->store, "snapshots/none", 0, CAIRN_GET_ALL, &b),
	                 CAIRN_ENOTFOUND);
	assert_non_null(strstr(cairn_error_last(), "snapshots/none"));
	assert_int_equal(cairn_store_get(f->store, "config", 0, 10, &b), CAIRN_ENOTFOUND);
	put_str(f->store, "data/ab/x", "x");
	assert_int_equal(cairn_store_get(f->store, "data/ab", 0, CAIRN_GET_ALL, &b),
	                 CAIRN_ENOTFOUND);
	assert_int_equal(b.len, 0);
	cairn_buf_free(&b);
}

static void test_store_local__put_without_once_replaces_the_object(void **state)
{
	fixture *f = *state;
	put_str(f->store, "config", "first version");
	put_str(f->store, "config", "second");
	assert_content(f->store, "config", "second");
	assert_int_equal(count_temp_files(f->root), 0);
}

static void test_store_local__put_once_refuses_an_existing_key_and_keeps_it(void **state)
{
	fixture *f = *state;
	assert_int_equal(cairn_store_put(f->store, "keys/k1", "old", 3, CAIRN_PUT_ONCE), 0);
	assert_int_equal(cairn_store_put(f->store, "keys/k1", "new!", 4, CAIRN_PUT_ONCE),
	                 CAIRN_EEXISTS);
	assert_non_null(strstr(cairn_error_last(), f->root));
	assert_non_null(strstr(cairn_error_last(), "keys/k1"));
	assert_content(f->store, "keys/k1", "old");
	assert_int_equal(count_temp_files(f->root), 0);

	assert_int_equal(cairn_store_put(f->store, "keys/k2", "fresh", 5, CAIRN_PUT_ONCE), 0);
	assert_content(f->store, "keys/k2", "fresh");
}

static void test_store_local__failed_put_names_the_path_and_removes_its_temp_file(void **state)
{
	fixture *f = *state;
	put_str(f->store, "data/ab/cd", "x");
	/* "data/ab" is a directory, so nothing can be renamed onto it. */
	assert_int_equal(cairn_store_put(f->store, "data/ab", "y", 1, 0), CAIRN_EIO);
	assert_non_null(strstr(cairn_error_last(), "data/ab"));
	assert_int_equal(cairn_store_put(f->store, "data/ab", "y", 1, CAIRN_PUT_ONCE),
	                 CAIRN_EEXISTS);
	/* A file where a directory should be. */
	assert_int_equal(cairn_store_put(f->store, "data/ab/cd/ef", "z", 1, 0), CAIRN_EIO);
	assert_non_null(strstr(cairn_error_last(), f->root));
	assert_int_equal(count_temp_files(f->root), 0);
	assert_content(f->store, "data/ab/cd", "x");
}

/* Content-addressed keys as packs have them: objs/<2 hex>/<64 hex>. */
static void name_obj(char key[CAIRN_STORE_NAME_MAX], const uint8_t id[32])
{
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	snprintf(key, CAIRN_STORE_NAME_MAX, "objs/%.2s/%s", hex, hex);
}

/* A file holding len patterned bytes (the caller closes it). */
static int pattern_file(const fixture *f, uint8_t *copy, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/piece", f->dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (size_t i = 0; i < len; i++)
		copy[i] = (uint8_t)(i * 13 + (i >> 9));
	assert_int_equal(write(fd, copy, len), (ssize_t)len);
	return fd;
}

/* Puts head + a piece of a file + tail by name; checks the id, the key and
 * the bytes. */
static void put_named_and_check(fixture *f, size_t file_len, size_t from, size_t len)
{
	uint8_t *file = malloc(file_len), *all = malloc(len + 8), id[32], want[32];
	assert_true(file && all);
	int fd = pattern_file(f, file, file_len);
	cairn_iovec iov[3] = {{.data = "head", .len = 4},
	                      {.len = len, .fd = fd, .off = from},
	                      {.data = "tail", .len = 4}};
	memcpy(all, "head", 4);
	memcpy(all + 4, file + from, len);
	memcpy(all + 4 + len, "tail", 4);
	cairn_sha256(want, all, len + 8);

	assert_int_equal(cairn_store_putv_named(f->store, iov, 3, name_obj, id, 0), 0);
	assert_memory_equal(id, want, 32);
	char key[CAIRN_STORE_NAME_MAX];
	name_obj(key, want);
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_store_get(f->store, key, 0, CAIRN_GET_ALL, &b), 0);
	assert_int_equal(b.len, len + 8);
	assert_memory_equal(b.data, all, len + 8);
	assert_int_equal(count_temp_files(f->root), 0);
	cairn_buf_free(&b);
	close(fd);
	free(file);
	free(all);
}

static void test_store_local__a_named_put_is_keyed_by_the_sha256_of_its_bytes(void **state)
{
	fixture *f = *state;
	put_named_and_check(f, 1000, 100, 500);
	/* Pieces larger than the blocks the store writes in. */
	put_named_and_check(f, 1 << 20, 3, (1 << 20) - 7);
}

/* Objects whose sizes fall on, and either side of, the store's write
 * blocks (256 KiB) and the alignment of direct writes (4096), both where
 * the tests run and on a tmpfs, which takes no direct writes. */
static void test_store_local__a_named_put_of_any_size_keeps_its_bytes(void **state)
{
	fixture *f = *state;
	static const size_t totals[] = {9,      4095,   4096,   4097,    262143,
	                                262144, 262145, 266243, 1048576, (1 << 20) + 4101};
	/* put_named_and_check adds 8 bytes around the piece */
	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++)
		put_named_and_check(f, totals[i] + 16, 5, totals[i] - 8);

	fixture shm = {0};
	snprintf(shm.dir, sizeof(shm.dir), "/dev/shm/cairn-test-store-XXXXXX");
	if (!mkdtemp(shm.dir))
		skip();
	snprintf(shm.root, sizeof(shm.root), "%s/repo", shm.dir);
	assert_int_equal(cairn_store_local_open(&shm.store, shm.root, 1), 0);
	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++)
		put_named_and_check(&shm, totals[i] + 16, 5, totals[i] - 8);
	cairn_store_free(shm.store);
	nftw(shm.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Whether files in dir take direct writes aligned to 4096 bytes. */
static int direct_writes_fit(const char *dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/probe", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	struct statx sx;
	int fit = statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
	          (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align &&
	          sx.stx_dio_offset_align <= 4096 && sx.stx_dio_mem_align <= 4096;
	close(fd);
	unlink(path);
	return fit;
}

/* Where the file system takes direct writes, a named put leaves its whole
 * blocks out of the page cache. */
static void test_store_local__a_named_put_bypasses_the_page_cache(void **state)
{
	fixture *f = *state;
	enum { LEN = (1 << 20) + 100 };
	uint8_t *bytes = malloc(LEN), id[32];
	char key[CAIRN_STORE_NAME_MAX], path[512];
	assert_non_null(bytes);
	if (!direct_writes_fit(f->dir)) {
		free(bytes);
		skip();
	}
	memset(bytes, 0x5a, LEN);
	cairn_iovec one = {.data = bytes, .len = LEN};
	assert_int_equal(cairn_store_putv_named(f->store, &one, 1, name_obj, id, 0), 0);
	name_obj(key, id);
	snprintf(path, sizeof(path), "%s/%s", f->root, key);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = (1 << 20) / (size_t)page;
	void *map = mmap(NULL, 1 << 20, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	unsigned char *vec = malloc(pages);
	assert_non_null(vec);
	assert_int_equal(mincore(map, 1 << 20, vec), 0);
	size_t resident = 0;
	for (size_t i = 0; i < pages; i++)
		resident += vec[i] & 1;
	assert_int_equal(resident, 0);
	munmap(map, 1 << 20);
	close(fd);
	free(vec);
	free(bytes);
}

/* A refused direct write, first or later, is written again through the
 * page cache, and so is the rest: the object is whole. */
static void test_store_local__a_refused_direct_write_goes_through_the_page_cache(void **state)
{
	fixture *f = *state;
	if (!direct_writes_fit(f->dir))
		skip();
	for (int before = 0; before < 3; before += 2) {
		let_direct = before;
		refuse_direct = 1;
		refused = 0;
		put_named_and_check(f, (1 << 20) + 64, 7, (1 << 20) + 33);
		assert_int_equal(refused, 1);
		assert_int_equal(refuse_direct, 0);
	}
	let_direct = refuse_direct = 0;
}

static void test_store_local__a_named_put_once_keeps_the_existing_object(void **state)
{
	fixture *f = *state;
	uint8_t id[32], again[32];
	cairn_iovec one = {.data = "same bytes", .len = 10};
	assert_int_equal(cairn_store_putv_named(f->store, &one, 1, name_obj, id, CAIRN_PUT_ONCE),
	                 0);
	assert_int_equal(cairn_store_putv_named(f->store, &one, 1, name_obj, again, CAIRN_PUT_ONCE),
	                 CAIRN_EEXISTS);
	assert_memory_equal(id, again, 32);
	/* Without the flag, the same bytes under the same name: fine. */
	assert_int_equal(cairn_store_putv_named(f->store, &one, 1, name_obj, again, 0), 0);
	assert_int_equal(count_temp_files(f->root), 0);
}

static void test_store_local__a_named_put_into_another_file_system_is_copied(void **state)
{
	fixture *f = *state;
	uint8_t id[32], want[32];
	char key[CAIRN_STORE_NAME_MAX], link_path[256], target[64], cmd[128];
	cairn_iovec one = {.data = "moved elsewhere", .len = 15};
	cairn_sha256(want, one.data, one.len);
	name_obj(key, want);

	/* objs/<aa> points to a tmpfs, while objs, where the temporary file
	 * is written, stays on the test directory's file system. */
	snprintf(target, sizeof(target), "/dev/shm/cairn-test-store-XXXXXX");
	if (!mkdtemp(target))
		skip();
	snprintf(link_path, sizeof(link_path), "%s/objs", f->root);
	assert_int_equal(mkdir(link_path, 0755), 0);
	snprintf(link_path, sizeof(link_path), "%s/%.7s", f->root, key);
	assert_int_equal(symlink(target, link_path), 0);

	assert_int_equal(cairn_store_putv_named(f->store, &one, 1, name_obj, id, 0), 0);
	assert_memory_equal(id, want, 32);
	assert_content(f->store, key, "moved elsewhere");
	assert_int_equal(count_temp_files(f->root), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", target);
	assert_int_equal(system(cmd), 0);
}

static void test_store_local__bad_keys_are_rejected(void **state)
{
	fixture *f = *state;
	static const char *const bad[] = {
	    "",        "/etc/passwd", "../outside", "data/../../x", "a//b",      "data/ab/",
	    ".hidden", "data/.tmp-1", "a/./b",      "..",           "data/a..b", "./config",
	};
	cairn_buf b = CAIRN_BUF_INIT;
	uint64_t size;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cairn_store_put(f->store, bad[i], "x", 1, 0), CAIRN_EINVAL);
		assert_int_equal(cairn_store_get(f->store, bad[i], 0, CAIRN_GET_ALL, &b),
		                 CAIRN_EINVAL);
		assert_int_equal(cairn_store_stat(f->store, bad[i], &size), CAIRN_EINVAL);
		if (strcmp(bad[i], "data/.tmp-1") != 0)
			assert_int_equal(cairn_store_del(f->store, bad[i]), CAIRN_EINVAL);
	}
	/* del takes the key of a temporary file (list_temp gives such keys),
	 * but nothing around it that it refused before. */
	static const char *const bad_temp[] = {
	    ".tmp-",          "data/.tmp-",   "/.tmp-1",         "../.tmp-1",
	    "data/../.tmp-1", "data//.tmp-1", ".hidden/.tmp-1",  "data/.tmp-1/x",
	    "data/.tmp-1..",  ".tmp-1/",      "data/.tmp-/../x", ".tmpx-1",
	};
	for (size_t i = 0; i < sizeof(bad_temp) / sizeof(bad_temp[0]); i++)
		if (cairn_store_del(f->store, bad_temp[i]) != CAIRN_EINVAL)
			fail_msg("del accepted '%s'", bad_temp[i]);
	assert_int_equal(cairn_store_del(f->store, "data/.tmp-1"), 0);
	assert_int_equal(cairn_store_del(f->store, ".tmp-1"), 0);
	char longkey[2048];
	memset(longkey, 'a', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	assert_int_equal(cairn_store_put(f->store, longkey, "x", 1, 0), CAIRN_EINVAL);
	memcpy(longkey + sizeof(longkey) - 8, "/.tmp-1", 8);
	assert_int_equal(cairn_store_del(f->store, longkey), CAIRN_EINVAL);
	cairn_buf_free(&b);

	/* Nothing was written anywhere near the root. */
	char path[256];
	snprintf(path, sizeof(path), "%s/outside", f->dir);
	assert_int_not_equal(access(path, F_OK), 0);
}

typedef struct listing {
	char keys[32][64];
	uint64_t sizes[32];
	int n;
	int stop_after; /* return 7 once this many keys were seen (0: never) */
} listing;

static int collect(const char *key, uint64_t size, void *ud)
{
	listing *l = ud;
	assert_true(l->n < 32);
	snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", key);
	l->sizes[l->n] = size;
	l->n++;
	return l->stop_after && l->n >= l->stop_after ? 7 : 0;
}

/* The size listed for key, or -1 if it was not listed. */
static long long listed_size(const listing *l, const char *key)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->keys[i], key))
			return (long long)l->sizes[i];
	return -1;
}

static void test_store_local__list_recurses_and_skips_temp_files(void **state)
{
	fixture *f = *state;
	put_str(f->store, "config", "c");
	put_str(f->store, "data/ab/ab11", "11");
	put_str(f->store, "data/ab/ab22", "222");
	put_str(f->store, "data/cd/cd33", "3333");
	put_str(f->store, "snapshots/aa01", "s1");
	put_str(f->store, "snapshots/ab02", "s22");

	/* Leftovers of an interrupted put, and other hidden names. */
	char path[256];
	snprintf(path, sizeof(path), "%s/data/ab/.tmp-deadbeef", f->root);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/data/.hidden", f->root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/data/.hidden/x", f->root);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);

	listing l = {0};
	assert_int_equal(cairn_store_list(f->store, "data/", collect, &l), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(listed_size(&l, "data/ab/ab11"), 2);
	assert_int_equal(listed_size(&l, "data/ab/ab22"), 3);
	assert_int_equal(listed_size(&l, "data/cd/cd33"), 4);

	memset(&l, 0, sizeof(l));
	assert_int_equal(cairn_store_list(f->store, "", collect, &l), 0);
	assert_int_equal(l.n, 6);
	assert_int_equal(listed_size(&l, "config"), 1);
	assert_int_equal(listed_size(&l, "snapshots/ab02"), 3);

	memset(&l, 0, sizeof(l));
	assert_int_equal(cairn_store_list(f->store, "snapshots/ab", collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.keys[0], "snapshots/ab02");

	memset(&l, 0, sizeof(l));
	assert_int_equal(cairn_store_list(f->store, "data/a", collect, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(listed_size(&l, "data/cd/cd33"), -1);

	memset(&l, 0, sizeof(l));
	assert_int_equal(cairn_store_list(f->store, "snap", collect, &l), 0);
	assert_int_equal(l.n, 2);
}

static void test_store_local__list_of_a_missing_directory_is_empty(void **state)
{
	fixture *f = *state;
	listing l = {0};
	assert_int_equal(cairn_store_list(f->store, "index/", collect, &l), 0);
	assert_int_equal(cairn_store_list(f->store, "index/ab/cd/", collect, &l), 0);
	put_str(f->store, "config", "c");
	assert_int_equal(cairn_store_list(f->store, "config/", collect, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(cairn_store_list(f->store, "../", collect, &l), CAIRN_EINVAL);
}

static void test_store_local__list_stops_when_the_callback_says_so(void **state)
{
	fixture *f = *state;
	char key[32];
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "index/%02d", i);
		put_str(f->store, key, "i");
	}
	listing l = {.stop_after = 3};
	assert_int_equal(cairn_store_list(f->store, "index/", collect, &l), 7);
	assert_int_equal(l.n, 3);
}

typedef struct items {
	char keys[16][64];
	uint64_t sizes[16];
	int64_t mtimes[16];
	int n;
	int stop_after; /* return 7 once this many items were seen (0: never) */
} items;

static int collect_item(const cairn_store_item *item, void *ud)
{
	items *l = ud;
	assert_true(l->n < 16);
	snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", item->key);
	l->sizes[l->n] = item->size;
	l->mtimes[l->n] = item->mtime;
	l->n++;
	return l->stop_after && l->n >= l->stop_after ? 7 : 0;
}

/* Where key was listed, or -1. */
static int item_index(const items *l, const char *key)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->keys[i], key))
			return i;
	return -1;
}

/* Writes text to the file rel under the root, behind the store's back. */
static void make_file(const fixture *f, const char *rel, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Sets the modification time of the file rel under the root. */
static void set_mtime(const fixture *f, const char *rel, time_t when)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = when}};
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

static void test_store_local__list_items_gives_sizes_and_the_files_mtimes(void **state)
{
	fixture *f = *state;
	time_t before = time(NULL);
	put_str(f->store, "config", "c");
	put_str(f->store, "data/ab/ab11", "11");
	put_str(f->store, "snapshots/s1", "s22");
	time_t after = time(NULL);

	items l = {0};
	assert_int_equal(cairn_store_list_items(f->store, "", collect_item, &l), 0);
	assert_int_equal(l.n, 3);
	static const char *const keys[] = {"config", "data/ab/ab11", "snapshots/s1"};
	for (int k = 0; k < 3; k++) {
		int i = item_index(&l, keys[k]);
		assert_true(i >= 0);
		assert_int_equal(l.sizes[i], k + 1);
		/* The file system's clock may lag time() by a tick. */
		assert_in_range(l.mtimes[i], before - 2, after + 2);
	}

	set_mtime(f, "snapshots/s1", 1000000000);
	memset(&l, 0, sizeof(l));
	assert_int_equal(cairn_store_list_items(f->store, "snapshots/", collect_item, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.keys[0], "snapshots/s1");
	assert_int_equal(l.mtimes[0], 1000000000);

	memset(&l, 0, sizeof(l));
	assert_int_equal(cairn_store_list_items(f->store, "data/a", collect_item, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.keys[0], "data/ab/ab11");

	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	assert_int_equal(cairn_store_list_items(f->store, "", collect_item, &l), 7);
	assert_int_equal(l.n, 2);
	assert_int_equal(cairn_store_list_items(f->store, "../", collect_item, &l), CAIRN_EINVAL);
}

static void test_store_local__list_temp_finds_leftovers_that_del_removes(void **state)
{
	fixture *f = *state;
	put_str(f->store, "config", "c");
	put_str(f->store, "data/ab/ab11", "11");
	time_t before = time(NULL);
	make_file(f, "data/ab/.tmp-x", "xyz");
	make_file(f, "data/.tmp-pack", "pack");
	make_file(f, ".tmp-y", "12345");
	set_mtime(f, ".tmp-y", 1000000000);
	/* Not temporary files of the store: a hidden directory's, a bare prefix. */
	char path[256];
	snprintf(path, sizeof(path), "%s/data/.hidden", f->root);
	assert_int_equal(mkdir(path, 0755), 0);
	make_file(f, "data/.hidden/.tmp-z", "z");
	make_file(f, "data/.tmp-", "z");

	items t = {0};
	assert_int_equal(cairn_store_list_temp(f->store, collect_item, &t), 0);
	assert_int_equal(t.n, 3);
	int x = item_index(&t, "data/ab/.tmp-x"), p = item_index(&t, "data/.tmp-pack");
	int y = item_index(&t, ".tmp-y");
	assert_true(x >= 0 && p >= 0 && y >= 0);
	assert_int_equal(t.sizes[x], 3);
	assert_in_range(t.mtimes[x], before - 2, time(NULL) + 2);
	assert_int_equal(t.sizes[p], 4);
	assert_int_equal(t.sizes[y], 5);
	assert_int_equal(t.mtimes[y], 1000000000);

	/* Listings of objects never show them. */
	listing l = {0};
	assert_int_equal(cairn_store_list(f->store, "", collect, &l), 0);
	assert_int_equal(l.n, 2);
	items o = {0};
	assert_int_equal(cairn_store_list_items(f->store, "", collect_item, &o), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(item_index(&o, "config") >= 0 && item_index(&o, "data/ab/ab11") >= 0, 1);

	for (int i = 0; i < t.n; i++)
		assert_int_equal(cairn_store_del(f->store, t.keys[i]), 0);
	snprintf(path, sizeof(path), "%s/data/ab/.tmp-x", f->root);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/.tmp-y", f->root);
	assert_int_not_equal(access(path, F_OK), 0);
	memset(&t, 0, sizeof(t));
	assert_int_equal(cairn_store_list_temp(f->store, collect_item, &t), 0);
	assert_int_equal(t.n, 0);
	assert_content(f->store, "data/ab/ab11", "11");

	/* Stopping works as for list. */
	make_file(f, "data/ab/.tmp-1", "1");
	make_file(f, "data/ab/.tmp-2", "2");
	memset(&t, 0, sizeof(t));
	t.stop_after = 1;
	assert_int_equal(cairn_store_list_temp(f->store, collect_item, &t), 7);
	assert_int_equal(t.n, 1);
}

static void test_store_local__del_removes_and_a_missing_key_is_fine(void **state)
{
	fixture *f = *state;
	put_str(f->store, "snapshots/gone", "bye");
	assert_int_equal(cairn_store_del(f->store, "snapshots/gone"), 0);
	uint64_t size;
	assert_int_equal(cairn_store_stat(f->store, "snapshots/gone", &size), CAIRN_ENOTFOUND);
	assert_int_equal(cairn_store_del(f->store, "snapshots/gone"), 0);
	assert_int_equal(cairn_store_del(f->store, "nothing/here/at/all"), 0);
}

static void test_store_local__open_without_create_needs_an_existing_root(void **state)
{
	fixture *f = *state;
	char path[256];
	cairn_store *s = (cairn_store *)0x1;
	snprintf(path, sizeof(path), "%s/missing", f->dir);
	assert_int_equal(cairn_store_local_open(&s, path, 0), CAIRN_ENOREPO);
	assert_null(s);
	assert_non_null(strstr(cairn_error_last(), "no repository at"));
	assert_non_null(strstr(cairn_error_last(), path));

	snprintf(path, sizeof(path), "%s/deep/er/repo/", f->dir);
	assert_int_equal(cairn_store_local_open(&s, path, 1), 0);
	put_str(s, "config", "deep");
	cairn_store_free(s);
	assert_int_equal(cairn_store_local_open(&s, path, 0), 0);
	assert_content(s, "config", "deep");
	cairn_store_free(s);

	/* A file is not a repository. */
	snprintf(path, sizeof(path), "%s/config", f->root);
	put_str(f->store, "config", "c");
	assert_int_equal(cairn_store_local_open(&s, path, 0), CAIRN_ENOREPO);
}

static void test_store_local__store_open_picks_the_backend_from_the_location(void **state)
{
	fixture *f = *state;
	put_str(f->store, "config", "via local");
	cairn_store *s = NULL;
	char loc[256];

	assert_int_equal(cairn_store_open(&s, f->root, 0), 0);
	assert_string_equal(s->ops->name, "local");
	assert_content(s, "config", "via local");
	cairn_store_free(s);

	snprintf(loc, sizeof(loc), "file://%s", f->root);
	assert_int_equal(cairn_store_open(&s, loc, 0), 0);
	assert_content(s, "config", "via local");
	cairn_store_free(s);

	/* Percent escapes are decoded: "%72" is 'r'. */
	snprintf(loc, sizeof(loc), "file://localhost%s/%%72epo2", f->dir);
	assert_int_equal(cairn_store_open(&s, loc, 1), 0);
	cairn_store_free(s);
	char path[256];
	snprintf(path, sizeof(path), "%s/repo2", f->dir);
	assert_int_equal(access(path, F_OK), 0);

	assert_int_equal(cairn_store_open(&s, "s3:https://host/bucket/prefix", 0), CAIRN_EINVAL);
	assert_null(s);
	assert_non_null(strstr(cairn_error_last(), "S3"));
	assert_int_equal(cairn_store_open(&s, "sftp://host/path", 0), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "sftp://host/path"));
	assert_int_equal(cairn_store_open(&s, "file://otherhost/x", 0), CAIRN_EINVAL);
	assert_int_equal(cairn_store_open(&s, "file:///x%zz", 0), CAIRN_EINVAL);
	assert_int_equal(cairn_store_open(&s, "file:///x%00", 0), CAIRN_EINVAL);
	assert_int_equal(cairn_store_open(&s, "", 0), CAIRN_EINVAL);
	snprintf(loc, sizeof(loc), "%s/none", f->dir);
	assert_int_equal(cairn_store_open(&s, loc, 0), CAIRN_ENOREPO);
}

#define THREADS 4
#define PER_THREAD 64

typedef struct worker {
	cairn_store *store;
	int id;
	int failures;
} worker;

static void *put_many(void *arg)
{
	worker *w = arg;
	char key[64], body[64];
	for (int i = 0; i < PER_THREAD; i++) {
		/* Threads share directories, so they also race to create them. */
		snprintf(key, sizeof(key), "data/%02x/t%d-%03d", i % 8, w->id, i);
		int n = snprintf(body, sizeof(body), "thread %d object %d", w->id, i);
		if (cairn_store_put(w->store, key, body, (size_t)n, CAIRN_PUT_ONCE) != 0)
			w->failures++;
	}
	return NULL;
}

static void test_store_local__concurrent_puts_of_distinct_keys_all_land(void **state)
{
	fixture *f = *state;
	pthread_t t[THREADS];
	worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (worker){.store = f->store, .id = i};
		assert_int_equal(pthread_create(&t[i], NULL, put_many, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	char key[64], body[64];
	for (int id = 0; id < THREADS; id++)
		for (int i = 0; i < PER_THREAD; i++) {
			snprintf(key, sizeof(key), "data/%02x/t%d-%03d", i % 8, id, i);
			snprintf(body, sizeof(body), "thread %d object %d", id, i);
			assert_content(f->store, key, body);
		}
	assert_int_equal(count_temp_files(f->root), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	    T(test_store_local__a_named_put_is_keyed_by_the_sha256_of_its_bytes),
	    T(test_store_local__a_named_put_of_any_size_keeps_its_bytes),
	    T(test_store_local__a_named_put_bypasses_the_page_cache),
	    T(test_store_local__a_refused_direct_write_goes_through_the_page_cache),
	    T(test_store_local__a_named_put_once_keeps_the_existing_object),
	    T(test_store_local__a_named_put_into_another_file_system_is_copied),
	    T(test_store_local__put_then_get_returns_the_same_bytes),
	    T(test_store_local__get_reads_the_requested_range),
	    T(test_store_local__stat_gives_the_size),
	    T(test_store_local__get_of_a_missing_key_is_not_found),
	    T(test_store_local__put_without_once_replaces_the_object),
	    T(test_store_local__put_once_refuses_an_existing_key_and_keeps_it),
	    T(test_store_local__failed_put_names_the_path_and_removes_its_temp_file),
	    T(test_store_local__bad_keys_are_rejected),
	    T(test_store_local__list_recurses_and_skips_temp_files),
	    T(test_store_local__list_of_a_missing_directory_is_empty),
	    T(test_store_local__list_stops_when_the_callback_says_so),
	    T(test_store_local__list_items_gives_sizes_and_the_files_mtimes),
	    T(test_store_local__list_temp_finds_leftovers_that_del_removes),
	    T(test_store_local__del_removes_and_a_missing_key_is_fine),
	    T(test_store_local__open_without_create_needs_an_existing_root),
	    T(test_store_local__store_open_picks_the_backend_from_the_location),
	    T(test_store_local__concurrent_puts_of_distinct_keys_all_land),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

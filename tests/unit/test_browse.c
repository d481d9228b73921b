/* The pure parts of a browse view (lib/browse/layout.c) and the cache of
 * unsealed blobs (lib/browse/blobcache.c) with a fetch function that
 * makes blobs up. */
#include "browse/blobcache.h"
#include "browse/browse_internal.h"
#include "cairn/errors.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void where_is(const char *path, enum browse_place place, const char *snap, const char *host,
                     const char *rest)
{
	browse_where w;
	browse_where_parse(path, &w);
	assert_int_equal(w.place, place);
	if (snap) {
		assert_int_equal(w.snap_len, strlen(snap));
		assert_memory_equal(w.snap, snap, w.snap_len);
	}
	if (host) {
		assert_int_equal(w.host_len, strlen(host));
		assert_memory_equal(w.host, host, w.host_len);
	}
	if (rest)
		assert_string_equal(w.rest, rest);
}

static void test_where(void **state)
{
	where_is("/", PLACE_ROOT, NULL, NULL, NULL);
	where_is("", PLACE_ROOT, NULL, NULL, NULL);
	where_is("/ids", PLACE_IDS, NULL, NULL, NULL);
	where_is("/snapshots", PLACE_SNAPSHOTS, NULL, NULL, NULL);
	where_is("/hosts", PLACE_HOSTS, NULL, NULL, NULL);
	where_is("/latest", PLACE_LATEST, NULL, NULL, NULL);
	where_is("/latest/x", PLACE_NONE, NULL, NULL, NULL);
	where_is("/other", PLACE_NONE, NULL, NULL, NULL);
	where_is("/idsx", PLACE_NONE, NULL, NULL, NULL);
	where_is("/hosts/h1", PLACE_HOST, NULL, "h1", NULL);
	where_is("/ids/abc", PLACE_SNAP, "abc", NULL, "");
	where_is("/ids/abc/home/u/a\nb", PLACE_SNAP, "abc", NULL, "/home/u/a\nb");
	where_is("/snapshots/2026-01-02T03:04:05Z/x", PLACE_SNAP, "2026-01-02T03:04:05Z", NULL,
	         "/x");
	where_is("/hosts/h1/2026-01-02T03:04:05Z-1/etc", PLACE_SNAP, "2026-01-02T03:04:05Z-1", "h1",
	         "/etc");
	browse_where w;
	browse_where_parse("/ids/abc", &w);
	assert_true(w.by_id);
	browse_where_parse("/snapshots/abc", &w);
	assert_false(w.by_id);
}

static void child_is(const char *dir, const char *path, const char *name, int direct)
{
	const char *n;
	size_t len;
	int d;
	if (!name) {
		assert_int_equal(browse_child_of(dir, strlen(dir), path, &n, &len, &d), 0);
		return;
	}
	assert_int_equal(browse_child_of(dir, strlen(dir), path, &n, &len, &d), 1);
	assert_int_equal(len, strlen(name));
	assert_memory_equal(n, name, len);
	assert_int_equal(d, direct);
}

static void test_child_of(void **state)
{
	child_is("/", "/a", "a", 1);
	child_is("/", "/a/b/c", "a", 0);
	child_is("/", "/", NULL, 0);
	child_is("/a", "/a/b", "b", 1);
	child_is("/a", "/a/b/c", "b", 0);
	child_is("/a", "/a", NULL, 0);
	child_is("/a", "/ab/c", NULL, 0);
	child_is("/a", "/b", NULL, 0);
	child_is("/a/x\ny", "/a/x\ny/\xff", "\xff", 1);
}

static void test_piece_at(void **state)
{
	/* Pieces of 10, 0 (a hole of nothing), 5 and 20 bytes. */
	const uint64_t starts[] = {0, 10, 10, 15, 35};
	assert_int_equal(browse_piece_at(starts, 4, 0), 0);
	assert_int_equal(browse_piece_at(starts, 4, 9), 0);
	assert_int_equal(browse_piece_at(starts, 4, 10), 2);
	assert_int_equal(browse_piece_at(starts, 4, 14), 2);
	assert_int_equal(browse_piece_at(starts, 4, 15), 3);
	assert_int_equal(browse_piece_at(starts, 4, 34), 3);
	const uint64_t one[] = {0, 7};
	assert_int_equal(browse_piece_at(one, 1, 3), 0);
}

static void test_readahead(void **state)
{
	uint64_t starts[101];
	for (size_t i = 0; i <= 100; i++)
		starts[i] = i * 100;
	browse_readahead ra = {0};
	size_t from, to;
	/* The first read of chunk 0: the next 8 chunks (800 bytes) are asked for. */
	browse_readahead_plan(&ra, starts, 100, 0, 0, 800, &from, &to);
	assert_int_equal(from, 1);
	assert_int_equal(to, 9);
	/* Still in order: nothing new until a quarter of the window is read. */
	browse_readahead_plan(&ra, starts, 100, 0, 1, 800, &from, &to);
	assert_int_equal(from, to);
	browse_readahead_plan(&ra, starts, 100, 1, 2, 800, &from, &to);
	assert_int_equal(from, 9);
	assert_int_equal(to, 11);
	/* A jump elsewhere asks for nothing. */
	browse_readahead_plan(&ra, starts, 100, 50, 50, 800, &from, &to);
	assert_int_equal(from, to);
	/* Reading on from there does. */
	browse_readahead_plan(&ra, starts, 100, 51, 51, 800, &from, &to);
	assert_int_equal(from, 52);
	assert_int_equal(to, 60);
	/* Never past the end. */
	browse_readahead_plan(&ra, starts, 100, 52, 97, 800, &from, &to);
	assert_int_equal(to, 100);
	/* A first read that is not at the start asks for nothing. */
	browse_readahead ra2 = {0};
	browse_readahead_plan(&ra2, starts, 100, 40, 40, 800, &from, &to);
	assert_int_equal(from, to);
}

static void test_safe_name(void **state)
{
	char out[16];
	browse_safe_name(out, "a/b", 3);
	assert_string_equal(out, "a_b");
	browse_safe_name(out, "", 0);
	assert_string_equal(out, "_");
	browse_safe_name(out, "..", 2);
	assert_string_equal(out, "_..");
	browse_safe_name(out, "host", 4);
	assert_string_equal(out, "host");
}

static void test_ino(void **state)
{
	assert_true(browse_ino(0, 0, 1) != browse_ino(0, 0, 0));
	assert_true(browse_ino(0, 8, 0) != browse_ino(1, 8, 0));
	assert_true(browse_ino(0, 8, 0) != browse_ino(0, 4, 1));
	assert_true(browse_ino(0, 0, 0) > 1000);
}

/* ---- the blob cache ---- */

typedef struct fake {
	int fetches;
	int fail; /* fetches of blobs whose first byte is this fail */
	size_t size;
	useconds_t delay;
} fake;

static int fake_fetch(void *ud, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind, cairn_buf *out)
{
	fake *f = ud;
	__atomic_add_fetch(&f->fetches, 1, __ATOMIC_SEQ_CST);
	if (f->delay)
		usleep(f->delay);
	if (fp[0] == f->fail)
		return cairn_error_set(CAIRN_ECORRUPT, "blob %u is damaged", fp[0]);
	for (size_t i = 0; i < f->size; i++)
		if (cairn_buf_append_u8(out, (uint8_t)(fp[0] + kind + i)))
			return CAIRN_ENOMEM;
	return 0;
}

static void fp_of(uint8_t fp[CAIRN_FP_SIZE], int n)
{
	memset(fp, 0, CAIRN_FP_SIZE);
	fp[0] = (uint8_t)n;
	fp[31] = 0x5a;
}

static int hits_and_misses(cairn_blobcache *c, uint64_t *hits)
{
	cairn_blobcache_stats st;
	cairn_blobcache_stats_get(c, &st);
	*hits = st.hits;
	return (int)st.misses;
}

static void test_cache_lru(void **state)
{
	fake f = {.fail = 255, .size = 100};
	cairn_blobcache *c;
	const cairn_cached_blob *b;
	uint8_t fp[CAIRN_FP_SIZE];
	uint64_t hits;
	/* Room for three blobs of 100 bytes. */
	assert_int_equal(cairn_blobcache_new(&c, 300, 0, fake_fetch, &f), 0);
	for (int i = 1; i <= 3; i++) {
		fp_of(fp, i);
		assert_int_equal(cairn_blobcache_get(c, fp, 1, &b), 0);
		assert_int_equal(b->len, 100);
		assert_int_equal(b->data[0], i + 1);
		cairn_blobcache_release(c, b);
	}
	assert_int_equal(f.fetches, 3);
	/* 1 is used again, so 2 is the least recently used when 4 comes. */
	fp_of(fp, 1);
	assert_int_equal(cairn_blobcache_get(c, fp, 1, &b), 0);
	cairn_blobcache_release(c, b);
	fp_of(fp, 4);
	assert_int_equal(cairn_blobcache_get(c, fp, 1, &b), 0);
	cairn_blobcache_release(c, b);
	assert_int_equal(f.fetches, 4);
	fp_of(fp, 1);
	assert_int_equal(cairn_blobcache_get(c, fp, 1, &b), 0);
	cairn_blobcache_release(c, b);
	assert_int_equal(f.fetches, 4);
	fp_of(fp, 2);
	assert_int_equal(cairn_blobcache_get(c, fp, 1, &b), 0);
	cairn_blobcache_release(c, b);
	assert_int_equal(f.fetches, 5);
	/* The kind is part of the key. */
	fp_of(fp, 2);
	assert_int_equal(cairn_blobcache_get(c, fp, 2, &b), 0);
	assert_int_equal(b->data[0], 4);
	cairn_blobcache_release(c, b);
	assert_int_equal(f.fetches, 6);
	assert_int_equal(hits_and_misses(c, &hits), 6);
	assert_int_equal(hits, 2);
	cairn_blobcache_stats st;
	cairn_blobcache_stats_get(c, &st);
	assert_true(st.bytes <= 300);
	cairn_blobcache_free(c);
}

static void test_cache_held(void **state)
{
	fake f = {.fail = 255, .size = 100};
	cairn_blobcache *c;
	const cairn_cached_blob *held, *b;
	uint8_t fp[CAIRN_FP_SIZE];
	assert_int_equal(cairn_blobcache_new(&c, 100, 0, fake_fetch, &f), 0);
	fp_of(fp, 1);
	assert_int_equal(cairn_blobcache_get(c, fp, 1, &held), 0);
	/* A held blob is never dropped, however full the cache. */
	for (int i = 2; i < 10; i++) {
		fp_of(fp, i);
		assert_int_equal(cairn_blobcache_get(c, fp, 1, &b), 0);
		cairn_blobcache_release(c, b);
	}
	assert_int_equal(held->data[0], 2);
	assert_int_equal(held->data[99], (uint8_t)(2 + 99));
	fp_of(fp, 1);
	assert_int_equal(cairn_blobcache_get(c, fp, 1, &b), 0);
	assert_ptr_equal(b, held);
	assert_int_equal(f.fetches, 9);
	cairn_blobcache_release(c, b);
	cairn_blobcache_release(c, held);
	cairn_blobcache_stats st;
	cairn_blobcache_stats_get(c, &st);
	assert_true(st.bytes <= 100);
	cairn_blobcache_free(c);
}

static void test_cache_failure(void **state)
{
	fake f = {.fail = 7, .size = 10};
	cairn_blobcache *c;
	const cairn_cached_blob *b;
	uint8_t fp[CAIRN_FP_SIZE];
	assert_int_equal(cairn_blobcache_new(&c, 1000, 0, fake_fetch, &f), 0);
	fp_of(fp, 7);
	cairn_error_clear();
	assert_int_equal(cairn_blobcache_get(c, fp, 1, &b), CAIRN_ECORRUPT);
	assert_null(b);
	assert_non_null(strstr(cairn_error_last(), "blob 7 is damaged"));
	/* Not kept: the next get tries again. */
	assert_int_equal(cairn_blobcache_get(c, fp, 1, &b), CAIRN_ECORRUPT);
	assert_int_equal(f.fetches, 2);
	cairn_blobcache_stats st;
	cairn_blobcache_stats_get(c, &st);
	assert_int_equal(st.entries, 0);
	cairn_blobcache_free(c);
}

static void test_cache_prefetch(void **state)
{
	fake f = {.fail = 9, .size = 1000, .delay = 2000};
	cairn_blobcache *c;
	const cairn_cached_blob *b;
	uint8_t fp[CAIRN_FP_SIZE];
	assert_int_equal(cairn_blobcache_new(&c, 1 << 20, 3, fake_fetch, &f), 0);
	for (int i = 1; i <= 20; i++) {
		fp_of(fp, i);
		cairn_blobcache_prefetch(c, fp, 1);
		cairn_blobcache_prefetch(c, fp, 1); /* asked twice, fetched once */
	}
	/* Each blob is fetched once, by a worker or by the get that needs it
	 * (the damaged one twice if a worker failed it first: failures are
	 * not kept). */
	for (int i = 1; i <= 20; i++) {
		fp_of(fp, i);
		int rc = cairn_blobcache_get(c, fp, 1, &b);
		if (i == 9) {
			assert_int_equal(rc, CAIRN_ECORRUPT);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(b->data[0], i + 1);
		cairn_blobcache_release(c, b);
	}
	int fetches = __atomic_load_n(&f.fetches, __ATOMIC_SEQ_CST);
	assert_true(fetches == 20 || fetches == 21);
	cairn_blobcache_stats st;
	cairn_blobcache_stats_get(c, &st);
	assert_int_equal(st.prefetched, 20);
	assert_int_equal(st.entries, 19);
	/* Freeing with requests still queued is fine. */
	for (int i = 100; i < 160; i++) {
		fp_of(fp, i);
		cairn_blobcache_prefetch(c, fp, 1);
	}
	cairn_blobcache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_where),         cmocka_unit_test(test_child_of),
	    cmocka_unit_test(test_piece_at),      cmocka_unit_test(test_readahead),
	    cmocka_unit_test(test_safe_name),     cmocka_unit_test(test_ino),
	    cmocka_unit_test(test_cache_lru),     cmocka_unit_test(test_cache_held),
	    cmocka_unit_test(test_cache_failure), cmocka_unit_test(test_cache_prefetch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The pure parts of a browse view (lib/browse/layout.c) and the cache of
 * unsealed blobs (lib/browse/blobcache.c) with a fetch function that
 * makes blobs up. */
#include "browse/blobcache.h"
#include "browse/browse_internal.h"
#include "cairn/errors.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- a snapshot's tree, from a manifest held in memory ---- */

/* The manifest's chunks, fetched by their number (fp[0..1]). */
typedef struct tree_fake {
	cairn_buf stream;
	size_t piece;
	int fetches;
} tree_fake;

static int tree_fetch(void *ud, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind, cairn_buf *out)
{
	tree_fake *t = ud;
	size_t i = (size_t)fp[0] | (size_t)fp[1] << 8;
	size_t off = i * t->piece;
	size_t n = t->stream.len - off < t->piece ? t->stream.len - off : t->piece;
	t->fetches++;
	assert_int_equal(kind, CAIRN_BLOB_TREE);
	return cairn_buf_append(out, t->stream.data + off, n);
}

static void encode(cairn_buf *b, uint8_t type, const char *path, const char *link)
{
	cairn_entry e = {0};
	e.type = type;
	e.path = (char *)path;
	e.mode = type == CAIRN_ENTRY_DIR ? 0750 : 0640;
	e.mtime_ns = 1000000000LL * (int64_t)strlen(path);
	e.link_target = (char *)link;
	if (type == CAIRN_ENTRY_FILE)
		e.size = 0;
	assert_int_equal(cairn_manifest_encode(b, &e), 0);
}

/* A tree whose manifest leaves out "/" and "/a", with a long directory
 * to jump over and hardlinks, cut into pieces of piece bytes. */
static void tree_view(tree_fake *t, snap_view *s, size_t piece)
{
	char path[64];
	memset(s, 0, sizeof(*s));
	cairn_buf_init(&t->stream);
	t->piece = piece;
	assert_int_equal(cairn_manifest_begin(&t->stream), 0);
	encode(&t->stream, CAIRN_ENTRY_DIR, "/a/b", NULL);
	encode(&t->stream, CAIRN_ENTRY_FILE, "/a/b/f", NULL);
	encode(&t->stream, CAIRN_ENTRY_DIR, "/a/b/long", NULL);
	for (int i = 0; i < 1000; i++) {
		snprintf(path, sizeof(path), "/a/b/long/entry-%04d", i);
		encode(&t->stream, CAIRN_ENTRY_FILE, path, NULL);
	}
	encode(&t->stream, CAIRN_ENTRY_SYMLINK, "/a/b/s", "f");
	encode(&t->stream, CAIRN_ENTRY_DIR, "/a/b/z", NULL);
	encode(&t->stream, CAIRN_ENTRY_HARDLINK, "/a/b/z/h1", "/a/b/f");
	encode(&t->stream, CAIRN_ENTRY_HARDLINK, "/a/h2", "/a/b/f");
	encode(&t->stream, CAIRN_ENTRY_FILE, "/a\nb", NULL);
	encode(&t->stream, CAIRN_ENTRY_DIR, "/c", NULL);
	encode(&t->stream, CAIRN_ENTRY_FILE, "/c/x/y/deep", NULL);
	size_t n = (t->stream.len + piece - 1) / piece;
	s->snap.n_manifest = n;
	s->snap.manifest = calloc(n, sizeof(*s->snap.manifest));
	s->starts = calloc(n + 1, sizeof(*s->starts));
	assert_non_null(s->snap.manifest);
	assert_non_null(s->starts);
	for (size_t i = 0; i < n; i++) {
		s->snap.manifest[i].fp[0] = (uint8_t)i;
		s->snap.manifest[i].fp[1] = (uint8_t)(i >> 8);
		s->snap.manifest[i].length =
		    (uint32_t)(i + 1 < n ? piece : t->stream.len - i * piece);
		s->starts[i + 1] = s->starts[i] + s->snap.manifest[i].length;
	}
	strcpy(s->id, "0123456789abcdef");
	s->snap.time_ns = 42;
}

static void tree_free(tree_fake *t, snap_view *s)
{
	snap_index_free(s->idx);
	free(s->snap.manifest);
	free(s->starts);
	cairn_buf_free(&t->stream);
}

/* The names of directory path, joined by '|'. */
static void names_are(cairn_blobcache *c, snap_view *s, const char *path, const char *want,
                      size_t n_want)
{
	browse_listing l = {0};
	char got[256] = "";
	size_t dir = snap_dir_find(s->idx, path, strlen(path));
	assert_int_not_equal(dir, SIZE_MAX);
	assert_int_equal(snap_list_dir(c, s, dir, &l), 0);
	assert_int_equal(l.n, n_want);
	for (size_t i = 0; i < l.n && i < 8; i++) {
		if (i)
			strcat(got, "|");
		strncat(got, (const char *)l.arena.data + l.c[i].name, 40);
	}
	assert_string_equal(got, want);
	browse_listing_clear(&l);
}

static const browse_child *child_named(const browse_listing *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp((const char *)l->arena.data + l->c[i].name, name) == 0)
			return &l->c[i];
	return NULL;
}

static void tree_check(size_t piece)
{
	tree_fake t;
	snap_view s;
	cairn_blobcache *c;
	tree_view(&t, &s, piece);
	assert_int_equal(cairn_blobcache_new(&c, 1 << 20, 0, tree_fetch, &t), 0);
	assert_int_equal(snap_index_build(c, &s), 0);
	const snap_index *x = s.idx;
	/* "/", "/a" (left out), "/a/b", "/a/b/long", "/a/b/z", "/c", "/c/x" and
	 * "/c/x/y" (left out). */
	assert_int_equal(x->n_dirs, 8);
	assert_true(x->dirs[0].synthetic);
	assert_true(x->dirs[snap_dir_find(x, "/a", 2)].synthetic);
	assert_false(x->dirs[snap_dir_find(x, "/a/b", 4)].synthetic);
	assert_true(x->dirs[snap_dir_find(x, "/c/x/y", 6)].synthetic);
	assert_int_equal(snap_dir_find(x, "/a/b/f", 6), SIZE_MAX);
	assert_int_equal(snap_links_to(x, "/a/b/f"), 2);
	assert_int_equal(snap_links_to(x, "/a/b/s"), 0);

	names_are(c, &s, "/", "a|a\nb|c", 3);
	names_are(c, &s, "/a", "b|h2", 2);
	names_are(c, &s, "/a/b", "f|long|s|z", 4);
	names_are(c, &s, "/a/b/z", "h1", 1);
	names_are(c, &s, "/c", "x", 1);
	names_are(c, &s, "/c/x", "y", 1);
	names_are(c, &s, "/c/x/y", "deep", 1);
	names_are(c, &s, "/a/b/long",
	          "entry-0000|entry-0001|entry-0002|entry-0003|entry-0004|entry-0005|"
	          "entry-0006|entry-0007",
	          1000);

	/* Attributes, inode numbers and link counts. */
	browse_listing l = {0};
	assert_int_equal(snap_list_dir(c, &s, snap_dir_find(x, "/a/b", 4), &l), 0);
	const browse_child *f = child_named(&l, "f"), *sl = child_named(&l, "s");
	const browse_child *lg = child_named(&l, "long");
	assert_int_equal(f->a.type, CAIRN_ENTRY_FILE);
	assert_int_equal(f->a.mode, 0640);
	assert_int_equal(f->a.nlink, 3);
	assert_int_equal(f->a.mtime_ns, 6000000000LL);
	assert_int_equal(sl->a.size, 1);
	assert_string_equal((const char *)l.arena.data + sl->link, "f");
	assert_int_equal(lg->a.nlink, 2);
	assert_true(f->a.ino != sl->a.ino && f->a.ino != lg->a.ino);
	/* The record at a child's offset is that child. */
	cairn_entry e = {0};
	assert_int_equal(snap_read_entry(c, &s, sl->rec, &e), 0);
	assert_string_equal(e.path, "/a/b/s");
	assert_string_equal(e.link_target, "f");
	cairn_entry_clear(&e);
	browse_listing_clear(&l);
	assert_int_equal(snap_list_dir(c, &s, snap_dir_find(x, "/a", 2), &l), 0);
	const browse_child *b = child_named(&l, "b");
	assert_int_equal(b->a.nlink, 4); /* long and z below it */
	assert_int_equal(child_named(&l, "h2")->a.type, CAIRN_ENTRY_HARDLINK);
	browse_listing_clear(&l);
	assert_int_equal(snap_list_dir(c, &s, 0, &l), 0);
	const browse_child *a = child_named(&l, "a");
	assert_true(a->synthetic);
	assert_int_equal(a->a.mode, 0755);
	assert_int_equal(a->a.mtime_ns, 42);
	assert_true(a->a.ino != child_named(&l, "c")->a.ino);
	browse_listing_clear(&l);

	cairn_blobcache_free(c);
	tree_free(&t, &s);
}

static void test_tree(void **state)
{
	/* One piece, pieces that cut every record, and pieces of a few records. */
	tree_check(1 << 20);
	tree_check(7);
	tree_check(300);
}

static void test_tree_damaged(void **state)
{
	tree_fake t;
	snap_view s;
	cairn_blobcache *c;
	tree_view(&t, &s, 100);
	/* The stream ends inside a record. */
	s.snap.n_manifest--;
	assert_int_equal(cairn_blobcache_new(&c, 1 << 20, 0, tree_fetch, &t), 0);
	assert_int_equal(snap_index_build(c, &s), CAIRN_ECORRUPT);
	assert_null(s.idx);
	s.snap.n_manifest++;
	/* A piece that is not what it should be. */
	t.stream.data[t.stream.len / 2] ^= 0xff;
	int rc = snap_index_build(c, &s);
	assert_true(rc == CAIRN_ECORRUPT || rc == 0);
	cairn_blobcache_free(c);
	tree_free(&t, &s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_where),         cmocka_unit_test(test_child_of),
	    cmocka_unit_test(test_piece_at),      cmocka_unit_test(test_readahead),
	    cmocka_unit_test(test_safe_name),     cmocka_unit_test(test_ino),
	    cmocka_unit_test(test_cache_lru),     cmocka_unit_test(test_cache_held),
	    cmocka_unit_test(test_cache_failure), cmocka_unit_test(test_cache_prefetch),
	    cmocka_unit_test(test_tree),          cmocka_unit_test(test_tree_damaged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

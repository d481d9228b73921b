/* Comparing two streams of manifest entries: what is added, removed,
 * changed, and the content bytes of each change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/diff.h"
#include "cairn/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct list {
	const cairn_entry *e;
	size_t n, at;
} list;

/* Hands out deep copies, as a tree reader does. */
static int list_next(void *ud, cairn_entry *out)
{
	list *l = ud;
	if (l->at == l->n)
		return 0;
	const cairn_entry *e = &l->e[l->at++];
	*out = *e;
	out->path = strdup(e->path);
	out->link_target = e->link_target ? strdup(e->link_target) : NULL;
	out->xattrs = NULL;
	out->n_xattrs = 0;
	if (e->n_chunks) {
		out->chunks = malloc(e->n_chunks * sizeof(*e->chunks));
		memcpy(out->chunks, e->chunks, e->n_chunks * sizeof(*e->chunks));
	}
	return 1;
}

typedef struct seen {
	char lines[32][128];
	size_t n;
} seen;

static int record(void *ud, const cairn_diff_change *c)
{
	static const char mod[] = "?+-MTU";
	seen *s = ud;
	const cairn_entry *e = c->after ? c->after : c->before;
	snprintf(s->lines[s->n++], 128, "%c %s +%llu -%llu", mod[c->kind], e->path,
	         (unsigned long long)c->bytes_added, (unsigned long long)c->bytes_removed);
	return 0;
}

static cairn_chunk_ref ref(uint8_t id, uint32_t len)
{
	cairn_chunk_ref r = {{0}, len};
	r.fp[0] = id;
	r.fp[31] = 1;
	return r;
}

static cairn_entry dir(const char *path)
{
	return (cairn_entry){.type = CAIRN_ENTRY_DIR, .path = (char *)path, .mode = 0755};
}

static cairn_entry file(const char *path, cairn_chunk_ref *chunks, size_t n)
{
	cairn_entry e = {.type = CAIRN_ENTRY_FILE, .path = (char *)path, .mode = 0644};
	e.chunks = chunks;
	e.n_chunks = n;
	for (size_t i = 0; i < n; i++)
		e.size += chunks[i].length;
	return e;
}

static int run(const cairn_entry *a, size_t na, const cairn_entry *b, size_t nb, seen *s,
               cairn_diff_totals *t)
{
	list la = {a, na, 0}, lb = {b, nb, 0};
	memset(s, 0, sizeof(*s));
	return cairn_diff_streams(list_next, &la, list_next, &lb, record, s, t);
}

static void test_diff__each_kind_of_change_in_path_order(void **state)
{
	(void)state;
	cairn_chunk_ref ab[] = {ref(1, 10), ref(2, 20)};
	cairn_chunk_ref aca[] = {ref(1, 10), ref(3, 5), ref(1, 10)};
	cairn_chunk_ref x[] = {ref(9, 7)};
	cairn_entry a[] = {
	    dir("/d"),
	    file("/d/a", ab, 2),
	    file("/d/gone", x, 1),
	    file("/d/mode", x, 1),
	    {.type = CAIRN_ENTRY_SYMLINK, .path = "/d/s", .link_target = "one"},
	    file("/d/t", x, 1),
	    file("/d-same", x, 1),
	};
	cairn_entry b[] = {
	    dir("/d"),
	    file("/d/a", aca, 3),
	    file("/d/mode", x, 1),
	    file("/d/new", x, 1),
	    {.type = CAIRN_ENTRY_SYMLINK, .path = "/d/s", .link_target = "two"},
	    dir("/d/t"),
	    file("/d-same", x, 1),
	};
	b[2].mode = 0600;
	b[6].ctime_ns = 99; /* ctime and inode are not the file's: no change */
	b[6].ino = 7;
	seen s;
	cairn_diff_totals t;
	assert_int_equal(run(a, 7, b, 7, &s, &t), 0);
	assert_int_equal(s.n, 6);
	assert_string_equal(s.lines[0], "M /d/a +15 -20");
	assert_string_equal(s.lines[1], "- /d/gone +0 -7");
	assert_string_equal(s.lines[2], "U /d/mode +0 -0");
	assert_string_equal(s.lines[3], "+ /d/new +7 -0");
	assert_string_equal(s.lines[4], "M /d/s +0 -0");
	assert_string_equal(s.lines[5], "T /d/t +0 -7");
	assert_int_equal(t.files_added, 1);
	assert_int_equal(t.files_removed, 1);
	assert_int_equal(t.changed_content, 2);
	assert_int_equal(t.changed_metadata, 1);
	assert_int_equal(t.changed_type, 1);
	assert_int_equal(t.bytes_added, 22);
	assert_int_equal(t.bytes_removed, 34);
}

static void test_diff__one_side_empty_adds_or_removes_everything(void **state)
{
	(void)state;
	cairn_chunk_ref x[] = {ref(9, 100)};
	cairn_entry a[] = {dir("/r"), file("/r/f", x, 1), dir("/r/sub")};
	seen s;
	cairn_diff_totals t;
	assert_int_equal(run(a, 3, NULL, 0, &s, &t), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(t.dirs_removed, 2);
	assert_int_equal(t.files_removed, 1);
	assert_int_equal(t.bytes_removed, 100);
	assert_int_equal(run(NULL, 0, a, 3, &s, &t), 0);
	assert_string_equal(s.lines[1], "+ /r/f +100 -0");
	assert_int_equal(t.dirs_added, 2);
	assert_int_equal(run(a, 3, a, 3, &s, &t), 0);
	assert_int_equal(s.n, 0);
}

static void test_diff__slash_sorts_before_every_other_byte(void **state)
{
	(void)state;
	/* "/a/z" comes before "/a-b" in a manifest; a merge by strcmp would
	 * see both as added and removed. */
	cairn_entry a[] = {dir("/a"), dir("/a/z"), dir("/a-b")};
	cairn_entry b[] = {dir("/a"), dir("/a/z"), dir("/a-b")};
	seen s;
	cairn_diff_totals t;
	assert_int_equal(run(a, 3, b, 3, &s, &t), 0);
	assert_int_equal(s.n, 0);
}

static void test_diff__a_stream_out_of_order_is_refused(void **state)
{
	(void)state;
	cairn_entry a[] = {dir("/b"), dir("/a")};
	cairn_entry b[] = {dir("/a")};
	seen s;
	cairn_diff_totals t;
	assert_int_equal(run(a, 2, b, 1, &s, &t), CAIRN_ECORRUPT);
}

static void test_diff__metadata_bits_say_what_changed(void **state)
{
	(void)state;
	cairn_entry a = dir("/x"), b = dir("/x");
	uint8_t v1[] = {1}, v2[] = {2};
	cairn_xattr xa = {"user.k", v1, 1}, xb = {"user.k", v2, 1};
	cairn_diff_change c;
	b.uid = 5;
	b.mtime_ns = 1;
	a.xattrs = &xa;
	a.n_xattrs = 1;
	b.xattrs = &xb;
	b.n_xattrs = 1;
	assert_int_equal(cairn_diff_entries(&a, &b, &c), 0);
	assert_int_equal(c.kind, CAIRN_DIFF_METADATA);
	assert_int_equal(c.meta,
	                 CAIRN_DIFF_META_OWNER | CAIRN_DIFF_META_MTIME | CAIRN_DIFF_META_XATTRS);
	b = a;
	assert_int_equal(cairn_diff_entries(&a, &b, &c), 0);
	assert_int_equal(c.kind, CAIRN_DIFF_SAME);
}

static void test_diff__reordered_chunks_move_no_bytes(void **state)
{
	(void)state;
	cairn_chunk_ref ab[] = {ref(1, 10), ref(2, 20)}, ba[] = {ref(2, 20), ref(1, 10)};
	cairn_entry a = file("/f", ab, 2), b = file("/f", ba, 2);
	cairn_diff_change c;
	assert_int_equal(cairn_diff_entries(&a, &b, &c), 0);
	assert_int_equal(c.kind, CAIRN_DIFF_CONTENT);
	assert_int_equal(c.bytes_added, 0);
	assert_int_equal(c.bytes_removed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diff__each_kind_of_change_in_path_order),
	    cmocka_unit_test(test_diff__one_side_empty_adds_or_removes_everything),
	    cmocka_unit_test(test_diff__slash_sorts_before_every_other_byte),
	    cmocka_unit_test(test_diff__a_stream_out_of_order_is_refused),
	    cmocka_unit_test(test_diff__metadata_bits_say_what_changed),
	    cmocka_unit_test(test_diff__reordered_chunks_move_no_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

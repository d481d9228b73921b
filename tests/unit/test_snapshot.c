#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cairn/errors.h"
#include "cairn/snapshot.h"

static char *dup(const char *s)
{
	char *p = strdup(s);
	assert_non_null(p);
	return p;
}

static void make(cairn_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->time_ns = 1763890000123456789LL;
	s->host = dup("host-1");
	s->user = dup("root");
	s->paths = calloc(3, sizeof(char *));
	s->paths[0] = dup("/home/a b");
	s->paths[1] = dup("/srv/\xff\xfe\n");
	s->n_paths = 2;
	s->tags = calloc(2, sizeof(char *));
	s->tags[0] = dup("daily");
	s->n_tags = 1;
	s->has_parent = 1;
	memset(s->parent, 0xab, sizeof(s->parent));
	s->manifest = calloc(2, sizeof(*s->manifest));
	memset(s->manifest[0].fp, 1, CAIRN_FP_SIZE);
	s->manifest[0].length = 100;
	memset(s->manifest[1].fp, 2, CAIRN_FP_SIZE);
	s->manifest[1].length = 23;
	s->n_manifest = 2;
	s->manifest_size = 123;
	s->summary.files_new = 5;
	s->summary.bytes_added = 1ull << 40;
	s->summary.tree_blobs_added = 2;
}

static void test_snapshot__json_round_trip_keeps_every_field(void **state)
{
	cairn_snapshot s, t;
	cairn_buf b = CAIRN_BUF_INIT;
	make(&s);
	assert_int_equal(cairn_snapshot_to_json(&b, &s, 0), 0);
	assert_int_equal(cairn_snapshot_from_json(&t, b.data, b.len), 0);
	assert_true(t.time_ns == s.time_ns);
	assert_string_equal(t.host, s.host);
	assert_string_equal(t.user, s.user);
	assert_int_equal(t.n_paths, 2);
	assert_string_equal(t.paths[0], s.paths[0]);
	assert_string_equal(t.paths[1], s.paths[1]);
	assert_int_equal(t.n_tags, 1);
	assert_string_equal(t.tags[0], "daily");
	assert_true(t.has_parent);
	assert_memory_equal(t.parent, s.parent, CAIRN_ID_SIZE);
	assert_int_equal(t.n_manifest, 2);
	assert_memory_equal(t.manifest, s.manifest, 2 * sizeof(*s.manifest));
	assert_true(t.manifest_size == 123);
	assert_true(t.summary.files_new == 5);
	assert_true(t.summary.bytes_added == 1ull << 40);
	assert_true(t.summary.tree_blobs_added == 2);
	cairn_snapshot_clear(&s);
	cairn_snapshot_clear(&t);
	cairn_buf_free(&b);
}

static void test_snapshot__rejects_manifest_sizes_that_do_not_add_up(void **state)
{
	cairn_snapshot s, t;
	cairn_buf b = CAIRN_BUF_INIT;
	make(&s);
	s.manifest_size = 124;
	assert_int_equal(cairn_snapshot_to_json(&b, &s, 0), 0);
	assert_int_equal(cairn_snapshot_from_json(&t, b.data, b.len), CAIRN_ECORRUPT);
	cairn_snapshot_clear(&s);
	cairn_buf_free(&b);
}

static void test_snapshot__rejects_other_versions_and_garbage(void **state)
{
	cairn_snapshot t;
	const char *v2 = "{\"version\":2,\"time\":\"2026-01-01T00:00:00Z\",\"host\":\"h\","
	                 "\"user\":\"u\",\"paths\":[],\"tags\":[],\"manifest_size\":0,"
	                 "\"manifest\":[]}";
	assert_int_not_equal(cairn_snapshot_from_json(&t, v2, strlen(v2)), 0);
	assert_int_not_equal(cairn_snapshot_from_json(&t, "{", 1), 0);
	const char *badref = "{\"version\":1,\"time\":\"2026-01-01T00:00:00Z\",\"host\":\"h\","
	                     "\"user\":\"u\",\"paths\":[],\"tags\":[],\"manifest_size\":1,"
	                     "\"manifest\":[[\"zz\",1]]}";
	assert_int_equal(cairn_snapshot_from_json(&t, badref, strlen(badref)), CAIRN_ECORRUPT);
}

static void test_snapshot__listing_form_has_id_and_no_manifest(void **state)
{
	cairn_snapshot s;
	cairn_buf b = CAIRN_BUF_INIT;
	make(&s);
	memset(s.id, 0x11, sizeof(s.id));
	assert_int_equal(cairn_snapshot_to_json(&b, &s, 1), 0);
	assert_int_equal(cairn_buf_append_u8(&b, 0), 0);
	assert_non_null(strstr((char *)b.data, "\"id\":\"1111111111111111"));
	assert_null(strstr((char *)b.data, "\"manifest\""));
	assert_non_null(strstr((char *)b.data, "\"time\":\"2025-11-23T09:26:40.123456789Z\""));
	cairn_snapshot_clear(&s);
	cairn_buf_free(&b);
}

static void test_snapshot__time_formats_as_rfc3339_utc(void **state)
{
	char out[64];
	cairn_time_format(out, sizeof(out), 0);
	assert_string_equal(out, "1970-01-01T00:00:00.000000000Z");
	cairn_time_format(out, sizeof(out), -1);
	assert_string_equal(out, "1969-12-31T23:59:59.999999999Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_snapshot__json_round_trip_keeps_every_field),
	    cmocka_unit_test(test_snapshot__rejects_manifest_sizes_that_do_not_add_up),
	    cmocka_unit_test(test_snapshot__rejects_other_versions_and_garbage),
	    cmocka_unit_test(test_snapshot__listing_form_has_id_and_no_manifest),
	    cmocka_unit_test(test_snapshot__time_formats_as_rfc3339_utc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

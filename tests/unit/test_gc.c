/* The pure parts of prune: its records in gc/, the live set, the age of
 * markers, and a sealed blob moved from pack to pack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/pack.h"
#include "cairn/seal.h"
#include "format/gcfile.h"
#include "gc/marker.h"
#include "gc/prune_internal.h"

#include <stdlib.h>
#include <string.h>

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 12345;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)(x >> 24);
	}
}

static cairn_gc_record make_plan(void)
{
	cairn_gc_record rec = {.type = CAIRN_GC_PLAN, .generation = 0x1234};
	rec.n_packs = 3;
	rec.packs = calloc(3, sizeof(*rec.packs));
	for (size_t i = 0; i < 3; i++) {
		fill(rec.packs[i].id, CAIRN_ID_SIZE, (unsigned)i);
		rec.packs[i].size = 1000 + i;
	}
	rec.n_snapshots = 2;
	rec.snapshots = malloc(2 * CAIRN_ID_SIZE);
	fill(rec.snapshots[0], CAIRN_ID_SIZE, 40);
	fill(rec.snapshots[1], CAIRN_ID_SIZE, 41);
	rec.n_keys = 1;
	rec.keys = calloc(1, sizeof(char *));
	rec.keys[0] = strdup("data/ab/.tmp-xyz");
	assert_int_equal(cairn_bloom_new(&rec.condemned, 100), 0);
	uint8_t fp[32];
	fill(fp, 32, 99);
	cairn_bloom_add(rec.condemned, fp);
	return rec;
}

static void test_gc__plan_round_trips(void **state)
{
	(void)state;
	cairn_gc_record rec = make_plan(), back;
	cairn_buf b = CAIRN_BUF_INIT;
	uint8_t fp[32];
	assert_int_equal(cairn_gc_record_encode(&b, &rec), 0);
	assert_int_equal(cairn_gc_record_decode(&back, b.data, b.len), 0);
	assert_int_equal(back.type, CAIRN_GC_PLAN);
	assert_int_equal(back.generation, 0x1234);
	assert_int_equal(back.n_packs, 3);
	assert_memory_equal(back.packs[2].id, rec.packs[2].id, CAIRN_ID_SIZE);
	assert_int_equal(back.packs[2].size, 1002);
	assert_int_equal(back.n_snapshots, 2);
	assert_memory_equal(back.snapshots[1], rec.snapshots[1], CAIRN_ID_SIZE);
	assert_int_equal(back.n_keys, 1);
	assert_string_equal(back.keys[0], "data/ab/.tmp-xyz");
	fill(fp, 32, 99);
	assert_non_null(back.condemned);
	assert_int_equal(cairn_bloom_has(back.condemned, fp), 1);
	cairn_gc_record_clear(&back);
	cairn_gc_record_clear(&rec);
	cairn_buf_free(&b);
}

static void test_gc__done_and_running_round_trip(void **state)
{
	(void)state;
	cairn_gc_record done = {.type = CAIRN_GC_DONE, .generation = 7}, back;
	cairn_gc_pack packs[2];
	fill(packs[0].id, 32, 1);
	fill(packs[1].id, 32, 2);
	done.packs = packs;
	done.n_packs = 2;
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_gc_record_encode(&b, &done), 0);
	assert_int_equal(cairn_gc_record_decode(&back, b.data, b.len), 0);
	assert_int_equal(back.type, CAIRN_GC_DONE);
	assert_int_equal(back.n_packs, 2);
	assert_memory_equal(back.packs[1].id, packs[1].id, 32);
	cairn_gc_record_clear(&back);

	char *keys[] = {"markers/backup-00", "markers/backup-01"};
	cairn_gc_record running = {.type = CAIRN_GC_RUNNING, .generation = 7};
	running.keys = keys;
	running.n_keys = 2;
	cairn_buf_clear(&b);
	assert_int_equal(cairn_gc_record_encode(&b, &running), 0);
	assert_int_equal(cairn_gc_record_decode(&back, b.data, b.len), 0);
	assert_int_equal(back.n_keys, 2);
	assert_string_equal(back.keys[1], "markers/backup-01");
	cairn_gc_record_clear(&back);
	cairn_buf_free(&b);
}

static void test_gc__rejects_truncated_and_trailing_bytes(void **state)
{
	(void)state;
	cairn_gc_record rec = make_plan(), back;
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_gc_record_encode(&b, &rec), 0);
	for (size_t cut = 0; cut < b.len; cut += 7)
		assert_int_equal(cairn_gc_record_decode(&back, b.data, cut), CAIRN_ECORRUPT);
	assert_int_equal(cairn_buf_append_u8(&b, 0), 0);
	assert_int_equal(cairn_gc_record_decode(&back, b.data, b.len), CAIRN_ECORRUPT);
	/* a count larger than the bytes that follow */
	uint8_t bogus[] = {1, CAIRN_GC_DONE, 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x03};
	assert_int_equal(cairn_gc_record_decode(&back, bogus, sizeof(bogus)), CAIRN_ECORRUPT);
	bogus[1] = 9; /* no such type */
	assert_int_equal(cairn_gc_record_decode(&back, bogus, sizeof(bogus)), CAIRN_ECORRUPT);
	cairn_gc_record_clear(&rec);
	cairn_buf_free(&b);
}

static void test_gc__record_keys_parse_back(void **state)
{
	(void)state;
	char key[64];
	uint64_t g;
	enum cairn_gc_type t;
	cairn_gc_record_key(key, 0xabcdef, CAIRN_GC_RUNNING);
	assert_string_equal(key, "gc/0000000000abcdef-running");
	assert_int_equal(cairn_gc_record_parse_key(key, &g, &t), 0);
	assert_int_equal(g, 0xabcdef);
	assert_int_equal(t, CAIRN_GC_RUNNING);
	assert_int_equal(cairn_gc_record_parse_key("gc/0000000000abcdef-plans", &g, &t), -1);
	assert_int_equal(cairn_gc_record_parse_key("gc/0000000000ABCDEF-plan", &g, &t), -1);
	assert_int_equal(cairn_gc_record_parse_key("gc/00000000abcdef-plan", &g, &t), -1);
}

static void test_gc__live_set_answers_after_compaction(void **state)
{
	(void)state;
	gc_live l = {0};
	uint8_t fp[32];
	/* many repeats: the set keeps each once */
	for (int round = 0; round < 5; round++)
		for (unsigned i = 0; i < 5000; i++) {
			fill(fp, 32, i * 2);
			assert_int_equal(gc_live_add(&l, fp), 0);
		}
	gc_live_finish(&l);
	assert_int_equal(l.sorted, 5000);
	for (unsigned i = 0; i < 5000; i++) {
		fill(fp, 32, i * 2);
		assert_int_equal(gc_live_has(&l, fp), 1);
		fill(fp, 32, i * 2 + 1);
		assert_int_equal(gc_live_has(&l, fp), 0);
	}
	gc_live_free(&l);
	fill(fp, 32, 0);
	assert_int_equal(gc_live_has(&l, fp), 0); /* empty */
}

static void test_gc__marker_age_by_the_stores_clock(void **state)
{
	(void)state;
	assert_int_equal(cairn_marker_is_fresh(1000, 1000 + 7200, 7200), 1);
	assert_int_equal(cairn_marker_is_fresh(1000, 1000 + 7201, 7200), 0);
	/* a time the store cannot tell counts as fresh */
	assert_int_equal(cairn_marker_is_fresh(0, 99999, 10), 1);
	assert_int_equal(cairn_marker_is_fresh(1000, 0, 10), 1);
	/* ahead of now: fresh */
	assert_int_equal(cairn_marker_is_fresh(2000, 1000, 10), 1);
}

static void test_gc__marker_grace_is_several_refreshes(void **state)
{
	(void)state;
	cairn_marker_timing t;
	setenv("CAIRN_MARKER_REFRESH", "10", 1);
	setenv("CAIRN_MARKER_GRACE", "5", 1);
	cairn_marker_timing_get(&t);
	assert_int_equal(t.refresh_s, 10);
	assert_int_equal(t.grace_s, 40);
	setenv("CAIRN_MARKER_REFRESH", "nonsense", 1);
	unsetenv("CAIRN_MARKER_GRACE");
	cairn_marker_timing_get(&t);
	assert_int_equal(t.refresh_s, CAIRN_MARKER_REFRESH_DEFAULT);
	assert_int_equal(t.grace_s, CAIRN_MARKER_GRACE_DEFAULT);
	unsetenv("CAIRN_MARKER_REFRESH");
}

/* A blob sealed into one pack is added to another as it is, and opens
 * there: its sealing binds fingerprint and kind, not its place. */
static void test_gc__sealed_blob_moves_between_packs(void **state)
{
	(void)state;
	uint8_t key[CAIRN_KEY_SIZE], fp[32], plain[300];
	cairn_sealer *s;
	cairn_pack_writer a, b;
	cairn_pack_entry *entries;
	size_t n;
	cairn_buf bytes = CAIRN_BUF_INIT, out = CAIRN_BUF_INIT;
	fill(key, sizeof(key), 5);
	fill(fp, 32, 6);
	fill(plain, sizeof(plain), 7);
	assert_int_equal(cairn_sealer_new(&s, key, 3), 0);
	cairn_pack_writer_init(&a);
	cairn_pack_writer_init(&b);
	assert_int_equal(cairn_pack_add(&a, s, fp, CAIRN_BLOB_DATA, plain, sizeof(plain)), 0);
	assert_int_equal(cairn_pack_finish(&a, s, NULL), 0);
	assert_int_equal(cairn_pack_copy(&a, &bytes), 0);
	assert_int_equal(cairn_pack_parse_tail(s, bytes.data, bytes.len, bytes.len, &entries, &n),
	                 0);
	assert_int_equal(n, 1);
	/* a mismatched length is refused */
	assert_int_equal(cairn_pack_add_sealed(&b, entries, 1, bytes.data + entries[0].offset,
	                                       entries[0].length - 1),
	                 CAIRN_EINVAL);
	/* a spacer blob first, so that the copy lands at another offset */
	assert_int_equal(cairn_pack_add(&b, s, key, CAIRN_BLOB_TREE, plain, 17), 0);
	assert_int_equal(cairn_pack_add_sealed(&b, entries, 1, bytes.data + entries[0].offset,
	                                       entries[0].length),
	                 0);
	assert_int_equal(cairn_pack_finish(&b, s, NULL), 0);
	cairn_buf_clear(&bytes);
	assert_int_equal(cairn_pack_copy(&b, &bytes), 0);
	free(entries);
	assert_int_equal(cairn_pack_parse_tail(s, bytes.data, bytes.len, bytes.len, &entries, &n),
	                 0);
	assert_int_equal(n, 2);
	size_t k = entries[0].kind == CAIRN_BLOB_DATA ? 0 : 1;
	assert_memory_equal(entries[k].fp, fp, 32);
	assert_int_equal(cairn_unseal(s, &out, fp, CAIRN_BLOB_DATA, bytes.data + entries[k].offset,
	                              entries[k].length, sizeof(plain)),
	                 0);
	assert_int_equal(out.len, sizeof(plain));
	assert_memory_equal(out.data, plain, sizeof(plain));
	free(entries);
	cairn_buf_free(&bytes);
	cairn_buf_free(&out);
	cairn_pack_writer_free(&a);
	cairn_pack_writer_free(&b);
	cairn_sealer_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gc__plan_round_trips),
	    cmocka_unit_test(test_gc__done_and_running_round_trip),
	    cmocka_unit_test(test_gc__rejects_truncated_and_trailing_bytes),
	    cmocka_unit_test(test_gc__record_keys_parse_back),
	    cmocka_unit_test(test_gc__live_set_answers_after_compaction),
	    cmocka_unit_test(test_gc__marker_age_by_the_stores_clock),
	    cmocka_unit_test(test_gc__marker_grace_is_several_refreshes),
	    cmocka_unit_test(test_gc__sealed_blob_moves_between_packs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

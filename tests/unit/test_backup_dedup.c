#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backup/dedup.h"
#include "cairn/errors.h"

/* ---- a fake index: the fingerprints registered, and the questions ---- */

#define FAKE_MAX 4096

struct fake_index {
	cairn_index base;
	uint8_t registered[FAKE_MAX][CAIRN_FP_SIZE];
	size_t n_registered;
	/* What the packs written so far hold: registered at the next flush. */
	uint8_t written[FAKE_MAX][CAIRN_FP_SIZE];
	size_t n_written;
	int register_on_flush;
	int flushes, lookups, dedup_lookups;
};

static int fake_has(const struct fake_index *f, const uint8_t *fp)
{
	for (size_t i = 0; i < f->n_registered; i++)
		if (!memcmp(f->registered[i], fp, CAIRN_FP_SIZE))
			return 1;
	return 0;
}

static void fake_answer(struct fake_index *f, const uint8_t (*fps)[32], size_t n, uint8_t *found)
{
	for (size_t i = 0; i < n; i++)
		found[i] = (uint8_t)fake_has(f, fps[i]);
}

static int fake_lookup(cairn_index *ix, const uint8_t (*fps)[32], size_t n, cairn_index_entry *out,
                       uint8_t *found)
{
	struct fake_index *f = (struct fake_index *)ix;
	f->lookups++;
	fake_answer(f, fps, n, found);
	return 0;
}

static int fake_lookup_dedup(cairn_index *ix, const uint8_t (*fps)[32], size_t n,
                             cairn_index_entry *out, uint8_t *found)
{
	struct fake_index *f = (struct fake_index *)ix;
	f->dedup_lookups++;
	fake_answer(f, fps, n, found);
	return 0;
}

static const struct cairn_index_ops fake_ops = {
    .version = CAIRN_INDEX_OPS_VERSION,
    .name = "fake",
    .lookup = fake_lookup,
    .lookup_dedup = fake_lookup_dedup,
};

static int fake_flush(void *ud)
{
	struct fake_index *f = ud;
	f->flushes++;
	if (f->register_on_flush) {
		memcpy(f->registered[f->n_registered], f->written, f->n_written * CAIRN_FP_SIZE);
		f->n_registered += f->n_written;
		f->n_written = 0;
	}
	return 0;
}

/* ---- fixtures ---- */

struct fixture {
	pthread_mutex_t lock;
	struct fake_index ix;
	cairn_dedup d;
	cairn_dedup_batch q;
};

static struct fixture *fixture_new(int dry_run, size_t generation_max)
{
	struct fixture *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	pthread_mutex_init(&t->lock, NULL);
	t->ix.base.ops = &fake_ops;
	cairn_dedup_init(&t->d, &t->lock, &t->ix.base, dry_run, generation_max, fake_flush, &t->ix);
	return t;
}

static void fixture_free(struct fixture *t)
{
	cairn_dedup_free(&t->d);
	cairn_dedup_batch_free(&t->q);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* A distinct, never all-zero fingerprint for each i. */
static void fp_of(uint8_t fp[CAIRN_FP_SIZE], uint64_t i)
{
	uint64_t h = (i + 1) * 0x9e3779b97f4a7c15ull;
	memset(fp, 0xa5, CAIRN_FP_SIZE);
	memcpy(fp, &h, sizeof(h));
}

static const uint8_t some_data[1];

/* The decision for one chunk i on its own; a chunk found new is
 * written, as the backup would do. */
static enum chunk_state decide(struct fixture *t, uint64_t i)
{
	cairn_pending p = {.data = some_data, .len = 1};
	fp_of(p.fp, i);
	assert_int_equal(cairn_dedup_pending(&t->d, &t->q, &p, 1), 0);
	if (p.state == CHUNK_NEW)
		memcpy(t->ix.written[t->ix.n_written++], p.fp, CAIRN_FP_SIZE);
	return p.state;
}

/* ---- the set ---- */

static void test_backup_dedup__set_has_what_was_inserted_and_says_so_again(void **state)
{
	cairn_fpset s = {0};
	uint8_t a[CAIRN_FP_SIZE], b[CAIRN_FP_SIZE];
	int err = 0;
	fp_of(a, 1);
	fp_of(b, 2);
	assert_false(cairn_fpset_has(&s, a));
	assert_int_equal(cairn_fpset_insert(&s, a, &err), 0);
	assert_int_equal(cairn_fpset_insert(&s, a, &err), 1);
	assert_int_equal(err, 0);
	assert_true(cairn_fpset_has(&s, a));
	assert_false(cairn_fpset_has(&s, b));
	assert_int_equal(s.count, 1);
	cairn_fpset_free(&s);
}

static void test_backup_dedup__set_grows_and_keeps_every_entry(void **state)
{
	cairn_fpset s = {0};
	uint8_t fp[CAIRN_FP_SIZE];
	int err = 0;
	for (uint64_t i = 0; i < 20000; i++) {
		fp_of(fp, i);
		assert_int_equal(cairn_fpset_insert(&s, fp, &err), 0);
		assert_true(2 * s.count <= s.cap);
	}
	assert_int_equal(err, 0);
	assert_int_equal(s.count, 20000);
	for (uint64_t i = 0; i < 20000; i++) {
		fp_of(fp, i);
		assert_true(cairn_fpset_has(&s, fp));
	}
	fp_of(fp, 20000);
	assert_false(cairn_fpset_has(&s, fp));
	cairn_fpset_free(&s);
}

/* ---- the decision per chunk ---- */

static void test_backup_dedup__decides_holes_indexed_repeated_and_new_chunks(void **state)
{
	struct fixture *t = fixture_new(0, 0);
	fp_of(t->ix.registered[t->ix.n_registered++], 100);
	cairn_pending p[5] = {
	    {.data = NULL, .len = 4096},   /* a hole */
	    {.data = some_data, .len = 1}, /* in the index */
	    {.data = some_data, .len = 1}, /* new */
	    {.data = some_data, .len = 1}, /* the same again: claimed above */
	    {.data = some_data, .len = 1}, /* another new one */
	};
	fp_of(p[1].fp, 100);
	fp_of(p[2].fp, 1);
	fp_of(p[3].fp, 1);
	fp_of(p[4].fp, 2);
	assert_int_equal(cairn_dedup_pending(&t->d, &t->q, p, 5), 0);
	assert_int_equal(p[0].state, CHUNK_KNOWN);
	assert_int_equal(p[1].state, CHUNK_KNOWN);
	assert_int_equal(p[2].state, CHUNK_NEW);
	assert_int_equal(p[3].state, CHUNK_KNOWN);
	assert_int_equal(p[4].state, CHUNK_NEW);
	/* one batch, through the dedup lookup */
	assert_int_equal(t->ix.dedup_lookups, 1);
	assert_int_equal(t->ix.lookups, 0);

	/* Known to the set: the index is not asked again. */
	p[2].state = CHUNK_UNKNOWN;
	assert_int_equal(cairn_dedup_pending(&t->d, &t->q, &p[2], 1), 0);
	assert_int_equal(p[2].state, CHUNK_KNOWN);
	assert_int_equal(t->ix.dedup_lookups, 1);
	fixture_free(t);
}

/* ---- generations ---- */

/* As the end-to-end test of many files did: new chunks, then new ones
 * alternating with repeats of the first, through generations far smaller
 * than the backup. */
static void
test_backup_dedup__repeats_are_found_across_generations_and_the_set_stays_bounded(void **state)
{
	const size_t max = 8;
	struct fixture *t = fixture_new(0, max);
	t->ix.register_on_flush = 1;
	size_t stored = 0;
	for (uint64_t i = 0; i < 1200; i++) {
		uint64_t k = i < 600 || i % 2 ? i : i - 600;
		stored += decide(t, k) == CHUNK_NEW;
		assert_true(t->d.known.count <= max);
		assert_true(t->d.known_old.count <= max);
	}
	assert_int_equal(stored, 900);
	assert_true(t->ix.flushes > 0);
	/* Past the first generation the index is asked about every chunk. */
	assert_int_equal(t->d.ask_all, 1);
	assert_true(t->ix.lookups > 0);
	fixture_free(t);
}

static void test_backup_dedup__a_new_generation_keeps_what_the_index_does_not_know_yet(void **state)
{
	const size_t max = 4;
	struct fixture *t = fixture_new(0, max);
	/* Nothing gets registered: the packs are still being filled. Two
	 * generations start, at chunks max and 2 max; the second carries
	 * the first's chunks over. */
	for (uint64_t i = 0; i <= 2 * max; i++)
		assert_int_equal(decide(t, i), CHUNK_NEW);
	assert_int_equal(t->ix.flushes, 2);
	for (uint64_t i = 0; i <= 2 * max; i++)
		assert_int_equal(decide(t, i), CHUNK_KNOWN);
	fixture_free(t);
}

static void test_backup_dedup__a_dry_run_forgets_after_two_generations(void **state)
{
	const size_t max = 4;
	struct fixture *t = fixture_new(1, max);
	for (uint64_t i = 0; i < 3 * max; i++)
		assert_int_equal(decide(t, i), CHUNK_NEW);
	assert_true(t->d.known.count <= max);
	assert_true(t->d.known_old.count <= max);
	/* an estimate from above: the first chunks count again */
	assert_int_equal(decide(t, 0), CHUNK_NEW);
	/* the last ones are still remembered */
	assert_int_equal(decide(t, 3 * max - 1), CHUNK_KNOWN);
	/* nothing is registered in a dry run */
	assert_int_equal(t->ix.flushes, 0);
	fixture_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backup_dedup__set_has_what_was_inserted_and_says_so_again),
	    cmocka_unit_test(test_backup_dedup__set_grows_and_keeps_every_entry),
	    cmocka_unit_test(test_backup_dedup__decides_holes_indexed_repeated_and_new_chunks),
	    cmocka_unit_test(
	        test_backup_dedup__repeats_are_found_across_generations_and_the_set_stays_bounded),
	    cmocka_unit_test(
	        test_backup_dedup__a_new_generation_keeps_what_the_index_does_not_know_yet),
	    cmocka_unit_test(test_backup_dedup__a_dry_run_forgets_after_two_generations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backup/jobs.h"
#include "cairn/errors.h"

/* ---- plain in-memory jobs, and a record of who did what ---- */

enum op { OP_FINGERPRINT, OP_CLASSIFY, OP_SEAL };

struct run {
	int worker;
	enum op op;
	const cairn_pending *pend; /* the job's */
	size_t from, to;
};

struct board {
	pthread_mutex_t lock;
	pthread_cond_t work_cv;
	int idle_workers, fatal;
	cairn_jobs jobs;

	pthread_mutex_t record_lock;
	struct run runs[256];
	size_t n_runs;
	/* the chunks classify makes new: those with a bit set */
	uint64_t new_mask;
	/* fingerprinting the chunk at this index fails (SIZE_MAX: none) */
	size_t fail_at;
	/* a helper (worker 1) blocked in its first grab of the job whose
	 * chunks are held until the owner (worker 0) works on another */
	int hold_helper, helper_holding;
	const cairn_pending *held;
	pthread_cond_t hold_cv;
};

/* What a worker passes as its own: the board and its number. */
struct worker {
	struct board *t;
	int id;
};

static void record(struct worker *w, enum op op, const cairn_pending *pend, size_t from, size_t to)
{
	struct board *t = w->t;
	pthread_mutex_lock(&t->record_lock);
	t->runs[t->n_runs++] = (struct run){w->id, op, pend, from, to};
	pthread_mutex_unlock(&t->record_lock);
}

static int fake_fingerprint(void *worker, cairn_pending *pend, size_t from, size_t to)
{
	struct worker *w = worker;
	struct board *t = w->t;
	record(w, OP_FINGERPRINT, pend, from, to);
	pthread_mutex_lock(&t->record_lock);
	if (t->hold_helper && w->id == 1) {
		t->helper_holding = 1;
		pthread_cond_broadcast(&t->hold_cv);
		while (t->hold_helper)
			pthread_cond_wait(&t->hold_cv, &t->record_lock);
	} else if (t->helper_holding && w->id == 0 && pend != t->held) {
		/* the owner works elsewhere while the helper holds a run */
		t->hold_helper = 0;
		pthread_cond_broadcast(&t->hold_cv);
	}
	pthread_mutex_unlock(&t->record_lock);
	for (size_t i = from; i < to; i++) {
		if (i == t->fail_at)
			return cairn_error_set(CAIRN_EIO, "fingerprint %zu failed", i);
		memset(pend[i].fp, (int)i + 1, CAIRN_FP_SIZE);
	}
	return 0;
}

static int fake_classify(void *worker, cairn_pending *pend, size_t n)
{
	struct worker *w = worker;
	record(w, OP_CLASSIFY, pend, 0, n);
	for (size_t i = 0; i < n; i++)
		pend[i].state = (w->t->new_mask >> i) & 1 ? CHUNK_NEW : CHUNK_KNOWN;
	return 0;
}

static int fake_seal(void *worker, const cairn_pending *pend, size_t from, size_t to)
{
	record(worker, OP_SEAL, pend, from, to);
	return 0;
}

static void fake_fail(void *worker, int rc)
{
	struct board *t = ((struct worker *)worker)->t;
	pthread_mutex_lock(&t->lock);
	if (!t->fatal)
		t->fatal = rc;
	pthread_mutex_unlock(&t->lock);
}

static const cairn_job_ops fake_ops = {
    .fingerprint = fake_fingerprint,
    .classify = fake_classify,
    .seal = fake_seal,
    .fail = fake_fail,
};

static struct board *board_new(void)
{
	struct board *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->record_lock, NULL);
	pthread_cond_init(&t->work_cv, NULL);
	pthread_cond_init(&t->hold_cv, NULL);
	t->fail_at = SIZE_MAX;
	assert_int_equal(cairn_jobs_init(&t->jobs, 2, &fake_ops, &t->lock, &t->work_cv,
	                                 &t->idle_workers, &t->fatal),
	                 0);
	return t;
}

static void board_free(struct board *t)
{
	cairn_jobs_free(&t->jobs);
	pthread_mutex_destroy(&t->lock);
	pthread_mutex_destroy(&t->record_lock);
	pthread_cond_destroy(&t->work_cv);
	pthread_cond_destroy(&t->hold_cv);
	free(t);
}

static const uint8_t window[1 << 20];

/* A job of n chunks of len bytes each, back to back in the window. */
static void job_fill(cairn_job *job, size_t n, uint32_t len)
{
	memset(job, 0, sizeof(*job));
	job->pend = calloc(n, sizeof(*job->pend));
	assert_non_null(job->pend);
	for (size_t i = 0; i < n; i++) {
		job->pend[i].data = window + i * len;
		job->pend[i].len = len;
	}
	job->n = job->cap = n;
}

static void assert_run(const struct run *r, int worker, enum op op, size_t from, size_t to)
{
	assert_int_equal(r->worker, worker);
	assert_int_equal(r->op, op);
	assert_int_equal(r->from, from);
	assert_int_equal(r->to, to);
}

/* ---- tests ---- */

static void
test_backup_jobs__a_grab_takes_a_run_of_chunks_by_bytes_then_one_classifies_all(void **state)
{
	struct board *t = board_new();
	struct worker w = {t, 0};
	cairn_job job;
	job_fill(&job, 10, 16 << 10);
	job.pend[5].data = NULL; /* a hole: not fingerprinted, not counted */
	t->new_mask = 0x3ff & ~(1u << 5);
	cairn_jobs_offer(&t->jobs, &job);
	assert_true(cairn_job_has_work(&job));

	pthread_mutex_lock(&t->lock);
	/* 64 KiB of chunks with data a grab, to fingerprint */
	cairn_jobs_work(&t->jobs, &w, &job, 1);
	cairn_jobs_work(&t->jobs, &w, &job, 1);
	cairn_jobs_work(&t->jobs, &w, &job, 1);
	/* every fingerprint in: one question about them all */
	cairn_jobs_work(&t->jobs, &w, &job, 1);
	assert_int_equal(job.classified, JOB_CLASSIFIED);
	/* small new chunks, a bundle's worth (128 KiB) a grab, to seal */
	cairn_jobs_work(&t->jobs, &w, &job, 1);
	cairn_jobs_work(&t->jobs, &w, &job, 1);
	assert_false(cairn_job_has_work(&job));
	pthread_mutex_unlock(&t->lock);

	assert_int_equal(t->n_runs, 6);
	assert_run(&t->runs[0], 0, OP_FINGERPRINT, 0, 4);
	assert_run(&t->runs[1], 0, OP_FINGERPRINT, 4, 9);
	assert_run(&t->runs[2], 0, OP_FINGERPRINT, 9, 10);
	assert_run(&t->runs[3], 0, OP_CLASSIFY, 0, 10);
	assert_run(&t->runs[4], 0, OP_SEAL, 0, 9);
	assert_run(&t->runs[5], 0, OP_SEAL, 9, 10);
	free(job.pend);
	board_free(t);
}

static void test_backup_jobs__the_oldest_job_with_work_is_handed_out_first(void **state)
{
	struct board *t = board_new();
	struct worker w = {t, 0};
	cairn_job old, young;
	job_fill(&old, 2, 1 << 10);
	job_fill(&young, 2, 1 << 10);
	t->new_mask = 0x3;
	cairn_jobs_offer(&t->jobs, &old);
	cairn_jobs_offer(&t->jobs, &young);

	pthread_mutex_lock(&t->lock);
	assert_ptr_equal(cairn_jobs_oldest(&t->jobs), &old);
	/* Fingerprinted but not yet classified: the question is work too. */
	cairn_jobs_work(&t->jobs, &w, &old, 1);
	assert_ptr_equal(cairn_jobs_oldest(&t->jobs), &old);
	/* Classified: its new chunks are to seal. */
	cairn_jobs_work(&t->jobs, &w, &old, 1);
	assert_ptr_equal(cairn_jobs_oldest(&t->jobs), &old);
	cairn_jobs_work(&t->jobs, &w, &old, 1);
	assert_ptr_equal(cairn_jobs_oldest(&t->jobs), &young);
	cairn_jobs_work(&t->jobs, &w, &young, 0);
	assert_null(cairn_jobs_oldest(&t->jobs));
	pthread_mutex_unlock(&t->lock);
	/* Offered until their owners finish them. */
	assert_int_equal(t->jobs.n_offered, 2);
	assert_int_equal(t->n_runs, 6);

	free(old.pend);
	free(young.pend);
	board_free(t);
}

static void test_backup_jobs__finishing_does_what_nobody_took_and_withdraws_the_job(void **state)
{
	struct board *t = board_new();
	struct worker w = {t, 0};
	cairn_job job, other;
	job_fill(&job, 3, 1 << 10);
	memset(&other, 0, sizeof(other));
	t->new_mask = 0x5;
	cairn_jobs_offer(&t->jobs, &job);

	assert_int_equal(cairn_jobs_finish(&t->jobs, &w, &job, &other), 0);
	assert_int_equal(t->jobs.n_offered, 0);
	assert_int_equal(job.classified, JOB_CLASSIFIED);
	assert_int_equal(job.fp_done, 3);
	assert_int_equal(job.helpers, 0);
	assert_int_equal(t->n_runs, 3);
	assert_run(&t->runs[0], 0, OP_FINGERPRINT, 0, 3);
	assert_run(&t->runs[1], 0, OP_CLASSIFY, 0, 3);
	assert_run(&t->runs[2], 0, OP_SEAL, 0, 3);
	assert_int_equal(job.pend[0].state, CHUNK_NEW);
	assert_int_equal(job.pend[1].state, CHUNK_KNOWN);
	free(job.pend);
	board_free(t);
}

struct helper_arg {
	struct worker w;
	cairn_job *job;
};

static void *helper_main(void *arg)
{
	struct helper_arg *h = arg;
	struct board *t = h->w.t;
	pthread_mutex_lock(&t->lock);
	cairn_jobs_work(&t->jobs, &h->w, h->job, 1);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void
test_backup_jobs__while_a_helper_holds_the_last_chunks_the_owner_works_on_its_next_job(void **state)
{
	struct board *t = board_new();
	struct worker owner = {t, 0};
	cairn_job job, next;
	job_fill(&job, 8, 32 << 10);
	job_fill(&next, 4, 32 << 10);
	t->new_mask = 0xff;
	cairn_jobs_offer(&t->jobs, &job);
	cairn_jobs_offer(&t->jobs, &next);

	/* A helper takes the job's first run and holds it. */
	struct helper_arg h = {{t, 1}, &job};
	pthread_t helper;
	t->hold_helper = 1;
	t->held = job.pend;
	assert_int_equal(pthread_create(&helper, NULL, helper_main, &h), 0);
	pthread_mutex_lock(&t->record_lock);
	while (!t->helper_holding)
		pthread_cond_wait(&t->hold_cv, &t->record_lock);
	pthread_mutex_unlock(&t->record_lock);

	assert_int_equal(cairn_jobs_finish(&t->jobs, &owner, &job, &next), 0);
	pthread_join(helper, NULL);

	/* the helper's run, the owner's rest of the job, then the next job
	 * while it waits; the job is finished and withdrawn, the next one
	 * still offered */
	assert_run(&t->runs[0], 1, OP_FINGERPRINT, 0, 2);
	assert_run(&t->runs[1], 0, OP_FINGERPRINT, 2, 4);
	assert_run(&t->runs[2], 0, OP_FINGERPRINT, 4, 6);
	assert_run(&t->runs[3], 0, OP_FINGERPRINT, 6, 8);
	assert_run(&t->runs[4], 0, OP_FINGERPRINT, 0, 2);
	assert_ptr_equal(t->runs[4].pend, next.pend);
	size_t sealed = 0;
	for (size_t i = 0; i < t->n_runs; i++)
		if (t->runs[i].pend == job.pend && t->runs[i].op == OP_SEAL)
			sealed += t->runs[i].to - t->runs[i].from;
	assert_int_equal(sealed, 8);
	assert_int_equal(job.fp_done, 8);
	assert_int_equal(t->jobs.n_offered, 1);
	assert_ptr_equal(t->jobs.offered[0], &next);
	free(job.pend);
	free(next.pend);
	board_free(t);
}

static void test_backup_jobs__a_failed_run_stops_the_work_and_finishing_reports_it(void **state)
{
	struct board *t = board_new();
	struct worker w = {t, 0};
	cairn_job job, other;
	job_fill(&job, 8, 32 << 10);
	memset(&other, 0, sizeof(other));
	t->fail_at = 3;
	cairn_jobs_offer(&t->jobs, &job);

	assert_int_equal(cairn_jobs_finish(&t->jobs, &w, &job, &other), CAIRN_EIO);
	assert_int_equal(t->fatal, CAIRN_EIO);
	/* nothing handed out after the failure */
	assert_int_equal(t->n_runs, 2);
	assert_int_equal(job.classified, JOB_UNCLASSIFIED);
	assert_int_equal(t->jobs.n_offered, 0);
	pthread_mutex_lock(&t->lock);
	assert_null(cairn_jobs_oldest(&t->jobs));
	pthread_mutex_unlock(&t->lock);
	free(job.pend);
	board_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        test_backup_jobs__a_grab_takes_a_run_of_chunks_by_bytes_then_one_classifies_all),
	    cmocka_unit_test(test_backup_jobs__the_oldest_job_with_work_is_handed_out_first),
	    cmocka_unit_test(
	        test_backup_jobs__finishing_does_what_nobody_took_and_withdraws_the_job),
	    cmocka_unit_test(
	        test_backup_jobs__while_a_helper_holds_the_last_chunks_the_owner_works_on_its_next_job),
	    cmocka_unit_test(
	        test_backup_jobs__a_failed_run_stops_the_work_and_finishing_reports_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

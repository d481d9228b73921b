/* The job scheduler of the backup's workers: see jobs.h. */
#include "backup/jobs.h"

#include "cairn/errors.h"

#include <stdlib.h>
#include <string.h>

/* What a thread takes of a job at once: chunks up to this many bytes
 * (at least one chunk) to fingerprint, or to seal (a bundle's worth). One
 * chunk at a time, a window of small files would take the lock twice per
 * file. */
#define GRAB_BYTES (64u << 10)
#define GRAB_SEAL_BYTES (256u << 10)
#define GRAB_CHUNKS CAIRN_BUNDLE_CHUNKS

int cairn_jobs_init(cairn_jobs *s, size_t n_workers, const cairn_job_ops *ops,
                    pthread_mutex_t *lock, pthread_cond_t *work_cv, const int *idle_workers,
                    const int *fatal)
{
	memset(s, 0, sizeof(*s));
	s->lock = lock;
	s->work_cv = work_cv;
	s->idle_workers = idle_workers;
	s->fatal = fatal;
	s->ops = ops;
	pthread_cond_init(&s->job_cv, NULL);
	if (!(s->offered = calloc(2 * n_workers, sizeof(*s->offered))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return 0;
}

void cairn_jobs_free(cairn_jobs *s)
{
	free(s->offered);
	s->offered = NULL;
	pthread_cond_destroy(&s->job_cv);
}

/* The end of the run of chunks from `from` that one grab takes. Only the
 * chunks that need the work count (with data, to fingerprint; new, to
 * seal). A grab to seal takes small chunks up to one bundle's worth, not
 * more, so that they fill one bundle rather than one and a few left over,
 * and at most GRAB_SEAL_BYTES of others. */
static size_t grab(const cairn_job *job, size_t from, int sealing)
{
	size_t to = from, taken = 0, small = 0, other = 0;
	size_t other_max = sealing ? GRAB_SEAL_BYTES : GRAB_BYTES;
	for (; to < job->n && taken < GRAB_CHUNKS; to++) {
		const cairn_pending *p = &job->pend[to];
		if (!(sealing ? p->state == CHUNK_NEW : p->data != NULL))
			continue;
		int in_bundle = sealing && p->len <= BUNDLE_CHUNK_MAX;
		if (taken && (in_bundle ? small + p->len > CAIRN_BUNDLE_MAX : other >= other_max))
			break;
		*(in_bundle ? &small : &other) += p->len;
		taken++;
	}
	return to;
}

void cairn_jobs_work(cairn_jobs *s, void *worker, cairn_job *job, int once)
{
	int rc_failed;
	while (!*s->fatal) {
		size_t from, to;
		int sealing = 0, rc = 0;
		if (job->next_fp < job->n) {
			from = job->next_fp;
			to = job->next_fp = grab(job, from, 0);
		} else if (job->classified == JOB_CLASSIFIED && job->next < job->n) {
			from = job->next;
			to = job->next = grab(job, from, 1);
			sealing = 1;
		} else {
			if (job->fp_done == job->n && job->classified == JOB_UNCLASSIFIED) {
				/* every fingerprint is in: ask about them */
				job->classified = JOB_CLASSIFYING;
				job->helpers++;
				pthread_mutex_unlock(s->lock);
				rc = s->ops->classify(worker, job->pend, job->n);
				pthread_mutex_lock(s->lock);
				job->helpers--;
				job->classified = JOB_CLASSIFIED;
				pthread_cond_broadcast(&s->job_cv);
				if (*s->idle_workers)
					pthread_cond_broadcast(s->work_cv);
				if ((rc_failed = rc))
					goto failed;
				if (once)
					return;
				continue;
			}
			return;
		}
		job->helpers++;
		pthread_mutex_unlock(s->lock);
		if (sealing)
			rc = s->ops->seal(worker, job->pend, from, to);
		else
			rc = s->ops->fingerprint(worker, job->pend, from, to);
		pthread_mutex_lock(s->lock);
		if (!sealing)
			job->fp_done += to - from;
		if (--job->helpers == 0)
			pthread_cond_broadcast(&s->job_cv);
		if ((rc_failed = rc))
			goto failed;
		if (once)
			return;
	}
	return;
failed:
	pthread_mutex_unlock(s->lock);
	s->ops->fail(worker, rc_failed);
	pthread_mutex_lock(s->lock);
}

cairn_job *cairn_jobs_oldest(const cairn_jobs *s)
{
	for (size_t i = 0; i < s->n_offered; i++)
		if (cairn_job_has_work(s->offered[i]))
			return s->offered[i];
	return NULL;
}

static void withdraw(cairn_jobs *s, cairn_job *job)
{
	for (size_t i = 0; i < s->n_offered; i++) {
		if (s->offered[i] == job) {
			memmove(&s->offered[i], &s->offered[i + 1],
			        (s->n_offered - i - 1) * sizeof(*s->offered));
			s->n_offered--;
			return;
		}
	}
}

int cairn_jobs_finish(cairn_jobs *s, void *worker, cairn_job *job, cairn_job *other)
{
	int rc;
	pthread_mutex_lock(s->lock);
	for (;;) {
		cairn_jobs_work(s, worker, job, 0);
		if (*s->fatal ||
		    (job->classified == JOB_CLASSIFIED && job->next >= job->n && !job->helpers))
			break;
		if (cairn_job_has_work(job))
			continue;
		if (other->n && cairn_job_has_work(other))
			cairn_jobs_work(s, worker, other, 1);
		else
			pthread_cond_wait(&s->job_cv, s->lock);
	}
	while (job->helpers)
		pthread_cond_wait(&s->job_cv, s->lock);
	withdraw(s, job);
	rc = *s->fatal;
	pthread_mutex_unlock(s->lock);
	return rc;
}

void cairn_jobs_offer(cairn_jobs *s, cairn_job *job)
{
	job->next_fp = job->fp_done = job->next = 0;
	job->classified = JOB_UNCLASSIFIED;
	pthread_mutex_lock(s->lock);
	s->offered[s->n_offered++] = job;
	if (*s->idle_workers)
		pthread_cond_broadcast(s->work_cv);
	pthread_mutex_unlock(s->lock);
}

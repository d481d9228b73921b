/* The job scheduler of the backup's workers.
 *
 * When a worker has chunked a window it hands the chunks, and the buffer
 * they point into, to the other workers as a job, and reads and chunks
 * the next window into its second buffer meanwhile. Whoever is idle takes
 * the job's chunks a run at a time: first to fingerprint them; then
 * whoever fingerprints the last one asks the dedup set and the index
 * about all of them; then to seal the new ones into a pack of its own. So
 * one big file keeps every core busy. When the next window is chunked,
 * the owner offers it as a job at once, then finishes the previous one
 * (whatever nobody took; while helpers hold its last chunks, it works on
 * the new one) and adds its chunks to their entries in order: helpers
 * always find a job, and the owner reads the next window into the freed
 * buffer.
 *
 * The scheduler decides who does what under its owner's lock; the work
 * itself is done through its table of operations, without the lock. It
 * touches no file. */
#ifndef CAIRN_BACKUP_JOBS_H
#define CAIRN_BACKUP_JOBS_H

#include "backup/pending.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Where a job's dedup question stands. */
enum job_classify {
	JOB_UNCLASSIFIED, /* not asked yet */
	JOB_CLASSIFYING,  /* one thread is asking */
	JOB_CLASSIFIED,   /* every chunk's state is known: new ones can be sealed */
};

typedef struct cairn_job {
	uint8_t *buf; /* the window the chunks point into */
	cairn_pending *pend;
	size_t n, cap;
	size_t next_fp, fp_done; /* fingerprints handed out, and done */
	size_t next;             /* the next chunk to look at for sealing */
	enum job_classify classified;
	int helpers; /* threads working on it now */
} cairn_job;

/* The work, done on behalf of a worker (its sealer, pack and index
 * arrays), without the lock. A failure is returned; the scheduler then
 * calls fail. */
typedef struct cairn_job_ops {
	/* Fingerprints the chunks with data of pend[from, to). */
	int (*fingerprint)(void *worker, cairn_pending *pend, size_t from, size_t to);
	/* Decides the state of each of the n chunks (cairn_dedup_pending). */
	int (*classify)(void *worker, cairn_pending *pend, size_t n);
	/* Seals the new chunks of pend[from, to) into the worker's pack. */
	int (*seal)(void *worker, const cairn_pending *pend, size_t from, size_t to);
	/* Stops the backup after a failure (so that *fatal is set). */
	void (*fail)(void *worker, int rc);
} cairn_job_ops;

/* The jobs offered to idle workers, oldest first. What changes is under
 * *lock, the owner's, which also guards what the owner hands out. */
typedef struct cairn_jobs {
	pthread_mutex_t *lock;
	pthread_cond_t job_cv;   /* a job's helpers are done, or it was classified */
	pthread_cond_t *work_cv; /* the owner's idle workers wait on it */
	const int *idle_workers; /* how many wait on work_cv: wake-ups only for them */
	const int *fatal;        /* the backup failed: hand out nothing */
	const cairn_job_ops *ops;
	cairn_job **offered; /* at most two per worker */
	size_t n_offered;
} cairn_jobs;

int cairn_jobs_init(cairn_jobs *s, size_t n_workers, const cairn_job_ops *ops,
                    pthread_mutex_t *lock, pthread_cond_t *work_cv, const int *idle_workers,
                    const int *fatal);
void cairn_jobs_free(cairn_jobs *s);

/* Work left to hand out: a chunk to fingerprint, the question to the
 * dedup set and the index once every fingerprint is in, or a new chunk
 * to seal. */
static inline int cairn_job_has_work(const cairn_job *job)
{
	return job->next_fp < job->n ||
	       (job->fp_done == job->n && job->classified == JOB_UNCLASSIFIED) ||
	       (job->classified == JOB_CLASSIFIED && job->next < job->n);
}

/* Offers job, filled with job->n pending chunks, to the idle workers.
 * Takes the lock. */
void cairn_jobs_offer(cairn_jobs *s, cairn_job *job);
/* The oldest offered job with work to hand out, or NULL. Under lock. */
cairn_job *cairn_jobs_oldest(const cairn_jobs *s);
/* Does the job's work that can be handed out now (one grab of it if
 * once), on worker's behalf. Under lock; drops it while working. */
void cairn_jobs_work(cairn_jobs *s, void *worker, cairn_job *job, int once);
/* Finishes job, one of worker's: does what nobody took (and, while
 * helpers hold the rest, works on other, the worker's other job, if
 * offered), waits for the helpers and withdraws it. Returns the backup's
 * failure (*fatal), or 0 when every chunk of job is classified and the
 * new ones sealed. Takes the lock. */
int cairn_jobs_finish(cairn_jobs *s, void *worker, cairn_job *job, cairn_job *other);

#endif

#include "util/parallel.h"

#include "cairn/errors.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_THREADS 64

struct run {
	int (*fn)(void *ud, size_t i);
	void *ud;
	size_t n;
	pthread_mutex_t lock;
	size_t next;     /* the next i to hand out */
	size_t failed_i; /* the lowest i that failed, n if none */
	cairn_error_saved failed;
};

static void *run_main(void *arg)
{
	struct run *r = arg;
	for (;;) {
		pthread_mutex_lock(&r->lock);
		size_t i = r->next < r->n ? r->next++ : r->n;
		pthread_mutex_unlock(&r->lock);
		if (i == r->n)
			return NULL;
		int rc = r->fn(r->ud, i);
		if (rc) {
			pthread_mutex_lock(&r->lock);
			if (i < r->failed_i) {
				r->failed_i = i;
				cairn_error_save(&r->failed, rc);
			}
			pthread_mutex_unlock(&r->lock);
		}
	}
}

int cairn_parallel_for(size_t n, unsigned threads, int (*fn)(void *ud, size_t i), void *ud)
{
	struct run r = {.fn = fn, .ud = ud, .n = n, .failed_i = n};
	pthread_t tid[MAX_THREADS];
	unsigned started = 0;

	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if ((size_t)threads > n)
		threads = (unsigned)n;
	if (pthread_mutex_init(&r.lock, NULL) != 0)
		return cairn_error_set(CAIRN_ERROR, "cannot create a mutex");
	/* Threads that cannot be started leave their share to the others. */
	while (started + 1 < threads && pthread_create(&tid[started], NULL, run_main, &r) == 0)
		started++;
	run_main(&r);
	for (unsigned t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	pthread_mutex_destroy(&r.lock);
	if (r.failed_i < n)
		return cairn_error_restore(&r.failed);
	return 0;
}

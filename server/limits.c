/* The rate limits: a token bucket per id (a token's, for requests; a
 * repository's, for the entries registered), refilled at rate units per
 * second up to burst. Pure but for its lock: the caller gives the time. */
#include "server.h"

#include "cairn/errors.h"
#include "util/buf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bucket {
	char id[SRV_REPO_HEX + 1];
	double tokens;
	double last;
} bucket;

struct srv_limiter {
	double rate, burst;
	pthread_mutex_t lock;
	bucket *b;
	size_t n, cap;
};

int srv_limiter_new(srv_limiter **out, double rate, double burst)
{
	srv_limiter *l = calloc(1, sizeof(*l));
	if (!l)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	l->rate = rate;
	l->burst = burst < 1 ? 1 : burst;
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return 0;
}

void srv_limiter_free(srv_limiter *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l->b);
	free(l);
}

int srv_limiter_take(srv_limiter *l, const char *id, double now, unsigned *retry_after_s)
{
	return srv_limiter_take_n(l, id, 1.0, now, retry_after_s);
}

int srv_limiter_take_n(srv_limiter *l, const char *id, double n, double now,
                       unsigned *retry_after_s)
{
	if (l->rate <= 0)
		return 1;
	int ok = 1;
	pthread_mutex_lock(&l->lock);
	bucket *b = NULL;
	/* Ids are few (a token per client machine, a few repositories): a
	 * linear search will do. */
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->b[i].id, id) == 0) {
			b = &l->b[i];
			break;
		}
	if (!b) {
		if (cairn_array_grow((void **)&l->b, &l->cap, l->n + 1, sizeof(*l->b))) {
			cairn_error_clear();
			pthread_mutex_unlock(&l->lock);
			return 1; /* out of memory must not lock clients out */
		}
		b = &l->b[l->n++];
		snprintf(b->id, sizeof(b->id), "%s", id);
		b->tokens = l->burst;
		b->last = now;
	}
	b->tokens += (now - b->last) * l->rate;
	if (b->tokens > l->burst)
		b->tokens = l->burst;
	b->last = now;
	/* A request larger than the burst goes ahead from a full bucket. */
	double need = n < l->burst ? n : l->burst;
	if (b->tokens >= need) {
		b->tokens -= n;
	} else {
		double wait = (need - b->tokens) / l->rate;
		unsigned s = (unsigned)wait;
		if ((double)s < wait)
			s++;
		*retry_after_s = s ? s : 1;
		ok = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return ok;
}

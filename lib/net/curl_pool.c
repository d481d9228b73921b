#include "net/curl_pool.h"

#include "cairn/errors.h"

#include <stdlib.h>

int cairn_curl_pool_init(cairn_curl_pool *p, int max_open)
{
	p->n_idle = p->n_open = 0;
	p->max_open = max_open > 0 ? max_open : 1;
	if (!(p->idle = calloc((size_t)p->max_open, sizeof(*p->idle))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cv, NULL);
	return 0;
}

CURL *cairn_curl_pool_get(cairn_curl_pool *p)
{
	CURL *h = NULL;
	pthread_mutex_lock(&p->lock);
	while (p->n_idle == 0 && p->n_open >= p->max_open)
		pthread_cond_wait(&p->cv, &p->lock);
	if (p->n_idle > 0) {
		h = p->idle[--p->n_idle];
		pthread_mutex_unlock(&p->lock);
		cairn_curl.easy_reset(h);
		return h;
	}
	p->n_open++;
	pthread_mutex_unlock(&p->lock);
	if (!(h = cairn_curl.easy_init())) {
		pthread_mutex_lock(&p->lock);
		p->n_open--;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->lock);
	}
	return h;
}

void cairn_curl_pool_put(cairn_curl_pool *p, CURL *h)
{
	pthread_mutex_lock(&p->lock);
	p->idle[p->n_idle++] = h;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->lock);
}

void cairn_curl_pool_free(cairn_curl_pool *p)
{
	if (!p->idle)
		return;
	for (int i = 0; i < p->n_idle; i++)
		cairn_curl.easy_cleanup(p->idle[i]);
	free(p->idle);
	p->idle = NULL;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cv);
}

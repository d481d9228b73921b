/* A bounded pool of libcurl easy handles shared by threads, so that
 * connections are reused and no two threads use one handle at once. */
#ifndef CAIRN_UTIL_CURL_POOL_H
#define CAIRN_UTIL_CURL_POOL_H

#include "net/curl_api.h"

#include <pthread.h>

typedef struct cairn_curl_pool {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	CURL **idle;
	int n_idle, n_open, max_open;
} cairn_curl_pool;

/* A pool of at most max_open (>= 1) handles; cairn_curl_global_init()
 * must have succeeded before handles are taken. */
int cairn_curl_pool_init(cairn_curl_pool *p, int max_open);
/* An idle handle, reset to libcurl's defaults, or a new one; waits while
 * max_open handles are in use. NULL when libcurl cannot make one. */
CURL *cairn_curl_pool_get(cairn_curl_pool *p);
void cairn_curl_pool_put(cairn_curl_pool *p, CURL *h);
void cairn_curl_pool_free(cairn_curl_pool *p);

#endif

/* The pool of curl handles: reuse, the bound on open handles, and a
 * waiting thread woken by a handle coming back. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "net/curl_pool.h"

#include <pthread.h>
#include <unistd.h>

static void test_curl_pool__a_returned_handle_is_reused(void **state)
{
	cairn_curl_pool p;
	assert_int_equal(cairn_curl_pool_init(&p, 2), 0);
	CURL *a = cairn_curl_pool_get(&p);
	assert_non_null(a);
	cairn_curl.easy_setopt(a, CURLOPT_URL, "http://127.0.0.1:1/");
	cairn_curl_pool_put(&p, a);
	CURL *b = cairn_curl_pool_get(&p);
	assert_ptr_equal(a, b);
	/* reset: the URL set before is gone */
	char *url = (char *)"x";
	cairn_curl.easy_getinfo(b, CURLINFO_EFFECTIVE_URL, &url);
	assert_true(url == NULL || url[0] == '\0');
	cairn_curl_pool_put(&p, b);
	cairn_curl_pool_free(&p);
}

static void test_curl_pool__two_in_use_are_distinct(void **state)
{
	cairn_curl_pool p;
	assert_int_equal(cairn_curl_pool_init(&p, 2), 0);
	CURL *a = cairn_curl_pool_get(&p), *b = cairn_curl_pool_get(&p);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_int_equal(p.n_open, 2);
	cairn_curl_pool_put(&p, a);
	cairn_curl_pool_put(&p, b);
	assert_int_equal(p.n_idle, 2);
	cairn_curl_pool_free(&p);
}

struct waiter {
	cairn_curl_pool *p;
	CURL *got;
	int done;
	pthread_mutex_t m;
};

static void *wait_for_handle(void *arg)
{
	struct waiter *w = arg;
	CURL *h = cairn_curl_pool_get(w->p);
	pthread_mutex_lock(&w->m);
	w->got = h;
	w->done = 1;
	pthread_mutex_unlock(&w->m);
	return NULL;
}

static void test_curl_pool__a_full_pool_waits_for_a_handle(void **state)
{
	cairn_curl_pool p;
	assert_int_equal(cairn_curl_pool_init(&p, 1), 0);
	CURL *a = cairn_curl_pool_get(&p);
	assert_non_null(a);
	struct waiter w = {.p = &p};
	pthread_mutex_init(&w.m, NULL);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, wait_for_handle, &w), 0);
	usleep(100 * 1000);
	pthread_mutex_lock(&w.m);
	int done = w.done;
	pthread_mutex_unlock(&w.m);
	assert_int_equal(done, 0); /* still waiting: the only handle is out */
	cairn_curl_pool_put(&p, a);
	pthread_join(t, NULL);
	assert_ptr_equal(w.got, a);
	assert_int_equal(p.n_open, 1);
	cairn_curl_pool_put(&p, w.got);
	pthread_mutex_destroy(&w.m);
	cairn_curl_pool_free(&p);
}

static int load_libcurl(void **state)
{
	return cairn_curl_global_init();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_curl_pool__a_returned_handle_is_reused),
	    cmocka_unit_test(test_curl_pool__two_in_use_are_distinct),
	    cmocka_unit_test(test_curl_pool__a_full_pool_waits_for_a_handle),
	};
	return cmocka_run_group_tests(tests, load_libcurl, NULL);
}

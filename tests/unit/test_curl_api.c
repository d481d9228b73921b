/* libcurl loaded at run time: the table filled from the real library, and
 * the errors for a file that is not there or is not libcurl. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/errors.h"
#include "net/curl_api.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void test_curl_api__global_init_fills_every_function(void **state)
{
	assert_int_equal(cairn_curl_global_init(), 0);
	assert_non_null(cairn_curl.global_init);
	assert_non_null(cairn_curl.easy_init);
	assert_non_null(cairn_curl.easy_cleanup);
	assert_non_null(cairn_curl.easy_reset);
	assert_non_null(cairn_curl.easy_setopt);
	assert_non_null(cairn_curl.easy_getinfo);
	assert_non_null(cairn_curl.easy_perform);
	assert_non_null(cairn_curl.easy_strerror);
	assert_non_null(cairn_curl.slist_append);
	assert_non_null(cairn_curl.slist_free_all);
	assert_non_null(cairn_curl.version_info);
	/* a second call finds it done */
	assert_int_equal(cairn_curl_global_init(), 0);
}

static void test_curl_api__the_functions_work(void **state)
{
	assert_int_equal(cairn_curl_global_init(), 0);
	CURL *h = cairn_curl.easy_init();
	assert_non_null(h);
	assert_int_equal(cairn_curl.easy_setopt(h, CURLOPT_TIMEOUT, 5L), CURLE_OK);
	assert_int_equal(cairn_curl.easy_setopt(h, CURLOPT_URL, "http://127.0.0.1:1/"), CURLE_OK);
	assert_int_equal(cairn_curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)3),
	                 CURLE_OK);
	long status = -1;
	assert_int_equal(cairn_curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status), CURLE_OK);
	assert_int_equal(status, 0);
	cairn_curl.easy_cleanup(h);

	struct curl_slist *list = cairn_curl.slist_append(NULL, "Expect:");
	assert_non_null(list);
	assert_string_equal(list->data, "Expect:");
	cairn_curl.slist_free_all(list);
	assert_string_equal(cairn_curl.easy_strerror(CURLE_OK), "No error");
}

static void test_curl_api__version_is_the_loaded_one(void **state)
{
	const char *v = NULL;
	assert_int_equal(cairn_curl_version(&v), 0);
	assert_non_null(v);
	assert_true(isdigit((unsigned char)v[0]));
	assert_string_equal(v, cairn_curl.version_info(CURLVERSION_NOW)->version);
}

/* Loading name fails with a message that names it and holds detail, and
 * leaves the table alone. */
static void assert_load_fails(const char *name, const char *detail)
{
	cairn_curl_api api, untouched;
	memset(&api, 0, sizeof(api));
	memset(&untouched, 0, sizeof(untouched));
	assert_int_equal(cairn_curl__load(&api, name), CAIRN_ERROR);
	char want[256];
	snprintf(want, sizeof(want), "libcurl (%s) could not be loaded: ", name);
	const char *msg = cairn_error_last();
	assert_memory_equal(msg, want, strlen(want));
	assert_non_null(strstr(msg, detail));
	assert_memory_equal(&api, &untouched, sizeof(api));
}

static void test_curl_api__a_missing_file_is_an_error_naming_it(void **state)
{
	assert_load_fails("/nonexistent/libcurl.so", "No such file");
}

static void test_curl_api__a_library_without_libcurl_is_an_error_naming_the_function(void **state)
{
	assert_load_fails("libc.so.6", "curl_global_init");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_curl_api__a_missing_file_is_an_error_naming_it),
	    cmocka_unit_test(
	        test_curl_api__a_library_without_libcurl_is_an_error_naming_the_function),
	    cmocka_unit_test(test_curl_api__global_init_fills_every_function),
	    cmocka_unit_test(test_curl_api__the_functions_work),
	    cmocka_unit_test(test_curl_api__version_is_the_loaded_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

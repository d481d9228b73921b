#include "util/curl_api.h"

#include "cairn/errors.h"
#include "util/dl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cairn_curl_api cairn_curl;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;
/* Kept for the calls after the first, which may come on other threads. */
static char global_error[512];

int cairn_curl__load(cairn_curl_api *out, const char *name)
{
	cairn_curl_api api;
	const cairn_dl_function functions[] = {
	    {"curl_global_init", &api.global_init},   {"curl_easy_init", &api.easy_init},
	    {"curl_easy_cleanup", &api.easy_cleanup}, {"curl_easy_reset", &api.easy_reset},
	    {"curl_easy_setopt", &api.easy_setopt},   {"curl_easy_getinfo", &api.easy_getinfo},
	    {"curl_easy_perform", &api.easy_perform}, {"curl_easy_strerror", &api.easy_strerror},
	    {"curl_slist_append", &api.slist_append}, {"curl_slist_free_all", &api.slist_free_all},
	    {"curl_version_info", &api.version_info},
	};
	_Static_assert(sizeof(functions) / sizeof(functions[0]) * sizeof(void *) ==
	                   sizeof(cairn_curl_api),
	               "every member of cairn_curl_api is looked up");
	int rc = cairn_dl_load("libcurl", name, functions, sizeof(functions) / sizeof(functions[0]));
	if (!rc)
		*out = api;
	return rc;
}

static void global_init(void)
{
	const char *name = getenv("CAIRN_LIBCURL");
	int rc = cairn_curl__load(&cairn_curl, name && name[0] ? name : CAIRN_LIBCURL_DEFAULT);
	if (!rc) {
		CURLcode cc = cairn_curl.global_init(CURL_GLOBAL_DEFAULT);
		if (cc != CURLE_OK)
			rc = cairn_error_set(CAIRN_ERROR, "libcurl could not be initialised: %s",
			                     cairn_curl.easy_strerror(cc));
	}
	if (rc)
		snprintf(global_error, sizeof(global_error), "%s", cairn_error_last());
	global_rc = rc;
}

int cairn_curl_global_init(void)
{
	pthread_once(&global_once, global_init);
	if (global_rc)
		return cairn_error_set(global_rc, "%s", global_error);
	return 0;
}

int cairn_curl_version(const char **out)
{
	int rc = cairn_curl_global_init();
	*out = rc ? NULL : cairn_curl.version_info(CURLVERSION_NOW)->version;
	return rc;
}

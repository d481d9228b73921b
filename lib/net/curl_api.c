#include "net/curl_api.h"

#include "cairn/errors.h"
#include "util/dl.h"

#include <stdlib.h>

cairn_curl_api cairn_curl;

static cairn_dl_once global = CAIRN_DL_ONCE_INIT;

int cairn_curl__load(cairn_curl_api *out, const char *name)
{
	const cairn_dl_function functions[] = {
	    {"curl_global_init", &out->global_init},
	    {"curl_easy_init", &out->easy_init},
	    {"curl_easy_cleanup", &out->easy_cleanup},
	    {"curl_easy_reset", &out->easy_reset},
	    {"curl_easy_setopt", &out->easy_setopt},
	    {"curl_easy_getinfo", &out->easy_getinfo},
	    {"curl_easy_perform", &out->easy_perform},
	    {"curl_easy_strerror", &out->easy_strerror},
	    {"curl_slist_append", &out->slist_append},
	    {"curl_slist_free_all", &out->slist_free_all},
	    {"curl_version_info", &out->version_info},
	};
	_Static_assert(sizeof(functions) / sizeof(functions[0]) * sizeof(void *) ==
	                   sizeof(cairn_curl_api),
	               "every member of cairn_curl_api is looked up");
	return cairn_dl_load("libcurl", name, functions, sizeof(functions) / sizeof(functions[0]));
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
	cairn_dl_done(&global, rc);
}

int cairn_curl_global_init(void)
{
	return cairn_dl_once_run(&global, global_init);
}

int cairn_curl_version(const char **out)
{
	int rc = cairn_curl_global_init();
	*out = rc ? NULL : cairn_curl.version_info(CURLVERSION_NOW)->version;
	return rc;
}

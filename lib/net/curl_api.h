/* libcurl, loaded the first time something needs it: only S3 stores, the
 * index server client and `cairn version` speak HTTP, so a command on a
 * local repository never maps libcurl and the thirty-odd libraries it
 * pulls in. Every call into libcurl goes through the table cairn_curl,
 * filled once by cairn_curl_global_init(). */
#ifndef CAIRN_UTIL_CURL_API_H
#define CAIRN_UTIL_CURL_API_H

#include <curl/curl.h>

/* The file loaded unless CAIRN_LIBCURL names another. */
#define CAIRN_LIBCURL_DEFAULT "libcurl.so.4"

/* The libcurl functions cairn calls, with libcurl's own signatures: the
 * variadic ones take a long, a pointer or a curl_off_t as libcurl's
 * documentation of each option says. */
typedef struct cairn_curl_api {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *h);
	void (*easy_reset)(CURL *h);
	CURLcode (*easy_setopt)(CURL *h, CURLoption option, ...);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	CURLcode (*easy_perform)(CURL *h);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *line);
	void (*slist_free_all)(struct curl_slist *list);
	curl_version_info_data *(*version_info)(CURLversion age);
} cairn_curl_api;

/* Valid once cairn_curl_global_init() has returned 0. */
extern cairn_curl_api cairn_curl;

/* Loads libcurl (CAIRN_LIBCURL, read once, or libcurl.so.4) and runs its
 * global initialisation, once per process. An error names the file and
 * the loader's or libcurl's reason, and is the same on every call. */
int cairn_curl_global_init(void);

/* *out: the version of the libcurl loaded, e.g. "7.88.1" (libcurl's
 * storage). Loads it as cairn_curl_global_init() does. */
int cairn_curl_version(const char **out);

/* Opens the library file name and fills *out with its functions; *out is
 * left alone on failure. The file stays loaded on success. What
 * cairn_curl_global_init() does first; tests give it other files. */
int cairn_curl__load(cairn_curl_api *out, const char *name);

#endif

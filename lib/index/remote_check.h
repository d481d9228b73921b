/* The remote index backend's URL and token, checked before use: a URL
 * that curl would read otherwise than the user meant, or a token that
 * cannot go in an HTTP header, is refused with a reason (CAIRN_EINVAL). */
#ifndef CAIRN_INDEX_REMOTE_CHECK_H
#define CAIRN_INDEX_REMOTE_CHECK_H

/* Longest token accepted. */
#define CAIRN_INDEX_TOKEN_MAX 4096

/* An http:// or https:// URL with a host, no query, fragment, space or
 * control character. */
int cairn_index_remote_check_url(const char *url);
/* A token of 1 to CAIRN_INDEX_TOKEN_MAX printable ASCII characters. */
int cairn_index_remote_check_token(const char *token);

#endif

/* What the remote index backend is given to reach a server, checked
 * before anything is sent (remote_check.h). */
#include "index/remote_check.h"

#include "cairn/errors.h"

#include <string.h>

int cairn_index_remote_check_url(const char *url)
{
	const char *rest;
	if (strncmp(url, "http://", 7) == 0)
		rest = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		rest = url + 8;
	else
		return cairn_error_set(
		    CAIRN_EINVAL, "index server \"%s\" is not an http:// or https:// URL", url);
	if (!*rest || *rest == '/')
		return cairn_error_set(CAIRN_EINVAL, "index server URL \"%s\" has no host", url);
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '?' ||
		    *p == '#')
			return cairn_error_set(CAIRN_EINVAL,
			                       "index server URL \"%s\" has a character that "
			                       "does not belong there",
			                       url);
	return 0;
}

int cairn_index_remote_check_token(const char *token)
{
	size_t n = token ? strlen(token) : 0;
	if (n == 0)
		return cairn_error_set(CAIRN_EINVAL, "an index server needs a token "
		                                     "(CAIRN_INDEX_TOKEN or --index-token-file)");
	if (n > CAIRN_INDEX_TOKEN_MAX)
		return cairn_error_set(CAIRN_EINVAL, "the index token is too long");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)token[i] <= 0x20 || (unsigned char)token[i] >= 0x7f)
			return cairn_error_set(CAIRN_EINVAL,
			                       "the index token has a space or control character");
	return 0;
}

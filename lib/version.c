/* The versions of the libraries libcairn runs with. */
#include "cairn/version.h"

#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "net/curl_api.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stddef.h>
#include <zstd.h>

int cairn_version_dependency(const char **out, enum cairn_dependency dep)
{
	*out = NULL;
	switch (dep) {
	case CAIRN_DEP_LIBSODIUM:
		*out = sodium_version_string();
		return 0;
	case CAIRN_DEP_ZSTD:
		*out = ZSTD_versionString();
		return 0;
	case CAIRN_DEP_SQLITE:
		*out = sqlite3_libversion();
		return 0;
	case CAIRN_DEP_LIBCRYPTO:
		return cairn_fingerprint_libcrypto_version(out);
	case CAIRN_DEP_LIBCURL:
		return cairn_curl_version(out);
	case CAIRN_DEP_COUNT:
		break;
	}
	return cairn_error_set(CAIRN_EINVAL, "unknown dependency %d", (int)dep);
}

/* A master key export (docs/FORMAT.md §4.3), as `cairn key import` reads
 * it from a file the user names: any text decodes or is refused, and
 * what decodes encodes again to an export that decodes to the same. The
 * checksum keeps the fuzzer from most decoding inputs; the seed is a
 * valid export. */
#include "cairn/keys.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t prefix[CAIRN_KEY_EXPORT_REPO_ID], master[CAIRN_KEY_SIZE];
	uint8_t repo[32] = {0}, prefix2[CAIRN_KEY_EXPORT_REPO_ID], master2[CAIRN_KEY_SIZE];
	if (cairn_key_export_decode((const char *)data, len, prefix, master) != 0)
		return 0;
	cairn_buf b = CAIRN_BUF_INIT;
	memcpy(repo, prefix, sizeof(prefix));
	if (cairn_key_export_encode(&b, repo, master) != 0 ||
	    cairn_key_export_decode((const char *)b.data, b.len, prefix2, master2) != 0 ||
	    memcmp(prefix, prefix2, sizeof(prefix)) != 0 || memcmp(master, master2, sizeof(master)))
		abort();
	cairn_buf_free(&b);
	return 0;
}

/* Pack trailers, as a reader meets them at the end of a pack: the input's
 * first 4 bytes give the size of the blob area before the trailer, the
 * rest is the trailer's plaintext (version, count and entries), sealed
 * here as an unencrypted repository seals it, so that every input
 * reaches the parser (fuzz_unseal covers the sealing's own bytes). */
#include "cairn/pack.h"
#include "cairn/seal.h"
#include "util/buf.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static cairn_sealer *s;
	if (!s && cairn_sealer_new(&s, NULL, 0) != 0)
		abort();
	if (len < 4)
		return 0;
	uint64_t area = cairn_get_u32le(data) % (64u << 20);
	cairn_buf sealed = CAIRN_BUF_INIT;
	if (cairn_seal(s, &sealed, NULL, CAIRN_BLOB_TRAILER, data + 4, len - 4) != 0) {
		cairn_buf_free(&sealed);
		return 0;
	}
	cairn_pack_entry *entries = NULL;
	size_t count = 0;
	if (cairn_pack_parse_trailer(s, sealed.data, sealed.len, area + sealed.len + 4, &entries,
	                             &count) == 0 &&
	    count && !entries)
		abort();
	free(entries);
	cairn_buf_free(&sealed);
	return 0;
}

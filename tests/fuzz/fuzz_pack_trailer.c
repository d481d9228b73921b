/* Pack trailers, as a reader meets them at the end of a pack: the input's
 * first 4 bytes give the size of the blob area before the trailer, the
 * rest is the sealed trailer of an unencrypted repository (flag byte and
 * maybe a zstd frame, then version, count and entries). */
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
	cairn_pack_entry *entries = NULL;
	size_t count = 0;
	if (cairn_pack_parse_trailer(s, data + 4, len - 4, area + (len - 4) + 4, &entries,
				     &count) == 0 &&
	    count && !entries)
		abort();
	free(entries);
	return 0;
}

/* Bloom filters, as a client downloads them from an index server. */
#include "cairn/bloom.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	cairn_bloom *b = NULL;
	if (cairn_bloom_parse(&b, data, len) == 0) {
		uint8_t fp[32] = {1};
		(void)cairn_bloom_has(b, fp);
		cairn_bloom_free(b);
	}
	return 0;
}

/* Manifest streams, fed to the streaming decoder in pieces whose sizes
 * the input's first byte chooses. */
#include "cairn/manifest.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len < 1)
		return 0;
	size_t piece = (size_t)data[0] + 1;
	cairn_manifest_decoder d;
	cairn_entry e = {0};
	cairn_manifest_decoder_init(&d);
	int rc = 0;
	for (size_t at = 1; at < len && rc >= 0;) {
		size_t n = len - at < piece ? len - at : piece;
		if ((rc = cairn_manifest_feed(&d, data + at, n)) != 0)
			break;
		at += n;
		while ((rc = cairn_manifest_next(&d, &e)) == 1)
			cairn_entry_clear(&e);
	}
	if (rc >= 0)
		(void)cairn_manifest_finish(&d);
	cairn_entry_clear(&e);
	cairn_manifest_decoder_free(&d);
	return 0;
}

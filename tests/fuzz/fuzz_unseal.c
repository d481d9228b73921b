/* Sealed blobs of an unencrypted repository, as a reader meets them in a
 * pack: a flag byte, then the plaintext or one zstd frame, which may
 * claim any size. (In an encrypted repository nothing is opened before
 * the AEAD has authenticated it.) */
#include "cairn/seal.h"
#include "util/buf.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static cairn_sealer *s;
	if (!s && cairn_sealer_new(&s, NULL, 0) != 0)
		abort();
	cairn_buf out = CAIRN_BUF_INIT;
	if (cairn_unseal(s, &out, NULL, CAIRN_BLOB_DATA, data, len, CAIRN_BUNDLE_MAX) == 0 &&
	    out.len > CAIRN_BUNDLE_MAX)
		abort();
	cairn_buf_free(&out);
	return 0;
}

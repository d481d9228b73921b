/* A key file, keys/<id>, as any client reads it from a store: its magic,
 * version, algorithm and KDF parameters are checked before the password
 * is tried. The password is fixed; an input whose KDF would cost more
 * than a few milliseconds only has its parameters checked
 * (cairn_kdf_params_check, what cairn_key_open checks first), so that no
 * input makes a run slow. The seeds are key files (versions 1 and 2)
 * sealed with the cheapest parameters, which open. */
#include "cairn/keys.h"
#include "crypto/keys_format.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PASSWORD "fuzz"
/* Argon2id's least: one pass over 8 KiB; allow a little more. */
#define FUZZ_OPS_MAX 2
#define FUZZ_MEM_MAX (64u * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t master[CAIRN_KEY_SIZE];
	if (len >= 16) {
		/* Any pair of parameters, however large, through the bounds check. */
		cairn_kdf_params any = {cairn_get_u64le(data), cairn_get_u64le(data + 8)};
		(void)cairn_kdf_params_check(&any);
	}
	cairn_key_meta m;
	int valid = cairn_key_info(&m, data, len) == 0;
	if (valid && (m.kdf.opslimit > FUZZ_OPS_MAX || m.kdf.memlimit > FUZZ_MEM_MAX))
		return 0;
	/* An invalid header fails before any hashing. */
	int rc = cairn_key_open(master, data, len, PASSWORD, sizeof(PASSWORD) - 1);
	if (rc == 0 && !valid)
		abort();
	if (valid && (len < CAIRN_KEYFILE_SIZE || len > CAIRN_KEYFILE_META_MAX))
		abort();
	return 0;
}

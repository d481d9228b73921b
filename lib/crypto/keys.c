/* Repository keys. The key file authenticates its own header (the KDF
 * parameters included) as associated data, so tampering with the cost
 * parameters is caught like a wrong password instead of being obeyed. */
#include "cairn/keys.h"

#include "cairn/errors.h"
#include "crypto/keys_format.h"

#include <sodium.h>
#include <string.h>

void cairn_kdf_params_default(cairn_kdf_params *out)
{
	out->opslimit = CAIRN_KDF_OPSLIMIT_DEFAULT;
	out->memlimit = CAIRN_KDF_MEMLIMIT_DEFAULT;
}

int cairn_kdf_params_check(const cairn_kdf_params *p)
{
	uint64_t mem_max = crypto_pwhash_MEMLIMIT_MAX < CAIRN_KDF_MEMLIMIT_MAX
	                       ? (uint64_t)crypto_pwhash_MEMLIMIT_MAX
	                       : CAIRN_KDF_MEMLIMIT_MAX;
	if (p->opslimit < crypto_pwhash_OPSLIMIT_MIN || p->opslimit > CAIRN_KDF_OPSLIMIT_MAX)
		return cairn_error_set(CAIRN_EINVAL, "KDF iterations %llu outside %llu..%llu",
		                       (unsigned long long)p->opslimit,
		                       (unsigned long long)crypto_pwhash_OPSLIMIT_MIN,
		                       (unsigned long long)CAIRN_KDF_OPSLIMIT_MAX);
	if (p->memlimit < crypto_pwhash_MEMLIMIT_MIN || p->memlimit > mem_max)
		return cairn_error_set(CAIRN_EINVAL, "KDF memory %llu bytes outside %llu..%llu",
		                       (unsigned long long)p->memlimit,
		                       (unsigned long long)crypto_pwhash_MEMLIMIT_MIN,
		                       (unsigned long long)mem_max);
	/* Both within bounds: the product fits in 64 bits. */
	if (p->opslimit * p->memlimit > CAIRN_KDF_COST_MAX)
		return cairn_error_set(CAIRN_EINVAL,
		                       "KDF cost %llu iterations of %llu MiB is over the cap of "
		                       "%llu MiB in all",
		                       (unsigned long long)p->opslimit,
		                       (unsigned long long)(p->memlimit >> 20),
		                       (unsigned long long)(CAIRN_KDF_COST_MAX >> 20));
	return 0;
}

static int derive_kek(uint8_t kek[32], const char *password, size_t password_len,
                      const uint8_t *salt, const cairn_kdf_params *kdf)
{
	if (crypto_pwhash(kek, 32, password, password_len, salt, kdf->opslimit,
	                  (size_t)kdf->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return cairn_error_set(CAIRN_ENOMEM,
		                       "Argon2id needs %llu MiB of memory that is not available",
		                       (unsigned long long)(kdf->memlimit >> 20));
	return 0;
}

int cairn_key_seal(cairn_buf *out, const uint8_t master[CAIRN_KEY_SIZE], const char *password,
                   size_t password_len, const cairn_kdf_params *kdf)
{
	uint8_t kek[32];
	int rc;

	if (sodium_init() < 0)
		return cairn_error_set(CAIRN_ERROR, "libsodium failed to initialise");
	if ((rc = cairn_kdf_params_check(kdf)))
		return rc;
	if ((rc = cairn_buf_reserve(out, CAIRN_KEYFILE_SIZE)))
		return rc;
	uint8_t *p = out->data + out->len;
	memcpy(p, CAIRN_KEYFILE_MAGIC, CAIRN_KEYFILE_MAGIC_LEN);
	p[8] = CAIRN_KEYFILE_VERSION;
	p[9] = CAIRN_KEYFILE_ALG_ARGON2ID_XCHACHA;
	cairn_put_u64le(p + 10, kdf->opslimit);
	cairn_put_u64le(p + 18, kdf->memlimit);
	uint8_t *salt = p + 26, *nonce = salt + CAIRN_KEYFILE_SALT;
	randombytes_buf(salt, CAIRN_KEYFILE_SALT);
	randombytes_buf(nonce, CAIRN_KEYFILE_NONCE);
	if ((rc = derive_kek(kek, password, password_len, salt, kdf)))
		return rc;
	crypto_aead_xchacha20poly1305_ietf_encrypt(p + CAIRN_KEYFILE_HEADER, NULL, master,
	                                           CAIRN_KEY_SIZE, p, CAIRN_KEYFILE_HEADER, NULL,
	                                           nonce, kek);
	sodium_memzero(kek, sizeof(kek));
	out->len += CAIRN_KEYFILE_SIZE;
	return 0;
}

int cairn_key_open(uint8_t master_out[CAIRN_KEY_SIZE], const void *file, size_t len,
                   const char *password, size_t password_len)
{
	const uint8_t *p = file;
	uint8_t kek[32];
	int rc;

	if (sodium_init() < 0)
		return cairn_error_set(CAIRN_ERROR, "libsodium failed to initialise");
	if (len != CAIRN_KEYFILE_SIZE ||
	    memcmp(p, CAIRN_KEYFILE_MAGIC, CAIRN_KEYFILE_MAGIC_LEN) != 0)
		return cairn_error_set(CAIRN_ECORRUPT, "not a cairn key file");
	if (p[8] != CAIRN_KEYFILE_VERSION)
		return cairn_error_set(CAIRN_ECORRUPT, "key file version %u is not supported",
		                       p[8]);
	if (p[9] != CAIRN_KEYFILE_ALG_ARGON2ID_XCHACHA)
		return cairn_error_set(CAIRN_ECORRUPT, "key file algorithm %u is not supported",
		                       p[9]);
	cairn_kdf_params kdf = {cairn_get_u64le(p + 10), cairn_get_u64le(p + 18)};
	if (cairn_kdf_params_check(&kdf))
		return cairn_error_set(CAIRN_ECORRUPT, "key file has out-of-bounds KDF parameters");
	const uint8_t *salt = p + 26, *nonce = salt + CAIRN_KEYFILE_SALT;
	if ((rc = derive_kek(kek, password, password_len, salt, &kdf)))
		return rc;
	int bad = crypto_aead_xchacha20poly1305_ietf_decrypt(
	    master_out, NULL, NULL, p + CAIRN_KEYFILE_HEADER, CAIRN_KEY_SIZE + 16, p,
	    CAIRN_KEYFILE_HEADER, nonce, kek);
	sodium_memzero(kek, sizeof(kek));
	if (bad) {
		sodium_memzero(master_out, CAIRN_KEY_SIZE);
		return cairn_error_set(CAIRN_EAUTH, "wrong password");
	}
	return 0;
}

void cairn_keys_derive(const uint8_t master[CAIRN_KEY_SIZE], uint8_t enc_out[CAIRN_KEY_SIZE],
                       uint8_t fp_out[CAIRN_KEY_SIZE])
{
	crypto_kdf_derive_from_key(enc_out, CAIRN_KEY_SIZE, CAIRN_KEYS_SUBKEY_ENC,
	                           CAIRN_KEYS_KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(fp_out, CAIRN_KEY_SIZE, CAIRN_KEYS_SUBKEY_FP,
	                           CAIRN_KEYS_KDF_CONTEXT, master);
}

void cairn_keys_derive_config(const uint8_t master[CAIRN_KEY_SIZE],
                              uint8_t config_out[CAIRN_KEY_SIZE])
{
	crypto_kdf_derive_from_key(config_out, CAIRN_KEY_SIZE, CAIRN_KEYS_SUBKEY_CONFIG,
	                           CAIRN_KEYS_KDF_CONTEXT, master);
}

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

/* Appends the header of a key file for kdf (and meta, version 2) to out,
 * fresh salt and nonce included. */
static int put_header(cairn_buf *out, const cairn_kdf_params *kdf, const cairn_key_meta *meta)
{
	uint8_t h[CAIRN_KEYFILE_HEADER + 8];
	memcpy(h, CAIRN_KEYFILE_MAGIC, CAIRN_KEYFILE_MAGIC_LEN);
	h[8] = meta ? CAIRN_KEYFILE_VERSION_META : CAIRN_KEYFILE_VERSION;
	h[9] = CAIRN_KEYFILE_ALG_ARGON2ID_XCHACHA;
	cairn_put_u64le(h + 10, kdf->opslimit);
	cairn_put_u64le(h + 18, kdf->memlimit);
	randombytes_buf(h + 26, CAIRN_KEYFILE_SALT);
	randombytes_buf(h + 26 + CAIRN_KEYFILE_SALT, CAIRN_KEYFILE_NONCE);
	if (!meta)
		return cairn_buf_append(out, h, CAIRN_KEYFILE_HEADER);
	cairn_put_u64le(h + CAIRN_KEYFILE_HEADER, (uint64_t)meta->created);
	int rc = cairn_buf_append(out, h, sizeof(h));
	const char *names[2] = {meta->host, meta->user};
	for (int i = 0; !rc && i < 2; i++) {
		size_t n = strnlen(names[i], 255);
		if (!(rc = cairn_buf_append_u8(out, (uint8_t)n)))
			rc = cairn_buf_append(out, names[i], n);
	}
	return rc;
}

int cairn_key_seal_meta(cairn_buf *out, const uint8_t master[CAIRN_KEY_SIZE], const char *password,
                        size_t password_len, const cairn_kdf_params *kdf,
                        const cairn_key_meta *meta)
{
	uint8_t kek[32];
	size_t start = out->len;
	int rc;

	if (sodium_init() < 0)
		return cairn_error_set(CAIRN_ERROR, "libsodium failed to initialise");
	if ((rc = cairn_kdf_params_check(kdf)))
		return rc;
	if ((rc = put_header(out, kdf, meta)) || (rc = cairn_buf_reserve(out, CAIRN_KEYFILE_BOX)))
		goto out;
	uint8_t *p = out->data + start, *salt = p + 26, *nonce = salt + CAIRN_KEYFILE_SALT;
	size_t ad = out->len - start;
	if ((rc = derive_kek(kek, password, password_len, salt, kdf)))
		goto out;
	crypto_aead_xchacha20poly1305_ietf_encrypt(p + ad, NULL, master, CAIRN_KEY_SIZE, p, ad,
	                                           NULL, nonce, kek);
	sodium_memzero(kek, sizeof(kek));
	out->len += CAIRN_KEYFILE_BOX;
out:
	if (rc)
		out->len = start;
	return rc;
}

int cairn_key_seal(cairn_buf *out, const uint8_t master[CAIRN_KEY_SIZE], const char *password,
                   size_t password_len, const cairn_kdf_params *kdf)
{
	return cairn_key_seal_meta(out, master, password, password_len, kdf, NULL);
}

/* A version 2 file's names after the fixed header: *ad_len gets where
 * the ciphertext starts. */
static int parse_meta(cairn_key_meta *m, const uint8_t *p, size_t len, size_t *ad_len)
{
	size_t at = CAIRN_KEYFILE_HEADER + 8;
	if (len < at + 2 + CAIRN_KEYFILE_BOX)
		return cairn_error_set(CAIRN_ECORRUPT, "key file is too short");
	m->created = (int64_t)cairn_get_u64le(p + CAIRN_KEYFILE_HEADER);
	char *names[2] = {m->host, m->user};
	for (int i = 0; i < 2; i++) {
		size_t n = p[at++];
		if (at + n + (i ? 0 : 1) + CAIRN_KEYFILE_BOX > len)
			return cairn_error_set(CAIRN_ECORRUPT, "key file is too short");
		memcpy(names[i], p + at, n);
		names[i][n] = '\0';
		at += n;
	}
	*ad_len = at;
	return 0;
}

/* Checks a key file up to its ciphertext and fills m; *ad_len gets the
 * length of its header (the associated data). */
static int parse_header(cairn_key_meta *m, const uint8_t *p, size_t len, size_t *ad_len)
{
	int rc;
	memset(m, 0, sizeof(*m));
	if (len < CAIRN_KEYFILE_SIZE ||
	    memcmp(p, CAIRN_KEYFILE_MAGIC, CAIRN_KEYFILE_MAGIC_LEN) != 0)
		return cairn_error_set(CAIRN_ECORRUPT, "not a cairn key file");
	m->version = p[8];
	if (p[8] != CAIRN_KEYFILE_VERSION && p[8] != CAIRN_KEYFILE_VERSION_META)
		return cairn_error_set(CAIRN_ECORRUPT, "key file version %u is not supported",
		                       p[8]);
	if (p[9] != CAIRN_KEYFILE_ALG_ARGON2ID_XCHACHA)
		return cairn_error_set(CAIRN_ECORRUPT, "key file algorithm %u is not supported",
		                       p[9]);
	m->kdf.opslimit = cairn_get_u64le(p + 10);
	m->kdf.memlimit = cairn_get_u64le(p + 18);
	if (cairn_kdf_params_check(&m->kdf))
		return cairn_error_set(CAIRN_ECORRUPT, "key file has out-of-bounds KDF parameters");
	*ad_len = CAIRN_KEYFILE_HEADER;
	if (p[8] == CAIRN_KEYFILE_VERSION_META && (rc = parse_meta(m, p, len, ad_len)))
		return rc;
	if (len != *ad_len + CAIRN_KEYFILE_BOX)
		return cairn_error_set(CAIRN_ECORRUPT, "not a cairn key file");
	return 0;
}

int cairn_key_info(cairn_key_meta *out, const void *file, size_t len)
{
	size_t ad;
	return parse_header(out, file, len, &ad);
}

int cairn_key_open(uint8_t master_out[CAIRN_KEY_SIZE], const void *file, size_t len,
                   const char *password, size_t password_len)
{
	const uint8_t *p = file;
	cairn_key_meta m;
	uint8_t kek[32];
	size_t ad = 0;
	int rc;

	if (sodium_init() < 0)
		return cairn_error_set(CAIRN_ERROR, "libsodium failed to initialise");
	if ((rc = parse_header(&m, p, len, &ad)))
		return rc;
	const uint8_t *salt = p + 26, *nonce = salt + CAIRN_KEYFILE_SALT;
	if ((rc = derive_kek(kek, password, password_len, salt, &m.kdf)))
		return rc;
	int bad = crypto_aead_xchacha20poly1305_ietf_decrypt(master_out, NULL, NULL, p + ad,
	                                                     CAIRN_KEYFILE_BOX, p, ad, nonce, kek);
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

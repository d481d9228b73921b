#include "util/aead.h"

#include "cairn/errors.h"

#include "util/libcrypto.h"

#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

/* libcrypto's ChaCha20-Poly1305, fetched once per process; NULL if it
 * cannot be (no libcrypto, or no provider offers it). */
static EVP_CIPHER *cipher;
static pthread_once_t fetched = PTHREAD_ONCE_INIT;

static void fetch(void)
{
	if (cairn_libcrypto_init() == 0)
		cipher = cairn_libcrypto.cipher_fetch(NULL, "ChaCha20-Poly1305", NULL);
}

void cairn_aead_init(cairn_aead *a)
{
	a->ctx = NULL;
	a->evp_from = CAIRN_AEAD_EVP_FROM;
}

void cairn_aead_free(cairn_aead *a)
{
	if (a->ctx)
		cairn_libcrypto.ctx_free(a->ctx); /* cleanses the key schedule */
	a->ctx = NULL;
}

/* 1 if libcrypto is to do a message of len bytes (set up on first use). */
static int use_evp(cairn_aead *a, size_t len)
{
	if (len < a->evp_from || len > INT_MAX)
		return 0;
	if (!a->ctx) {
		pthread_once(&fetched, fetch);
		if (!cipher || !(a->ctx = cairn_libcrypto.ctx_new())) {
			a->evp_from = SIZE_MAX;
			return 0;
		}
	}
	return 1;
}

/* The subkey and the 96-bit nonce of the inner ChaCha20-Poly1305. */
static void derive(uint8_t subkey[32], uint8_t iv[12], const uint8_t nonce[CAIRN_AEAD_NONCE],
		   const uint8_t key[CAIRN_AEAD_KEY])
{
	crypto_core_hchacha20(subkey, nonce, key, NULL);
	memset(iv, 0, 4);
	memcpy(iv + 4, nonce + 16, 8);
}

int cairn_aead_encrypt(cairn_aead *a, uint8_t *c, const uint8_t *m, size_t mlen,
		       const uint8_t *ad, size_t adlen, const uint8_t nonce[CAIRN_AEAD_NONCE],
		       const uint8_t key[CAIRN_AEAD_KEY])
{
	if (!use_evp(a, mlen) || adlen > INT_MAX) {
		crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, m, mlen, ad, adlen, NULL, nonce,
							   key);
		return 0;
	}
	uint8_t subkey[32], iv[12];
	derive(subkey, iv, nonce, key);
	EVP_CIPHER_CTX *ctx = a->ctx;
	int n = 0, ok = cairn_libcrypto.encrypt_init(ctx, cipher, subkey, iv, NULL) &&
			cairn_libcrypto.encrypt_update(ctx, NULL, &n, ad, (int)adlen) &&
			cairn_libcrypto.encrypt_update(ctx, c, &n, m, (int)mlen) &&
			cairn_libcrypto.encrypt_final(ctx, c + n, &n) &&
			cairn_libcrypto.ctx_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, CAIRN_AEAD_TAG, c + mlen);
	sodium_memzero(subkey, sizeof(subkey));
	return ok ? 0 : cairn_error_set(CAIRN_ERROR, "libcrypto's ChaCha20-Poly1305 failed");
}

int cairn_aead_decrypt(cairn_aead *a, uint8_t *m, const uint8_t *c, size_t clen,
		       const uint8_t *ad, size_t adlen, const uint8_t nonce[CAIRN_AEAD_NONCE],
		       const uint8_t key[CAIRN_AEAD_KEY])
{
	if (clen < CAIRN_AEAD_TAG)
		return -1;
	size_t mlen = clen - CAIRN_AEAD_TAG;
	if (!use_evp(a, mlen) || adlen > INT_MAX)
		return crypto_aead_xchacha20poly1305_ietf_decrypt(m, NULL, NULL, c, clen, ad, adlen,
								  nonce, key) == 0
			   ? 0
			   : -1;
	uint8_t subkey[32], iv[12], tag[CAIRN_AEAD_TAG];
	derive(subkey, iv, nonce, key);
	memcpy(tag, c + mlen, sizeof(tag)); /* c may be m: read it before it is overwritten */
	EVP_CIPHER_CTX *ctx = a->ctx;
	int n = 0, ok = cairn_libcrypto.decrypt_init(ctx, cipher, subkey, iv, NULL) &&
			cairn_libcrypto.decrypt_update(ctx, NULL, &n, ad, (int)adlen) &&
			cairn_libcrypto.decrypt_update(ctx, m, &n, c, (int)mlen) &&
			cairn_libcrypto.ctx_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CAIRN_AEAD_TAG, tag) &&
			cairn_libcrypto.decrypt_final(ctx, m + n, &n) > 0;
	sodium_memzero(subkey, sizeof(subkey));
	if (!ok) {
		sodium_memzero(m, mlen); /* nothing unauthenticated leaves */
		return -1;
	}
	return 0;
}

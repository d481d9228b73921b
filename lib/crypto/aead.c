#include "crypto/aead.h"

#include "cairn/errors.h"

#include "crypto/libcrypto.h"

#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

/* libcrypto's ChaCha20-Poly1305 from OpenSSL's default provider, fetched
 * once per process; NULL if it cannot be (no libcrypto, no default
 * provider) or if it does not give libsodium's bytes. */
static EVP_CIPHER *cipher;
static pthread_once_t fetched = PTHREAD_ONCE_INIT;

/* What became of a message given to libcrypto. */
enum outcome {
	DONE,        /* encrypted, or decrypted and authenticated */
	NOT_STARTED, /* libcrypto could not set it up: nothing was written */
	BROKE,       /* libcrypto failed midway: the output is zeroed */
	FORGED,      /* decrypted, but the tag does not match: the output is zeroed */
};

static enum outcome evp_encrypt(cairn_aead *a, uint8_t *c, const uint8_t *m, size_t mlen,
                                const uint8_t *ad, size_t adlen, const uint8_t *nonce,
                                const uint8_t *key);
static enum outcome evp_decrypt(cairn_aead *a, uint8_t *m, const uint8_t *c, size_t mlen,
                                const uint8_t *ad, size_t adlen, const uint8_t *nonce,
                                const uint8_t *key);

/* One message through libcrypto both ways, against libsodium, before
 * the first use: a provider that computed anything else would write
 * blobs libsodium cannot open, or call good blobs damaged. */
static int self_test(void)
{
	uint8_t key[CAIRN_AEAD_KEY], nonce[CAIRN_AEAD_NONCE], ad[33], m[CAIRN_AEAD_EVP_FROM + 7];
	uint8_t want[sizeof(m) + CAIRN_AEAD_TAG], got[sizeof(want)], back[sizeof(m)];
	for (size_t i = 0; i < sizeof(m); i++)
		m[i] = (uint8_t)(i * 131 + 7);
	memcpy(key, m + 3, sizeof(key));
	memcpy(nonce, m + 50, sizeof(nonce));
	memcpy(ad, m + 90, sizeof(ad));
	crypto_aead_xchacha20poly1305_ietf_encrypt(want, NULL, m, sizeof(m), ad, sizeof(ad), NULL,
	                                           nonce, key);
	cairn_aead a;
	cairn_aead_init(&a);
	int ok = (a.ctx = cairn_libcrypto.ctx_new()) != NULL &&
	         evp_encrypt(&a, got, m, sizeof(m), ad, sizeof(ad), nonce, key) == DONE &&
	         memcmp(got, want, sizeof(want)) == 0 &&
	         evp_decrypt(&a, back, want, sizeof(m), ad, sizeof(ad), nonce, key) == DONE &&
	         memcmp(back, m, sizeof(m)) == 0;
	want[sizeof(m)] ^= 1;
	ok = ok && evp_decrypt(&a, back, want, sizeof(m), ad, sizeof(ad), nonce, key) == FORGED;
	cairn_aead_free(&a);
	return ok;
}

static void fetch(void)
{
	if (cairn_libcrypto_init() != 0)
		return;
	cipher = cairn_libcrypto.cipher_fetch(NULL, "ChaCha20-Poly1305", "provider=default");
	if (cipher && !self_test()) {
		cairn_libcrypto.cipher_free(cipher);
		cipher = NULL;
	}
	cairn_libcrypto.err_clear(); /* nothing of this for libcurl to report later */
}

void cairn_aead_init(cairn_aead *a)
{
	a->ctx = NULL;
	a->primed = 0;
	a->evp_from = CAIRN_AEAD_EVP_FROM;
}

void cairn_aead_free(cairn_aead *a)
{
	if (a->ctx)
		cairn_libcrypto.ctx_free(a->ctx); /* cleanses the key schedule */
	a->ctx = NULL;
	a->primed = 0;
}

/* 1 if libcrypto is to do a message of len bytes (set up on first use). */
static int use_evp(cairn_aead *a, size_t len, size_t adlen)
{
	if (len < a->evp_from || len > INT_MAX || adlen > INT_MAX)
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
static void derive(uint8_t subkey[32], uint8_t iv[12], const uint8_t *nonce, const uint8_t *key)
{
	crypto_core_hchacha20(subkey, nonce, key, NULL);
	memset(iv, 0, 4);
	memcpy(iv + 4, nonce + 16, 8);
}

/* Sets the context up for one message. The cipher is named only the
 * first time: naming it again makes OpenSSL 3 free and remake the
 * provider's context for every message. 1 on success. */
static int start(cairn_aead *a, int encrypt, const uint8_t *nonce, const uint8_t *key)
{
	uint8_t subkey[32], iv[12];
	derive(subkey, iv, nonce, key);
	const EVP_CIPHER *c = a->primed ? NULL : cipher;
	int ok = encrypt ? cairn_libcrypto.encrypt_init(a->ctx, c, subkey, iv, NULL)
	                 : cairn_libcrypto.decrypt_init(a->ctx, c, subkey, iv, NULL);
	sodium_memzero(subkey, sizeof(subkey));
	a->primed = ok > 0;
	return ok > 0;
}

/* libcrypto's failure, with its reason, as a cairn error; clears
 * OpenSSL's queue of errors. */
static int evp_failed(const char *what)
{
	char why[256] = "no reason given";
	unsigned long e = cairn_libcrypto.err_get();
	if (e)
		cairn_libcrypto.err_string(e, why, sizeof(why));
	cairn_libcrypto.err_clear();
	return cairn_error_set(CAIRN_ERROR, "libcrypto's ChaCha20-Poly1305 failed to %s: %s", what,
	                       why);
}

static enum outcome evp_encrypt(cairn_aead *a, uint8_t *c, const uint8_t *m, size_t mlen,
                                const uint8_t *ad, size_t adlen, const uint8_t *nonce,
                                const uint8_t *key)
{
	EVP_CIPHER_CTX *ctx = a->ctx;
	int n = 0;
	if (!start(a, 1, nonce, key))
		return NOT_STARTED;
	if (cairn_libcrypto.encrypt_update(ctx, NULL, &n, ad, (int)adlen) > 0 &&
	    cairn_libcrypto.encrypt_update(ctx, c, &n, m, (int)mlen) > 0 &&
	    cairn_libcrypto.encrypt_final(ctx, c + n, &n) > 0 &&
	    cairn_libcrypto.ctx_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, CAIRN_AEAD_TAG, c + mlen) > 0)
		return DONE;
	a->primed = 0;
	sodium_memzero(c, mlen + CAIRN_AEAD_TAG);
	return BROKE;
}

static enum outcome evp_decrypt(cairn_aead *a, uint8_t *m, const uint8_t *c, size_t mlen,
                                const uint8_t *ad, size_t adlen, const uint8_t *nonce,
                                const uint8_t *key)
{
	EVP_CIPHER_CTX *ctx = a->ctx;
	uint8_t tag[CAIRN_AEAD_TAG];
	int n = 0;
	memcpy(tag, c + mlen, sizeof(tag)); /* c may be m: read it before it is overwritten */
	if (!start(a, 0, nonce, key))
		return NOT_STARTED;
	if (cairn_libcrypto.decrypt_update(ctx, NULL, &n, ad, (int)adlen) > 0 &&
	    cairn_libcrypto.decrypt_update(ctx, m, &n, c, (int)mlen) > 0 &&
	    cairn_libcrypto.ctx_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CAIRN_AEAD_TAG, tag) > 0) {
		/* Only the tag's check is left: its failure is the message's. */
		if (cairn_libcrypto.decrypt_final(ctx, m + n, &n) > 0)
			return DONE;
		cairn_libcrypto.err_clear();
		sodium_memzero(m, mlen); /* nothing unauthenticated leaves */
		return FORGED;
	}
	a->primed = 0;
	sodium_memzero(m, mlen);
	return BROKE;
}

int cairn_aead_encrypt(cairn_aead *a, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad,
                       size_t adlen, const uint8_t nonce[CAIRN_AEAD_NONCE],
                       const uint8_t key[CAIRN_AEAD_KEY])
{
	if (use_evp(a, mlen, adlen)) {
		enum outcome o = evp_encrypt(a, c, m, mlen, ad, adlen, nonce, key);
		if (o == DONE)
			return 0;
		if (o == BROKE && c == m) /* the plaintext is gone */
			return evp_failed("encrypt");
		cairn_libcrypto.err_clear(); /* m is whole: libsodium seals it */
	}
	crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, m, mlen, ad, adlen, NULL, nonce, key);
	return 0;
}

int cairn_aead_decrypt(cairn_aead *a, uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
                       size_t adlen, const uint8_t nonce[CAIRN_AEAD_NONCE],
                       const uint8_t key[CAIRN_AEAD_KEY])
{
	if (clen < CAIRN_AEAD_TAG)
		return CAIRN_ECORRUPT;
	size_t mlen = clen - CAIRN_AEAD_TAG;
	if (use_evp(a, mlen, adlen)) {
		enum outcome o = evp_decrypt(a, m, c, mlen, ad, adlen, nonce, key);
		if (o == DONE)
			return 0;
		if (o == FORGED)
			return CAIRN_ECORRUPT;
		if (o == BROKE && m == c) /* the ciphertext is gone */
			return evp_failed("decrypt");
		cairn_libcrypto.err_clear(); /* c is whole: libsodium opens it */
	}
	return crypto_aead_xchacha20poly1305_ietf_decrypt(m, NULL, NULL, c, clen, ad, adlen, nonce,
	                                                  key) == 0
	           ? 0
	           : CAIRN_ECORRUPT;
}

/* XChaCha20-Poly1305 (IETF) exactly as libsodium's
 * crypto_aead_xchacha20poly1305_ietf_* computes it, byte for byte, with
 * libcrypto doing the bulk of long messages.
 *
 * The construction: subkey = HChaCha20(key, nonce[0..15]), then RFC 8439
 * ChaCha20-Poly1305 under the subkey with the nonce 0^4 || nonce[16..23].
 * libsodium derives the subkey; from CAIRN_AEAD_EVP_FROM bytes on,
 * libcrypto's ChaCha20-Poly1305 (AVX-512 code where the CPU has it) does
 * the rest: 3.8 against 1.8 GB/s for 32 KiB on the machine this was
 * measured on. Below that size EVP's set-up per message costs more than
 * it saves, and libsodium does the whole message. Without libcrypto,
 * when OpenSSL's default provider cannot give its ChaCha20-Poly1305 (a
 * FIPS-only configuration), or if that cipher does not give libsodium's
 * bytes for a test message at its first use, libsodium does every
 * message. */
#ifndef CAIRN_UTIL_AEAD_H
#define CAIRN_UTIL_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define CAIRN_AEAD_KEY 32
#define CAIRN_AEAD_NONCE 24
#define CAIRN_AEAD_TAG 16
#define CAIRN_AEAD_EVP_FROM 2048

/* One per thread (not thread-safe). */
typedef struct cairn_aead {
	void *ctx;       /* libcrypto's EVP_CIPHER_CTX, made for the first long message */
	int primed;      /* ctx holds the cipher: later messages only change key and nonce */
	size_t evp_from; /* messages this long or longer go to libcrypto; SIZE_MAX: none */
} cairn_aead;

void cairn_aead_init(cairn_aead *a);
void cairn_aead_free(cairn_aead *a); /* wipes and frees what init and use made */

/* c = ciphertext || tag (mlen + CAIRN_AEAD_TAG bytes); c may be m. 0;
 * CAIRN_ERROR, with libcrypto's reason, only if libcrypto failed midway
 * while encrypting in place: c is then zeroed, and holds neither the
 * plaintext nor a ciphertext (any other failure of libcrypto's is
 * retried with libsodium). */
int cairn_aead_encrypt(cairn_aead *a, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad,
                       size_t adlen, const uint8_t nonce[CAIRN_AEAD_NONCE],
                       const uint8_t key[CAIRN_AEAD_KEY]);

/* m = the plaintext of c (clen - CAIRN_AEAD_TAG bytes); m may be c. 0;
 * CAIRN_ECORRUPT if c does not authenticate (or is shorter than a tag),
 * with m zeroed and no message set; CAIRN_ERROR, with libcrypto's
 * reason, only if libcrypto failed midway while decrypting in place (any
 * other failure of libcrypto's is retried with libsodium). */
int cairn_aead_decrypt(cairn_aead *a, uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
                       size_t adlen, const uint8_t nonce[CAIRN_AEAD_NONCE],
                       const uint8_t key[CAIRN_AEAD_KEY]);

#endif

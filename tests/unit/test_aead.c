#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "crypto/aead.h"
#include "util/hex.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Every length up to this one, then a few larger ones. */
#define SHORT_LENGTHS 4200

static uint8_t *random_data(size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	randombytes_buf(p, len);
	return p;
}

static void unhex(uint8_t *out, size_t len, const char *hex)
{
	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(cairn_hex_decode(out, len, hex), 0);
}

/* draft-irtf-cfrg-xchacha-03, A.3.1, through the libcrypto path (the
 * message is shorter than CAIRN_AEAD_EVP_FROM, so it is forced) and
 * through libsodium's. */
static void test_aead__matches_the_xchacha_draft_vector(void **state)
{
	(void)state;
	static const char text[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
	                           "only one tip for the future, sunscreen would be it.";
	const size_t len = sizeof(text) - 1;
	uint8_t key[32], nonce[24], ad[12], want[sizeof(text) - 1 + CAIRN_AEAD_TAG];
	unhex(key, sizeof(key), "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
	unhex(nonce, sizeof(nonce), "404142434445464748494a4b4c4d4e4f5051525354555657");
	unhex(ad, sizeof(ad), "50515253c0c1c2c3c4c5c6c7");
	unhex(want, sizeof(want),
	      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa644"
	      "0bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e"
	      "3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e"
	      "c0875924c1c7987947deafd8780acf49");
	for (int evp = 0; evp < 2; evp++) {
		cairn_aead a;
		cairn_aead_init(&a);
		a.evp_from = evp ? 0 : SIZE_MAX;
		uint8_t c[sizeof(want)], m[sizeof(text)];
		assert_int_equal(cairn_aead_encrypt(&a, c, (const uint8_t *)text, len, ad,
		                                    sizeof(ad), nonce, key),
		                 0);
		assert_memory_equal(c, want, sizeof(want));
		assert_int_equal(
		    cairn_aead_decrypt(&a, m, c, sizeof(c), ad, sizeof(ad), nonce, key), 0);
		assert_memory_equal(m, text, len);
		assert_true(evp ? a.ctx != NULL : a.ctx == NULL);
		cairn_aead_free(&a);
	}
}

/* The libcrypto path gives libsodium's bytes at every length, and each
 * side opens what the other sealed. */
static void check_length(cairn_aead *a, size_t len, const uint8_t *key)
{
	uint8_t nonce[CAIRN_AEAD_NONCE], ad[33];
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(ad, sizeof(ad));
	uint8_t *m = random_data(len), *want = malloc(len + CAIRN_AEAD_TAG),
	        *got = malloc(len + CAIRN_AEAD_TAG), *back = malloc(len ? len : 1);
	assert_non_null(want);
	assert_non_null(got);
	assert_non_null(back);
	crypto_aead_xchacha20poly1305_ietf_encrypt(want, NULL, m, len, ad, sizeof(ad), NULL, nonce,
	                                           key);
	assert_int_equal(cairn_aead_encrypt(a, got, m, len, ad, sizeof(ad), nonce, key), 0);
	assert_memory_equal(got, want, len + CAIRN_AEAD_TAG);
	assert_int_equal(
	    cairn_aead_decrypt(a, back, want, len + CAIRN_AEAD_TAG, ad, sizeof(ad), nonce, key), 0);
	assert_memory_equal(back, m, len);
	free(m);
	free(want);
	free(got);
	free(back);
}

static void test_aead__agrees_with_libsodium_at_every_length(void **state)
{
	(void)state;
	uint8_t key[CAIRN_AEAD_KEY];
	randombytes_buf(key, sizeof(key));
	static const size_t longer[] = {8191, 65536, 131072 + 7, 1 << 20};
	for (int evp = 0; evp < 2; evp++) {
		cairn_aead a;
		cairn_aead_init(&a);
		if (evp)
			a.evp_from = 0;
		for (size_t len = 0; len <= SHORT_LENGTHS; len++)
			check_length(&a, len, key);
		for (size_t i = 0; i < sizeof(longer) / sizeof(longer[0]); i++)
			check_length(&a, longer[i], key);
		assert_non_null(a.ctx); /* the default sends the long ones to libcrypto */
		cairn_aead_free(&a);
	}
}

/* Encrypting and decrypting in place give the same bytes. */
static void test_aead__works_in_place(void **state)
{
	(void)state;
	uint8_t key[CAIRN_AEAD_KEY], nonce[CAIRN_AEAD_NONCE];
	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce, sizeof(nonce));
	const size_t len = 3 * CAIRN_AEAD_EVP_FROM;
	uint8_t *m = random_data(len), *buf = malloc(len + CAIRN_AEAD_TAG),
	        *want = malloc(len + CAIRN_AEAD_TAG);
	assert_non_null(buf);
	assert_non_null(want);
	crypto_aead_xchacha20poly1305_ietf_encrypt(want, NULL, m, len, NULL, 0, NULL, nonce, key);
	cairn_aead a;
	cairn_aead_init(&a);
	memcpy(buf, m, len);
	assert_int_equal(cairn_aead_encrypt(&a, buf, buf, len, NULL, 0, nonce, key), 0);
	assert_memory_equal(buf, want, len + CAIRN_AEAD_TAG);
	assert_int_equal(
	    cairn_aead_decrypt(&a, buf, buf, len + CAIRN_AEAD_TAG, NULL, 0, nonce, key), 0);
	assert_memory_equal(buf, m, len);
	/* In place, a ciphertext that fails leaves nothing of its plaintext. */
	memcpy(buf, want, len + CAIRN_AEAD_TAG);
	buf[len + 3] ^= 1;
	assert_int_equal(
	    cairn_aead_decrypt(&a, buf, buf, len + CAIRN_AEAD_TAG, NULL, 0, nonce, key),
	    CAIRN_ECORRUPT);
	for (size_t k = 0; k < len; k++)
		assert_int_equal(buf[k], 0);
	cairn_aead_free(&a);
	free(m);
	free(buf);
	free(want);
}

/* Every step-th byte of a ciphertext of len bytes, then each byte of
 * its tag. */
static size_t next_flip(size_t i, size_t len, size_t step)
{
	if (i < len)
		return i + step < len ? i + step : len;
	return i + 1;
}

/* A changed byte anywhere (ciphertext, tag, associated data, nonce, key)
 * is refused on both paths, and nothing of the plaintext comes out. */
static void test_aead__refuses_any_change_and_releases_nothing(void **state)
{
	(void)state;
	uint8_t key[CAIRN_AEAD_KEY], nonce[CAIRN_AEAD_NONCE], ad[33];
	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(ad, sizeof(ad));
	static const size_t lengths[] = {0, 1, 100, CAIRN_AEAD_EVP_FROM, 40000};
	for (size_t li = 0; li < sizeof(lengths) / sizeof(lengths[0]); li++) {
		size_t len = lengths[li], clen = len + CAIRN_AEAD_TAG;
		uint8_t *m = random_data(len), *c = malloc(clen), *out = malloc(len + 1);
		assert_non_null(c);
		assert_non_null(out);
		for (int evp = 0; evp < 2; evp++) {
			cairn_aead a;
			cairn_aead_init(&a);
			if (evp)
				a.evp_from = 0;
			assert_int_equal(
			    cairn_aead_encrypt(&a, c, m, len, ad, sizeof(ad), nonce, key), 0);
			size_t step = len > 64 ? len / 61 : 1;
			for (size_t i = 0; i < clen; i = next_flip(i, len, step)) {
				c[i] ^= 0x20;
				memset(out, 0xa5, len + 1);
				assert_int_equal(cairn_aead_decrypt(&a, out, c, clen, ad,
				                                    sizeof(ad), nonce, key),
				                 CAIRN_ECORRUPT);
				for (size_t k = 0; k < len; k++)
					assert_int_equal(out[k], 0);
				c[i] ^= 0x20;
			}
			ad[5] ^= 1;
			assert_int_equal(
			    cairn_aead_decrypt(&a, out, c, clen, ad, sizeof(ad), nonce, key),
			    CAIRN_ECORRUPT);
			ad[5] ^= 1;
			nonce[20] ^= 1; /* in the part the subkey does not cover */
			assert_int_equal(
			    cairn_aead_decrypt(&a, out, c, clen, ad, sizeof(ad), nonce, key),
			    CAIRN_ECORRUPT);
			nonce[20] ^= 1;
			key[31] ^= 1;
			assert_int_equal(
			    cairn_aead_decrypt(&a, out, c, clen, ad, sizeof(ad), nonce, key),
			    CAIRN_ECORRUPT);
			key[31] ^= 1;
			assert_int_equal(
			    cairn_aead_decrypt(&a, out, c, clen, ad, sizeof(ad), nonce, key), 0);
			assert_memory_equal(out, m, len);
			assert_int_equal(cairn_aead_decrypt(&a, out, c, CAIRN_AEAD_TAG - 1, ad,
			                                    sizeof(ad), nonce, key),
			                 CAIRN_ECORRUPT);
			cairn_aead_free(&a);
		}
		free(m);
		free(c);
		free(out);
	}
}

static void test_aead__free_twice_is_fine(void **state)
{
	(void)state;
	cairn_aead a;
	cairn_aead_init(&a);
	cairn_aead_free(&a);
	cairn_aead_free(&a);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_aead__matches_the_xchacha_draft_vector),
	    cmocka_unit_test(test_aead__agrees_with_libsodium_at_every_length),
	    cmocka_unit_test(test_aead__works_in_place),
	    cmocka_unit_test(test_aead__refuses_any_change_and_releases_nothing),
	    cmocka_unit_test(test_aead__free_twice_is_fine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

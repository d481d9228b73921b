#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "util/hex.h"
#include "crypto/libcrypto.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void assert_hex(const uint8_t *got, size_t len, const char *want_hex)
{
	char hex[2 * 64 + 1];
	assert_true(len <= 64);
	cairn_hex_encode(hex, got, len);
	assert_string_equal(hex, want_hex);
}

/* HMAC pads a key shorter than the block with zero bytes, so an RFC 4231
 * key of under 32 bytes is the same key padded to 32. */
static void pad_key(uint8_t key[32], const void *k, size_t n)
{
	memset(key, 0, 32);
	memcpy(key, k, n);
}

static uint8_t *pseudo_random(size_t len, uint32_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
	return p;
}

static void test_fingerprint__sha256_of_abc_is_the_fips_vector(void **state)
{
	(void)state;
	uint8_t out[CAIRN_ID_SIZE];

	cairn_sha256(out, "abc", 3);
	assert_hex(out, sizeof(out),
	           "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	cairn_sha256(out, "", 0);
	assert_hex(out, sizeof(out),
	           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	cairn_sha256(out, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
	assert_hex(out, sizeof(out),
	           "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_fingerprint__sha256_agrees_with_libsodium(void **state)
{
	(void)state;
	uint8_t *data = pseudo_random(70000, 1);
	static const size_t lens[] = {0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 65536, 70000};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t got[CAIRN_ID_SIZE], want[crypto_hash_sha256_BYTES];
		cairn_sha256(got, data, lens[i]);
		crypto_hash_sha256(want, data, lens[i]);
		assert_memory_equal(got, want, sizeof(got));
	}
	free(data);
}

static void test_fingerprint__hmac_matches_rfc_4231(void **state)
{
	(void)state;
	cairn_fingerprinter *f = NULL;
	uint8_t key[32], out[CAIRN_FP_SIZE];

	/* Test case 1: key 0x0b x 20, "Hi There". */
	memset(key, 0, sizeof(key));
	memset(key, 0x0b, 20);
	assert_int_equal(cairn_fingerprinter_new(&f, key), 0);
	assert_int_equal(cairn_fingerprint(f, out, "Hi There", 8), 0);
	assert_hex(out, sizeof(out),
	           "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	cairn_fingerprinter_free(f);

	/* Test case 2: key "Jefe". */
	pad_key(key, "Jefe", 4);
	assert_int_equal(cairn_fingerprinter_new(&f, key), 0);
	assert_int_equal(cairn_fingerprint(f, out, "what do ya want for nothing?", 28), 0);
	assert_hex(out, sizeof(out),
	           "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	cairn_fingerprinter_free(f);

	/* Test case 3: key 0xaa x 20, data 0xdd x 50. */
	uint8_t data[50];
	memset(key, 0, sizeof(key));
	memset(key, 0xaa, 20);
	memset(data, 0xdd, sizeof(data));
	assert_int_equal(cairn_fingerprinter_new(&f, key), 0);
	assert_int_equal(cairn_fingerprint(f, out, data, sizeof(data)), 0);
	assert_hex(out, sizeof(out),
	           "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	cairn_fingerprinter_free(f);

	/* Test case 4: key 0x01..0x19, data 0xcd x 50. */
	memset(key, 0, sizeof(key));
	for (int i = 0; i < 25; i++)
		key[i] = (uint8_t)(i + 1);
	memset(data, 0xcd, sizeof(data));
	assert_int_equal(cairn_fingerprinter_new(&f, key), 0);
	assert_int_equal(cairn_fingerprint(f, out, data, sizeof(data)), 0);
	assert_hex(out, sizeof(out),
	           "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
	cairn_fingerprinter_free(f);
}

static void test_fingerprint__matches_the_format_vector_for_abc(void **state)
{
	(void)state;
	/* docs/FORMAT.md, Appendix A: the fingerprint key of an unencrypted
	 * repository and the fingerprint of "abc" under it. */
	cairn_fingerprinter *f = NULL;
	uint8_t key[32], out[CAIRN_FP_SIZE];
	assert_int_equal(
	    cairn_hex_decode(key, 32,
	                     "560e99aa83521e6ea6c637043a2a35068a8d7bdfaf02f0879d440faf57b44cde"),
	    0);
	assert_int_equal(cairn_fingerprinter_new(&f, key), 0);
	assert_int_equal(cairn_fingerprint(f, out, "abc", 3), 0);
	assert_hex(out, sizeof(out),
	           "7c639f678dff007f7707e9a8453804b053ad4c0c7801f0a78d11af77f42cbf83");
	cairn_fingerprinter_free(f);
}

static void test_fingerprint__agrees_with_libsodium_hmac_at_every_length(void **state)
{
	(void)state;
	cairn_fingerprinter *f = NULL;
	uint8_t key[32];
	uint8_t *data = pseudo_random(300000, 2);

	for (int k = 0; k < 32; k++)
		key[k] = (uint8_t)(0xc0 ^ k * 7);
	assert_int_equal(cairn_fingerprinter_new(&f, key), 0);
	/* Every length around the block size, then some large ones; one
	 * fingerprinter for all, so its state must be fresh for each. */
	for (size_t len = 0; len <= 300; len++) {
		uint8_t got[CAIRN_FP_SIZE], want[crypto_auth_hmacsha256_BYTES];
		assert_int_equal(cairn_fingerprint(f, got, data, len), 0);
		crypto_auth_hmacsha256(want, data, len, key);
		if (memcmp(got, want, sizeof(got)) != 0)
			fail_msg("HMAC differs at length %zu", len);
	}
	static const size_t big[] = {4095, 4096, 65537, 300000};
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		uint8_t got[CAIRN_FP_SIZE], want[crypto_auth_hmacsha256_BYTES];
		assert_int_equal(cairn_fingerprint(f, got, data, big[i]), 0);
		crypto_auth_hmacsha256(want, data, big[i], key);
		assert_memory_equal(got, want, sizeof(got));
	}
	cairn_fingerprinter_free(f);
	free(data);
}

static void test_fingerprint__is_deterministic_and_keyed(void **state)
{
	(void)state;
	cairn_fingerprinter *a = NULL, *b = NULL, *a2 = NULL;
	uint8_t ka[32], kb[32];
	uint8_t fa[CAIRN_FP_SIZE], fa2[CAIRN_FP_SIZE], fb[CAIRN_FP_SIZE], again[CAIRN_FP_SIZE];
	uint8_t plain[CAIRN_ID_SIZE];

	memset(ka, 1, sizeof(ka));
	memcpy(kb, ka, sizeof(kb));
	kb[31] ^= 0x80; /* one bit apart */
	assert_int_equal(cairn_fingerprinter_new(&a, ka), 0);
	assert_int_equal(cairn_fingerprinter_new(&a2, ka), 0);
	assert_int_equal(cairn_fingerprinter_new(&b, kb), 0);

	assert_int_equal(cairn_fingerprint(a, fa, "chunk", 5), 0);
	assert_int_equal(cairn_fingerprint(a2, fa2, "chunk", 5), 0);
	assert_int_equal(cairn_fingerprint(b, fb, "chunk", 5), 0);
	assert_int_equal(cairn_fingerprint(a, again, "chunk", 5), 0);
	assert_memory_equal(fa, fa2, sizeof(fa));
	assert_memory_equal(fa, again, sizeof(fa));
	assert_memory_not_equal(fa, fb, sizeof(fa));
	/* Keyed: not the plain content hash. */
	cairn_sha256(plain, "chunk", 5);
	assert_memory_not_equal(fa, plain, sizeof(fa));
	/* And different data gives a different fingerprint. */
	assert_int_equal(cairn_fingerprint(a, again, "chunk!", 6), 0);
	assert_memory_not_equal(fa, again, sizeof(fa));

	cairn_fingerprinter_free(a);
	cairn_fingerprinter_free(a2);
	cairn_fingerprinter_free(b);
}

static void test_fingerprint__free_accepts_null(void **state)
{
	(void)state;
	cairn_fingerprinter_free(NULL);
}

/* Loads a file as libcrypto is loaded, into a table nothing uses. */
static int load_unused(const char *file)
{
	cairn_libcrypto_api unused;
	return cairn_libcrypto__load(&unused, file);
}

/* libcrypto is loaded at the first use; a file that cannot be loaded is
 * an error that names it, and leaves what was loaded working. */
static void test_fingerprint__libcrypto_is_loaded_on_first_use(void **state)
{
	(void)state;
	const char *v = NULL;
	assert_int_equal(cairn_fingerprint_init(), 0);
	assert_int_equal(cairn_fingerprint_libcrypto_version(&v), 0);
	assert_non_null(v);
	assert_int_equal(v[0], '3');
	assert_int_equal(load_unused("libcairn-no-such-library.so.9"), CAIRN_ERROR);
	assert_non_null(strstr(cairn_error_last(),
	                       "libcrypto (libcairn-no-such-library.so.9) could not be loaded: "));
	/* A library without SHA256_Init: the missing symbol is named. */
	assert_int_equal(load_unused("libc.so.6"), CAIRN_ERROR);
	assert_non_null(strstr(cairn_error_last(), "SHA256_Init"));
	uint8_t out[CAIRN_ID_SIZE];
	char hex[2 * CAIRN_ID_SIZE + 1];
	cairn_sha256(out, "abc", 3);
	cairn_hex_encode(hex, out, sizeof(out));
	assert_string_equal(hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fingerprint__sha256_of_abc_is_the_fips_vector),
	    cmocka_unit_test(test_fingerprint__sha256_agrees_with_libsodium),
	    cmocka_unit_test(test_fingerprint__hmac_matches_rfc_4231),
	    cmocka_unit_test(test_fingerprint__matches_the_format_vector_for_abc),
	    cmocka_unit_test(test_fingerprint__agrees_with_libsodium_hmac_at_every_length),
	    cmocka_unit_test(test_fingerprint__is_deterministic_and_keyed),
	    cmocka_unit_test(test_fingerprint__free_accepts_null),
	    cmocka_unit_test(test_fingerprint__libcrypto_is_loaded_on_first_use),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

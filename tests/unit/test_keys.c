#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/keys.h"
#include "crypto/keys_format.h"
#include "util/buf.h"
#include "util/hex.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* The cheapest Argon2id settings, so each open takes milliseconds. */
static const cairn_kdf_params fast_kdf = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};

#define OFF_VERSION 8
#define OFF_ALG 9
#define OFF_OPS 10
#define OFF_MEM 18
#define OFF_SALT 26
#define OFF_NONCE 42
#define OFF_BOX 66

static void test_master(uint8_t master[CAIRN_KEY_SIZE])
{
	for (int i = 0; i < CAIRN_KEY_SIZE; i++)
		master[i] = (uint8_t)(0xa0 + i);
}

static void seal_file(cairn_buf *out, const uint8_t *master, const char *pw)
{
	cairn_buf_clear(out);
	assert_int_equal(cairn_key_seal(out, master, pw, strlen(pw), &fast_kdf), 0);
	assert_int_equal(out->len, CAIRN_KEYFILE_SIZE);
}

static void assert_open_fails(const void *file, size_t len, const char *pw, int want,
                              const char *what)
{
	uint8_t got[CAIRN_KEY_SIZE];
	cairn_error_clear();
	int rc = cairn_key_open(got, file, len, pw, strlen(pw));
	if (rc != want)
		fail_msg("opening %s gave %d (%s), want %d", what, rc, cairn_error_name(rc), want);
	assert_true(strlen(cairn_error_last()) > 0);
}

/* ---- KDF parameters ----------------------------------------------------- */

static void test_keys__default_kdf_params_are_at_least_owasps_floor(void **state)
{
	(void)state;
	cairn_kdf_params p;
	cairn_kdf_params_default(&p);
	/* Argon2id with 19 MiB and 2 passes at least; memory kept low, since
	 * it is the floor of every command's peak RSS. */
	assert_int_equal(p.memlimit, 19 * 1024 * 1024);
	assert_int_equal(p.opslimit, 3);
	assert_true(p.opslimit >= 2);
	assert_int_equal(cairn_kdf_params_check(&p), 0);
}

static void test_keys__kdf_params_check_enforces_the_bounds(void **state)
{
	(void)state;
	const uint64_t four_gib = (uint64_t)4 << 30;
	struct {
		uint64_t ops, mem;
		int ok;
	} cases[] = {
	    {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, 1},
	    {crypto_pwhash_OPSLIMIT_MIN - 1, crypto_pwhash_MEMLIMIT_MIN, 0},
	    {0, crypto_pwhash_MEMLIMIT_MIN, 0},
	    {64, crypto_pwhash_MEMLIMIT_MIN, 1},
	    {65, crypto_pwhash_MEMLIMIT_MIN, 0},
	    {crypto_pwhash_OPSLIMIT_MAX, crypto_pwhash_MEMLIMIT_MIN, 0},
	    {UINT64_MAX, crypto_pwhash_MEMLIMIT_MIN, 0},
	    {1, crypto_pwhash_MEMLIMIT_MIN - 1, 0},
	    {1, 0, 0},
	    {1, four_gib, 1},
	    {1, four_gib + 1, 0},
	    {1, UINT64_MAX, 0},
	    {3, (uint64_t)256 << 20, 1},
	    /* The cap on the product, 16 GiB: */
	    {4, four_gib, 1},
	    {5, four_gib, 0},
	    {64, (uint64_t)256 << 20, 1},
	    {64, ((uint64_t)256 << 20) + 1024, 0},
	    {33, (uint64_t)512 << 20, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cairn_kdf_params p = {cases[i].ops, cases[i].mem};
		int rc = cairn_kdf_params_check(&p);
		if (cases[i].ok ? rc != 0 : rc != CAIRN_EINVAL)
			fail_msg("opslimit %llu memlimit %llu: got %d",
			         (unsigned long long)p.opslimit, (unsigned long long)p.memlimit,
			         rc);
	}
}

static void test_keys__seal_refuses_out_of_bounds_kdf_params(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE];
	test_master(master);
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_kdf_params p = {0, crypto_pwhash_MEMLIMIT_MIN};
	assert_int_equal(cairn_key_seal(&b, master, "pw", 2, &p), CAIRN_EINVAL);
	p = (cairn_kdf_params){1, 1024};
	assert_int_equal(cairn_key_seal(&b, master, "pw", 2, &p), CAIRN_EINVAL);
	assert_int_equal(b.len, 0);
	cairn_buf_free(&b);
}

/* ---- sealing and opening ------------------------------------------------ */

static void test_keys__seal_and_open_round_trip(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE], got[CAIRN_KEY_SIZE];
	cairn_buf b = CAIRN_BUF_INIT;
	test_master(master);

	seal_file(&b, master, "correct horse battery staple");
	memset(got, 0, sizeof(got));
	assert_int_equal(cairn_key_open(got, b.data, b.len, "correct horse battery staple", 28), 0);
	assert_memory_equal(got, master, sizeof(master));
	/* The master key does not appear in the file. */
	assert_null(memmem(b.data, b.len, master, sizeof(master)));
	cairn_buf_free(&b);
}

static void test_keys__file_follows_the_documented_layout(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE];
	cairn_buf b = CAIRN_BUF_INIT;
	test_master(master);
	seal_file(&b, master, "pw");

	assert_int_equal(CAIRN_KEYFILE_SIZE, 114);
	assert_memory_equal(b.data, "CAIRNKEY", 8);
	assert_int_equal(b.data[OFF_VERSION], CAIRN_KEYFILE_VERSION);
	assert_int_equal(b.data[OFF_ALG], CAIRN_KEYFILE_ALG_ARGON2ID_XCHACHA);
	assert_int_equal(cairn_get_u64le(b.data + OFF_OPS), fast_kdf.opslimit);
	assert_int_equal(cairn_get_u64le(b.data + OFF_MEM), fast_kdf.memlimit);

	/* Opened by the format's description with libsodium alone. */
	uint8_t kek[32], got[CAIRN_KEY_SIZE];
	unsigned long long n = 0;
	assert_int_equal(crypto_pwhash(kek, sizeof(kek), "pw", 2, b.data + OFF_SALT,
	                               fast_kdf.opslimit, (size_t)fast_kdf.memlimit,
	                               crypto_pwhash_ALG_ARGON2ID13),
	                 0);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(
	                     got, &n, NULL, b.data + OFF_BOX, CAIRN_KEYFILE_SIZE - OFF_BOX, b.data,
	                     OFF_BOX, b.data + OFF_NONCE, kek),
	                 0);
	assert_int_equal(n, CAIRN_KEY_SIZE);
	assert_memory_equal(got, master, sizeof(master));
	cairn_buf_free(&b);
}

static void test_keys__opens_a_file_built_from_the_format_description(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE], got[CAIRN_KEY_SIZE], kek[32];
	uint8_t file[CAIRN_KEYFILE_SIZE];
	unsigned long long n = 0;
	test_master(master);

	memcpy(file, "CAIRNKEY", 8);
	file[OFF_VERSION] = 1;
	file[OFF_ALG] = 1;
	cairn_put_u64le(file + OFF_OPS, 2);
	cairn_put_u64le(file + OFF_MEM, 16384);
	randombytes_buf(file + OFF_SALT, CAIRN_KEYFILE_SALT);
	randombytes_buf(file + OFF_NONCE, CAIRN_KEYFILE_NONCE);
	assert_int_equal(crypto_pwhash(kek, sizeof(kek), "secret", 6, file + OFF_SALT, 2, 16384,
	                               crypto_pwhash_ALG_ARGON2ID13),
	                 0);
	crypto_aead_xchacha20poly1305_ietf_encrypt(file + OFF_BOX, &n, master, sizeof(master), file,
	                                           OFF_BOX, NULL, file + OFF_NONCE, kek);
	assert_int_equal(n, 48);

	assert_int_equal(cairn_key_open(got, file, sizeof(file), "secret", 6), 0);
	assert_memory_equal(got, master, sizeof(master));
	assert_open_fails(file, sizeof(file), "Secret", CAIRN_EAUTH, "a wrong password");
}

static void test_keys__seal_appends_after_existing_bytes(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE], got[CAIRN_KEY_SIZE];
	cairn_buf b = CAIRN_BUF_INIT;
	test_master(master);
	assert_int_equal(cairn_buf_append(&b, "head", 4), 0);
	assert_int_equal(cairn_key_seal(&b, master, "pw", 2, &fast_kdf), 0);
	assert_int_equal(b.len, 4 + CAIRN_KEYFILE_SIZE);
	assert_memory_equal(b.data, "head", 4);
	assert_int_equal(cairn_key_open(got, b.data + 4, CAIRN_KEYFILE_SIZE, "pw", 2), 0);
	assert_memory_equal(got, master, sizeof(master));
	cairn_buf_free(&b);
}

static void test_keys__each_seal_uses_fresh_salt_and_nonce(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE];
	cairn_buf a = CAIRN_BUF_INIT, b = CAIRN_BUF_INIT;
	test_master(master);
	seal_file(&a, master, "pw");
	seal_file(&b, master, "pw");
	assert_memory_not_equal(a.data + OFF_SALT, b.data + OFF_SALT, CAIRN_KEYFILE_SALT);
	assert_memory_not_equal(a.data + OFF_NONCE, b.data + OFF_NONCE, CAIRN_KEYFILE_NONCE);
	assert_memory_not_equal(a.data + OFF_BOX, b.data + OFF_BOX, 48);
	cairn_buf_free(&a);
	cairn_buf_free(&b);
}

static void test_keys__password_bytes_are_taken_as_given(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE], got[CAIRN_KEY_SIZE];
	cairn_buf b = CAIRN_BUF_INIT;
	test_master(master);

	/* A password with a NUL inside: its length, not strlen, counts. */
	assert_int_equal(cairn_key_seal(&b, master, "pa\0ss", 5, &fast_kdf), 0);
	assert_int_equal(cairn_key_open(got, b.data, b.len, "pa\0ss", 5), 0);
	assert_memory_equal(got, master, sizeof(master));
	assert_int_equal(cairn_key_open(got, b.data, b.len, "pa", 2), CAIRN_EAUTH);
	assert_int_equal(cairn_key_open(got, b.data, b.len, "pa\0sS", 5), CAIRN_EAUTH);

	/* Non-ASCII bytes, and the empty password. */
	cairn_buf_clear(&b);
	assert_int_equal(cairn_key_seal(&b, master, "p\xc3\xa4ss\xff", 6, &fast_kdf), 0);
	assert_int_equal(cairn_key_open(got, b.data, b.len, "p\xc3\xa4ss\xff", 6), 0);
	cairn_buf_clear(&b);
	assert_int_equal(cairn_key_seal(&b, master, "", 0, &fast_kdf), 0);
	assert_int_equal(cairn_key_open(got, b.data, b.len, "", 0), 0);
	assert_memory_equal(got, master, sizeof(master));
	assert_int_equal(cairn_key_open(got, b.data, b.len, " ", 1), CAIRN_EAUTH);
	cairn_buf_free(&b);
}

static void test_keys__wrong_password_is_an_auth_error(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE];
	cairn_buf b = CAIRN_BUF_INIT;
	test_master(master);
	seal_file(&b, master, "right");
	assert_open_fails(b.data, b.len, "wrong", CAIRN_EAUTH, "a wrong password");
	assert_open_fails(b.data, b.len, "righ", CAIRN_EAUTH, "a prefix of the password");
	assert_open_fails(b.data, b.len, "right ", CAIRN_EAUTH, "a longer password");
	assert_open_fails(b.data, b.len, "Right", CAIRN_EAUTH, "another case");
	cairn_buf_free(&b);
}

static void test_keys__truncated_or_extended_file_is_corrupt(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE];
	cairn_buf b = CAIRN_BUF_INIT;
	test_master(master);
	seal_file(&b, master, "pw");

	for (size_t len = 0; len < b.len; len++)
		assert_open_fails(b.data, len, "pw", CAIRN_ECORRUPT, "a truncated file");
	assert_int_equal(cairn_buf_append_u8(&b, 0), 0);
	assert_open_fails(b.data, b.len, "pw", CAIRN_ECORRUPT, "a file with a byte too many");
	cairn_buf_free(&b);
}

static void test_keys__bad_header_is_corrupt(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE];
	cairn_buf b = CAIRN_BUF_INIT;
	test_master(master);
	seal_file(&b, master, "pw");

	/* Every bit of the magic, version and algorithm. */
	for (size_t i = 0; i < OFF_OPS; i++)
		for (int bit = 0; bit < 8; bit++) {
			b.data[i] ^= (uint8_t)(1u << bit);
			assert_open_fails(b.data, b.len, "pw", CAIRN_ECORRUPT, "a bad header byte");
			b.data[i] ^= (uint8_t)(1u << bit);
		}
	cairn_buf_free(&b);
}

static void test_keys__out_of_bounds_kdf_params_are_corrupt_before_hashing(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE];
	cairn_buf b = CAIRN_BUF_INIT;
	test_master(master);
	seal_file(&b, master, "pw");
	uint8_t *ops = b.data + OFF_OPS, *mem = b.data + OFF_MEM;

	/* Any of these, if hashed, would take forever or all the memory:
	 * they must be refused from the numbers alone. */
	static const uint64_t bad_ops[] = {0, 65, (uint64_t)1 << 32, UINT64_MAX};
	static const uint64_t bad_mem[] = {0, 8191, ((uint64_t)4 << 30) + 1, (uint64_t)1 << 40,
	                                   UINT64_MAX};
	for (size_t i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++) {
		cairn_put_u64le(ops, bad_ops[i]);
		assert_open_fails(b.data, b.len, "pw", CAIRN_ECORRUPT, "a bad opslimit");
	}
	cairn_put_u64le(ops, fast_kdf.opslimit);
	for (size_t i = 0; i < sizeof(bad_mem) / sizeof(bad_mem[0]); i++) {
		cairn_put_u64le(mem, bad_mem[i]);
		assert_open_fails(b.data, b.len, "pw", CAIRN_ECORRUPT, "a bad memlimit");
	}
	cairn_buf_free(&b);
}

static void test_keys__tampered_body_fails_like_a_wrong_password(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE];
	cairn_buf b = CAIRN_BUF_INIT;
	test_master(master);
	seal_file(&b, master, "pw");

	/* Salt, nonce, ciphertext and tag: the AEAD fails. */
	for (size_t i = OFF_SALT; i < b.len; i++) {
		b.data[i] ^= 0x01;
		assert_open_fails(b.data, b.len, "pw", CAIRN_EAUTH, "a tampered byte");
		b.data[i] ^= 0x01;
	}
	/* Cost parameters changed within bounds: bound as associated data. */
	cairn_put_u64le(b.data + OFF_OPS, fast_kdf.opslimit + 1);
	assert_open_fails(b.data, b.len, "pw", CAIRN_EAUTH, "a raised opslimit");
	cairn_put_u64le(b.data + OFF_OPS, fast_kdf.opslimit);
	cairn_put_u64le(b.data + OFF_MEM, fast_kdf.memlimit + 1024);
	assert_open_fails(b.data, b.len, "pw", CAIRN_EAUTH, "a raised memlimit");
	cairn_put_u64le(b.data + OFF_MEM, fast_kdf.memlimit + 1);
	assert_open_fails(b.data, b.len, "pw", CAIRN_EAUTH, "a memlimit off by one byte");
	cairn_put_u64le(b.data + OFF_MEM, fast_kdf.memlimit);

	uint8_t got[CAIRN_KEY_SIZE];
	assert_int_equal(cairn_key_open(got, b.data, b.len, "pw", 2), 0);
	assert_memory_equal(got, master, sizeof(master));
	cairn_buf_free(&b);
}

/* ---- subkeys ------------------------------------------------------------ */

static void test_keys__subkeys_differ_from_each_other_and_the_master(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE], enc[CAIRN_KEY_SIZE], fp[CAIRN_KEY_SIZE];
	uint8_t enc2[CAIRN_KEY_SIZE], fp2[CAIRN_KEY_SIZE];
	test_master(master);

	cairn_keys_derive(master, enc, fp);
	assert_memory_not_equal(enc, fp, CAIRN_KEY_SIZE);
	assert_memory_not_equal(enc, master, CAIRN_KEY_SIZE);
	assert_memory_not_equal(fp, master, CAIRN_KEY_SIZE);

	/* Deterministic. */
	cairn_keys_derive(master, enc2, fp2);
	assert_memory_equal(enc, enc2, CAIRN_KEY_SIZE);
	assert_memory_equal(fp, fp2, CAIRN_KEY_SIZE);

	/* Another master, other subkeys. */
	master[0] ^= 1;
	cairn_keys_derive(master, enc2, fp2);
	assert_memory_not_equal(enc, enc2, CAIRN_KEY_SIZE);
	assert_memory_not_equal(fp, fp2, CAIRN_KEY_SIZE);
}

static void test_keys__subkeys_match_crypto_kdf_and_the_format_vectors(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE], enc[CAIRN_KEY_SIZE], fp[CAIRN_KEY_SIZE];
	uint8_t want[CAIRN_KEY_SIZE];
	char hex[2 * CAIRN_KEY_SIZE + 1];

	/* docs/FORMAT.md, Appendix A. */
	memset(master, 0, sizeof(master));
	cairn_keys_derive(master, enc, fp);
	cairn_hex_encode(hex, enc, CAIRN_KEY_SIZE);
	assert_string_equal(hex,
	                    "6adff41ef65eba93bf7902de71f5829d38c17805583de9db524adb2fc8f1f8bc");
	cairn_hex_encode(hex, fp, CAIRN_KEY_SIZE);
	assert_string_equal(hex,
	                    "560e99aa83521e6ea6c637043a2a35068a8d7bdfaf02f0879d440faf57b44cde");

	for (int i = 0; i < CAIRN_KEY_SIZE; i++)
		master[i] = (uint8_t)i;
	cairn_keys_derive(master, enc, fp);
	cairn_hex_encode(hex, enc, CAIRN_KEY_SIZE);
	assert_string_equal(hex,
	                    "c2137878f22db3458da3d0ca8d5c5cc8e372185d3ff87ab44b23b7cfd0a863a9");
	cairn_hex_encode(hex, fp, CAIRN_KEY_SIZE);
	assert_string_equal(hex,
	                    "f00fe7d68c0b4dccb64dfd936bc40aa167c7502ac2aac804b44bcd4a6324d0ca");

	/* And in general what libsodium's crypto_kdf gives. */
	test_master(master);
	cairn_keys_derive(master, enc, fp);
	crypto_kdf_derive_from_key(want, sizeof(want), CAIRN_KEYS_SUBKEY_ENC,
	                           CAIRN_KEYS_KDF_CONTEXT, master);
	assert_memory_equal(enc, want, sizeof(want));
	crypto_kdf_derive_from_key(want, sizeof(want), CAIRN_KEYS_SUBKEY_FP, CAIRN_KEYS_KDF_CONTEXT,
	                           master);
	assert_memory_equal(fp, want, sizeof(want));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys__default_kdf_params_are_at_least_owasps_floor),
	    cmocka_unit_test(test_keys__kdf_params_check_enforces_the_bounds),
	    cmocka_unit_test(test_keys__seal_refuses_out_of_bounds_kdf_params),
	    cmocka_unit_test(test_keys__seal_and_open_round_trip),
	    cmocka_unit_test(test_keys__file_follows_the_documented_layout),
	    cmocka_unit_test(test_keys__opens_a_file_built_from_the_format_description),
	    cmocka_unit_test(test_keys__seal_appends_after_existing_bytes),
	    cmocka_unit_test(test_keys__each_seal_uses_fresh_salt_and_nonce),
	    cmocka_unit_test(test_keys__password_bytes_are_taken_as_given),
	    cmocka_unit_test(test_keys__wrong_password_is_an_auth_error),
	    cmocka_unit_test(test_keys__truncated_or_extended_file_is_corrupt),
	    cmocka_unit_test(test_keys__bad_header_is_corrupt),
	    cmocka_unit_test(test_keys__out_of_bounds_kdf_params_are_corrupt_before_hashing),
	    cmocka_unit_test(test_keys__tampered_body_fails_like_a_wrong_password),
	    cmocka_unit_test(test_keys__subkeys_differ_from_each_other_and_the_master),
	    cmocka_unit_test(test_keys__subkeys_match_crypto_kdf_and_the_format_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

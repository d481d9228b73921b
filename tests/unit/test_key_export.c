/* Master key exports (the text a person copies on paper) and version 2
 * key files (who made them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/keys.h"
#include "crypto/keys_format.h"
#include "util/buf.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static void fixture(uint8_t repo[32], uint8_t master[CAIRN_KEY_SIZE])
{
	for (int i = 0; i < 32; i++) {
		repo[i] = (uint8_t)i;
		master[i] = (uint8_t)(0xa0 + i);
	}
}

/* Encodes the fixture into b (NUL-terminated). */
static void encode(cairn_buf *b)
{
	uint8_t repo[32], master[CAIRN_KEY_SIZE];
	fixture(repo, master);
	cairn_buf_clear(b);
	assert_int_equal(cairn_key_export_encode(b, repo, master), 0);
	assert_int_equal(cairn_buf_append_u8(b, 0), 0);
	b->len--;
}

static int decode(const char *text, uint8_t prefix[CAIRN_KEY_EXPORT_REPO_ID],
                  uint8_t master[CAIRN_KEY_SIZE])
{
	cairn_error_clear();
	return cairn_key_export_decode(text, strlen(text), prefix, master);
}

/* Where the n-th export character (0..71) is in the text. */
static size_t char_at(const char *text, size_t n)
{
	const char *p = strchr(text, '\n') + 1;
	p = strchr(p, '\n') + 1;
	size_t line = n / 24, col = n % 24;
	return (size_t)(p - text) + line * 30 + col + col / 4;
}

static void test_export__the_format_is_pinned(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	encode(&b);
	/* Computed apart from cairn: version 1, the id's first 8 bytes, the
	 * master key, BLAKE2b-32 of those 41 bytes, in Crockford's base32. */
	assert_string_equal((const char *)b.data,
	                    "cairn master key export 1\n"
	                    "repository "
	                    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
	                    "0400-20G3-0G2G-C1X0-M6HA-7955\n"
	                    "MTKT-HADA-NEPA-VBNF-P2RV-5CXM\n"
	                    "PPVB-FE5S-QAXV-SFDY-QXK6-9Z3F\n");
	cairn_buf_free(&b);
}

static void test_export__round_trips(void **state)
{
	(void)state;
	uint8_t repo[32], master[CAIRN_KEY_SIZE], prefix[CAIRN_KEY_EXPORT_REPO_ID],
	    got[CAIRN_KEY_SIZE];
	cairn_buf b = CAIRN_BUF_INIT;
	for (int round = 0; round < 50; round++) {
		randombytes_buf(repo, sizeof(repo));
		randombytes_buf(master, sizeof(master));
		cairn_buf_clear(&b);
		assert_int_equal(cairn_key_export_encode(&b, repo, master), 0);
		assert_int_equal(cairn_key_export_decode((const char *)b.data, b.len, prefix, got),
		                 0);
		assert_memory_equal(prefix, repo, sizeof(prefix));
		assert_memory_equal(got, master, sizeof(got));
	}
	cairn_buf_free(&b);
}

static void test_export__every_miscopied_character_is_caught(void **state)
{
	(void)state;
	uint8_t prefix[CAIRN_KEY_EXPORT_REPO_ID], got[CAIRN_KEY_SIZE];
	cairn_buf b = CAIRN_BUF_INIT;
	encode(&b);
	char *text = (char *)b.data;
	for (size_t n = 0; n < CAIRN_KEY_EXPORT_CHARS; n++) {
		size_t at = char_at(text, n);
		char was = text[at];
		assert_non_null(strchr(alphabet, was));
		for (const char *c = alphabet; *c; c++) {
			if (*c == was)
				continue;
			text[at] = *c;
			if (decode(text, prefix, got) != CAIRN_EINVAL)
				fail_msg("character %zu changed to %c was not caught", n, *c);
			assert_non_null(strstr(cairn_error_last(), "checksum"));
		}
		text[at] = was;
	}
	/* Two neighbours swapped. */
	for (size_t n = 0; n + 1 < CAIRN_KEY_EXPORT_CHARS; n++) {
		size_t a = char_at(text, n), z = char_at(text, n + 1);
		char x = text[a], y = text[z];
		if (x == y)
			continue;
		text[a] = y;
		text[z] = x;
		assert_int_equal(decode(text, prefix, got), CAIRN_EINVAL);
		text[a] = x;
		text[z] = y;
	}
	assert_int_equal(decode(text, prefix, got), 0);
	cairn_buf_free(&b);
}

static void test_export__forgives_case_confusables_and_spacing(void **state)
{
	(void)state;
	uint8_t prefix[CAIRN_KEY_EXPORT_REPO_ID], got[CAIRN_KEY_SIZE], repo[32],
	    master[CAIRN_KEY_SIZE];
	fixture(repo, master);
	/* Lower case, O for 0, l and i for 1, no dashes, spaces, CRLF, a
	 * comment, and without the header lines. */
	const char *typed = "# from the safe\r\n"
	                    "o4oo 2og3 og2g c1xo m6ha 7955\r\n"
	                    "mtkthadanepavbnfp2rv5cxm\n"
	                    "\n"
	                    "ppvb-fe5s-qaxv-sfdy-qxk6-9z3f";
	assert_int_equal(decode(typed, prefix, got), 0);
	assert_memory_equal(prefix, repo, sizeof(prefix));
	assert_memory_equal(got, master, sizeof(got));
	/* I and L read as 1: "C1X0" typed as "CIX0" and "ClX0". */
	assert_int_equal(decode("0400-20G3-0G2G-CIX0-M6HA-7955 MTKT-HADA-NEPA-VBNF-P2RV-5CXM "
	                        "PPVB-FE5S-QAXV-SFDY-QXK6-9Z3F",
	                        prefix, got),
	                 0);
	assert_int_equal(decode("0400-20G3-0G2G-ClX0-M6HA-7955 MTKT-HADA-NEPA-VBNF-P2RV-5CXM "
	                        "PPVB-FE5S-QAXV-SFDY-QXK6-9Z3F",
	                        prefix, got),
	                 0);
}

static void test_export__bad_text_is_named(void **state)
{
	(void)state;
	uint8_t prefix[CAIRN_KEY_EXPORT_REPO_ID], got[CAIRN_KEY_SIZE];
	/* U is not in the alphabet: named by line and column. */
	assert_int_equal(decode("cairn master key export 1\n"
	                        "0400-20G3-0G2G-C1X0-M6HA-7955\n"
	                        "MTKT-HADA-NEPA-VBNF-P2RV-5CXU\n",
	                        prefix, got),
	                 CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "line 3, character 29: 'U'"));
	/* A group left out, a group twice. */
	assert_int_equal(decode("0400-20G3-0G2G-C1X0-M6HA\nMTKT-HADA-NEPA-VBNF-P2RV-5CXM\n"
	                        "PPVB-FE5S-QAXV-SFDY-QXK6-9Z3F\n",
	                        prefix, got),
	                 CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "has 68 characters"));
	assert_int_equal(
	    decode("0400-20G3-0G2G-C1X0-M6HA-7955-7955\nMTKT-HADA-NEPA-VBNF-P2RV-5CXM\n"
	           "PPVB-FE5S-QAXV-SFDY-QXK6-9Z3F\n",
	           prefix, got),
	    CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "longer than 72"));
	assert_int_equal(decode("", prefix, got), CAIRN_EINVAL);
	assert_int_equal(decode("\xff\xfe", prefix, got), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "'?'"));
}

static void test_export__another_version_is_refused(void **state)
{
	(void)state;
	uint8_t body[CAIRN_KEY_EXPORT_BYTES] = {2}, prefix[8], got[32];
	char text[CAIRN_KEY_EXPORT_CHARS + 1];
	crypto_generichash(body + 41, 4, body, 41, NULL, 0);
	for (size_t n = 0; n < CAIRN_KEY_EXPORT_CHARS; n++) {
		int v = 0;
		for (size_t bit = n * 5; bit < n * 5 + 5; bit++)
			v = (v << 1) | ((body[bit / 8] >> (7 - bit % 8)) & 1);
		text[n] = alphabet[v];
	}
	text[CAIRN_KEY_EXPORT_CHARS] = '\0';
	assert_int_equal(decode(text, prefix, got), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "version 2"));
}

/* ---- version 2 key files ---- */

static const cairn_kdf_params fast_kdf = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};

static void test_keyfile__records_who_made_it(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE], got[CAIRN_KEY_SIZE];
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_key_meta m = {.created = 1700000000, .host = "host\nname", .user = "r\xffot"}, info;
	randombytes_buf(master, sizeof(master));
	assert_int_equal(cairn_key_seal_meta(&b, master, "pw", 2, &fast_kdf, &m), 0);
	assert_int_equal(b.len, CAIRN_KEYFILE_HEADER + 8 + 1 + 9 + 1 + 4 + CAIRN_KEYFILE_BOX);
	assert_int_equal(b.data[8], 2);
	assert_int_equal(cairn_key_info(&info, b.data, b.len), 0);
	assert_int_equal(info.version, 2);
	assert_int_equal(info.created, 1700000000);
	assert_string_equal(info.host, "host\nname");
	assert_string_equal(info.user, "r\xffot");
	assert_int_equal(info.kdf.opslimit, fast_kdf.opslimit);
	assert_int_equal(cairn_key_open(got, b.data, b.len, "pw", 2), 0);
	assert_memory_equal(got, master, sizeof(got));
	/* The names are authenticated: a changed byte fails like a wrong
	 * password. */
	b.data[CAIRN_KEYFILE_HEADER + 8 + 1] ^= 1;
	assert_int_equal(cairn_key_open(got, b.data, b.len, "pw", 2), CAIRN_EAUTH);
	b.data[CAIRN_KEYFILE_HEADER + 8 + 1] ^= 1;
	/* A length that runs past the end, and any truncation. */
	for (size_t len = 0; len < b.len; len++)
		assert_int_equal(cairn_key_info(&info, b.data, len), CAIRN_ECORRUPT);
	b.data[CAIRN_KEYFILE_HEADER + 8] = 200;
	assert_int_equal(cairn_key_info(&info, b.data, b.len), CAIRN_ECORRUPT);
	cairn_buf_free(&b);
}

static void test_keyfile__long_names_are_cut_and_version_1_has_none(void **state)
{
	(void)state;
	uint8_t master[CAIRN_KEY_SIZE] = {1};
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_key_meta m = {0}, info;
	memset(m.host, 'h', sizeof(m.host) - 1);
	assert_int_equal(cairn_key_seal_meta(&b, master, "pw", 2, &fast_kdf, &m), 0);
	assert_int_equal(cairn_key_info(&info, b.data, b.len), 0);
	assert_int_equal(strlen(info.host), 255);
	assert_string_equal(info.user, "");
	cairn_buf_clear(&b);
	assert_int_equal(cairn_key_seal(&b, master, "pw", 2, &fast_kdf), 0);
	assert_int_equal(b.len, CAIRN_KEYFILE_SIZE);
	assert_int_equal(cairn_key_info(&info, b.data, b.len), 0);
	assert_int_equal(info.version, 1);
	assert_int_equal(info.created, 0);
	cairn_buf_free(&b);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_export__the_format_is_pinned),
	    cmocka_unit_test(test_export__round_trips),
	    cmocka_unit_test(test_export__every_miscopied_character_is_caught),
	    cmocka_unit_test(test_export__forgives_case_confusables_and_spacing),
	    cmocka_unit_test(test_export__bad_text_is_named),
	    cmocka_unit_test(test_export__another_version_is_refused),
	    cmocka_unit_test(test_keyfile__records_who_made_it),
	    cmocka_unit_test(test_keyfile__long_names_are_cut_and_version_1_has_none),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

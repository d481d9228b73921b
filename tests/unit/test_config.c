/* The repository's config text (lib/repo/config.c): the settings sealed
 * under the config key, the clear forms, and what a client that
 * remembers a repository accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "repo/repo_format.h"
#include "repo/repo_internal.h"
#include "util/buf.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const uint8_t key[CAIRN_KEY_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static cairn_repo_config sample(int encrypted, int version)
{
	cairn_repo_config c = {.version = version, .encrypted = encrypted};
	for (int i = 0; i < CAIRN_ID_SIZE; i++)
		c.id[i] = (uint8_t)(0xa0 + i);
	c.chunker.poly = 0x3DA3358B4DC173ull;
	c.chunker.min = 98304;
	c.chunker.avg = 163840;
	c.chunker.max = 1310720;
	c.pack_target = 16u << 20;
	return c;
}

static void format(cairn_buf *out, const cairn_repo_config *c)
{
	out->len = 0;
	assert_int_equal(cairn_config_format(out, c, key), 0);
	assert_int_equal(cairn_buf_append(out, "", 1), 0); /* a C string */
	out->len--;
}

static void assert_same(const cairn_repo_config *a, const cairn_repo_config *b)
{
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->encrypted, b->encrypted);
	assert_memory_equal(a->id, b->id, CAIRN_ID_SIZE);
	assert_true(a->chunker.poly == b->chunker.poly);
	assert_int_equal(a->chunker.min, b->chunker.min);
	assert_int_equal(a->chunker.avg, b->chunker.avg);
	assert_int_equal(a->chunker.max, b->chunker.max);
	assert_int_equal(a->pack_target, b->pack_target);
}

static void test_config__sealed_round_trip_keeps_the_settings_out_of_the_clear(void **state)
{
	(void)state;
	cairn_repo_config c = sample(1, 3), got;
	cairn_buf text = CAIRN_BUF_INIT, box = CAIRN_BUF_INIT;
	format(&text, &c);
	assert_null(strstr((char *)text.data, "polynomial"));
	assert_null(strstr((char *)text.data, "3da3358b4dc173"));
	assert_null(strstr((char *)text.data, "chunker"));
	assert_non_null(strstr((char *)text.data, "\"version\":3,"));
	assert_non_null(strstr((char *)text.data, "\"encryption\":\"xchacha20-poly1305\""));
	assert_int_equal(cairn_config_parse(&got, &box, (char *)text.data, text.len), 0);
	assert_true(box.len > 0);
	assert_int_equal(got.chunker.min, 0); /* not until unsealed */
	assert_int_equal(cairn_config_unseal(&got, &box, key), 0);
	assert_same(&got, &c);
	cairn_buf_free(&text);
	cairn_buf_free(&box);
}

static void test_config__clear_forms_round_trip(void **state)
{
	(void)state;
	/* Unencrypted (any version), and encrypted before version 3. */
	const int cases[][2] = {{0, 3}, {0, 1}, {1, 2}, {1, 1}};
	cairn_buf text = CAIRN_BUF_INIT, box = CAIRN_BUF_INIT;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cairn_repo_config c = sample(cases[i][0], cases[i][1]), got;
		format(&text, &c);
		assert_non_null(strstr((char *)text.data, "\"polynomial\":\"3da3358b4dc173\""));
		assert_null(strstr((char *)text.data, "sealed"));
		assert_int_equal(cairn_config_parse(&got, &box, (char *)text.data, text.len), 0);
		assert_int_equal(box.len, 0);
		assert_same(&got, &c);
	}
	cairn_buf_free(&text);
	cairn_buf_free(&box);
}

static void test_config__any_changed_byte_of_the_sealed_part_fails(void **state)
{
	(void)state;
	cairn_repo_config c = sample(1, 3), got;
	cairn_buf text = CAIRN_BUF_INIT, box = CAIRN_BUF_INIT;
	format(&text, &c);
	assert_int_equal(cairn_config_parse(&got, &box, (char *)text.data, text.len), 0);
	for (size_t i = 0; i < box.len; i++) {
		box.data[i] ^= 0x01;
		cairn_repo_config g = got;
		assert_int_equal(cairn_config_unseal(&g, &box, key), CAIRN_ECORRUPT);
		box.data[i] ^= 0x01;
	}
	uint8_t other[CAIRN_KEY_SIZE] = {9};
	assert_int_equal(cairn_config_unseal(&got, &box, other), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "altered"));
	cairn_buf_free(&text);
	cairn_buf_free(&box);
}

/* The sealed part of one config under the clear part of another. */
static int transplant(const cairn_repo_config *sealed_from, const char *clear_fmt)
{
	cairn_buf text = CAIRN_BUF_INIT, box = CAIRN_BUF_INIT;
	cairn_repo_config got;
	char clear[4096];
	format(&text, sealed_from);
	const char *s = strstr((char *)text.data, "\"sealed\":\"");
	assert_non_null(s);
	snprintf(clear, sizeof(clear), clear_fmt, s);
	int rc = cairn_config_parse(&got, &box, clear, strlen(clear));
	if (!rc)
		rc = cairn_config_unseal(&got, &box, key);
	cairn_buf_free(&text);
	cairn_buf_free(&box);
	return rc;
}

static void test_config__the_clear_part_must_match_the_sealed_one(void **state)
{
	(void)state;
	cairn_repo_config c = sample(1, 3);
	const char *id = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
	char fmt[512];
	snprintf(fmt, sizeof(fmt),
	         "{\"version\":3,\"id\":\"%s\",\"encryption\":\"xchacha20-poly1305\",%%s", id);
	assert_int_equal(transplant(&c, fmt), 0);
	/* Another id: the associated data differs. */
	snprintf(fmt, sizeof(fmt),
	         "{\"version\":3,\"id\":\"%.63s0\",\"encryption\":\"xchacha20-poly1305\",%%s", id);
	assert_int_equal(transplant(&c, fmt), CAIRN_ECORRUPT);
	/* Clear chunker members beside the sealed part are not obeyed. */
	snprintf(fmt, sizeof(fmt),
	         "{\"version\":3,\"id\":\"%s\",\"encryption\":\"xchacha20-poly1305\","
	         "\"chunker\":{\"polynomial\":\"3da3358b4dc173\",\"min\":256,\"avg\":512,"
	         "\"max\":1024},%%s",
	         id);
	assert_int_equal(transplant(&c, fmt), 0);
}

static void test_config__a_sealed_config_needs_its_sealed_part(void **state)
{
	(void)state;
	cairn_buf box = CAIRN_BUF_INIT;
	cairn_repo_config got;
	const char *texts[] = {
	    "{\"version\":3,\"id\":"
	    "\"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbeb"
	    "f\",\"encryption\":\"xchacha20-poly1305\",\"chunker\":{\"polynomial\":"
	    "\"3da3358b4dc173\",\"min\":256,\"avg\":512,\"max\":1024},\"pack_size\":1048576}",
	    "{\"version\":3,\"id\":"
	    "\"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbeb"
	    "f\",\"encryption\":\"xchacha20-poly1305\",\"sealed\":\"00ff\"}",
	    "{\"version\":3,\"id\":"
	    "\"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbeb"
	    "f\",\"encryption\":\"xchacha20-poly1305\",\"sealed\":\"zz\"}",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_int_not_equal(cairn_config_parse(&got, &box, texts[i], strlen(texts[i])), 0);
	cairn_buf_free(&box);
}

static void test_config__what_a_client_that_remembers_accepts(void **state)
{
	(void)state;
	cairn_repo_config plain = sample(0, 3), sealed = sample(1, 3), clear = sample(1, 2);
	const unsigned enc = CAIRN_SEEN_ENCRYPTED, unenc = CAIRN_SEEN_UNENCRYPTED,
	               seal = CAIRN_SEEN_SEALED;
	struct {
		const cairn_repo_config *c;
		unsigned seen;
		int password, ok;
		const char *says;
	} cases[] = {
	    {&plain, 0, 0, 1, NULL},
	    {&plain, unenc, 1, 1, NULL},
	    {&plain, 0, 1, 0,
	     "config: this repository claims to be unencrypted; run without a "
	     "password if that is right"},
	    {&plain, enc, 0, 0, "has seen it encrypted"},
	    {&plain, enc | unenc, 1, 0, "has seen it encrypted"},
	    {&sealed, 0, 1, 1, NULL},
	    {&sealed, enc | seal, 1, 1, NULL},
	    {&clear, 0, 1, 1, NULL}, /* an old repository: sealed on this open */
	    {&clear, enc, 1, 1, NULL},
	    {&clear, enc | seal, 1, 0, "config has its settings in the clear"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cairn_error_clear();
		int rc = cairn_config_check_seen(cases[i].c, cases[i].seen, cases[i].password);
		if (cases[i].ok ? rc != 0 : rc != CAIRN_ECORRUPT)
			fail_msg("case %zu: got %d", i, rc);
		if (cases[i].says && !strstr(cairn_error_last(), cases[i].says))
			fail_msg("case %zu: message \"%s\"", i, cairn_error_last());
		if (!cases[i].ok && !strstr(cairn_error_last(), "config"))
			fail_msg("case %zu: the message does not name config", i);
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config__sealed_round_trip_keeps_the_settings_out_of_the_clear),
	    cmocka_unit_test(test_config__clear_forms_round_trip),
	    cmocka_unit_test(test_config__any_changed_byte_of_the_sealed_part_fails),
	    cmocka_unit_test(test_config__the_clear_part_must_match_the_sealed_one),
	    cmocka_unit_test(test_config__a_sealed_config_needs_its_sealed_part),
	    cmocka_unit_test(test_config__what_a_client_that_remembers_accepts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "util/hex.h"

#include <string.h>

static void test_hex__encodes_lowercase_digits_and_a_nul(void **state)
{
	(void)state;
	static const uint8_t data[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
	char out[2 * sizeof(data) + 2];
	memset(out, 'X', sizeof(out));

	cairn_hex_encode(out, data, sizeof(data));
	assert_string_equal(out, "00017f80abcdefff");
	assert_int_equal(out[2 * sizeof(data) + 1], 'X');
}

static void test_hex__encodes_nothing_as_the_empty_string(void **state)
{
	(void)state;
	char out[1] = {'X'};
	cairn_hex_encode(out, "", 0);
	assert_int_equal(out[0], '\0');
}

static void test_hex__decodes_either_case(void **state)
{
	(void)state;
	static const uint8_t expect[] = {0xde, 0xad, 0xbe, 0xef, 0x09};
	uint8_t out[5];

	assert_int_equal(cairn_hex_decode(out, 5, "deadbeef09"), 0);
	assert_memory_equal(out, expect, 5);
	memset(out, 0, sizeof(out));
	assert_int_equal(cairn_hex_decode(out, 5, "DEADBEEF09"), 0);
	assert_memory_equal(out, expect, 5);
	memset(out, 0, sizeof(out));
	assert_int_equal(cairn_hex_decode(out, 5, "DeAdBeEf09"), 0);
	assert_memory_equal(out, expect, 5);
}

static void test_hex__round_trips_every_byte_value(void **state)
{
	(void)state;
	uint8_t data[256], back[256];
	char text[513];

	for (int i = 0; i < 256; i++)
		data[i] = (uint8_t)i;
	cairn_hex_encode(text, data, sizeof(data));
	assert_int_equal(strlen(text), 512);
	assert_int_equal(cairn_hex_decode(back, sizeof(back), text), 0);
	assert_memory_equal(back, data, sizeof(data));
}

static void test_hex__decode_rejects_the_wrong_length(void **state)
{
	(void)state;
	uint8_t out[4];

	assert_int_equal(cairn_hex_decode(out, 4, "0011223"), CAIRN_EINVAL);
	assert_int_equal(cairn_hex_decode(out, 4, "001122334"), CAIRN_EINVAL);
	assert_int_equal(cairn_hex_decode(out, 4, "0011223344"), CAIRN_EINVAL);
	assert_int_equal(cairn_hex_decode(out, 4, ""), CAIRN_EINVAL);
	assert_int_equal(cairn_hex_decode(out, 0, ""), 0);
	assert_int_equal(cairn_hex_decode(out, 0, "00"), CAIRN_EINVAL);
}

static void test_hex__decode_rejects_non_hex_characters(void **state)
{
	(void)state;
	uint8_t out[2];
	static const char *bad[] = {"00g0",
	                            "0x00",
	                            " 000",
	                            "000 ",
	                            "zz00",
	                            "00-1",
	                            "0/00",
	                            "0:00",
	                            "@000",
	                            "00`0",
	                            "\xff"
	                            "000"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cairn_hex_decode(out, 2, bad[i]) != CAIRN_EINVAL)
			fail_msg("accepted %s", bad[i]);
	assert_true(strlen(cairn_error_last()) > 0);
}

static void test_hex__decode_stops_at_an_embedded_nul(void **state)
{
	(void)state;
	uint8_t out[2];
	/* strlen sees two digits, not four. */
	assert_int_equal(cairn_hex_decode(out, 2,
	                                  "00\0"
	                                  "00"),
	                 CAIRN_EINVAL);
}

static void test_hex__prefix_accepts_short_lowercase_hex(void **state)
{
	(void)state;
	assert_true(cairn_hex_is_prefix("a", 64));
	assert_true(cairn_hex_is_prefix("0123456789abcdef", 64));
	assert_true(cairn_hex_is_prefix("abcd", 4));
}

static void test_hex__prefix_rejects_empty_long_uppercase_or_non_hex(void **state)
{
	(void)state;
	assert_false(cairn_hex_is_prefix("", 64));
	assert_false(cairn_hex_is_prefix("abcde", 4));
	assert_false(cairn_hex_is_prefix("ABCD", 64));
	assert_false(cairn_hex_is_prefix("abcg", 64));
	assert_false(cairn_hex_is_prefix("latest", 64));
	assert_false(cairn_hex_is_prefix("ab cd", 64));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hex__encodes_lowercase_digits_and_a_nul),
	    cmocka_unit_test(test_hex__encodes_nothing_as_the_empty_string),
	    cmocka_unit_test(test_hex__decodes_either_case),
	    cmocka_unit_test(test_hex__round_trips_every_byte_value),
	    cmocka_unit_test(test_hex__decode_rejects_the_wrong_length),
	    cmocka_unit_test(test_hex__decode_rejects_non_hex_characters),
	    cmocka_unit_test(test_hex__decode_stops_at_an_embedded_nul),
	    cmocka_unit_test(test_hex__prefix_accepts_short_lowercase_hex),
	    cmocka_unit_test(test_hex__prefix_rejects_empty_long_uppercase_or_non_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

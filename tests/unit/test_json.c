#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "util/buf.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes s as a JSON string, parses it back and checks the bytes match. */
static void assert_string_round_trips(const char *s, size_t n)
{
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_json *v = NULL;

	assert_int_equal(cairn_json_string_n(&b, s, n), 0);
	assert_int_equal(cairn_json_parse(&v, (const char *)b.data, b.len), 0);
	assert_int_equal(v->type, CAIRN_JSON_STRING);
	assert_int_equal(v->string_len, n);
	assert_memory_equal(v->string, s, n);
	assert_int_equal(v->string[n], '\0');
	cairn_json_free(v);
	cairn_buf_free(&b);
}

static int parse_str(cairn_json **v, const char *text)
{
	return cairn_json_parse(v, text, strlen(text));
}

static void assert_rejects(const char *text)
{
	cairn_json *v = (cairn_json *)1;
	int rc = parse_str(&v, text);
	if (rc != CAIRN_ECORRUPT)
		fail_msg("accepted: %s", text);
	assert_null(v);
	assert_non_null(strstr(cairn_error_last(), "at byte"));
}

static void test_json__strings_make_an_array_of_escaped_strings(void **state)
{
	char *v[] = {"/a", "b\"c", ""};
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_json_strings(&b, v, 3), 0);
	assert_int_equal(cairn_json_strings(&b, v, 0), 0);
	assert_int_equal(cairn_buf_append_u8(&b, 0), 0);
	assert_string_equal((char *)b.data, "[\"/a\",\"b\\\"c\",\"\"][]");
	cairn_buf_free(&b);
}

static void test_json__round_trips_plain_and_escaped_strings(void **state)
{
	(void)state;
	assert_string_round_trips("", 0);
	assert_string_round_trips("hello", 5);
	assert_string_round_trips("quote \" backslash \\ slash /", 27);
	assert_string_round_trips("line\nbreak\r\ttab\b\f", 17);
	assert_string_round_trips("\x01\x1f\x7f", 3);
	assert_string_round_trips("nul\0inside", 10);
}

static void test_json__round_trips_utf8_unchanged(void **state)
{
	(void)state;
	const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf";
	cairn_buf b = CAIRN_BUF_INIT;

	assert_int_equal(cairn_json_string(&b, s), 0);
	/* valid UTF-8 is written as is, not escaped */
	assert_int_equal(b.len, strlen(s) + 2);
	assert_memory_equal(b.data + 1, s, strlen(s));
	cairn_buf_free(&b);
	assert_string_round_trips(s, strlen(s));
}

static void test_json__round_trips_bytes_that_are_not_utf8(void **state)
{
	(void)state;
	/* lone continuation, truncated sequences, overlong forms, an encoded
	 * surrogate, beyond U+10FFFF, 0xff */
	static const char odd[] = "\x80 \xc3 \xe2\x82 \xc0\xaf \xe0\x80\xaf \xed\xa0\x80 "
	                          "\xf4\x90\x80\x80 \xff\xfe /dir/\xe9t\xe9\n";
	cairn_buf b = CAIRN_BUF_INIT;

	assert_string_round_trips(odd, sizeof(odd) - 1);
	assert_int_equal(cairn_json_string_n(&b, "\xff", 1), 0);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "\"\\udcff\"", 8);
	cairn_buf_free(&b);

	/* every single byte value on its own */
	for (int c = 0; c < 256; c++) {
		char one = (char)c;
		assert_string_round_trips(&one, 1);
	}
	/* a UTF-8 sequence cut short at the end of the string */
	assert_string_round_trips("ab\xe2\x82", 4);
}

static void test_json__decodes_escapes_and_surrogate_pairs(void **state)
{
	(void)state;
	cairn_json *v;

	assert_int_equal(parse_str(&v, "\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\\/\""), 0);
	assert_string_equal(v->string, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80/");
	cairn_json_free(v);

	assert_int_equal(parse_str(&v, "\"\\udc80\\udcFF\""), 0);
	assert_int_equal(v->string_len, 2);
	assert_memory_equal(v->string, "\x80\xff", 2);
	cairn_json_free(v);
}

static void test_json__parses_nested_documents_in_member_order(void **state)
{
	(void)state;
	const char *text = " {\"z\": [1, 2.5, -3e2, true, false, null, \"s\"],\n"
	                   "  \"a\": {\"inner\": {\"deep\": []}, \"empty\": {}},\n"
	                   "  \"m\": \"x\"} ";
	cairn_json *v;

	assert_int_equal(parse_str(&v, text), 0);
	assert_int_equal(v->type, CAIRN_JSON_OBJECT);
	assert_int_equal(v->n_children, 3);
	assert_string_equal(v->keys[0], "z");
	assert_string_equal(v->keys[1], "a");
	assert_string_equal(v->keys[2], "m");

	const cairn_json *z = cairn_json_get(v, "z");
	assert_ptr_equal(z, &v->children[0]);
	assert_int_equal(z->type, CAIRN_JSON_ARRAY);
	assert_int_equal(z->n_children, 7);
	assert_true(z->children[0].is_integer);
	assert_int_equal(z->children[0].integer, 1);
	assert_false(z->children[1].is_integer);
	assert_true(z->children[1].number == 2.5);
	assert_false(z->children[2].is_integer);
	assert_true(z->children[2].number == -300.0);
	assert_int_equal(z->children[3].type, CAIRN_JSON_BOOL);
	assert_true(z->children[3].boolean);
	assert_int_equal(z->children[4].type, CAIRN_JSON_BOOL);
	assert_false(z->children[4].boolean);
	assert_int_equal(z->children[5].type, CAIRN_JSON_NULL);
	assert_string_equal(z->children[6].string, "s");

	const cairn_json *a = cairn_json_get(v, "a");
	const cairn_json *deep = cairn_json_get(cairn_json_get(a, "inner"), "deep");
	assert_non_null(deep);
	assert_int_equal(deep->type, CAIRN_JSON_ARRAY);
	assert_int_equal(deep->n_children, 0);
	assert_int_equal(cairn_json_get(a, "empty")->type, CAIRN_JSON_OBJECT);
	assert_null(cairn_json_get(v, "missing"));
	assert_null(cairn_json_get(z, "z")); /* not an object */

	const char *s;
	assert_int_equal(cairn_json_get_string(v, "m", &s), 0);
	assert_string_equal(s, "x");
	assert_int_equal(cairn_json_get_string(v, "z", &s), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "\"z\""));
	cairn_json_free(v);
}

static void test_json__writer_output_parses_as_an_object(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_json *v;
	int first = 1;
	int64_t i;
	uint64_t u;

	assert_int_equal(cairn_buf_append_u8(&b, '{'), 0);
	assert_int_equal(cairn_json_key(&b, &first, "path\n"), 0);
	assert_int_equal(cairn_json_string(&b, "/tmp/\xff"), 0);
	assert_int_equal(cairn_json_key(&b, &first, "min"), 0);
	assert_int_equal(cairn_json_int(&b, INT64_MIN), 0);
	assert_int_equal(cairn_json_key(&b, &first, "max"), 0);
	assert_int_equal(cairn_json_uint(&b, INT64_MAX), 0);
	assert_int_equal(cairn_buf_append_u8(&b, '}'), 0);

	assert_int_equal(cairn_json_parse(&v, (const char *)b.data, b.len), 0);
	assert_int_equal(v->n_children, 3);
	assert_string_equal(v->keys[0], "path\n");
	assert_string_equal(v->children[0].string, "/tmp/\xff");
	assert_int_equal(cairn_json_get_int(v, "min", &i), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(cairn_json_get_uint(v, "max", &u), 0);
	assert_true(u == (uint64_t)INT64_MAX);
	assert_int_equal(cairn_json_get_uint(v, "min", &u), CAIRN_ECORRUPT);
	assert_int_equal(cairn_json_get_int(v, "path\n", &i), CAIRN_ECORRUPT);
	assert_int_equal(cairn_json_get_int(v, "nothing", &i), CAIRN_ECORRUPT);
	cairn_json_free(v);
	cairn_buf_free(&b);
}

static void test_json__keeps_integers_exact_up_to_the_int64_limits(void **state)
{
	(void)state;
	cairn_json *v;

	assert_int_equal(parse_str(&v, "9223372036854775807"), 0);
	assert_true(v->is_integer);
	assert_true(v->integer == INT64_MAX);
	cairn_json_free(v);

	assert_int_equal(parse_str(&v, "-9223372036854775808"), 0);
	assert_true(v->is_integer);
	assert_true(v->integer == INT64_MIN);
	cairn_json_free(v);

	/* one past either end: still a number, no longer an exact integer */
	assert_int_equal(parse_str(&v, "9223372036854775808"), 0);
	assert_false(v->is_integer);
	assert_true(v->number == 9223372036854775808.0);
	cairn_json_free(v);

	assert_int_equal(parse_str(&v, "-9223372036854775809"), 0);
	assert_false(v->is_integer);
	assert_true(v->number < -9.2e18);
	cairn_json_free(v);

	assert_int_equal(parse_str(&v, "18446744073709551616000"), 0);
	assert_false(v->is_integer);
	assert_true(v->number > 1.8e22);
	cairn_json_free(v);

	assert_int_equal(parse_str(&v, "-0"), 0);
	assert_true(v->is_integer);
	assert_int_equal(v->integer, 0);
	cairn_json_free(v);

	/* a fraction is not an integer even when whole */
	assert_int_equal(parse_str(&v, "1.0"), 0);
	assert_false(v->is_integer);
	assert_true(v->number == 1.0);
	cairn_json_free(v);
}

static void test_json__rejects_malformed_documents(void **state)
{
	(void)state;
	assert_rejects("");
	assert_rejects("   ");
	assert_rejects("{");
	assert_rejects("[1, 2");
	assert_rejects("[1 2]");
	assert_rejects("[1,]");
	assert_rejects("{\"a\" 1}");
	assert_rejects("{\"a\": 1,}");
	assert_rejects("{a: 1}");
	assert_rejects("{1: 1}");
	assert_rejects("tru");
	assert_rejects("nul");
	assert_rejects("True");
	assert_rejects("'single'");
	assert_rejects("\"unterminated");
	assert_rejects("\"ends in backslash\\");
}

static void test_json__rejects_trailing_garbage(void **state)
{
	(void)state;
	assert_rejects("{} x");
	assert_rejects("1 2");
	assert_rejects("\"a\"\"b\"");
	assert_rejects("[]]");
	assert_rejects("null,");
}

static void test_json__rejects_bad_numbers(void **state)
{
	(void)state;
	assert_rejects("01");
	assert_rejects("-");
	assert_rejects("+1");
	assert_rejects("1.");
	assert_rejects(".5");
	assert_rejects("1e");
	assert_rejects("1e+");
	assert_rejects("0x10");
	assert_rejects("NaN");
	assert_rejects("Infinity");
}

static void test_json__rejects_control_characters_in_strings(void **state)
{
	(void)state;
	assert_rejects("\"a\nb\"");
	assert_rejects("\"tab\there\"");
	assert_rejects("\"\x01\"");
	assert_rejects("{\"k\x1f\": 1}");
	cairn_json *v = NULL;
	assert_int_equal(cairn_json_parse(&v, "\"a\0b\"", 5), CAIRN_ECORRUPT);
	assert_null(v);
}

static void test_json__rejects_bad_escapes(void **state)
{
	(void)state;
	assert_rejects("\"\\x41\"");
	assert_rejects("\"\\a\"");
	assert_rejects("\"\\'\"");
	assert_rejects("\"\\u12\"");
	assert_rejects("\"\\u12g4\"");
	assert_rejects("\"\\ud83d\"");        /* high surrogate alone */
	assert_rejects("\"\\ud83dx\"");       /* high surrogate then a character */
	assert_rejects("\"\\ud83d\\u0041\""); /* high surrogate then not a low one */
	assert_rejects("\"\\udc00\"");        /* low surrogate below the byte range */
	assert_rejects("\"\\udfff\"");        /* low surrogate above it */
}

static void test_json__reports_the_byte_offset_of_an_error(void **state)
{
	(void)state;
	cairn_json *v;
	assert_int_equal(parse_str(&v, "[1, 2, x]"), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "at byte 7"));
}

static void test_json__limits_nesting_depth(void **state)
{
	(void)state;
	char text[600];
	cairn_json *v;
	size_t n;

	/* 64 levels are fine */
	n = 0;
	for (int i = 0; i < 64; i++)
		text[n++] = '[';
	for (int i = 0; i < 64; i++)
		text[n++] = ']';
	assert_int_equal(cairn_json_parse(&v, text, n), 0);
	cairn_json_free(v);

	/* 65 are not */
	n = 0;
	for (int i = 0; i < 65; i++)
		text[n++] = '[';
	for (int i = 0; i < 65; i++)
		text[n++] = ']';
	assert_int_equal(cairn_json_parse(&v, text, n), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "deep"));

	/* nor a deep unterminated prefix of objects */
	n = 0;
	for (int i = 0; i < 100; i++) {
		memcpy(text + n, "{\"a\":", 5);
		n += 5;
	}
	assert_int_equal(cairn_json_parse(&v, text, n), CAIRN_ECORRUPT);
}

static void test_json__parses_large_arrays(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_json *v;

	assert_int_equal(cairn_buf_append_u8(&b, '['), 0);
	for (int i = 0; i < 10000; i++) {
		if (i)
			assert_int_equal(cairn_buf_append_u8(&b, ','), 0);
		assert_int_equal(cairn_json_int(&b, i * 7 - 5000), 0);
	}
	assert_int_equal(cairn_buf_append_u8(&b, ']'), 0);
	assert_int_equal(cairn_json_parse(&v, (const char *)b.data, b.len), 0);
	assert_int_equal(v->n_children, 10000);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(v->children[i].integer, i * 7 - 5000);
	cairn_json_free(v);
	cairn_buf_free(&b);
}

static void test_json__free_accepts_null(void **state)
{
	(void)state;
	cairn_json_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json__strings_make_an_array_of_escaped_strings),
	    cmocka_unit_test(test_json__round_trips_plain_and_escaped_strings),
	    cmocka_unit_test(test_json__round_trips_utf8_unchanged),
	    cmocka_unit_test(test_json__round_trips_bytes_that_are_not_utf8),
	    cmocka_unit_test(test_json__decodes_escapes_and_surrogate_pairs),
	    cmocka_unit_test(test_json__parses_nested_documents_in_member_order),
	    cmocka_unit_test(test_json__writer_output_parses_as_an_object),
	    cmocka_unit_test(test_json__keeps_integers_exact_up_to_the_int64_limits),
	    cmocka_unit_test(test_json__rejects_malformed_documents),
	    cmocka_unit_test(test_json__rejects_trailing_garbage),
	    cmocka_unit_test(test_json__rejects_bad_numbers),
	    cmocka_unit_test(test_json__rejects_control_characters_in_strings),
	    cmocka_unit_test(test_json__rejects_bad_escapes),
	    cmocka_unit_test(test_json__reports_the_byte_offset_of_an_error),
	    cmocka_unit_test(test_json__limits_nesting_depth),
	    cmocka_unit_test(test_json__parses_large_arrays),
	    cmocka_unit_test(test_json__free_accepts_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

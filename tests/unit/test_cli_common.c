/* The command-line client's pure helpers (cli/common.c). */
#include <setjmp.h>
#include "util/units.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../cli/common.h"

#include "cairn/errors.h"
#include "cairn/manifest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t size_of(const char *s)
{
	uint64_t v = 12345;
	assert_int_equal(cairn_size_parse(s, &v), 0);
	return v;
}

static void test_size__plain_numbers_are_bytes(void **state)
{
	assert_int_equal(size_of("4096"), 4096);
	assert_int_equal(size_of("0"), 0);
	assert_int_equal(size_of("17B"), 17);
}

static void test_size__suffixes_are_powers_of_1024(void **state)
{
	assert_int_equal(size_of("512K"), 512 * 1024);
	assert_int_equal(size_of("512k"), 512 * 1024);
	assert_int_equal(size_of("1M"), 1024 * 1024);
	assert_int_equal(size_of("1MiB"), 1024 * 1024);
	assert_int_equal(size_of("1mib"), 1024 * 1024);
	assert_int_equal(size_of("1MB"), 1024 * 1024);
	assert_int_equal(size_of("8M"), 8u * 1024 * 1024);
	assert_int_equal(size_of("2G"), 2ull << 30);
	assert_int_equal(size_of("3T"), 3ull << 40);
}

static void test_size__rejects_malformed_input(void **state)
{
	static const char *const bad[] = {
	    "",
	    "M",
	    "-1",
	    "+1",
	    " 1",
	    "1 ",
	    "1.5M",
	    "1X",
	    "1Mi",
	    "1MiBs",
	    "1KK",
	    "0x10",
	    "18446744073709551616", /* 2^64 */
	    "16777216T",            /* 2^64 bytes */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 99;
		assert_int_equal(cairn_size_parse(bad[i], &v), CAIRN_EINVAL);
		assert_int_equal(v, 99);
	}
}

static void test_size__accepts_the_largest_value(void **state)
{
	assert_true(size_of("18446744073709551615") == UINT64_MAX);
	assert_true(size_of("16777215T") == 16777215ull << 40);
}

static void test_uint__accepts_digits_only(void **state)
{
	uint64_t v = 0;
	assert_int_equal(cairn_uint_parse("3", &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(cairn_uint_parse("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(cairn_uint_parse("18446744073709551616", &v), CAIRN_EINVAL);
	assert_int_equal(cairn_uint_parse("1K", &v), CAIRN_EINVAL);
	assert_int_equal(cairn_uint_parse("", &v), CAIRN_EINVAL);
	assert_int_equal(cairn_uint_parse("-1", &v), CAIRN_EINVAL);
}

static void assert_size_text(uint64_t bytes, const char *want)
{
	char out[32];
	cli_size_format(out, sizeof(out), bytes);
	assert_string_equal(out, want);
}

static void test_size_format__uses_binary_units_with_one_decimal(void **state)
{
	assert_size_text(0, "0 B");
	assert_size_text(1023, "1023 B");
	assert_size_text(1024, "1.0 KiB");
	assert_size_text(1536, "1.5 KiB");
	assert_size_text(12897485, "12.3 MiB");
	assert_size_text(4718592, "4.5 MiB");
	assert_size_text(5ull << 30, "5.0 GiB");
	assert_size_text(3ull << 40, "3.0 TiB");
	assert_size_text(UINT64_MAX, "16.0 EiB");
}

static void test_size_format__never_prints_1024_of_a_unit(void **state)
{
	assert_size_text(1024 * 1024 - 1, "1.0 MiB");
	assert_size_text(1024 * 1024 - 100, "1023.9 KiB");
}

static void assert_duration_text(uint64_t ns, const char *want)
{
	char out[32];
	cli_duration_format(out, sizeof(out), ns);
	assert_string_equal(out, want);
}

static void test_duration__seconds_then_minutes_then_hours(void **state)
{
	assert_duration_text(0, "0.00 s");
	assert_duration_text(1230000000ull, "1.23 s");
	assert_duration_text(59990000000ull, "59.99 s");
	assert_duration_text(59999000000ull, "1m 00s");
	assert_duration_text(123000000000ull, "2m 03s");
	assert_duration_text(3723000000000ull, "1h 02m 03s");
}

static void test_clock__minutes_and_seconds_then_hours(void **state)
{
	char out[32];
	cli_clock_format(out, sizeof(out), 5);
	assert_string_equal(out, "0:05");
	cli_clock_format(out, sizeof(out), 754);
	assert_string_equal(out, "12:34");
	cli_clock_format(out, sizeof(out), 3723);
	assert_string_equal(out, "1:02:03");
}

static void test_time_local__formats_in_the_local_zone(void **state)
{
	char out[32];
	setenv("TZ", "UTC", 1);
	tzset();
	cli_time_local(out, sizeof(out), 1700000000123456789ll);
	assert_string_equal(out, "2023-11-14 22:13:20");
	setenv("TZ", "UTC-2", 1);
	tzset();
	cli_time_local(out, sizeof(out), 1700000000123456789ll);
	assert_string_equal(out, "2023-11-15 00:13:20");
	setenv("TZ", "UTC", 1);
	tzset();
	/* Half a second before the epoch is still in 1969. */
	cli_time_local(out, sizeof(out), -500000000ll);
	assert_string_equal(out, "1969-12-31 23:59:59");
}

static void test_exit_code__maps_library_codes(void **state)
{
	assert_int_equal(cli_exit_code(CAIRN_OK), 0);
	assert_int_equal(cli_exit_code(CAIRN_EPARTIAL), 3);
	assert_int_equal(cli_exit_code(CAIRN_ENOREPO), 10);
	assert_int_equal(cli_exit_code(CAIRN_EAUTH), 12);
	assert_int_equal(cli_exit_code(CAIRN_ERROR), 1);
	assert_int_equal(cli_exit_code(CAIRN_ENOTFOUND), 1);
	assert_int_equal(cli_exit_code(CAIRN_ECORRUPT), 1);
	assert_int_equal(cli_exit_code(CAIRN_EIO), 1);
	assert_int_equal(cli_exit_code(CAIRN_EINVAL), 1);
	assert_int_equal(cli_exit_code(-1000), 1);
}

static void assert_mode_text(uint8_t type, uint32_t mode, const char *want)
{
	char out[11];
	cli_mode_format(out, type, mode);
	assert_string_equal(out, want);
}

static void test_mode__reads_like_ls(void **state)
{
	assert_mode_text(CAIRN_ENTRY_DIR, 0755, "drwxr-xr-x");
	assert_mode_text(CAIRN_ENTRY_FILE, 0644, "-rw-r--r--");
	assert_mode_text(CAIRN_ENTRY_SYMLINK, 0777, "lrwxrwxrwx");
	assert_mode_text(CAIRN_ENTRY_FIFO, 0600, "prw-------");
	assert_mode_text(CAIRN_ENTRY_CHARDEV, 0666, "crw-rw-rw-");
	assert_mode_text(CAIRN_ENTRY_BLOCKDEV, 0660, "brw-rw----");
	assert_mode_text(CAIRN_ENTRY_SOCKET, 0755, "srwxr-xr-x");
	assert_mode_text(CAIRN_ENTRY_HARDLINK, 0400, "-r--------");
	assert_mode_text(CAIRN_ENTRY_FILE, 0, "----------");
}

static void test_mode__shows_setuid_setgid_and_sticky(void **state)
{
	assert_mode_text(CAIRN_ENTRY_FILE, 04755, "-rwsr-xr-x");
	assert_mode_text(CAIRN_ENTRY_FILE, 04644, "-rwSr--r--");
	assert_mode_text(CAIRN_ENTRY_DIR, 02775, "drwxrwsr-x");
	assert_mode_text(CAIRN_ENTRY_DIR, 02765, "drwxrwSr-x");
	assert_mode_text(CAIRN_ENTRY_DIR, 01777, "drwxrwxrwt");
	assert_mode_text(CAIRN_ENTRY_DIR, 01776, "drwxrwxrwT");
}

static void test_entry_type__names_every_type(void **state)
{
	assert_string_equal(cli_entry_type_name(CAIRN_ENTRY_FILE), "file");
	assert_string_equal(cli_entry_type_name(CAIRN_ENTRY_DIR), "dir");
	assert_string_equal(cli_entry_type_name(CAIRN_ENTRY_SYMLINK), "symlink");
	assert_string_equal(cli_entry_type_name(CAIRN_ENTRY_HARDLINK), "hardlink");
	assert_string_equal(cli_entry_type_name(CAIRN_ENTRY_FIFO), "fifo");
	assert_string_equal(cli_entry_type_name(CAIRN_ENTRY_CHARDEV), "chardev");
	assert_string_equal(cli_entry_type_name(CAIRN_ENTRY_BLOCKDEV), "blockdev");
	assert_string_equal(cli_entry_type_name(CAIRN_ENTRY_SOCKET), "socket");
	assert_string_equal(cli_entry_type_name(0), "unknown");
	assert_string_equal(cli_entry_type_name(99), "unknown");
}

static void test_first_line__strips_the_line_end(void **state)
{
	assert_int_equal(cli_first_line("secret\n", 7), 6);
	assert_int_equal(cli_first_line("secret\r\n", 8), 6);
	assert_int_equal(cli_first_line("secret", 6), 6);
	assert_int_equal(cli_first_line("secret\nsecond\n", 14), 6);
	assert_int_equal(cli_first_line("\n", 1), 0);
	assert_int_equal(cli_first_line("", 0), 0);
	/* A lone '\r' at the end of a file without '\n' is part of the password. */
	assert_int_equal(cli_first_line("pw\r", 3), 3);
	/* Spaces are part of the password. */
	assert_int_equal(cli_first_line(" spaced pw \n", 12), 11);
}

static void test_lines__skip_blanks_and_comments_and_trim(void **state)
{
	char text[] = "*.tmp\n\n# a comment\n  /var/cache  \r\n\t\n   # indented comment\n"
	              "last";
	cli_strv sv = CLI_STRV_INIT;
	assert_int_equal(cli_lines_split(text, strlen(text), &sv), 0);
	assert_int_equal(sv.n, 3);
	assert_string_equal(sv.v[0], "*.tmp");
	assert_string_equal(sv.v[1], "/var/cache");
	assert_string_equal(sv.v[2], "last");
	cli_strv_free(&sv);
}

static void test_lines__empty_text_gives_no_lines(void **state)
{
	char text[] = "";
	cli_strv sv = CLI_STRV_INIT;
	assert_int_equal(cli_lines_split(text, 0, &sv), 0);
	assert_int_equal(sv.n, 0);
	cli_strv_free(&sv);
}

static void test_lines__rejects_a_nul_byte(void **state)
{
	char text[] = "a\nb\0c\n";
	cli_strv sv = CLI_STRV_INIT;
	assert_int_equal(cli_lines_split(text, sizeof(text) - 1, &sv), CAIRN_EINVAL);
	cli_strv_free(&sv);
}

static void free_tags(cli_strv *tags)
{
	for (size_t i = 0; i < tags->n; i++)
		free((char *)tags->v[i]);
	cli_strv_free(tags);
}

static void test_tags__comma_separated_are_several(void **state)
{
	cli_strv tags = CLI_STRV_INIT;
	assert_int_equal(cli_tags_add(&tags, "x,y"), 0);
	assert_int_equal(cli_tags_add(&tags, "z"), 0);
	assert_int_equal(cli_tags_add(&tags, "y,w"), 0);
	assert_int_equal(tags.n, 4);
	assert_string_equal(tags.v[0], "x");
	assert_string_equal(tags.v[1], "y");
	assert_string_equal(tags.v[2], "z");
	assert_string_equal(tags.v[3], "w");
	free_tags(&tags);
}

static void test_tags__an_empty_tag_is_refused(void **state)
{
	const char *bad[] = {"", ",", "x,,y", "x,", ",x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cli_strv tags = CLI_STRV_INIT;
		assert_int_equal(cli_tags_add(&tags, bad[i]), CAIRN_EINVAL);
		assert_non_null(strstr(cairn_error_last(), "cannot be empty"));
		free_tags(&tags);
	}
}

static void test_plural__one_is_singular(void **state)
{
	assert_string_equal(cli_plural(1, "file", "files"), "file");
	assert_string_equal(cli_plural(0, "file", "files"), "files");
	assert_string_equal(cli_plural(2, "dir", "dirs"), "dirs");
}

static void test_strv__grows_past_its_first_allocation(void **state)
{
	static const char *const words[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
	cli_strv sv = CLI_STRV_INIT;
	for (int round = 0; round < 10; round++)
		for (size_t i = 0; i < 10; i++)
			assert_int_equal(cli_strv_push(&sv, words[i]), 0);
	assert_int_equal(sv.n, 100);
	assert_ptr_equal(sv.v[57], words[7]);
	cli_strv_free(&sv);
	assert_null(sv.v);
	assert_int_equal(sv.n, 0);
}

/* cli_escape(s) as a new string. */
static char *escaped(const char *s)
{
	char *out = NULL;
	assert_int_equal(cli_escape_dup(s, &out), 0);
	return out;
}

#define assert_escapes(in, want)                                                                   \
	do {                                                                                       \
		char *got_ = escaped(in);                                                          \
		assert_string_equal(got_, want);                                                   \
		free(got_);                                                                        \
	} while (0)

static void test_escape__printable_names_are_kept(void **state)
{
	assert_escapes("", "");
	assert_escapes("/home/a b/file-1.txt", "/home/a b/file-1.txt");
	assert_escapes("'quoted' \"and\" $star*", "'quoted' \"and\" $star*");
	/* Printable UTF-8: é, €, a CJK character, an emoji. */
	assert_escapes("caf\xc3\xa9 \xe2\x82\xac \xe6\x97\xa5 \xf0\x9f\x98\x80",
	               "caf\xc3\xa9 \xe2\x82\xac \xe6\x97\xa5 \xf0\x9f\x98\x80");
	/* U+00A0, the first code point after the C1 controls. */
	assert_escapes("\xc2\xa0", "\xc2\xa0");
}

static void test_escape__control_bytes_as_ls_b(void **state)
{
	assert_escapes("a\nb", "a\\nb");
	assert_escapes("\a\b\t\n\v\f\r", "\\a\\b\\t\\n\\v\\f\\r");
	assert_escapes("back\\slash", "back\\\\slash");
	assert_escapes("\x01\x1f\x7f", "\\001\\037\\177");
	/* What would retitle and clear a terminal. */
	assert_escapes("\033]0;x\007\033[2J", "\\033]0;x\\a\\033[2J");
}

static void test_escape__c1_controls_and_bad_utf8_as_octal(void **state)
{
	/* U+009B is CSI to a terminal that takes C1 controls. */
	assert_escapes("c1\xc2\x9b", "c1\\302\\233");
	assert_escapes("\xc2\x80", "\\302\\200");
	/* Bytes that are not UTF-8: each one alone. */
	assert_escapes("bad\xff\xfe", "bad\\377\\376");
	assert_escapes("\x9b[2J", "\\233[2J");
	/* A cut sequence, an overlong form, a surrogate. */
	assert_escapes("\xe2\x82", "\\342\\202");
	assert_escapes("\xc0\x80", "\\300\\200");
	assert_escapes("\xed\xa0\x80", "\\355\\240\\200");
	/* A valid character right after a bad byte is kept. */
	assert_escapes("\xff\xc3\xa9", "\\377\xc3\xa9");
}

static void test_escape__appends(void **state)
{
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_buf_append_str(&b, "name: "), 0);
	assert_int_equal(cli_escape(&b, "x\ny"), 0);
	assert_int_equal(b.len, strlen("name: x\\ny"));
	assert_memory_equal(b.data, "name: x\\ny", b.len);
	cairn_buf_free(&b);
}

/* ---- patterns -------------------------------------------------------- */

static void test_pattern__dot_paths_are_made_absolute_others_kept(void **state)
{
	cli_strv v = CLI_STRV_INIT;
	char *old = getcwd(NULL, 0);
	assert_int_equal(chdir("/usr/bin"), 0);
	const char *in[] = {"*.gz", "docs/", "/a/b", "./docs/", "!../lib", ".", "!./x/*.c"};
	const char *want[] = {"*.gz",      "docs/",    "/a/b",           "/usr/bin/docs/",
	                      "!/usr/lib", "/usr/bin", "!/usr/bin/x/*.c"};
	for (size_t i = 0; i < sizeof(in) / sizeof(*in); i++)
		assert_int_equal(cli_pattern_add(&v, in[i]), 0);
	assert_int_equal(v.n, sizeof(want) / sizeof(*want));
	for (size_t i = 0; i < v.n; i++) {
		assert_string_equal(v.v[i], want[i]);
		free((char *)v.v[i]);
	}
	cli_strv_free(&v);
	assert_int_equal(chdir(old), 0);
	free(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pattern__dot_paths_are_made_absolute_others_kept),
	    cmocka_unit_test(test_size__plain_numbers_are_bytes),
	    cmocka_unit_test(test_size__suffixes_are_powers_of_1024),
	    cmocka_unit_test(test_size__rejects_malformed_input),
	    cmocka_unit_test(test_size__accepts_the_largest_value),
	    cmocka_unit_test(test_uint__accepts_digits_only),
	    cmocka_unit_test(test_size_format__uses_binary_units_with_one_decimal),
	    cmocka_unit_test(test_size_format__never_prints_1024_of_a_unit),
	    cmocka_unit_test(test_duration__seconds_then_minutes_then_hours),
	    cmocka_unit_test(test_clock__minutes_and_seconds_then_hours),
	    cmocka_unit_test(test_time_local__formats_in_the_local_zone),
	    cmocka_unit_test(test_exit_code__maps_library_codes),
	    cmocka_unit_test(test_mode__reads_like_ls),
	    cmocka_unit_test(test_mode__shows_setuid_setgid_and_sticky),
	    cmocka_unit_test(test_entry_type__names_every_type),
	    cmocka_unit_test(test_first_line__strips_the_line_end),
	    cmocka_unit_test(test_lines__skip_blanks_and_comments_and_trim),
	    cmocka_unit_test(test_lines__empty_text_gives_no_lines),
	    cmocka_unit_test(test_lines__rejects_a_nul_byte),
	    cmocka_unit_test(test_strv__grows_past_its_first_allocation),
	    cmocka_unit_test(test_tags__comma_separated_are_several),
	    cmocka_unit_test(test_tags__an_empty_tag_is_refused),
	    cmocka_unit_test(test_plural__one_is_singular),
	    cmocka_unit_test(test_escape__printable_names_are_kept),
	    cmocka_unit_test(test_escape__control_bytes_as_ls_b),
	    cmocka_unit_test(test_escape__c1_controls_and_bad_utf8_as_octal),
	    cmocka_unit_test(test_escape__appends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

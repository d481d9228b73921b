/* Tar headers: ustar fields, checksums, and the pax records for what
 * ustar cannot hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/errors.h"
#include "format/tar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t octal_field(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (p[i] - '0');
	return v;
}

static void assert_checksum(const uint8_t *h)
{
	unsigned sum = 0;
	for (size_t i = 0; i < CAIRN_TAR_BLOCK; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	assert_int_equal(octal_field(h + 148, 8), sum);
}

/* The value of pax record key in the extended header at h, or NULL;
 * checks that every record's length is right. */
static char *pax_value(const uint8_t *h, const char *key, size_t *len_out)
{
	size_t size = octal_field(h + 124, 12);
	const char *p = (const char *)h + CAIRN_TAR_BLOCK, *end = p + size;
	char *found = NULL;
	while (p < end) {
		char *sp;
		size_t len = strtoul(p, &sp, 10);
		assert_true(len > 0 && p + len <= end);
		assert_int_equal(p[len - 1], '\n');
		const char *k = sp + 1, *eq = memchr(k, '=', (size_t)(p + len - k));
		assert_non_null(eq);
		if ((size_t)(eq - k) == strlen(key) && !memcmp(k, key, strlen(key))) {
			*len_out = (size_t)(p + len - 1 - (eq + 1));
			found = calloc(1, *len_out + 1);
			memcpy(found, eq + 1, *len_out);
		}
		p += len;
	}
	return found;
}

static void test_tar__a_plain_file_is_one_ustar_block(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_tar_member m = {.type = CAIRN_TAR_FILE,
	                      .name = "home/u/notes.txt",
	                      .mode = 0640,
	                      .uid = 1000,
	                      .gid = 100,
	                      .size = 12345,
	                      .mtime_ns = 1700000000LL * 1000000000};
	assert_int_equal(cairn_tar_header(&b, &m), 0);
	assert_int_equal(b.len, CAIRN_TAR_BLOCK);
	assert_string_equal((char *)b.data, "home/u/notes.txt");
	assert_int_equal(octal_field(b.data + 100, 8), 0640);
	assert_int_equal(octal_field(b.data + 108, 8), 1000);
	assert_int_equal(octal_field(b.data + 116, 8), 100);
	assert_int_equal(octal_field(b.data + 124, 12), 12345);
	assert_int_equal(octal_field(b.data + 136, 12), 1700000000);
	assert_int_equal(b.data[156], '0');
	assert_memory_equal(b.data + 257,
	                    "ustar\0"
	                    "00",
	                    8);
	assert_checksum(b.data);
	cairn_buf_free(&b);
}

static void test_tar__a_directory_name_ends_with_a_slash(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_tar_member m = {.type = CAIRN_TAR_DIR, .name = "srv/data", .mode = 0755, .size = 99};
	assert_int_equal(cairn_tar_header(&b, &m), 0);
	assert_int_equal(b.len, CAIRN_TAR_BLOCK);
	assert_string_equal((char *)b.data, "srv/data/");
	assert_int_equal(b.data[156], '5');
	assert_int_equal(octal_field(b.data + 124, 12), 0); /* only files have data */
	cairn_buf_free(&b);
}

static void test_tar__a_long_name_splits_into_prefix_and_name(void **state)
{
	(void)state;
	char name[200];
	cairn_buf b = CAIRN_BUF_INIT;
	memset(name, 'p', 120);
	name[120] = '/';
	memset(name + 121, 'n', 50);
	name[171] = '\0';
	cairn_tar_member m = {.type = CAIRN_TAR_FILE, .name = name, .mode = 0644};
	assert_int_equal(cairn_tar_header(&b, &m), 0);
	assert_int_equal(b.len, CAIRN_TAR_BLOCK);
	assert_memory_equal(b.data + 345, name, 120);
	assert_int_equal(b.data[345 + 120], 0);
	assert_memory_equal(b.data, name + 121, 50);
	assert_checksum(b.data);
	cairn_buf_free(&b);
}

static void test_tar__a_name_ustar_cannot_hold_goes_in_a_pax_record(void **state)
{
	(void)state;
	char name[400];
	size_t len;
	cairn_buf b = CAIRN_BUF_INIT;
	memset(name, 'x', 300); /* one component of 300 bytes: no split */
	name[300] = '\0';
	cairn_tar_member m = {.type = CAIRN_TAR_FILE, .name = name, .mode = 0644, .size = 1};
	assert_int_equal(cairn_tar_header(&b, &m), 0);
	assert_int_equal(b.data[156], 'x');
	assert_checksum(b.data);
	size_t pax_size = octal_field(b.data + 124, 12);
	size_t pax_blocks = (pax_size + CAIRN_TAR_BLOCK - 1) / CAIRN_TAR_BLOCK;
	assert_int_equal(b.len, (2 + pax_blocks) * CAIRN_TAR_BLOCK);
	char *v = pax_value(b.data, "path", &len);
	assert_non_null(v);
	assert_int_equal(len, 300);
	assert_memory_equal(v, name, 300);
	free(v);
	const uint8_t *h = b.data + (1 + pax_blocks) * CAIRN_TAR_BLOCK;
	assert_int_equal(h[156], '0');
	assert_checksum(h);
	cairn_buf_free(&b);
}

static void test_tar__hostile_bytes_in_a_name_are_kept_exactly(void **state)
{
	(void)state;
	const char *name = "tmp/new\nline\xff\xfe";
	size_t len;
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_tar_member m = {.type = CAIRN_TAR_FILE, .name = name, .mode = 0600};
	assert_int_equal(cairn_tar_header(&b, &m), 0);
	char *v = pax_value(b.data, "path", &len);
	assert_non_null(v);
	assert_int_equal(len, strlen(name));
	assert_memory_equal(v, name, len);
	free(v);
	cairn_buf_free(&b);
}

static void test_tar__nanoseconds_and_big_values_go_in_pax_records(void **state)
{
	(void)state;
	size_t len;
	char target[150];
	cairn_buf b = CAIRN_BUF_INIT;
	memset(target, 't', 149);
	target[149] = '\0';
	cairn_tar_member m = {.type = CAIRN_TAR_SYMLINK,
	                      .name = "l",
	                      .linkname = target,
	                      .uid = 5000000,
	                      .gid = 7,
	                      .mtime_ns = 1700000000LL * 1000000000 + 5};
	assert_int_equal(cairn_tar_header(&b, &m), 0);
	char *v = pax_value(b.data, "mtime", &len);
	assert_string_equal(v, "1700000000.000000005");
	free(v);
	v = pax_value(b.data, "uid", &len);
	assert_string_equal(v, "5000000");
	free(v);
	assert_null(pax_value(b.data, "gid", &len));
	v = pax_value(b.data, "linkpath", &len);
	assert_string_equal(v, target);
	free(v);
	cairn_buf_free(&b);

	cairn_tar_member f = {
	    .type = CAIRN_TAR_FILE, .name = "big", .size = 10ull << 30, .mtime_ns = -1500000000LL};
	assert_int_equal(cairn_tar_header(&b, &f), 0);
	v = pax_value(b.data, "size", &len);
	assert_string_equal(v, "10737418240");
	free(v);
	v = pax_value(b.data, "mtime", &len);
	assert_string_equal(v, "-1.500000000");
	free(v);
	cairn_buf_free(&b);
}

static void test_tar__a_record_length_counts_its_own_digits(void **state)
{
	(void)state;
	/* "path=" and a value that make 98 bytes without the length: 2
	 * digits would give 100, which needs 3. */
	char name[200];
	size_t len;
	cairn_buf b = CAIRN_BUF_INIT;
	for (size_t n = 85; n < 100; n++) {
		memset(name, 0xc3, n); /* not ASCII: always a pax path */
		name[n] = '\0';
		cairn_tar_member m = {.type = CAIRN_TAR_FILE, .name = name};
		assert_int_equal(cairn_tar_header(&b, &m), 0);
		char *v = pax_value(b.data, "path", &len); /* checks every length */
		assert_int_equal(len, n);
		free(v);
		cairn_buf_clear(&b);
	}
	cairn_buf_free(&b);
}

static void test_tar__padding_and_end(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_tar_padding(0), 0);
	assert_int_equal(cairn_tar_padding(1), 511);
	assert_int_equal(cairn_tar_padding(512), 0);
	assert_int_equal(cairn_tar_padding(513), 511);
	assert_int_equal(cairn_tar_end(&b), 0);
	assert_int_equal(b.len, 1024);
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.data[i], 0);
	cairn_buf_free(&b);
}

static void test_tar__sockets_have_no_member_type(void **state)
{
	(void)state;
	assert_int_equal(cairn_tar_type_of(CAIRN_ENTRY_SOCKET), 0);
	assert_int_equal(cairn_tar_type_of(CAIRN_ENTRY_HARDLINK), CAIRN_TAR_HARDLINK);
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_tar_member m = {.type = CAIRN_TAR_FILE, .name = ""};
	assert_int_equal(cairn_tar_header(&b, &m), CAIRN_EINVAL);
	cairn_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tar__a_plain_file_is_one_ustar_block),
	    cmocka_unit_test(test_tar__a_directory_name_ends_with_a_slash),
	    cmocka_unit_test(test_tar__a_long_name_splits_into_prefix_and_name),
	    cmocka_unit_test(test_tar__a_name_ustar_cannot_hold_goes_in_a_pax_record),
	    cmocka_unit_test(test_tar__hostile_bytes_in_a_name_are_kept_exactly),
	    cmocka_unit_test(test_tar__nanoseconds_and_big_values_go_in_pax_records),
	    cmocka_unit_test(test_tar__a_record_length_counts_its_own_digits),
	    cmocka_unit_test(test_tar__padding_and_end),
	    cmocka_unit_test(test_tar__sockets_have_no_member_type),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

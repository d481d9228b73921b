#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/backup.h"
#include "fs/walk.h"

static void test_walk__tag_header_is_a_prefix(void **state)
{
	const char *sig = CAIRN_CACHEDIR_SIGNATURE;
	assert_int_equal(strlen(sig), 43);
	assert_true(cairn_tag_header_ok((const uint8_t *)sig, 43, sig));
	assert_true(cairn_tag_header_ok((const uint8_t *)CAIRN_CACHEDIR_TAG_TEXT,
	                                strlen(CAIRN_CACHEDIR_TAG_TEXT), sig));
	/* cairn's own tag is known by its first lines. */
	assert_true(cairn_tag_header_ok((const uint8_t *)CAIRN_CACHEDIR_TAG_TEXT,
	                                strlen(CAIRN_CACHEDIR_TAG_TEXT), CAIRN_CACHEDIR_TAG_CAIRN));
	/* one byte short, another case, a leading space */
	assert_false(cairn_tag_header_ok((const uint8_t *)sig, 42, sig));
	assert_false(cairn_tag_header_ok(
	    (const uint8_t *)"signature: 8a477f597d28d172789f06886806bc55", 43, sig));
	assert_false(cairn_tag_header_ok(
	    (const uint8_t *)" Signature: 8a477f597d28d172789f06886806bc55", 44, sig));
	/* no header: any content */
	assert_true(cairn_tag_header_ok((const uint8_t *)"", 0, NULL));
	assert_true(cairn_tag_header_ok((const uint8_t *)"x", 1, ""));
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_walk__dir_has_tag_reads_only_regular_files(void **state)
{
	char dir[] = "/tmp/cairn-walk-XXXXXX", path[4096];
	assert_non_null(mkdtemp(dir));
	put(dir, "CACHEDIR.TAG", CAIRN_CACHEDIR_TAG_TEXT);
	put(dir, "bad.tag", "Signature: 8a477f597d28d172789f06886806bc5");
	put(dir, ".nobackup", "");
	snprintf(path, sizeof(path), "%s/link", dir);
	assert_int_equal(symlink("CACHEDIR.TAG", path), 0);
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_true(cairn_dir_has_tag(dfd, "CACHEDIR.TAG", CAIRN_CACHEDIR_SIGNATURE));
	assert_false(cairn_dir_has_tag(dfd, "bad.tag", CAIRN_CACHEDIR_SIGNATURE));
	assert_true(cairn_dir_has_tag(dfd, "bad.tag", NULL));
	assert_true(cairn_dir_has_tag(dfd, ".nobackup", NULL));
	assert_false(cairn_dir_has_tag(dfd, ".nobackup", "x"));
	assert_false(cairn_dir_has_tag(dfd, "link", NULL)); /* a symlink is no tag */
	assert_false(cairn_dir_has_tag(dfd, "sub", NULL));  /* nor a directory */
	assert_false(cairn_dir_has_tag(dfd, "missing", NULL));

	char **names;
	size_t n;
	assert_int_equal(cairn_dir_names(dfd, &names, &n), 0);
	assert_int_equal(n, 5);
	assert_true(cairn_names_have(names, n, "CACHEDIR.TAG"));
	assert_true(cairn_names_have(names, n, "sub"));
	assert_true(cairn_names_have(names, n, ".nobackup"));
	assert_false(cairn_names_have(names, n, "su"));
	assert_false(cairn_names_have(names, 0, "sub"));
	cairn_names_free(names, n);
	close(dfd);
	const char *rm[] = {"CACHEDIR.TAG", "bad.tag", ".nobackup", "link"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, rm[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

struct got {
	const char *v[16];
	size_t n;
};

static int add(void *ud, const char *path)
{
	struct got *g = ud;
	if (g->n == 16)
		return -1;
	g->v[g->n++] = path;
	return 0;
}

/* Parses text (copied, with the byte after it the parser may use). */
static void parse(const char *text, size_t len, int raw, struct got *g, char *buf)
{
	memcpy(buf, text, len);
	buf[len] = 'X';
	g->n = 0;
	assert_int_equal(cairn_backup_files_from_parse(buf, len, raw, add, g), 0);
}

static void test_walk__files_from_lines(void **state)
{
	char buf[256];
	struct got g;
	const char *text = "# the list\n/home/u/a\n\n  # indented comment\r\n/home/u/b c\r\n"
	                   "#x\n/last";
	parse(text, strlen(text), 0, &g, buf);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.v[0], "/home/u/a");
	/* only a first '#' makes a comment; spaces are part of names */
	assert_string_equal(g.v[1], "  # indented comment");
	assert_string_equal(g.v[2], "/home/u/b c");
	assert_string_equal(g.v[3], "/last"); /* no final newline */

	parse("", 0, 0, &g, buf);
	assert_int_equal(g.n, 0);
	parse("\n\n#\n", 4, 0, &g, buf);
	assert_int_equal(g.n, 0);

	/* a NUL inside a line is refused */
	memcpy(buf, "/a\0b\n", 5);
	g.n = 0;
	assert_int_equal(cairn_backup_files_from_parse(buf, 5, 0, add, &g), CAIRN_EINVAL);
}

static void test_walk__files_from_raw(void **state)
{
	char buf[256];
	struct got g;
	/* NUL-separated: newlines, '#' and a trailing '\r' are plain bytes */
	const char text[] = "/a\nb\0#c\0\0/d\r\0/e";
	parse(text, sizeof(text) - 1, 1, &g, buf);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.v[0], "/a\nb");
	assert_string_equal(g.v[1], "#c");
	assert_string_equal(g.v[2], "/d\r");
	assert_string_equal(g.v[3], "/e");
}

static void test_walk__files_from_add_failure_stops(void **state)
{
	char buf[256];
	struct got g = {.n = 16};
	memcpy(buf, "/a\n/b\n", 6);
	assert_int_equal(cairn_backup_files_from_parse(buf, 6, 0, add, &g), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_walk__tag_header_is_a_prefix),
	    cmocka_unit_test(test_walk__dir_has_tag_reads_only_regular_files),
	    cmocka_unit_test(test_walk__files_from_lines),
	    cmocka_unit_test(test_walk__files_from_raw),
	    cmocka_unit_test(test_walk__files_from_add_failure_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The remote index backend: its checks of its arguments, which need no
 * server, and scans and drops through a real cairn-server (started by the
 * tests when CAIRN_SERVER_BIN names it, skipped otherwise). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "index_entry_assert.h"

#include "cairn/errors.h"
#include "cairn/index.h"
#include "cairn/seal.h"
#include "cairn/wire.h"
#include "util/hex.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_index_remote__open_checks_url_and_token_without_connecting(void **state)
{
	uint8_t id[32] = {1};
	cairn_index *ix = (cairn_index *)1;
	assert_int_equal(cairn_index_remote_open(&ix, "ftp://host:1", "t", id, NULL), CAIRN_EINVAL);
	assert_null(ix);
	assert_int_equal(cairn_index_remote_open(&ix, "http://", "t", id, NULL), CAIRN_EINVAL);
	assert_int_equal(cairn_index_remote_open(&ix, "http://h:1/a b", "t", id, NULL),
	                 CAIRN_EINVAL);
	assert_int_equal(cairn_index_remote_open(&ix, "http://h:1?x=1", "t", id, NULL),
	                 CAIRN_EINVAL);
	assert_int_equal(cairn_index_remote_open(&ix, NULL, "t", id, NULL), CAIRN_EINVAL);
	assert_int_equal(cairn_index_remote_open(&ix, "http://h:1", NULL, id, NULL), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "needs a token"));
	assert_int_equal(cairn_index_remote_open(&ix, "http://h:1", "", id, NULL), CAIRN_EINVAL);
	/* A token with a line break could forge a header. */
	assert_int_equal(cairn_index_remote_open(&ix, "http://h:1", "abc\r\nX: y", id, NULL),
	                 CAIRN_EINVAL);
	assert_null(ix);

	/* Nothing listens on port 1: opening must still succeed. */
	assert_int_equal(
	    cairn_index_remote_open(&ix, "http://127.0.0.1:1/prefix/", "tok", id, "/nonexistent"),
	    0);
	assert_non_null(ix);
	assert_string_equal(ix->ops->name, "remote");
	assert_non_null(ix->ops->snapshot_add);
	assert_non_null(ix->ops->snapshot_list);
	assert_non_null(ix->ops->snapshot_remove);
	cairn_index_free(ix);
	assert_int_equal(cairn_index_remote_open(&ix, "https://[::1]:8420", "tok", id, NULL), 0);
	cairn_index_free(ix);
}

/* ---- against a real cairn-server (CAIRN_SERVER_BIN, set by meson) ---- */

typedef struct server {
	char dir[64];
	char url[64];
	char admin[128], append[128];
	uint8_t repo[32];
	pid_t pid;
} server;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* A new token of the scope for the server's repository. */
static void make_token(const server *s, const char *bin, const char *scope, char *out, size_t size)
{
	char cmd[512], hex[65];
	cairn_hex_encode(hex, s->repo, 32);
	snprintf(cmd, sizeof(cmd), "%s token create --data %s/data --repo %s --scope %s", bin,
	         s->dir, hex, scope);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, (int)size, p));
	assert_int_equal(pclose(p), 0);
	out[strcspn(out, "\n")] = '\0';
}

/* The URL the server's log says it listens on, or "" (up to 30 s). */
static void wait_listening(server *s, const char *log)
{
	for (int i = 0; i < 600 && !s->url[0]; i++) {
		char line[512];
		FILE *f = fopen(log, "r");
		while (f && fgets(line, sizeof(line), f)) {
			const char *at = strstr(line, "listening on http://127.0.0.1:");
			if (at)
				sscanf(at + strlen("listening on "), "%63[^ ]", s->url);
		}
		if (f)
			fclose(f);
		if (!s->url[0])
			usleep(50000);
	}
}

static int server_setup(void **state)
{
	const char *bin = getenv("CAIRN_SERVER_BIN");
	if (!bin || !*bin) {
		*state = NULL;
		return 0;
	}
	server *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	snprintf(s->dir, sizeof(s->dir), "/tmp/cairn-test-remote-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	randombytes_buf(s->repo, 32);
	make_token(s, bin, "admin", s->admin, sizeof(s->admin));
	make_token(s, bin, "append", s->append, sizeof(s->append));
	char data[96], log[96];
	snprintf(data, sizeof(data), "%s/data", s->dir);
	snprintf(log, sizeof(log), "%s/server.log", s->dir);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int in = open("/dev/null", O_RDONLY);
		if (fd < 0 || in < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || dup2(in, 0) < 0)
			_exit(127);
		execl(bin, bin, "serve", "--data", data, "--listen", "127.0.0.1:0", "--rate-limit",
		      "0", (char *)NULL);
		_exit(127);
	}
	wait_listening(s, log);
	*state = s;
	if (!s->url[0])
		fail_msg("cairn-server did not start (see %s)", log);
	return 0;
}

static int server_teardown(void **state)
{
	server *s = *state;
	if (!s)
		return 0;
	int status = 0;
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, &status, 0);
	}
	nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(s);
	/* The server stops cleanly on SIGTERM. */
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static cairn_index *open_remote(const server *s, const char *token)
{
	cairn_index *ix = NULL;
	if (cairn_index_remote_open(&ix, s->url, token, s->repo, NULL))
		fail_msg("open: %s", cairn_error_last());
	return ix;
}

static int by_row(const void *a, const void *b)
{
	const cairn_index_entry *x = a, *y = b;
	int c = memcmp(x->fp, y->fp, 32);
	return c ? c : memcmp(x->pack, y->pack, 32);
}

/* Pack p of the test: p in bytes 0 to 2 (big-endian), and a 1 last. */
static void pack_id(uint8_t out[32], unsigned p)
{
	memset(out, 0, 32);
	out[0] = (uint8_t)(p >> 16);
	out[1] = (uint8_t)(p >> 8);
	out[2] = (uint8_t)p;
	out[31] = 1;
}

/* ROWS rows, more than one scan answer holds: chunk i in pack i % 100,
 * every tenth also in pack 100; sorted in (fp, pack) order. */
#define CHUNKS 70000
#define ROWS (CHUNKS + CHUNKS / 10)

static cairn_index_entry *make_rows(void)
{
	cairn_index_entry *rows = calloc(ROWS, sizeof(*rows));
	assert_non_null(rows);
	size_t n = 0;
	for (unsigned i = 0; i < CHUNKS; i++) {
		cairn_index_entry e = {.offset = i, .length = 100 + i % 50, .raw_length = 90};
		randombytes_buf(e.fp, 32);
		e.kind = CAIRN_BLOB_DATA;
		pack_id(e.pack, i % 100);
		rows[n++] = e;
		if (i % 10 == 0) {
			pack_id(e.pack, 100);
			e.offset = 7;
			rows[n++] = e;
		}
	}
	assert_int_equal(n, ROWS);
	return rows;
}

static void test_index_remote__scans_and_drops_go_through_the_server(void **state)
{
	server *s = *state;
	if (!s)
		skip();
	cairn_index *ix = open_remote(s, s->admin);
	assert_true(cairn_index_can_prune(ix));
	cairn_index_entry *rows = make_rows();
	assert_int_equal(cairn_index_insert(ix, rows, ROWS), 0);
	qsort(rows, ROWS, sizeof(*rows), by_row);
	uint64_t count = 0;
	assert_int_equal(cairn_index_count(ix, &count), 0);
	assert_int_equal(count, ROWS);

	/* All at once: the client asks again past the server's 65,536. */
	cairn_index_entry *out = calloc(ROWS + 10, sizeof(*out));
	assert_non_null(out);
	size_t got = 0;
	assert_int_equal(cairn_index_scan(ix, NULL, out, ROWS + 10, &got), 0);
	assert_int_equal(got, ROWS);
	for (size_t i = 0; i < ROWS; i++)
		assert_entry_equal(&out[i], &rows[i]);
	/* In pages of 1,000, and one row after a cursor in the middle. */
	size_t total = 0;
	do {
		assert_int_equal(
		    cairn_index_scan(ix, total ? &out[total - 1] : NULL, out + total, 1000, &got),
		    0);
		total += got;
	} while (got == 1000);
	assert_int_equal(total, ROWS);
	assert_int_equal(cairn_index_scan(ix, &rows[ROWS / 2], out, 1, &got), 0);
	assert_int_equal(got, 1);
	assert_entry_equal(&out[0], &rows[ROWS / 2 + 1]);

	/* Packs 0..49, and more that hold nothing: two requests. */
	size_t ndrop = CAIRN_WIRE_DROP_MAX + 100;
	uint8_t(*drop)[32] = calloc(ndrop, 32);
	assert_non_null(drop);
	for (size_t i = 0; i < ndrop; i++)
		pack_id(drop[i], i < 50 ? (unsigned)i : 1000 + (unsigned)i);
	pack_id(drop[0], 1000);
	pack_id(drop[ndrop - 1], 0); /* named in the second request only */
	assert_int_equal(cairn_index_drop_packs(ix, (const uint8_t(*)[32])drop, ndrop), 0);
	size_t kept = 0;
	for (size_t i = 0; i < ROWS; i++)
		if (rows[i].pack[2] >= 50)
			rows[kept++] = rows[i];
	assert_int_equal(kept, ROWS - CHUNKS / 2);
	assert_int_equal(cairn_index_scan(ix, NULL, out, ROWS, &got), 0);
	assert_int_equal(got, kept);
	for (size_t i = 0; i < kept; i++)
		assert_entry_equal(&out[i], &rows[i]);
	free(drop);
	free(out);
	free(rows);
	cairn_index_free(ix);
}

static void test_index_remote__an_append_token_may_neither_scan_nor_drop(void **state)
{
	server *s = *state;
	if (!s)
		skip();
	cairn_index *ix = open_remote(s, s->append);
	cairn_index_entry e = {.length = 10, .raw_length = 10, .kind = CAIRN_BLOB_DATA}, out[2];
	randombytes_buf(e.fp, 32);
	pack_id(e.pack, 3);
	assert_int_equal(cairn_index_insert(ix, &e, 1), 0);
	size_t got = 99;
	assert_int_equal(cairn_index_scan(ix, NULL, out, 2, &got), CAIRN_ERROR);
	assert_non_null(strstr(cairn_error_last(), "403"));
	assert_non_null(strstr(cairn_error_last(), "/scan"));
	assert_int_equal(got, 0);
	assert_int_equal(cairn_index_drop_packs(ix, (const uint8_t(*)[32])e.pack, 1), CAIRN_ERROR);
	assert_non_null(strstr(cairn_error_last(), "403"));
	cairn_index_free(ix);

	/* The row is still there. */
	ix = open_remote(s, s->admin);
	uint8_t found = 0;
	assert_int_equal(cairn_index_lookup(ix, (const uint8_t(*)[32])e.fp, 1, out, &found), 0);
	assert_int_equal(found, 1);
	assert_entry_equal(&out[0], &e);
	cairn_index_free(ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_index_remote__open_checks_url_and_token_without_connecting),
	};
	const struct CMUnitTest with_server[] = {
	    cmocka_unit_test(test_index_remote__scans_and_drops_go_through_the_server),
	    cmocka_unit_test(test_index_remote__an_append_token_may_neither_scan_nor_drop),
	};
	if (sodium_init() < 0)
		return 1;
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	return failed + cmocka_run_group_tests(with_server, server_setup, server_teardown);
}

#include "output.h"

#include "common.h"
#include "progress.h"

#include "cairn/errors.h"
#include "util/hex.h"
#include "util/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes s to f escaped (cli_escape): names from a snapshot or the file
 * system, and messages that hold them, never reach a terminal raw. */
static void put_escaped(FILE *f, const char *s)
{
	cairn_buf b = CAIRN_BUF_INIT;
	if (cli_escape(&b, s) == 0)
		fwrite(b.data, 1, b.len, f);
	else
		fputs("(not shown: out of memory)", f);
	cairn_buf_free(&b);
}

/* prefix and the message on a line of stderr, escaped. */
static void say(const char *prefix, const char *fmt, va_list ap)
{
	char msg[4096];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	cli_progress_lock();
	fputs(prefix, stderr);
	put_escaped(stderr, msg);
	fputc('\n', stderr);
	cli_progress_unlock();
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("cairn: ", fmt, ap);
	va_end(ap);
}

void cli_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("", fmt, ap);
	va_end(ap);
}

int cli_fail(int rc)
{
	const char *msg = cairn_error_last();
	cli_error("%s", msg[0] ? msg : cairn_error_name(rc));
	return cli_exit_code(rc);
}

int cli_fail_data(int rc)
{
	int status = cli_fail(rc);
	return rc == CAIRN_ECORRUPT ? CLI_EXIT_PARTIAL : status;
}

void cli_warning(const char *path, const char *message)
{
	cli_progress_lock();
	fputs("cairn: warning: ", stderr);
	if (path) {
		put_escaped(stderr, path);
		fputs(": ", stderr);
	}
	put_escaped(stderr, message);
	fputc('\n', stderr);
	cli_progress_unlock();
}

void cli_warn_cb(void *ud, const char *path, const char *message)
{
	cli_warning(path, message);
}

void cli_put_name(const char *s, char c)
{
	put_escaped(stdout, s);
	if (c)
		putchar(c);
}

void cli_put_path_line(const char *path, int is_dir)
{
	if (is_dir && path[1]) {
		cli_put_name(path, '/');
		putchar('\n');
	} else {
		cli_put_name(path, '\n');
	}
}

int cli_json_bool(cairn_buf *b, int v)
{
	return cairn_buf_append(b, v ? "true" : "false", v ? 4 : 5);
}

int cli_json_count(cairn_buf *b, int *first, const char *key, uint64_t v)
{
	int rc = cairn_json_key(b, first, key);
	return rc ? rc : cairn_json_uint(b, v);
}

int cli_json_hex(cairn_buf *b, const uint8_t *data, size_t len)
{
	char hex[2 * 64 + 1];
	if (len > 64)
		return cairn_error_set(CAIRN_EINVAL, "id too long");
	cairn_hex_encode(hex, data, len);
	return cairn_json_string(b, hex);
}

int cli_json_emit(cairn_buf *b)
{
	int rc = cairn_buf_append_u8(b, '\n');
	if (rc)
		return rc;
	fwrite(b->data, 1, b->len, stdout);
	cairn_buf_clear(b);
	return 0;
}

int cli_output_finish(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		int e = errno;
		cli_error("writing output: %s", strerror(e ? e : EIO));
		return CLI_EXIT_FATAL;
	}
	return 0;
}

int cli_read_small_file(const char *path, const char *what, size_t max, char **out, size_t *len_out)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int rc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "%s %s", what, path);
	for (;;) {
		if ((rc = cairn_buf_reserve(&b, 65536)))
			goto out;
		ssize_t n = read(fd, b.data + b.len, b.cap - b.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cairn_error_set_errno(CAIRN_EIO, errno, "%s %s", what, path);
			goto out;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		if (b.len > max) {
			rc = cairn_error_set(CAIRN_EINVAL, "%s %s is larger than %zu bytes", what,
			                     path, max);
			goto out;
		}
	}
	if ((rc = cairn_buf_append_u8(&b, '\0')))
		goto out;
	*len_out = b.len - 1;
	*out = (char *)cairn_buf_detach(&b, NULL);
out:
	cairn_buf_free(&b);
	close(fd);
	return rc;
}

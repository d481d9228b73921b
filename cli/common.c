#include "common.h"

#include "cairn/errors.h"
#include "cairn/manifest.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_exit_code(int rc)
{
	switch (rc) {
	case CAIRN_OK:
		return CLI_EXIT_OK;
	case CAIRN_EPARTIAL:
		return CLI_EXIT_PARTIAL;
	case CAIRN_ENOREPO:
		return CLI_EXIT_NOREPO;
	case CAIRN_EAUTH:
		return CLI_EXIT_AUTH;
	default:
		return CLI_EXIT_FATAL;
	}
}

const char *cli_plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

void cli_size_format(char *out, size_t size, uint64_t bytes)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	if (bytes < 1024) {
		snprintf(out, size, "%llu B", (unsigned long long)bytes);
		return;
	}
	double v = (double)bytes / 1024;
	size_t u = 0;
	/* Move up a unit before rounding could print "1024.0". */
	while (v >= 1023.95 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(out, size, "%.1f %s", v, units[u]);
}

void cli_duration_format(char *out, size_t size, uint64_t ns)
{
	if (ns < 59995000000ull) {
		snprintf(out, size, "%.2f s", (double)ns / 1e9);
		return;
	}
	uint64_t s = (ns + 500000000ull) / 1000000000ull;
	if (s < 3600)
		snprintf(out, size, "%llum %02llus", (unsigned long long)(s / 60),
		         (unsigned long long)(s % 60));
	else
		snprintf(out, size, "%lluh %02llum %02llus", (unsigned long long)(s / 3600),
		         (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
}

void cli_clock_format(char *out, size_t size, uint64_t seconds)
{
	if (seconds < 3600)
		snprintf(out, size, "%llu:%02llu", (unsigned long long)(seconds / 60),
		         (unsigned long long)(seconds % 60));
	else
		snprintf(out, size, "%llu:%02llu:%02llu", (unsigned long long)(seconds / 3600),
		         (unsigned long long)(seconds / 60 % 60),
		         (unsigned long long)(seconds % 60));
}

void cli_time_local(char *out, size_t size, int64_t time_ns)
{
	/* Floor division, so that times before 1970 still round down. */
	int64_t secs = time_ns / 1000000000;
	if (time_ns % 1000000000 < 0)
		secs--;
	time_t t = (time_t)secs;
	struct tm tm;
	if (size == 0)
		return;
	if (!localtime_r(&t, &tm) || strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, size, "%lld", (long long)secs);
}

void cli_mode_format(char out[11], uint8_t type, uint32_t mode)
{
	static const char rwx[] = "rwxrwxrwx";
	char t;
	switch (type) {
	case CAIRN_ENTRY_DIR:
		t = 'd';
		break;
	case CAIRN_ENTRY_SYMLINK:
		t = 'l';
		break;
	case CAIRN_ENTRY_FIFO:
		t = 'p';
		break;
	case CAIRN_ENTRY_CHARDEV:
		t = 'c';
		break;
	case CAIRN_ENTRY_BLOCKDEV:
		t = 'b';
		break;
	case CAIRN_ENTRY_SOCKET:
		t = 's';
		break;
	case CAIRN_ENTRY_FILE:
	case CAIRN_ENTRY_HARDLINK:
		t = '-';
		break;
	default:
		t = '?';
		break;
	}
	out[0] = t;
	for (int i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
	if (mode & 04000)
		out[3] = (mode & 0100) ? 's' : 'S';
	if (mode & 02000)
		out[6] = (mode & 0010) ? 's' : 'S';
	if (mode & 01000)
		out[9] = (mode & 0001) ? 't' : 'T';
	out[10] = '\0';
}

const char *cli_entry_type_name(uint8_t type)
{
	switch (type) {
	case CAIRN_ENTRY_FILE:
		return "file";
	case CAIRN_ENTRY_DIR:
		return "dir";
	case CAIRN_ENTRY_SYMLINK:
		return "symlink";
	case CAIRN_ENTRY_HARDLINK:
		return "hardlink";
	case CAIRN_ENTRY_FIFO:
		return "fifo";
	case CAIRN_ENTRY_CHARDEV:
		return "chardev";
	case CAIRN_ENTRY_BLOCKDEV:
		return "blockdev";
	case CAIRN_ENTRY_SOCKET:
		return "socket";
	default:
		return "unknown";
	}
}

int cli_strv_push(cli_strv *sv, const char *s)
{
	int rc = cairn_array_grow((void **)&sv->v, &sv->cap, sv->n + 1, sizeof(*sv->v));
	if (rc)
		return rc;
	sv->v[sv->n++] = s;
	return 0;
}

void cli_strv_free(cli_strv *sv)
{
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

int cli_tags_add(cli_strv *tags, const char *arg)
{
	const char *p = arg;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int seen = 0;
		if (len == 0)
			return cairn_error_set(CAIRN_EINVAL, "--tag %s: a tag cannot be empty",
			                       arg);
		for (size_t i = 0; i < tags->n && !seen; i++)
			seen = strlen(tags->v[i]) == len && memcmp(tags->v[i], p, len) == 0;
		if (!seen) {
			char *tag = strndup(p, len);
			int rc = tag ? cli_strv_push(tags, tag) : CAIRN_ENOMEM;
			if (rc) {
				free(tag);
				return cairn_error_set(CAIRN_ENOMEM, "out of memory");
			}
		}
		if (!end)
			return 0;
		p = end + 1;
	}
}

size_t cli_first_line(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	size_t n = nl ? (size_t)(nl - buf) : len;
	if (nl && n > 0 && buf[n - 1] == '\r')
		n--;
	return n;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int cli_lines_split(char *text, size_t len, cli_strv *out)
{
	if (memchr(text, '\0', len))
		return cairn_error_set(CAIRN_EINVAL, "a NUL byte in a line");
	size_t pos = 0;
	while (pos < len) {
		char *line = text + pos;
		char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		/* A last line without '\n' has no room for a terminator in the
		 * caller's len bytes, so the caller passes a NUL after them. */
		line[n] = '\0';
		while (n > 0 && is_blank(line[n - 1]))
			line[--n] = '\0';
		while (*line && is_blank(*line))
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		int rc = cli_strv_push(out, line);
		if (rc)
			return rc;
	}
	return 0;
}

int cli_pattern_add(cli_strv *out, const char *arg)
{
	int neg = arg[0] == '!', rc;
	const char *body = arg + neg;
	size_t len = strlen(body);
	char *abs = NULL, *p;
	if (strcmp(body, ".") && strcmp(body, "..") && strncmp(body, "./", 2) &&
	    strncmp(body, "../", 3)) {
		p = strdup(arg);
	} else {
		if ((rc = cairn_path_normalize(&abs, NULL, body)))
			return rc;
		int dir = body[len - 1] == '/' && strcmp(abs, "/") != 0;
		if ((p = malloc(strlen(abs) + 3)))
			sprintf(p, "%s%s%s", neg ? "!" : "", abs, dir ? "/" : "");
		free(abs);
	}
	if (!p)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = cli_strv_push(out, p)))
		free(p);
	return rc;
}

/* The letter of the C escape of byte c, or 0 if it has none. */
static char c_escape_letter(uint8_t c)
{
	static const char letters[] = "\a\b\t\n\v\f\r";
	static const char names[] = "abtnvfr";
	const char *at = c ? memchr(letters, c, sizeof(letters) - 1) : NULL;
	return at ? names[at - letters] : 0;
}

static int append_octal(cairn_buf *out, uint8_t c)
{
	char esc[4] = {'\\', (char)('0' + (c >> 6)), (char)('0' + ((c >> 3) & 7)),
	               (char)('0' + (c & 7))};
	return cairn_buf_append(out, esc, sizeof(esc));
}

int cli_escape(cairn_buf *out, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s);
	int rc = 0;
	for (size_t i = 0; i < n && !rc;) {
		uint8_t c = p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			size_t run = i;
			while (run < n && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '\\')
				run++;
			rc = cairn_buf_append(out, p + i, run - i);
			i = run;
		} else if (c == '\\' || c_escape_letter(c)) {
			char esc[2] = {'\\', c == '\\' ? '\\' : c_escape_letter(c)};
			rc = cairn_buf_append(out, esc, 2);
			i++;
		} else if (c < 0x80) {
			rc = append_octal(out, c);
			i++;
		} else {
			/* U+0080 to U+009F are C1 controls: 0xc2 0x80 to 0xc2 0x9f. */
			size_t seq = cairn_utf8_sequence(p + i, n - i);
			if (seq && !(c == 0xc2 && p[i + 1] <= 0x9f)) {
				rc = cairn_buf_append(out, p + i, seq);
				i += seq;
			} else {
				for (size_t k = 0; k < (seq ? seq : 1) && !rc; k++)
					rc = append_octal(out, p[i + k]);
				i += seq ? seq : 1;
			}
		}
	}
	return rc;
}

int cli_escape_dup(const char *s, char **out)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int rc = cli_escape(&b, s);
	if (!rc)
		rc = cairn_buf_append_u8(&b, '\0');
	if (rc) {
		cairn_buf_free(&b);
		return rc;
	}
	*out = (char *)cairn_buf_detach(&b, NULL);
	return 0;
}

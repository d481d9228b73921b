/* Pure helpers of the command-line client: parsing and formatting of
 * sizes, durations, times, modes and paths, and the mapping of library
 * codes to exit statuses. No I/O, so they are tested on their own. */
#ifndef CAIRN_CLI_COMMON_H
#define CAIRN_CLI_COMMON_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Exit statuses (README.md, "Exit status"). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FATAL = 1,
	CLI_EXIT_PARTIAL = 3,
	CLI_EXIT_NOREPO = 10,
	CLI_EXIT_AUTH = 12,
};

/* The exit status for a library return code. */
int cli_exit_code(int rc);

/* one if n is 1, else many: "1 file", "2 files", "0 files". */
const char *cli_plural(uint64_t n, const char *one, const char *many);

/* "512 B", "1.5 KiB", "12.3 MiB", "4.0 GiB", ... */
void cli_size_format(char *out, size_t size, uint64_t bytes);
/* "0.25 s", "1.23 s", "2m 03s", "1h 02m 03s". */
void cli_duration_format(char *out, size_t size, uint64_t ns);
/* A clock reading of whole seconds: "0:05", "12:34", "1:02:03". */
void cli_clock_format(char *out, size_t size, uint64_t seconds);
/* Local time "YYYY-MM-DD HH:MM:SS" of nanoseconds since the epoch. */
void cli_time_local(char *out, size_t size, int64_t time_ns);

/* ls -l style: type letter and rwx bits with setuid, setgid and sticky,
 * e.g. "drwxr-xr-x". */
void cli_mode_format(char out[11], uint8_t type, uint32_t mode);
/* "file", "dir", "symlink", "hardlink", "fifo", "chardev", "blockdev",
 * "socket", or "unknown". */
const char *cli_entry_type_name(uint8_t type);

/* A growable array of string pointers that it does not own. */
typedef struct cli_strv {
	const char **v;
	size_t n;
	size_t cap;
} cli_strv;

#define CLI_STRV_INIT                                                                              \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

int cli_strv_push(cli_strv *sv, const char *s); /* 0 or CAIRN_ENOMEM */
void cli_strv_free(cli_strv *sv);

/* Adds the tags of a --tag argument to tags, as restic does: "x,y" is
 * two tags, x and y. Each is a copy (the caller frees every string of
 * tags); a tag already there is not added again. CAIRN_EINVAL for an
 * empty tag ("", "x,,y"), CAIRN_ENOMEM. */
int cli_tags_add(cli_strv *tags, const char *arg);

/* Adds a copy of pattern arg (cairn/pattern.h) to out (the caller frees
 * every string of out). One that starts with "./" or "../" (after a '!')
 * is a path from the working directory, made absolute ("./docs/" in
 * /home/u is "/home/u/docs/"); any other is kept as it is. 0, or
 * CAIRN_ENOMEM, or the error of a working directory that is unknown. */
int cli_pattern_add(cli_strv *out, const char *arg);

/* Length of the first line of buf, without its "\n" or "\r\n". */
size_t cli_first_line(const char *buf, size_t len);
/* Splits text (len bytes followed by a NUL) in place into lines, ending
 * each with a NUL, and pushes every line that is not blank and does not
 * start with '#' onto out, with surrounding spaces, tabs and a trailing
 * '\r' removed. A NUL byte among the len bytes is CAIRN_EINVAL. */
int cli_lines_split(char *text, size_t len, cli_strv *out);

/* Appends s to out with what a terminal would act on escaped as `ls -b`
 * escapes it: \a \b \t \n \v \f \r, a backslash as \\, and every other
 * control byte (C0, DEL, the bytes of a C1 control such as U+009B CSI) or
 * byte that is not part of well-formed UTF-8 as \ and three octal digits
 * (ESC is \033). Printable UTF-8 is kept as it is. 0 or CAIRN_ENOMEM. */
int cli_escape(cairn_buf *out, const char *s);
/* cli_escape into a new string (*out, the caller's to free). */
int cli_escape_dup(const char *s, char **out);

#endif

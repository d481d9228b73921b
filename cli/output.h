/* What the client writes: messages on stderr ("cairn: ..."), normal
 * output on stdout unless --quiet, and JSON documents on stdout. */
#ifndef CAIRN_CLI_OUTPUT_H
#define CAIRN_CLI_OUTPUT_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Names from a snapshot or the file system, and messages that may hold
 * them, are written escaped (cli_escape in common.h): a name cannot move
 * the cursor or retitle the terminal. JSON output is exact instead. */

/* "cairn: <message>" on stderr, escaped. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "<message>" on stderr, escaped: what a command says it does. */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports a failed library call as "cairn: <its message>" and returns the
 * exit status for rc. */
int cli_fail(int rc);
/* The same for a call that read a snapshot's data: damaged or lost data
 * (CAIRN_ECORRUPT) is exit status 3. */
int cli_fail_data(int rc);
/* "cairn: warning: <path>: <message>" on stderr, both escaped. Safe
 * to call from any thread while a progress line is shown. */
void cli_warning(const char *path, const char *message);
/* Matches cairn_warn_cb. */
void cli_warn_cb(void *ud, const char *path, const char *message);

/* Writes a name escaped to stdout, then c (if not '\0'). */
void cli_put_name(const char *s, char c);
/* Writes a path escaped to stdout and ends the line; a directory's (but
 * "/") ends with '/', as restic shows them. */
void cli_put_path_line(const char *path, int is_dir);

/* JSON helpers appending to b (0 or CAIRN_ENOMEM). */
int cli_json_bool(cairn_buf *b, int v);
/* Appends "key":v as the next member of an object (cairn_json_key). */
int cli_json_count(cairn_buf *b, int *first, const char *key, uint64_t v);
int cli_json_hex(cairn_buf *b, const uint8_t *data, size_t len);
/* Writes b and a newline to stdout, then empties b. */
int cli_json_emit(cairn_buf *b);

/* Reads path (what: the kind of file, for errors), at most max bytes,
 * whole into a NUL-terminated buffer (*out, the caller's): 0 or a library
 * code with a message. */
int cli_read_small_file(const char *path, const char *what, size_t max, char **out,
                        size_t *len_out);

/* 0, or 1 after reporting that stdout could not be written. */
int cli_output_finish(void);

#endif

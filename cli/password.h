/* Where the repository password comes from: --password-file, then
 * CAIRN_PASSWORD_FILE, then CAIRN_PASSWORD, then a prompt on the terminal
 * without echo. Never waits for input that cannot come. */
#ifndef CAIRN_CLI_PASSWORD_H
#define CAIRN_CLI_PASSWORD_H

#include <stddef.h>

#define CLI_PASSWORD_MAX 4096

typedef struct cli_password {
	char *data; /* NUL-terminated */
	size_t len;
} cli_password;

/* Fills out from the first source there is; password_file is the
 * --password-file value or NULL. For a new password (init) the prompt asks
 * twice, and an empty password is refused. 0, or an error code with a
 * message (CAIRN_EINVAL when no source is there and no terminal to ask). */
int cli_password_get(cli_password *out, const char *password_file, int is_new);
/* 1 if a password is given without asking: --password-file (its value,
 * or NULL), $CAIRN_PASSWORD_FILE or $CAIRN_PASSWORD. */
int cli_password_given(const char *password_file);
/* Overwrites and frees the password. */
void cli_password_wipe(cli_password *pw);

#endif

#include "password.h"

#include "common.h"

#include "cairn/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int set_password(cli_password *out, const char *data, size_t len, int is_new)
{
	if (is_new && len == 0)
		return cairn_error_set(CAIRN_EINVAL, "the password is empty");
	out->data = malloc(len + 1);
	if (!out->data)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	memcpy(out->data, data, len);
	out->data[len] = '\0';
	out->len = len;
	return 0;
}

static int read_password_file(cli_password *out, const char *path, int is_new)
{
	char buf[CLI_PASSWORD_MAX + 2];
	size_t len = 0, line;
	int rc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "password file %s", path);
	/* Only the first line counts, so stop reading once it is complete. */
	while (len < sizeof(buf) && !memchr(buf, '\n', len)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cairn_error_set_errno(CAIRN_EIO, errno, "password file %s", path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	line = cli_first_line(buf, len);
	if (line > CLI_PASSWORD_MAX) {
		rc = cairn_error_set(CAIRN_EINVAL,
		                     "password file %s: the password is longer than %d bytes", path,
		                     CLI_PASSWORD_MAX);
		goto out;
	}
	rc = set_password(out, buf, line, is_new);
	if (rc)
		cairn_error_prefix(rc, "password file %s", path);
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* The terminal's settings while echo is off, restored by a signal that
 * ends the program in the middle of the prompt. */
static int tty_fd = -1;
static struct termios tty_saved;
static const int tty_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

static void restore_and_reraise(int sig)
{
	tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one line from the terminal with echo off. */
static int prompt(cli_password *out, const char *text, int is_new)
{
	struct sigaction sa, old[sizeof(tty_signals) / sizeof(tty_signals[0])];
	struct termios noecho;
	char buf[CLI_PASSWORD_MAX + 1];
	size_t len = 0;
	int rc = 0, got_eof = 0;

	if (tcgetattr(tty_fd, &tty_saved) != 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "reading the password");
	noecho = tty_saved;
	noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	noecho.c_lflag |= ICANON;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_and_reraise;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(tty_signals) / sizeof(tty_signals[0]); i++)
		sigaction(tty_signals[i], &sa, &old[i]);

	if (write(tty_fd, text, strlen(text)) < 0 || tcsetattr(tty_fd, TCSAFLUSH, &noecho) != 0) {
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "reading the password");
		goto out;
	}
	for (;;) {
		char c;
		ssize_t n = read(tty_fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cairn_error_set_errno(CAIRN_EIO, errno, "reading the password");
			break;
		}
		if (n == 0) {
			got_eof = 1;
			break;
		}
		if (c == '\n')
			break;
		if (len == CLI_PASSWORD_MAX) {
			rc = cairn_error_set(CAIRN_EINVAL, "the password is longer than %d bytes",
			                     CLI_PASSWORD_MAX);
			break;
		}
		buf[len++] = c;
	}
	tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	if (write(tty_fd, "\n", 1) < 0) {
		/* The newline only tidies the screen. */
	}
	if (!rc && got_eof && len == 0)
		rc = cairn_error_set(CAIRN_EINVAL, "no password was entered");
	if (!rc && len > 0 && buf[len - 1] == '\r')
		len--;
	if (!rc)
		rc = set_password(out, buf, len, is_new);
out:
	for (size_t i = 0; i < sizeof(tty_signals) / sizeof(tty_signals[0]); i++)
		sigaction(tty_signals[i], &old[i], NULL);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

static int ask_terminal(cli_password *out, int is_new)
{
	cli_password again = {NULL, 0};
	int rc;

	/* A terminal on stdin means someone is there to answer; /dev/tty
	 * alone is not enough (a script run from a shell has one too). */
	if (!isatty(STDIN_FILENO) || (tty_fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return cairn_error_set(CAIRN_EINVAL, "a password is needed: use --password-file, "
		                                     "CAIRN_PASSWORD_FILE or CAIRN_PASSWORD");
	rc = prompt(
	    out, is_new ? "enter password for new repository: " : "enter password for repository: ",
	    is_new);
	if (rc || !is_new)
		goto out;
	rc = prompt(&again, "enter password again: ", is_new);
	if (!rc && (again.len != out->len || sodium_memcmp(again.data, out->data, out->len) != 0))
		rc = cairn_error_set(CAIRN_EINVAL, "the passwords do not match");
	cli_password_wipe(&again);
out:
	if (rc)
		cli_password_wipe(out);
	close(tty_fd);
	tty_fd = -1;
	return rc;
}

int cli_password_get(cli_password *out, const char *password_file, int is_new)
{
	const char *env;
	out->data = NULL;
	out->len = 0;
	if (password_file)
		return read_password_file(out, password_file, is_new);
	env = getenv("CAIRN_PASSWORD_FILE");
	if (env && env[0])
		return read_password_file(out, env, is_new);
	env = getenv("CAIRN_PASSWORD");
	if (env && env[0])
		return set_password(out, env, strlen(env), is_new);
	return ask_terminal(out, is_new);
}

int cli_password_given(const char *password_file)
{
	const char *file = getenv("CAIRN_PASSWORD_FILE"), *pw = getenv("CAIRN_PASSWORD");
	return password_file || (file && file[0]) || (pw && pw[0]);
}

void cli_password_wipe(cli_password *pw)
{
	if (pw->data) {
		sodium_memzero(pw->data, pw->len);
		free(pw->data);
	}
	pw->data = NULL;
	pw->len = 0;
}

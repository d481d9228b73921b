#include "cairn/errors.h"

#include <stdio.h>
#include <string.h>

#define MSG_MAX ((int)sizeof(((cairn_error_saved *)0)->message))

static _Thread_local char message[MSG_MAX];

int cairn_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return code;
}

int cairn_error_set_errno(int code, int errno_value, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(message))
		snprintf(message + n, sizeof(message) - (size_t)n, ": %s", strerror(errno_value));
	return code;
}

int cairn_error_prefix(int code, const char *fmt, ...)
{
	char old[MSG_MAX];
	va_list ap;
	memcpy(old, message, sizeof(old));
	va_start(ap, fmt);
	int n = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(message) - 3 && old[0]) {
		size_t room = sizeof(message) - (size_t)n - 3;
		size_t len = strnlen(old, room);
		memcpy(message + n, ": ", 2);
		memcpy(message + n + 2, old, len);
		message[(size_t)n + 2 + len] = '\0';
	}
	return code;
}

const char *cairn_error_last(void)
{
	return message;
}

void cairn_error_save(cairn_error_saved *s, int code)
{
	s->code = code ? code : CAIRN_ERROR;
	memcpy(s->message, message, sizeof(s->message));
}

int cairn_error_restore(const cairn_error_saved *s)
{
	memcpy(message, s->message, sizeof(message));
	message[sizeof(message) - 1] = '\0';
	return s->code;
}

void cairn_error_clear(void)
{
	message[0] = '\0';
}

const char *cairn_error_name(int code)
{
	switch (code) {
	case CAIRN_OK:
		return "ok";
	case CAIRN_ENOTFOUND:
		return "not found";
	case CAIRN_EEXISTS:
		return "already exists";
	case CAIRN_ECORRUPT:
		return "corrupt";
	case CAIRN_EAUTH:
		return "authentication failed";
	case CAIRN_EIO:
		return "I/O error";
	case CAIRN_ENOREPO:
		return "no repository";
	case CAIRN_EINVAL:
		return "invalid argument";
	case CAIRN_ENOMEM:
		return "out of memory";
	case CAIRN_EPARTIAL:
		return "partial";
	default:
		return "error";
	}
}

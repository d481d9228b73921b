/* cairn — error codes and the per-thread error message.
 *
 * Every fallible function returns int: 0 on success, or a negative
 * CAIRN_E* code. The function that detects a failure records a message
 * naming the object or path with cairn_error_set(); callers pass the code
 * up unchanged and may prefix context with cairn_error_prefix(). */
#ifndef CAIRN_ERRORS_H
#define CAIRN_ERRORS_H

#include <stdarg.h>

enum {
	CAIRN_OK = 0,
	CAIRN_ERROR = -1,     /* anything not listed below */
	CAIRN_ENOTFOUND = -2, /* object, snapshot, path or key not there */
	CAIRN_EEXISTS = -3,   /* object or repository already there */
	CAIRN_ECORRUPT = -4,  /* bytes failed authentication or parsing */
	CAIRN_EAUTH = -5,     /* wrong password, or credentials refused */
	CAIRN_EIO = -6,       /* the operating system or a server failed */
	CAIRN_ENOREPO = -7,   /* no repository at the location */
	CAIRN_EINVAL = -8,    /* bad argument or parameter */
	CAIRN_ENOMEM = -9,    /* out of memory */
	CAIRN_EPARTIAL = -10, /* finished, but some items failed (see messages) */
};

/* Records a printf-style message for this thread and returns code. */
int cairn_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* As cairn_error_set, appending ": strerror(errno_value)". */
int cairn_error_set_errno(int code, int errno_value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes the current message with "prefix: " and returns code. */
int cairn_error_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last message recorded on this thread ("" if none). */
const char *cairn_error_last(void);
void cairn_error_clear(void);
/* A short name for a code, e.g. "not found". */
const char *cairn_error_name(int code);

/* A failure kept to be reported later or on another thread: the code and
 * the message recorded when it was saved. */
typedef struct cairn_error_saved {
	int code;
	char message[1024];
} cairn_error_saved;

/* Keeps code (CAIRN_ERROR if it is 0) and this thread's message in s. */
void cairn_error_save(cairn_error_saved *s, int code);
/* Makes s's message this thread's message and returns its code. */
int cairn_error_restore(const cairn_error_saved *s);

#endif

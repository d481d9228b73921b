/* Libraries loaded the first time something needs them, so that a
 * command that never does pays neither their memory nor their start-up
 * (libcurl: only S3 and the index server; libcrypto: not before the key
 * is derived, the moment every command peaks). */
#ifndef CAIRN_UTIL_DL_H
#define CAIRN_UTIL_DL_H

#include "cairn/errors.h"

#include <pthread.h>
#include <stddef.h>

/* A function to look up, and the function pointer its address goes to. */
typedef struct cairn_dl_function {
	const char *symbol;
	void *slot;
} cairn_dl_function;

/* Opens the library file and stores the address of each of the n
 * functions in its slot. The file stays loaded on success. On failure
 * (CAIRN_ERROR, naming `what`, the file and the loader's reason) no slot
 * is written. */
int cairn_dl_load(const char *what, const char *file, const cairn_dl_function *functions, size_t n);

/* A library's loading, done once per process, and its outcome, which the
 * calls after the first (on any thread) give again. */
typedef struct cairn_dl_once {
	pthread_once_t once;
	cairn_error_saved outcome; /* code 0: loaded */
} cairn_dl_once;

#define CAIRN_DL_ONCE_INIT                                                                         \
	{                                                                                          \
		PTHREAD_ONCE_INIT,                                                                 \
		{                                                                                  \
			0, ""                                                                      \
		}                                                                                  \
	}

/* Runs load (which calls cairn_dl_done) the first time; returns its
 * outcome, with its message, every time. */
int cairn_dl_once_run(cairn_dl_once *o, void (*load)(void));
/* Records the outcome of load: rc, and the message if it failed. */
void cairn_dl_done(cairn_dl_once *o, int rc);

#endif

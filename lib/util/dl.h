/* Libraries loaded the first time something needs them, so that a
 * command that never does pays neither their memory nor their start-up
 * (libcurl: only S3 and the index server; libcrypto: not before the key
 * is derived, the moment every command peaks). */
#ifndef CAIRN_UTIL_DL_H
#define CAIRN_UTIL_DL_H

#include <stddef.h>

/* A function to look up, and the function pointer its address goes to. */
typedef struct cairn_dl_function {
	const char *symbol;
	void *slot;
} cairn_dl_function;

/* Opens the library file and stores the address of each of the n
 * functions in its slot. The file stays loaded on success. On failure
 * (CAIRN_ERROR, naming `what`, the file and the loader's reason) some
 * slots may have been written: fill a copy, as cairn_curl__load does. */
int cairn_dl_load(const char *what, const char *file, const cairn_dl_function *functions, size_t n);

#endif

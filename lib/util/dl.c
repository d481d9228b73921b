#include "util/dl.h"

#include "cairn/errors.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cairn_dl_load(const char *what, const char *file, const cairn_dl_function *functions, size_t n)
{
	void **found = calloc(n ? n : 1, sizeof(*found));
	if (!found)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	void *lib = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	const char *why = lib ? NULL : dlerror();
	for (size_t i = 0; !why && i < n; i++) {
		dlerror();
		if (!(found[i] = dlsym(lib, functions[i].symbol)) && !(why = dlerror()))
			why = "a function's address is null";
	}
	int rc = 0;
	if (why) {
		rc = cairn_error_set(CAIRN_ERROR, "%s (%s) could not be loaded: %s", what, file,
		                     why);
		if (lib)
			dlclose(lib);
	} else {
		/* POSIX: a function's address fits in, and converts from, the
		 * void * that dlsym returns. */
		for (size_t i = 0; i < n; i++)
			memcpy(functions[i].slot, &found[i], sizeof(found[i]));
	}
	free(found);
	return rc;
}

int cairn_dl_once_run(cairn_dl_once *o, void (*load)(void))
{
	pthread_once(&o->once, load);
	return o->outcome.code ? cairn_error_restore(&o->outcome) : 0;
}

void cairn_dl_done(cairn_dl_once *o, int rc)
{
	if (rc)
		cairn_error_save(&o->outcome, rc);
}

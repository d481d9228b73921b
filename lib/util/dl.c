#include "util/dl.h"

#include "cairn/errors.h"

#include <dlfcn.h>
#include <string.h>

int cairn_dl_load(const char *what, const char *file, const cairn_dl_function *functions, size_t n)
{
	void *lib = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	const char *why = lib ? NULL : dlerror();
	for (size_t i = 0; !why && i < n; i++) {
		dlerror();
		void *f = dlsym(lib, functions[i].symbol);
		/* POSIX: a function's address fits in, and converts from, the
		 * void * that dlsym returns. */
		if (f)
			memcpy(functions[i].slot, &f, sizeof(f));
		else if (!(why = dlerror()))
			why = "a function's address is null";
	}
	if (why) {
		int rc = cairn_error_set(CAIRN_ERROR, "%s (%s) could not be loaded: %s", what, file,
		                         why);
		if (lib)
			dlclose(lib);
		return rc;
	}
	return 0;
}

/* Exclude patterns: which paths a backup leaves out. */
#include "fs/exclude.h"

#include <fnmatch.h>
#include <string.h>

/* A glob with a '/' matches the whole path or any of its leading
 * directories; one without matches any single component's name. */
int cairn_exclude_match(const char *const *globs, size_t n, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < n; i++) {
		const char *g = globs[i];
		if (!*g)
			continue;
		if (!strchr(g, '/')) {
			if (fnmatch(g, base, 0) == 0)
				return 1;
			continue;
		}
		if (fnmatch(g, path, FNM_PATHNAME) == 0 ||
		    fnmatch(g, path, FNM_PATHNAME | FNM_LEADING_DIR) == 0)
			return 1;
	}
	return 0;
}

#include "path.h"

#include <string.h>

int cairn_path_cmpn(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++) {
		unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];
		if (ca == cb)
			continue;
		/* '/' ends a component: it sorts before any other byte. */
		if (ca == '/')
			return -1;
		if (cb == '/')
			return 1;
		return ca < cb ? -1 : 1;
	}
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int cairn_path_cmp(const char *a, const char *b)
{
	return cairn_path_cmpn(a, strlen(a), b, strlen(b));
}

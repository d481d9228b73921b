#include "path.h"

#include "cairn/errors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int cairn_mkdir_p(const char *path, unsigned mode)
{
	char *p = strdup(path);
	int rc = 0;
	if (!p)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) == 0) {
			/* The umask may have taken the owner's write or search
			 * bit, without which nothing can be created inside. */
			if (chmod(p, (mode_t)(mode | 0700)) != 0) {
				rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot set the mode of %s", p);
				break;
			}
		} else if (errno != EEXIST) {
			rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot create directory %s", p);
			break;
		}
		*s = c;
		if (!c)
			break;
		while (s[1] == '/')
			s++;
	}
	free(p);
	return rc;
}

#include "util/path.h"

#include "cairn/errors.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
				rc = cairn_error_set_errno(CAIRN_EIO, errno,
				                           "cannot set the mode of %s", p);
				break;
			}
		} else if (errno != EEXIST) {
			rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot create directory %s",
			                           p);
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

/* Appends path's components to res[0..*n), which is "" (the root) or
 * "/a/b", resolving "." and ".." as it goes. res has room for them. */
static void append_components(char *res, size_t *n, const char *p)
{
	while (*p) {
		while (*p == '/')
			p++;
		const char *comp = p;
		while (*p && *p != '/')
			p++;
		size_t len = (size_t)(p - comp);
		if (len == 0 || (len == 1 && comp[0] == '.'))
			continue;
		if (len == 2 && comp[0] == '.' && comp[1] == '.') {
			while (*n > 0 && res[*n - 1] != '/')
				(*n)--;
			if (*n > 0)
				(*n)--;
			continue;
		}
		res[(*n)++] = '/';
		memcpy(res + *n, comp, len);
		*n += len;
	}
}

int cairn_path_normalize(char **out, const char *cwd, const char *path)
{
	char here[PATH_MAX];
	*out = NULL;
	if (!path || !path[0])
		return cairn_error_set(CAIRN_EINVAL, "an empty path");
	if (path[0] == '/')
		cwd = "";
	else if (!cwd && !(cwd = getcwd(here, sizeof(here))))
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot get the working directory");
	size_t cwd_len = strlen(cwd), path_len = strlen(path);
	char *res = malloc(cwd_len + path_len + 3);
	if (!res)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	size_t n = 0;
	append_components(res, &n, cwd);
	append_components(res, &n, path);
	if (n == 0)
		res[n++] = '/';
	res[n] = '\0';
	*out = res;
	return 0;
}

int cairn_path_is_below(const char *path, const char *dir)
{
	if (dir[0] == '/' && dir[1] == '\0')
		return path[0] == '/' && path[1] != '\0';
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

int cairn_path_is_within(const char *path, const char *dir)
{
	return strcmp(path, dir) == 0 || cairn_path_is_below(path, dir);
}

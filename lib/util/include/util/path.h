#ifndef CAIRN_UTIL_PATH_H
#define CAIRN_UTIL_PATH_H

#include <stddef.h>

/* The order of entries in a manifest: paths compared component by
 * component ('/' sorts before every other byte), so a depth-first walk
 * that visits each directory's names in byte order yields sorted paths.
 * Returns <0, 0, >0 like strcmp. */
int cairn_path_cmp(const char *a, const char *b);
/* Same, for byte strings of given lengths. */
int cairn_path_cmpn(const char *a, size_t alen, const char *b, size_t blen);

/* Makes path absolute against cwd (an absolute directory; NULL: the
 * process's working directory, read only when path is relative) and
 * resolves ".", ".." and repeated '/' lexically, without following
 * symlinks: ".." of "/" is "/", "/" stays "/", anything else loses a
 * trailing '/'. *out is the caller's. CAIRN_EINVAL for an empty or NULL
 * path. */
int cairn_path_normalize(char **out, const char *cwd, const char *path);
/* Whether path lies strictly below dir ("/a/b" below "/a", not "/ab" nor
 * "/a" itself); both absolute and normalised. */
int cairn_path_is_below(const char *path, const char *dir);
/* Whether path is dir or lies below it. */
int cairn_path_is_within(const char *path, const char *dir);

/* Creates directory path and its missing parents with mode (e.g. 0700),
 * always with owner rwx whatever the umask, so that a private cache can
 * be filled under a restrictive umask. Existing directories are fine. */
int cairn_mkdir_p(const char *path, unsigned mode);

#endif

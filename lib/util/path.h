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

/* Creates directory path and its missing parents with mode (e.g. 0700),
 * always with owner rwx whatever the umask, so that a private cache can
 * be filled under a restrictive umask. Existing directories are fine. */
int cairn_mkdir_p(const char *path, unsigned mode);

#endif

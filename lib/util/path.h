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

#endif

/* Exclude patterns: which paths a backup leaves out. */
#ifndef CAIRN_FS_EXCLUDE_H
#define CAIRN_FS_EXCLUDE_H

#include <stddef.h>

/* Whether path matches one of the n fnmatch(3) globs (pure). */
int cairn_exclude_match(const char *const *globs, size_t n, const char *path);

#endif

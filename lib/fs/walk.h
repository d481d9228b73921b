/* Reading the source tree: paths, directory listings, metadata. */
#ifndef CAIRN_WALK_H
#define CAIRN_WALK_H

#include "cairn/manifest.h"

#include <stddef.h>
#include <sys/stat.h>

/* The names in the directory open as dfd (which stays open and is not
 * otherwise used), without "." and "..", sorted bytewise. *names_out (an
 * array of strings) is freed with cairn_names_free. */
int cairn_dir_names(int dfd, char ***names_out, size_t *n_out);
void cairn_names_free(char **names, size_t n);
/* Fills the metadata fields of e (type, mode, uid, gid, times, size, dev,
 * ino, rdev) from st; returns 0, or CAIRN_EINVAL for an unknown type. */
int cairn_entry_set_stat(cairn_entry *e, const struct stat *st);
/* Reads the user.* extended attributes of path (not following symlinks),
 * or of the open file fd when fd >= 0 (path is then unused); a filesystem
 * without xattrs gives none. */
int cairn_read_xattrs(const char *path, int fd, cairn_xattr **out, size_t *n_out);

#endif

/* An entry's metadata as the source tree has it: stat fields and
 * extended attributes. */
#ifndef CAIRN_FS_META_H
#define CAIRN_FS_META_H

#include "cairn/manifest.h"

#include <stddef.h>
#include <sys/stat.h>

/* Fills the metadata fields of e (type, mode, uid, gid, times, size, dev,
 * ino, rdev) from st; returns 0, or CAIRN_EINVAL for an unknown type. */
int cairn_entry_set_stat(cairn_entry *e, const struct stat *st);
/* Reads the user.* extended attributes of path (not following symlinks),
 * or of the open file fd when fd >= 0 (path is then unused); a filesystem
 * without xattrs gives none. */
int cairn_read_xattrs(const char *path, int fd, cairn_xattr **out, size_t *n_out);

#endif

/* An entry's metadata as the source tree has it: stat fields, extended
 * attributes and file flags; and what an ACL means for the mode. */
#ifndef CAIRN_FS_META_H
#define CAIRN_FS_META_H

#include "cairn/manifest.h"

#include <stddef.h>
#include <sys/stat.h>

/* Fills the metadata fields of e (type, mode, uid, gid, times, size, dev,
 * ino, rdev) from st; returns 0, or CAIRN_EINVAL for an unknown type. */
int cairn_entry_set_stat(cairn_entry *e, const struct stat *st);
#define CAIRN_XATTR_ACL_ACCESS "system.posix_acl_access"
#define CAIRN_XATTR_ACL_DEFAULT "system.posix_acl_default"

/* Whether cairn keeps an extended attribute of this name: user.*,
 * security.*, trusted.* (listed to root only) and the POSIX ACLs. Other
 * system.* names are a file system's own views, not attributes. */
int cairn_xattr_kept(const char *name);

/* Reads what e (its type set) carries besides its stat fields: its kept
 * extended attributes within the manifest's limits (those past them are
 * passed over) and, for a file or directory, its flags; through the open
 * file fd when fd >= 0 (path is then unused), else by path without
 * following a symlink. A file system without either gives none. 0 or
 * CAIRN_ENOMEM. */
int cairn_read_attrs(cairn_entry *out, const char *path, int fd);

/* The entry's access ACL, or NULL. */
const cairn_xattr *cairn_entry_acl(const cairn_entry *e);
/* The permission bits e may have while its access ACL is not on it, or
 * when that cannot be set: no more than the ACL grants. With an ACL the
 * group bits of a mode are its mask, which may grant the owning group
 * more than its own entry does, so they become that entry within the
 * mask (none if the ACL cannot be read). e->mode for an entry without
 * an ACL. */
uint32_t cairn_entry_mode_without_acl(const cairn_entry *e);

#endif

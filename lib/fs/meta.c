/* An entry's metadata: its stat fields, extended attributes and file
 * flags, and what its ACL means for its mode. */
#include "fs/meta.h"

#include "cairn/errors.h"
#include "format/manifest_format.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

int cairn_entry_set_stat(cairn_entry *e, const struct stat *st)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		e->type = CAIRN_ENTRY_FILE;
		break;
	case S_IFDIR:
		e->type = CAIRN_ENTRY_DIR;
		break;
	case S_IFLNK:
		e->type = CAIRN_ENTRY_SYMLINK;
		break;
	case S_IFIFO:
		e->type = CAIRN_ENTRY_FIFO;
		break;
	case S_IFCHR:
		e->type = CAIRN_ENTRY_CHARDEV;
		break;
	case S_IFBLK:
		e->type = CAIRN_ENTRY_BLOCKDEV;
		break;
	case S_IFSOCK:
		e->type = CAIRN_ENTRY_SOCKET;
		break;
	default:
		return cairn_error_set(CAIRN_EINVAL, "unknown file type");
	}
	e->mode = st->st_mode & 07777;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	e->size = e->type == CAIRN_ENTRY_FILE ? (uint64_t)st->st_size : 0;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->rdev =
	    (e->type == CAIRN_ENTRY_CHARDEV || e->type == CAIRN_ENTRY_BLOCKDEV) ? st->st_rdev : 0;
	return 0;
}

/* ---- extended attributes --------------------------------------------- */

int cairn_xattr_kept(const char *name)
{
	return strncmp(name, "user.", 5) == 0 || strncmp(name, "security.", 9) == 0 ||
	       strncmp(name, "trusted.", 8) == 0 || strcmp(name, CAIRN_XATTR_ACL_ACCESS) == 0 ||
	       strcmp(name, CAIRN_XATTR_ACL_DEFAULT) == 0;
}

static void xattrs_free(cairn_xattr *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(x[i].name);
		free(x[i].value);
	}
	free(x);
}

/* The file's attribute names or one value: through fd when it is open
 * (no path lookup), else by path without following a symlink. */
static ssize_t list_names(const char *path, int fd, char *names, size_t size)
{
	return fd >= 0 ? flistxattr(fd, names, size) : llistxattr(path, names, size);
}

static ssize_t get_value(const char *path, int fd, const char *name, void *value, size_t size)
{
	return fd >= 0 ? fgetxattr(fd, name, value, size) : lgetxattr(path, name, value, size);
}

/* Reads one attribute into x if it fits what is left of the entry's
 * budget (*total): 1 if read, 0 if passed over (gone, or too large), or
 * CAIRN_ENOMEM. */
static int read_one(const char *path, int fd, const char *name, size_t *total, cairn_xattr *x)
{
	size_t nlen = strlen(name);
	ssize_t vlen = get_value(path, fd, name, NULL, 0);
	if (vlen < 0 || (size_t)vlen > CAIRN_MANIFEST_XATTR_VALUE_MAX ||
	    *total + nlen + (size_t)vlen > CAIRN_MANIFEST_XATTR_TOTAL_MAX)
		return 0;
	uint8_t *value = malloc(vlen ? (size_t)vlen : 1);
	if (!value)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	vlen = get_value(path, fd, name, value, (size_t)vlen);
	if (vlen < 0) {
		free(value); /* gone, or grown since: passed over */
		return 0;
	}
	if (!(x->name = strdup(name))) {
		free(value);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	x->value = value;
	x->value_len = (size_t)vlen;
	*total += nlen + (size_t)vlen;
	return 1;
}

/* The kept extended attributes of path or fd, within the manifest's
 * limits: those past them are passed over. */
static int read_xattrs(const char *path, int fd, cairn_xattr **out, size_t *n_out)
{
	char *names = NULL;
	cairn_xattr *x = NULL;
	size_t n = 0, total = 0;
	int rc = 0;
	*out = NULL;
	*n_out = 0;
	ssize_t len = list_names(path, fd, NULL, 0);
	if (len <= 0)
		return 0; /* none, or not supported here */
	if (!(names = malloc((size_t)len))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	len = list_names(path, fd, names, (size_t)len);
	if (len < 0)
		goto out; /* changed under us: treat as none */
	size_t count = 0;
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(names + i) + 1)
		count++;
	if (count > CAIRN_MANIFEST_XATTR_COUNT_MAX)
		count = CAIRN_MANIFEST_XATTR_COUNT_MAX;
	if (!(x = calloc(count ? count : 1, sizeof(*x)))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (ssize_t i = 0; i < len && n < count; i += (ssize_t)strlen(names + i) + 1) {
		const char *name = names + i;
		if (!cairn_xattr_kept(name) || strlen(name) > CAIRN_MANIFEST_XATTR_NAME_MAX)
			continue;
		if ((rc = read_one(path, fd, name, &total, &x[n])) < 0)
			goto out;
		n += (size_t)rc;
		rc = 0;
	}
out:
	free(names);
	if (rc || n == 0) {
		xattrs_free(x, n);
		return rc;
	}
	*out = x;
	*n_out = n;
	return 0;
}

/* ---- file flags ------------------------------------------------------- */

static uint32_t read_flags(int fd)
{
	int f = 0;
	if (ioctl(fd, FS_IOC_GETFLAGS, &f) != 0)
		return 0; /* none here, or no flags on this file system */
	return (uint32_t)f & CAIRN_MANIFEST_FLAGS_MASK;
}

/* A descriptor of the file or directory at path to read its flags
 * through (FS_IOC_GETFLAGS takes no O_PATH descriptor), opened without
 * following a symlink and without opening anything else: a directory
 * with O_DIRECTORY, a file by its O_PATH descriptor's /proc link once it
 * is known to be a regular file. -1 if it cannot be. */
static int open_for_flags(const char *path, uint8_t type)
{
	int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	if (type == CAIRN_ENTRY_DIR)
		return open(path, flags | O_DIRECTORY | O_NOFOLLOW);
	int pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC), fd = -1;
	struct stat st;
	char p[64];
	if (pfd < 0)
		return -1;
	if (fstat(pfd, &st) == 0 && S_ISREG(st.st_mode)) {
		snprintf(p, sizeof(p), "/proc/self/fd/%d", pfd);
		fd = open(p, flags);
	}
	close(pfd);
	return fd;
}

int cairn_read_attrs(cairn_entry *out, const char *path, int fd)
{
	int has_flags = out->type == CAIRN_ENTRY_FILE || out->type == CAIRN_ENTRY_DIR;
	int own = -1, rc;
	if (fd < 0 && has_flags)
		fd = own = open_for_flags(path, out->type);
	rc = read_xattrs(path, fd, &out->xattrs, &out->n_xattrs);
	out->flags = has_flags && fd >= 0 ? read_flags(fd) : 0;
	out->attrs_partial = 0;
	if (own >= 0)
		close(own);
	return rc;
}

/* ---- POSIX ACLs --------------------------------------------------------- */

/* The kernel's xattr form of an ACL: a u32le version (2), then entries of
 * u16le tag, u16le permissions, u32le id. */
#define ACL_XATTR_VERSION 2
#define ACL_HEADER_SIZE 4
#define ACL_ENTRY_SIZE 8
#define ACL_TAG_GROUP_OBJ 0x04
#define ACL_TAG_MASK 0x10

const cairn_xattr *cairn_entry_acl(const cairn_entry *e)
{
	for (size_t i = 0; i < e->n_xattrs; i++)
		if (strcmp(e->xattrs[i].name, CAIRN_XATTR_ACL_ACCESS) == 0)
			return &e->xattrs[i];
	return NULL;
}

/* What the ACL in v (n bytes) lets the owning group do: its group entry
 * within the mask, 0..7, or -1 if v is not an ACL with a group entry. */
static int acl_group_perm(const uint8_t *v, size_t n)
{
	int group = -1, mask = 7;
	if (n < ACL_HEADER_SIZE || (n - ACL_HEADER_SIZE) % ACL_ENTRY_SIZE ||
	    (v[0] | v[1] << 8 | v[2] << 16 | (uint32_t)v[3] << 24) != ACL_XATTR_VERSION)
		return -1;
	for (size_t at = ACL_HEADER_SIZE; at < n; at += ACL_ENTRY_SIZE) {
		unsigned tag = v[at] | v[at + 1] << 8, perm = (v[at + 2] | v[at + 3] << 8) & 7;
		if (tag == ACL_TAG_GROUP_OBJ)
			group = (int)perm;
		else if (tag == ACL_TAG_MASK)
			mask = (int)perm;
	}
	return group < 0 ? -1 : group & mask;
}

uint32_t cairn_entry_mode_without_acl(const cairn_entry *e)
{
	const cairn_xattr *acl = cairn_entry_acl(e);
	if (!acl)
		return e->mode;
	int perm = acl_group_perm(acl->value, acl->value_len);
	uint32_t group = perm < 0 ? 0 : ((uint32_t)perm << 3) & e->mode;
	return (e->mode & ~070u) | group;
}

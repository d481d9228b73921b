/* An entry's metadata: its stat fields and its extended attributes. */
#include "fs/meta.h"

#include "cairn/errors.h"

#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

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

int cairn_read_xattrs(const char *path, int fd, cairn_xattr **out, size_t *n_out)
{
	char *names = NULL;
	cairn_xattr *x = NULL;
	size_t n = 0;
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
	if (!(x = calloc(count ? count : 1, sizeof(*x)))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(names + i) + 1) {
		const char *name = names + i;
		if (strncmp(name, "user.", 5) != 0 || strlen(name) > CAIRN_MANIFEST_XATTR_NAME_MAX)
			continue;
		ssize_t vlen = get_value(path, fd, name, NULL, 0);
		if (vlen < 0 || (size_t)vlen > CAIRN_MANIFEST_XATTR_VALUE_MAX)
			continue;
		uint8_t *value = malloc(vlen ? (size_t)vlen : 1);
		if (!value) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			goto out;
		}
		vlen = get_value(path, fd, name, value, (size_t)vlen);
		if (vlen < 0) {
			free(value);
			continue;
		}
		x[n].name = strdup(name);
		x[n].value = value;
		x[n].value_len = (size_t)vlen;
		if (!x[n].name) {
			free(value);
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			goto out;
		}
		n++;
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

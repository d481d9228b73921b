/* Reading the source tree. */
#include "fs/walk.h"

#include "cairn/backup.h"
#include "cairn/errors.h"
#include "util/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void cairn_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int cairn_dir_names(int dfd, char ***names_out, size_t *n_out)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *d;
	int rc = 0;
	/* The listing reads through a duplicate, which closedir closes. */
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	*names_out = NULL;
	*n_out = 0;
	if (!dir) {
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot read directory");
		if (fd >= 0)
			close(fd);
		return rc;
	}
	for (;;) {
		errno = 0;
		if (!(d = readdir(dir))) {
			if (errno)
				rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot read directory");
			break;
		}
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			char **p = realloc(names, cap * sizeof(*names));
			if (!p) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				break;
			}
			names = p;
		}
		if (!(names[n] = strdup(d->d_name))) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	closedir(dir);
	if (rc) {
		cairn_names_free(names, n);
		return rc;
	}
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	*names_out = names;
	*n_out = n;
	return 0;
}

int cairn_entry_set_stat(cairn_entry *e, const struct stat *st)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFREG: e->type = CAIRN_ENTRY_FILE; break;
	case S_IFDIR: e->type = CAIRN_ENTRY_DIR; break;
	case S_IFLNK: e->type = CAIRN_ENTRY_SYMLINK; break;
	case S_IFIFO: e->type = CAIRN_ENTRY_FIFO; break;
	case S_IFCHR: e->type = CAIRN_ENTRY_CHARDEV; break;
	case S_IFBLK: e->type = CAIRN_ENTRY_BLOCKDEV; break;
	case S_IFSOCK: e->type = CAIRN_ENTRY_SOCKET; break;
	default: return cairn_error_set(CAIRN_EINVAL, "unknown file type");
	}
	e->mode = st->st_mode & 07777;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	e->size = e->type == CAIRN_ENTRY_FILE ? (uint64_t)st->st_size : 0;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->rdev = (e->type == CAIRN_ENTRY_CHARDEV || e->type == CAIRN_ENTRY_BLOCKDEV) ? st->st_rdev : 0;
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

/* A glob with a '/' matches the whole path or any of its leading
 * directories; one without matches any single component's name. */
int cairn_exclude_match(const char *const *globs, size_t n, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < n; i++) {
		const char *g = globs[i];
		if (!*g)
			continue;
		if (!strchr(g, '/')) {
			if (fnmatch(g, base, 0) == 0)
				return 1;
			continue;
		}
		if (fnmatch(g, path, FNM_PATHNAME) == 0 || fnmatch(g, path, FNM_PATHNAME | FNM_LEADING_DIR) == 0)
			return 1;
	}
	return 0;
}

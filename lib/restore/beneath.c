/* Resolving paths beneath the target: nothing is created by following a
 * symlink inside it. A path is resolved from the target with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or one component at a
 * time with O_NOFOLLOW where openat2 is missing. */
#include "restore/restore_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

static atomic_int no_openat2;

/* Opens rel (relative to dirfd) one component at a time without following
 * a symlink; missing directories are created when create_dirs is set (the
 * last component too, if flags ask for a directory). -1 with errno. */
static int walk_beneath(int dirfd, const char *rel, int flags, mode_t mode, int create_dirs)
{
	char *copy = strdup(rel);
	if (!copy) {
		errno = ENOMEM;
		return -1;
	}
	int dfd = dirfd, fd = -1, saved;
	char *p = copy;
	for (;;) {
		char *slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		int last = slash == NULL;
		int oflags = last ? flags | O_NOFOLLOW | O_CLOEXEC
		                  : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
		fd = openat(dfd, p, oflags, mode);
		if (fd < 0 && errno == ENOENT && create_dirs && (!last || (flags & O_DIRECTORY))) {
			if (mkdirat(dfd, p, 0700) == 0 || errno == EEXIST)
				fd = openat(dfd, p, oflags, mode);
		}
		saved = errno;
		if (dfd != dirfd)
			close(dfd);
		if (fd < 0 || last)
			break;
		dfd = fd;
		p = slash + 1;
	}
	free(copy);
	errno = saved;
	return fd;
}

/* Opens rel (relative to the target; "" is the target itself) without
 * leaving the target or following any symlink on the way. -1 with errno. */
int restore_open_beneath(restore *R, const char *rel, int flags, mode_t mode, int create_dirs)
{
	if (!*rel)
		return openat(R->root_fd, ".", flags | O_CLOEXEC, mode);
	if (!atomic_load(&no_openat2)) {
		struct open_how how;
		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(flags | O_CLOEXEC);
		how.mode = (flags & O_CREAT) ? mode : 0;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
		long fd = syscall(SYS_openat2, R->root_fd, rel, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno == ENOSYS)
			atomic_store(&no_openat2, 1);
		else if (errno == ENOENT && create_dirs)
			return walk_beneath(R->root_fd, rel, flags, mode, 1);
		/* Too long for one call, or a rename raced the lookup: the
		 * walk takes any length and does not care. */
		else if (errno != ENAMETOOLONG && errno != EAGAIN)
			return -1;
	}
	return walk_beneath(R->root_fd, rel, flags, mode, create_dirs);
}

/* The directory part of an absolute manifest path, relative to the
 * target, and the last component. */
void restore_split_path(const char *path, const char **dir, size_t *dir_len, const char **name)
{
	const char *slash = strrchr(path, '/');
	*dir = path + 1;
	*dir_len = slash > path ? (size_t)(slash - path - 1) : 0;
	*name = slash + 1;
}

/* A descriptor (O_PATH) of the directory holding path, reached from the
 * target; missing directories are created if create. *name_out points
 * into path. */
int restore_parent_by_path(restore *R, const char *path, int create, const char **name_out)
{
	const char *dir, *name;
	size_t len;
	restore_split_path(path, &dir, &len, &name);
	*name_out = name;
	if (len == 0)
		return R->root_fd;
	if (R->parent_rel && strlen(R->parent_rel) == len && memcmp(R->parent_rel, dir, len) == 0)
		return R->parent_fd;
	if (R->parent_fd >= 0)
		close(R->parent_fd);
	free(R->parent_rel);
	R->parent_fd = -1;
	if (!(R->parent_rel = strndup(dir, len)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	R->parent_fd = restore_open_beneath(R, R->parent_rel, O_PATH | O_DIRECTORY, 0, create);
	if (R->parent_fd < 0) {
		int e = errno;
		free(R->parent_rel);
		R->parent_rel = NULL;
		return cairn_error_set_errno(CAIRN_EIO, e, "cannot open its directory");
	}
	return R->parent_fd;
}

/* The directory holding path: the one on top of the stack when that is
 * it (*info_out tells what it does to new entries), else one reached by
 * path (*info_out NULL). */
int restore_parent_dir(restore *R, const char *path, int create, const char **name_out,
                       const dir_info **info_out)
{
	const char *slash = strrchr(path, '/');
	size_t len = (size_t)(slash - path);
	*info_out = NULL;
	if (len == 0) {
		*name_out = slash + 1;
		*info_out = &R->root_info;
		return R->root_fd;
	}
	if (R->n_stack) {
		const rdir *top = &R->stack[R->n_stack - 1];
		if (top->fd >= 0 && top->len == len && memcmp(top->e.path, path, len) == 0) {
			*name_out = slash + 1;
			*info_out = &top->info;
			return top->fd;
		}
	}
	return restore_parent_by_path(R, path, create, name_out);
}

/* Clears the way for a new entry name in pfd: removes a non-directory or
 * an empty directory. */
int restore_make_room(int pfd, const char *name)
{
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	return unlinkat(pfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
}

/* Whether a directory gives new entries a default ACL (and so a mode
 * that is not the one asked for less the umask). */
static int has_default_acl(int fd)
{
	if (fgetxattr(fd, "system.posix_acl_default", NULL, 0) >= 0)
		return 1;
	return errno != ENODATA && errno != ENOTSUP && errno != EOPNOTSUPP;
}

/* What the open directory fd does to new entries. */
int restore_dir_info_of(restore *R, int fd, dir_info *out)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	out->mode = st.st_mode & 07777;
	out->gid_egid = st.st_gid == R->egid;
	out->plain = R->umask_known && !(st.st_mode & S_ISGID) && !has_default_acl(fd);
	return 0;
}

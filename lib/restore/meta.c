/* Metadata: owner, user.* xattrs, mode and modification time, in that
 * order (chown clears set-user-id bits; setting xattrs needs write
 * permission). A directory's is set when the manifest leaves it, deepest
 * first: everything inside has been created by then, and writing content
 * into a file does not change its directory. */
#include "restore/restore_internal.h"

#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifdef SYS_fchmodat2
#define SYS_FCHMODAT2 SYS_fchmodat2
#else
#define SYS_FCHMODAT2 452 /* the same number on every architecture */
#endif

static struct timespec to_timespec(int64_t ns)
{
	struct timespec ts;
	ts.tv_sec = (time_t)(ns / 1000000000ll);
	ts.tv_nsec = (long)(ns % 1000000000ll);
	if (ts.tv_nsec < 0) {
		ts.tv_nsec += 1000000000l;
		ts.tv_sec--;
	}
	return ts;
}

/* Keeps a problem with a file for the main thread to report: workers do
 * not call the caller's callbacks. */
void restore_notef(rfile *rf, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A note lost to a lack of memory still counts as an error. */
	if (cairn_buf_append(&rf->notes, msg, strlen(msg) + 1) != 0)
		rf->meta_bad = 1;
}

/* Changes the mode of what an O_PATH descriptor (not of a symlink: the
 * caller has checked) refers to: fchmod does not take one. Through its
 * /proc/self/fd link, which leads to the object itself and never through
 * a name, else with fchmodat2 (Linux 6.6). -1 with errno. */
int restore_path_fd_chmod(restore *R, int fd, mode_t mode)
{
	char p[64];
	if (R->have_proc) {
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		return chmod(p, mode);
	}
	return (int)syscall(SYS_FCHMODAT2, fd, "", mode, AT_EMPTY_PATH);
}

/* Sets the user.* xattrs of an entry through its descriptor: fd itself,
 * or (path_fd: an O_PATH descriptor of a non-symlink, which fsetxattr
 * does not take) its /proc/self/fd link. 0, or 1 if one could not be set
 * (why in msg). The first entry to find that the file system has no
 * xattrs says so in *unsupported (once for the whole restore). */
static int set_xattrs(restore *R, int fd, int path_fd, const cairn_entry *e, char *msg,
                      size_t msg_len, int *unsupported)
{
	char p[64];
	int bad = 0;
	*unsupported = 0;
	if (atomic_load(&R->xattr_unsupported))
		return 0;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		const cairn_xattr *x = &e->xattrs[i];
		if (strncmp(x->name, "user.", 5) != 0)
			continue;
		if (path_fd && !R->have_proc) {
			snprintf(msg, msg_len,
			         "cannot set extended attributes: /proc is not mounted");
			return 1;
		}
		int rc = path_fd ? setxattr(p, x->name, x->value, x->value_len, 0)
		                 : fsetxattr(fd, x->name, x->value, x->value_len, 0);
		if (rc == 0)
			continue;
		if (errno == ENOTSUP || errno == EOPNOTSUPP) {
			*unsupported = atomic_exchange(&R->xattr_unsupported, 1) == 0;
			break;
		}
		if (!bad)
			snprintf(msg, msg_len, "cannot set extended attribute %s: %s", x->name,
			         strerror(errno));
		bad = 1;
	}
	return bad;
}

#define XATTR_UNSUPPORTED_MSG                                                                      \
	"the target's file system does not support extended attributes: none are restored"

/* set_xattrs for an entry whose problems are warnings: 0 or 1 (warned). */
static int apply_xattrs(restore *R, int fd, int path_fd, const cairn_entry *e)
{
	char msg[1024];
	int unsupported;
	int rc = set_xattrs(R, fd, path_fd, e, msg, sizeof(msg), &unsupported);
	if (unsupported)
		restore_warnf(R, e->path, XATTR_UNSUPPORTED_MSG);
	if (rc)
		restore_warnf(R, e->path, "%s", msg);
	return rc;
}

static mode_t type_of(const cairn_entry *e)
{
	switch (e->type) {
	case CAIRN_ENTRY_SYMLINK:
		return S_IFLNK;
	case CAIRN_ENTRY_FIFO:
		return S_IFIFO;
	case CAIRN_ENTRY_SOCKET:
		return S_IFSOCK;
	case CAIRN_ENTRY_CHARDEV:
		return S_IFCHR;
	case CAIRN_ENTRY_BLOCKDEV:
		return S_IFBLK;
	default:
		return S_IFDIR;
	}
}

/* Whether the name in pfd is still the object fd refers to (st): whatever
 * a racing rename put in its place has had nothing set through fd, but
 * the entry is not restored. */
static int still_there(restore *R, int pfd, const char *name, const cairn_entry *e,
                       const struct stat *st)
{
	struct stat now;
	if (fstatat(pfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == st->st_dev &&
	    now.st_ino == st->st_ino)
		return 1;
	restore_warnf(R, e->path, "replaced during the restore: metadata not restored");
	return 0;
}

/* Whether the symlink fd leads where e's does. */
static int same_link(int fd, const cairn_entry *e)
{
	char buf[4096];
	size_t want = strlen(e->link_target);
	ssize_t n = want < sizeof(buf) ? readlinkat(fd, "", buf, sizeof(buf)) : -1;
	return n >= 0 && (size_t)n == want && memcmp(buf, e->link_target, want) == 0;
}

/* Opens the entry just created as name in pfd with O_PATH | O_NOFOLLOW,
 * which resolves no symlink: the descriptor is of the entry itself, or of
 * a symlink put in its place. -1 (reported) unless it is of e's type
 * (a symlink to e's target) and has no other name (a hard link to a file
 * elsewhere). */
static int open_created(restore *R, int pfd, const char *name, const cairn_entry *e,
                        struct stat *st)
{
	int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		restore_warnf(R, e->path, "metadata not restored: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, st) != 0) {
		restore_warnf(R, e->path, "metadata not restored: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if ((st->st_mode & S_IFMT) != type_of(e) || st->st_nlink != 1 ||
	    (S_ISLNK(st->st_mode) && !same_link(fd, e))) {
		restore_warnf(R, e->path, "replaced during the restore: metadata not restored");
		close(fd);
		return -1;
	}
	return fd;
}

/* A symlink's own times: through its descriptor, or by name without
 * following it where the kernel (before 5.8) takes no empty path. */
static int set_times_path_fd(int fd, int pfd, const char *name, const struct timespec ts[2])
{
	if (utimensat(fd, "", ts, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != EINVAL)
		return -1;
	return utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

/* Applies owner (as root), user.* xattrs, mode and mtime to the entry
 * name just created in pfd, in that order: chown clears set-user-id bits
 * and setting xattrs needs write permission. For symlinks, FIFOs,
 * sockets and devices, which are not opened for themselves (a device
 * would be): every call goes through one O_PATH descriptor, so that
 * nothing is set on what a symlink put in the entry's place leads to; a
 * symlink's mode is never set. chmod 0 when the mode is known to be right
 * already. Problems are reported; CAIRN_EIO if there was one. */
int restore_apply_meta_at(restore *R, int pfd, const char *name, const cairn_entry *e, int chmod)
{
	struct stat st;
	int bad = 0;
	int fd = open_created(R, pfd, name, e, &st);
	if (fd < 0)
		return CAIRN_EIO;
	int link = S_ISLNK(st.st_mode);
	if (R->is_root && fchownat(fd, "", e->uid, e->gid, AT_EMPTY_PATH) != 0) {
		restore_warnf(R, e->path, "cannot set owner %u:%u: %s", e->uid, e->gid,
		              strerror(errno));
		bad = 1;
	}
	if (e->n_xattrs && link) {
		for (size_t i = 0; i < e->n_xattrs && !bad; i++)
			if (strncmp(e->xattrs[i].name, "user.", 5) == 0) {
				restore_warnf(R, e->path,
				              "cannot set extended attribute %s: "
				              "not on a symlink",
				              e->xattrs[i].name);
				bad = 1;
			}
	} else if (e->n_xattrs) {
		bad |= apply_xattrs(R, fd, 1, e);
	}
	if (!link && (chmod || R->is_root) && restore_path_fd_chmod(R, fd, e->mode & 07777) != 0) {
		restore_warnf(R, e->path, "cannot set mode %04o: %s", e->mode & 07777,
		              strerror(errno));
		bad = 1;
	}
	struct timespec ts[2] = {{0, UTIME_OMIT}, to_timespec(e->mtime_ns)};
	if (set_times_path_fd(fd, pfd, name, ts) != 0) {
		restore_warnf(R, e->path, "cannot set modification time: %s", strerror(errno));
		bad = 1;
	}
	if (!still_there(R, pfd, name, e, &st))
		bad = 1;
	close(fd);
	return bad ? CAIRN_EIO : 0;
}

/* Opens a directory too deep to have been kept open, by path from the
 * target and without following a symlink: -1 (reported) if that fails or
 * it is no longer the directory created (d->dev, d->ino). */
static int open_dir_again(restore *R, rdir *d, int *pfd_out, const char **name_out)
{
	const cairn_entry *e = &d->e;
	int pfd = restore_parent_by_path(R, e->path, 0, name_out);
	struct stat st;
	if (pfd < 0) {
		restore_warnf(R, e->path, "metadata not restored: %s", cairn_error_last());
		return -1;
	}
	int fd = openat(pfd, *name_out, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		restore_warnf(R, e->path, "%s: metadata not restored",
		              errno == ELOOP || errno == ENOTDIR ? "replaced during the restore"
		                                                 : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_dev != d->dev || st.st_ino != d->ino) {
		restore_warnf(R, e->path, "replaced during the restore: metadata not restored");
		close(fd);
		return -1;
	}
	*pfd_out = pfd;
	return fd;
}

/* Sets a directory's metadata through its descriptor and closes it; one
 * too deep to have been kept open is opened again first. */
static int finish_dir(restore *R, rdir *d)
{
	const cairn_entry *e = &d->e;
	mode_t want = e->mode & 07777;
	int bad = 0, pfd = -1;
	const char *name = NULL;
	struct stat st;
	if (d->fd < 0 && (d->fd = open_dir_again(R, d, &pfd, &name)) < 0)
		return CAIRN_EIO;
	if (d->chown && fchown(d->fd, e->uid, e->gid) != 0) {
		restore_warnf(R, e->path, "cannot set owner %u:%u: %s", e->uid, e->gid,
		              strerror(errno));
		bad = 1;
	}
	if (e->n_xattrs)
		bad |= apply_xattrs(R, d->fd, 0, e);
	/* chown may clear set-group-id: the mode is set again after it. */
	if ((d->info.mode != want || (d->chown && (want & 06000))) && fchmod(d->fd, want) != 0) {
		restore_warnf(R, e->path, "cannot set mode %04o: %s", want, strerror(errno));
		bad = 1;
	}
	struct timespec ts[2] = {{0, UTIME_OMIT}, to_timespec(e->mtime_ns)};
	if (futimens(d->fd, ts) != 0) {
		restore_warnf(R, e->path, "cannot set modification time: %s", strerror(errno));
		bad = 1;
	}
	/* Reached by path: the name must still be this directory. */
	if (pfd >= 0 && (fstat(d->fd, &st) != 0 || !still_there(R, pfd, name, e, &st)))
		bad = 1;
	close(d->fd);
	d->fd = -1;
	return bad ? CAIRN_EIO : 0;
}

/* Sets a regular file's metadata through its descriptor (in a worker):
 * owner, xattrs, mode, then mtime, after the last write. Problems become
 * notes. */
void restore_finish_file_meta(restore *R, rfile *rf)
{
	const cairn_entry *e = &rf->e;
	mode_t want = e->mode & 07777;
	char msg[1024];
	int unsupported;
	if (rf->chown && fchown(rf->fd, e->uid, e->gid) != 0) {
		restore_notef(rf, "cannot set owner %u:%u: %s", e->uid, e->gid, strerror(errno));
		rf->meta_bad = 1;
	}
	if (e->n_xattrs) {
		int rc = set_xattrs(R, rf->fd, 0, e, msg, sizeof(msg), &unsupported);
		if (unsupported)
			restore_notef(rf, XATTR_UNSUPPORTED_MSG);
		if (rc) {
			restore_notef(rf, "%s", msg);
			rf->meta_bad = 1;
		}
	}
	if (rf->chmod && fchmod(rf->fd, want) != 0) {
		restore_notef(rf, "cannot set mode %04o: %s", want, strerror(errno));
		rf->meta_bad = 1;
	}
	struct timespec ts[2] = {{0, UTIME_OMIT}, to_timespec(e->mtime_ns)};
	if (futimens(rf->fd, ts) != 0) {
		restore_notef(rf, "cannot set modification time: %s", strerror(errno));
		rf->meta_bad = 1;
	}
}

/* Whether a directory whose contents are complete must keep its
 * metadata until the hard link holders below it are written, at the end:
 * a holder is opened again by its path then, and a mode without the
 * owner's search bit would keep a user other than root out. */
static int must_wait(const restore *R, const rdir *d)
{
	return d->holder && !R->is_root && !(d->e.mode & S_IXUSR);
}

/* Keeps d (taking its entry) for finish_waiting. */
static int wait_dir(restore *R, rdir *d)
{
	int rc = cairn_array_grow((void **)&R->waiting, &R->cap_waiting, R->n_waiting + 1,
	                          sizeof(*R->waiting));
	if (rc)
		return rc;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1; /* finished by path: its descriptor would be one more per directory */
	R->waiting[R->n_waiting++] = *d;
	memset(&d->e, 0, sizeof(d->e));
	return 0;
}

static int finish_counted(restore *R, rdir *d)
{
	int rc = finish_dir(R, d);
	if (rc && rc != CAIRN_ENOMEM) {
		R->res->errors++;
		rc = 0;
	}
	return rc;
}

/* Finishes the directories the entry at path is not inside of (NULL: all
 * of them): their contents are complete. */
int restore_leave_dirs(restore *R, const char *path)
{
	while (R->n_stack) {
		rdir *top = &R->stack[R->n_stack - 1];
		if (path && cairn_path_is_below(path, top->e.path))
			break;
		int rc = must_wait(R, top) ? wait_dir(R, top) : finish_counted(R, top);
		if (top->fd >= 0)
			close(top->fd);
		cairn_entry_clear(&top->e);
		R->n_stack--;
		if (rc)
			return rc;
	}
	return 0;
}

/* Finishes the directories that waited for the holders below them: a
 * directory's own before its parent's, as they were left. */
int restore_finish_waiting(restore *R)
{
	int rc = 0;
	for (size_t i = 0; i < R->n_waiting; i++) {
		if (!rc)
			rc = finish_counted(R, &R->waiting[i]);
		cairn_entry_clear(&R->waiting[i].e);
	}
	R->n_waiting = 0;
	return rc;
}

/* Creates a regular file and hands it to the batches: 0, 1 if it could
 * not be created (the error says why), or a fatal error. */

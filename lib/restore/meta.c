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
#include <sys/xattr.h>
#include <unistd.h>

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

/* Sets the user.* xattrs of an entry: through fd when there is one, else
 * by name in pfd. 0, 1 if one could not be set (why in msg), or
 * CAIRN_ENOMEM. The first entry to find that the file system has no
 * xattrs says so in *unsupported_msg (once for the whole restore). */
static int set_xattrs(restore *R, int fd, int pfd, const char *name, const cairn_entry *e,
                      char *msg, size_t msg_len, int *unsupported)
{
	cairn_buf p = CAIRN_BUF_INIT;
	int bad = 0;
	*unsupported = 0;
	if (atomic_load(&R->xattr_unsupported))
		return 0;
	/* No *at form of setxattr: go through the directory's descriptor so
	 * that no symlink on the way can be followed. */
	if (fd < 0) {
		int rc = R->have_proc ? cairn_buf_printf(&p, "/proc/self/fd/%d/%s", pfd, name)
		                      : cairn_buf_printf(&p, "%s%s", R->opts->target, e->path);
		if (rc)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < e->n_xattrs; i++) {
		const cairn_xattr *x = &e->xattrs[i];
		if (strncmp(x->name, "user.", 5) != 0)
			continue;
		int rc = fd >= 0
		             ? fsetxattr(fd, x->name, x->value, x->value_len, 0)
		             : lsetxattr((const char *)p.data, x->name, x->value, x->value_len, 0);
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
	cairn_buf_free(&p);
	return bad;
}

#define XATTR_UNSUPPORTED_MSG                                                                      \
	"the target's file system does not support extended attributes: none are restored"

/* set_xattrs for an entry whose problems are warnings: 0, 1 (warned), or
 * CAIRN_ENOMEM. */
static int apply_xattrs(restore *R, int fd, int pfd, const char *name, const cairn_entry *e)
{
	char msg[1024];
	int unsupported;
	int rc = set_xattrs(R, fd, pfd, name, e, msg, sizeof(msg), &unsupported);
	if (rc == CAIRN_ENOMEM)
		return rc;
	if (unsupported)
		restore_warnf(R, e->path, XATTR_UNSUPPORTED_MSG);
	if (rc)
		restore_warnf(R, e->path, "%s", msg);
	return rc;
}

/* Applies owner (as root), user.* xattrs, mode and mtime to the entry
 * name in pfd, in that order: chown clears set-user-id bits and setting
 * xattrs needs write permission. Only for entries without a descriptor of
 * their own (symlinks, FIFOs, devices, directories too deep to keep
 * open). chmod 0 when the mode is known to be right already. Problems are
 * reported; CAIRN_EIO if there was one. */
int restore_apply_meta_at(restore *R, int pfd, const char *name, const cairn_entry *e, int chmod)
{
	struct stat st;
	int bad = 0;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		restore_warnf(R, e->path, "metadata not restored: %s", strerror(errno));
		return CAIRN_EIO;
	}
	if (R->is_root && fchownat(pfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) != 0) {
		restore_warnf(R, e->path, "cannot set owner %u:%u: %s", e->uid, e->gid,
		              strerror(errno));
		bad = 1;
	}
	if (e->n_xattrs) {
		int rc = apply_xattrs(R, -1, pfd, name, e);
		if (rc == CAIRN_ENOMEM)
			return rc;
		bad |= rc;
	}
	/* Not a symlink (checked above), so fchmodat follows nothing. */
	if (!S_ISLNK(st.st_mode) && (chmod || R->is_root) &&
	    fchmodat(pfd, name, e->mode & 07777, 0) != 0) {
		restore_warnf(R, e->path, "cannot set mode %04o: %s", e->mode & 07777,
		              strerror(errno));
		bad = 1;
	}
	struct timespec ts[2] = {{0, UTIME_OMIT}, to_timespec(e->mtime_ns)};
	if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0) {
		restore_warnf(R, e->path, "cannot set modification time: %s", strerror(errno));
		bad = 1;
	}
	return bad ? CAIRN_EIO : 0;
}

/* apply_meta_at for an entry reached by path from the target. */
static int apply_meta(restore *R, const cairn_entry *e)
{
	const char *name;
	int pfd = restore_parent_by_path(R, e->path, 0, &name);
	if (pfd == CAIRN_ENOMEM)
		return pfd;
	if (pfd < 0) {
		restore_warnf(R, e->path, "metadata not restored: %s", cairn_error_last());
		return CAIRN_EIO;
	}
	return restore_apply_meta_at(R, pfd, name, e, 1);
}

/* Sets a directory's metadata through its descriptor and closes it. */
static int finish_dir(restore *R, rdir *d)
{
	const cairn_entry *e = &d->e;
	mode_t want = e->mode & 07777;
	int bad = 0;
	if (d->fd < 0)
		return apply_meta(R, e);
	if (d->chown && fchown(d->fd, e->uid, e->gid) != 0) {
		restore_warnf(R, e->path, "cannot set owner %u:%u: %s", e->uid, e->gid,
		              strerror(errno));
		bad = 1;
	}
	if (e->n_xattrs) {
		int rc = apply_xattrs(R, d->fd, -1, NULL, e);
		if (rc == CAIRN_ENOMEM)
			return rc;
		bad |= rc;
	}
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
		int rc = set_xattrs(R, rf->fd, -1, NULL, e, msg, sizeof(msg), &unsupported);
		if (unsupported)
			restore_notef(rf, XATTR_UNSUPPORTED_MSG);
		if (rc == CAIRN_ENOMEM) {
			restore_notef(rf, "extended attributes not restored: out of memory");
			rf->meta_bad = 1;
		} else if (rc) {
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

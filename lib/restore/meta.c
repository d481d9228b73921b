/* Metadata: owner, xattrs, mode and modification time, in that order
 * (chown clears set-user-id bits and file capabilities; setting user.*
 * xattrs needs write permission; an ACL sets the mode bits), then file
 * flags at the very end of the restore. A directory's is set when the
 * manifest leaves it, deepest first: everything inside has been created
 * by then, and writing content into a file does not change its
 * directory. Permissions are never wider than the snapshot's: without
 * its ACL, an entry's mode gives the group only what the ACL did. */
#include "restore/restore_internal.h"

#include "format/manifest_format.h"
#include "fs/meta.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

#define XATTR_UNSUPPORTED_MSG                                                                      \
	"the target's file system does not support extended attributes: no user.* attribute is "   \
	"restored"

/* What setting an entry's xattrs came to. */
typedef struct xattr_outcome {
	int bad;         /* one or more could not be set: msg says which */
	int unsupported; /* this entry found user.* unsupported first: say so once */
	int acl_set;     /* its access ACL is on it */
	size_t n_failed;
} xattr_outcome;

/* Adds "name (why)" to the failures listed in msg. */
static void note_failure(char *msg, size_t msg_len, xattr_outcome *o, const char *name,
                         const char *why)
{
	size_t at = strlen(msg);
	if (at < msg_len)
		snprintf(msg + at, msg_len - at, "%s%s (%s)", o->n_failed ? ", " : "", name, why);
	o->n_failed++;
	o->bad = 1;
}

static int is_acl(const char *name)
{
	return strcmp(name, CAIRN_XATTR_ACL_ACCESS) == 0 ||
	       strcmp(name, CAIRN_XATTR_ACL_DEFAULT) == 0;
}

/* Sets one xattr x of e: 0, or -1 with errno. */
static int set_one(restore *R, int fd, const char *proc_link, const cairn_entry *e,
                   const cairn_xattr *x, xattr_outcome *o)
{
	int user = strncmp(x->name, "user.", 5) == 0;
	if (user && atomic_load(&R->xattr_unsupported))
		return 0;
	if (user && e->type == CAIRN_ENTRY_SYMLINK) {
		errno = EPERM; /* Linux keeps none on a symlink */
		return -1;
	}
	int rc = proc_link ? setxattr(proc_link, x->name, x->value, x->value_len, 0)
	                   : fsetxattr(fd, x->name, x->value, x->value_len, 0);
	if (rc && user && (errno == ENOTSUP || errno == EOPNOTSUPP)) {
		o->unsupported |= atomic_exchange(&R->xattr_unsupported, 1) == 0;
		return 0;
	}
	if (rc == 0 && strcmp(x->name, CAIRN_XATTR_ACL_ACCESS) == 0)
		o->acl_set = 1;
	return rc;
}

/* Sets the xattrs cairn keeps of an entry through its descriptor: fd
 * itself, or (path_fd: an O_PATH descriptor of a non-symlink or of a
 * symlink, which fsetxattr does not take) its /proc/self/fd link, which
 * leads to the object itself. The ACLs go last: setting the access ACL
 * sets the mode's bits from it, which may take away the owner's write
 * bit that setting a user.* attribute needs. Failures are listed in msg.
 * The first entry to find that the file system has no user.* xattrs
 * says so (once for the whole restore). */
static xattr_outcome set_xattrs(restore *R, int fd, int path_fd, const cairn_entry *e, char *msg,
                                size_t msg_len)
{
	xattr_outcome o = {0};
	char p[64];
	msg[0] = '\0';
	if (path_fd && !R->have_proc) {
		snprintf(msg, msg_len, "/proc is not mounted");
		o.bad = 1;
		return o;
	}
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	for (int acls = 0; acls <= 1; acls++)
		for (size_t i = 0; i < e->n_xattrs; i++) {
			const cairn_xattr *x = &e->xattrs[i];
			if (!cairn_xattr_kept(x->name) || is_acl(x->name) != acls)
				continue;
			if (set_one(R, fd, path_fd ? p : NULL, e, x, &o) != 0)
				note_failure(msg, msg_len, &o, x->name, strerror(errno));
		}
	return o;
}

/* The mode to give e once its xattrs are set: its own, or without its
 * ACL one that grants no more than the ACL did. */
static mode_t mode_after(const cairn_entry *e, const xattr_outcome *o)
{
	return (o->acl_set ? e->mode : cairn_entry_mode_without_acl(e)) & 07777;
}

/* The warning for xattrs that could not be set, into out. */
static void xattr_warning(const cairn_entry *e, const xattr_outcome *o, const char *failed,
                          char *out, size_t out_len)
{
	int narrowed = cairn_entry_acl(e) && !o->acl_set;
	snprintf(out, out_len, "cannot set extended attribute%s: %s%s", o->n_failed == 1 ? "" : "s",
	         failed,
	         narrowed ? "; without its ACL, its group permissions are only what the ACL "
	                    "gave the owning group"
	                  : "");
}

/* set_xattrs for an entry whose problems are warnings. */
static xattr_outcome apply_xattrs(restore *R, int fd, int path_fd, const cairn_entry *e)
{
	char failed[768], msg[1024];
	xattr_outcome o = set_xattrs(R, fd, path_fd, e, failed, sizeof(failed));
	if (o.unsupported)
		restore_warnf(R, e->path, XATTR_UNSUPPORTED_MSG);
	if (o.bad) {
		xattr_warning(e, &o, failed, msg, sizeof(msg));
		restore_warnf(R, e->path, "%s", msg);
	}
	return o;
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
	xattr_outcome x = {0};
	if (e->n_xattrs) {
		x = apply_xattrs(R, fd, 1, e);
		bad |= x.bad;
	}
	/* Setting an ACL changed the mode; not setting it needs another. */
	mode_t want = mode_after(e, &x);
	if (!link && (chmod || R->is_root || cairn_entry_acl(e)) &&
	    restore_path_fd_chmod(R, fd, want) != 0) {
		restore_warnf(R, e->path, "cannot set mode %04o: %s", want, strerror(errno));
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
	mode_t want;
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
	xattr_outcome x = {0};
	if (e->n_xattrs) {
		x = apply_xattrs(R, d->fd, 0, e);
		bad |= x.bad;
	}
	want = mode_after(e, &x);
	/* chown may clear set-group-id, and an ACL sets the mode: the mode
	 * is set again after them. */
	if ((d->info.mode != want || (d->chown && (want & 06000)) || cairn_entry_acl(e)) &&
	    fchmod(d->fd, want) != 0) {
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
	char failed[768], msg[1024];
	if (rf->chown && fchown(rf->fd, e->uid, e->gid) != 0) {
		restore_notef(rf, "cannot set owner %u:%u: %s", e->uid, e->gid, strerror(errno));
		rf->meta_bad = 1;
	}
	xattr_outcome x = {0};
	if (e->n_xattrs) {
		x = set_xattrs(R, rf->fd, 0, e, failed, sizeof(failed));
		if (x.unsupported)
			restore_notef(rf, XATTR_UNSUPPORTED_MSG);
		if (x.bad) {
			xattr_warning(e, &x, failed, msg, sizeof(msg));
			restore_notef(rf, "%s", msg);
			rf->meta_bad = 1;
		}
	}
	mode_t want = mode_after(e, &x);
	if ((rf->chmod || cairn_entry_acl(e)) && fchmod(rf->fd, want) != 0) {
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

/* ---- file flags, set last ---------------------------------------------- */

/* Flags only a capable process may set: i and a (CAP_LINUX_IMMUTABLE),
 * j (CAP_SYS_RESOURCE). */
#define FLAGS_PRIVILEGED                                                                           \
	(CAIRN_MANIFEST_FLAG_IMMUTABLE | CAIRN_MANIFEST_FLAG_APPEND |                              \
	 CAIRN_MANIFEST_FLAG_JOURNAL_DATA)

/* Remembers that e (just created as dev, ino) gets its flags at the end
 * of the restore, after everything else: an immutable or append-only
 * file takes no hard link and an immutable directory no new name, and
 * neither can have its metadata set any more. */
int restore_keep_flags(restore *R, const cairn_entry *e, dev_t dev, ino_t ino)
{
	if (!e->flags)
		return 0;
	int rc =
	    cairn_array_grow((void **)&R->flags, &R->cap_flags, R->n_flags + 1, sizeof(*R->flags));
	if (rc)
		return rc;
	char *path = strdup(e->path);
	if (!path)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	R->flags[R->n_flags++] = (rflags){path, dev, ino, e->flags};
	return 0;
}

void restore_flags_free(restore *R)
{
	for (size_t i = 0; i < R->n_flags; i++)
		free(R->flags[i].path);
	free(R->flags);
	R->flags = NULL;
	R->n_flags = R->cap_flags = 0;
}

/* The flags as chattr writes them ("+ia"), into buf. */
static const char *flag_letters(uint32_t flags, char *buf, size_t len)
{
	static const struct {
		uint32_t bit;
		char c;
	} names[] = {
	    {CAIRN_MANIFEST_FLAG_SECRM, 's'},       {CAIRN_MANIFEST_FLAG_UNRM, 'u'},
	    {CAIRN_MANIFEST_FLAG_SYNC, 'S'},        {CAIRN_MANIFEST_FLAG_DIRSYNC, 'D'},
	    {CAIRN_MANIFEST_FLAG_IMMUTABLE, 'i'},   {CAIRN_MANIFEST_FLAG_APPEND, 'a'},
	    {CAIRN_MANIFEST_FLAG_NODUMP, 'd'},      {CAIRN_MANIFEST_FLAG_NOATIME, 'A'},
	    {CAIRN_MANIFEST_FLAG_COMPR, 'c'},       {CAIRN_MANIFEST_FLAG_JOURNAL_DATA, 'j'},
	    {CAIRN_MANIFEST_FLAG_NOTAIL, 't'},      {CAIRN_MANIFEST_FLAG_TOPDIR, 'T'},
	    {CAIRN_MANIFEST_FLAG_PROJINHERIT, 'P'}, {CAIRN_MANIFEST_FLAG_NOCOMP, 'm'},
	};
	size_t n = 0;
	buf[n++] = '+';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && n + 1 < len; i++)
		if (flags & names[i].bit)
			buf[n++] = names[i].c;
	buf[n] = '\0';
	return buf;
}

/* Opens the entry f names again for FS_IOC_SETFLAGS, which takes no
 * O_PATH descriptor: found without following a symlink, checked to be
 * the one created, then opened through its O_PATH descriptor (a
 * directory as ".", a file through its /proc/self/fd link), never by its
 * name again. -1 with the reason in why. */
static int open_for_flags(restore *R, const rflags *f, const char **why)
{
	const char *name;
	struct stat st;
	int rfd = -1;
	int pfd = restore_parent_by_path(R, f->path, 0, &name);
	if (pfd < 0) {
		*why = cairn_error_last();
		return -1;
	}
	int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*why = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		*why = strerror(errno);
	} else if (st.st_dev != f->dev || st.st_ino != f->ino ||
	           (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
		*why = "replaced during the restore";
	} else if (S_ISDIR(st.st_mode)) {
		rfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else if (!R->have_proc) {
		*why = "/proc is not mounted";
	} else {
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		/* Either access will do; a file may have only one of them. */
		rfd = open(p, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (rfd < 0 && errno == EACCES)
			rfd = open(p, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	}
	if (rfd < 0 && !*why)
		*why = strerror(errno);
	close(fd);
	return rfd;
}

/* Sets f's flags on fd, keeping those cairn does not store (such as
 * ext4's extents flag, which must not be cleared): 0, 1 if the file
 * system has no flags at all, or -1 with errno and the flags not set in
 * *missing. Without the capability for i, a and j, the others are set
 * all the same. */
static int set_flags(int fd, uint32_t flags, uint32_t *missing)
{
	int old = 0;
	*missing = flags;
	if (ioctl(fd, FS_IOC_GETFLAGS, &old) != 0)
		return errno == ENOTTY || errno == EOPNOTSUPP ? 1 : -1;
	int want = (int)(((uint32_t)old & ~CAIRN_MANIFEST_FLAGS_MASK) | flags);
	if (want == old || ioctl(fd, FS_IOC_SETFLAGS, &want) == 0) {
		*missing = 0;
		return 0;
	}
	int err = errno;
	if (err == EPERM && (flags & FLAGS_PRIVILEGED)) {
		want &= ~(int)FLAGS_PRIVILEGED;
		if (want == old || ioctl(fd, FS_IOC_SETFLAGS, &want) == 0)
			*missing = flags & FLAGS_PRIVILEGED;
	}
	errno = err;
	return -1;
}

/* Sets one entry's flags: 0, or 1 if they could not all be (reported). */
static int apply_one_flags(restore *R, const rflags *f)
{
	const char *why = NULL;
	char letters[32];
	uint32_t missing = f->flags;
	int fd = open_for_flags(R, f, &why);
	int rc = fd < 0 ? -1 : set_flags(fd, f->flags, &missing);
	if (rc < 0 && !why)
		why = strerror(errno);
	if (fd >= 0)
		close(fd);
	if (rc == 1) {
		if (atomic_exchange(&R->flags_unsupported, 1) == 0)
			restore_warnf(R, f->path,
			              "the target's file system does not support file flags: "
			              "none are restored");
		return 0;
	}
	if (rc == 0)
		return 0;
	restore_warnf(R, f->path, "cannot set file flags %s: %s",
	              flag_letters(missing, letters, sizeof(letters)), why);
	return 1;
}

/* Sets the flags kept by restore_keep_flags, last of all: every entry
 * is complete by now. Deepest and last created first, so that an
 * immutable directory gets its flag after what is inside it. */
int restore_apply_flags(restore *R)
{
	for (size_t i = R->n_flags; i-- > 0;) {
		if (apply_one_flags(R, &R->flags[i]))
			R->res->errors++;
		restore_progress(R, 0);
	}
	restore_flags_free(R);
	return 0;
}

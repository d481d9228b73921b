/* The restore engine.
 *
 * The main thread reads the manifest in path order and creates every entry
 * under the target (directories, regular files, symlinks, links, FIFOs,
 * devices). It keeps a descriptor open for each directory on the way
 * down, so an entry is created with one call relative to its parent, and
 * for each new regular file until its content is written.
 *
 * Regular files go into batches. A full batch is handed to a pool of
 * workers while the main thread goes on creating the entries of the next
 * one. One worker plans the batch: its chunk fingerprints are looked up
 * in the index in one go and the blobs grouped into ranged pack reads.
 * Then every worker takes ranges: it reads each once, authenticates every
 * blob and writes it into each file that uses it, through the descriptor
 * the main thread opened. The worker that writes the last piece of a file
 * gives it its size and metadata through the same descriptor and closes
 * it. A directory's metadata is set when
 * the manifest leaves it (deepest first): everything inside has been
 * created by then, and writing content into a file does not change its
 * directory.
 *
 * A blob that fails to read or authenticate is never written: the places
 * that need it stay zeros, and each file concerned is reported once, when
 * the main thread collects its batch. A hard link whose first name the
 * includes leave out becomes a regular file that holds the group's
 * content, which one more pass over the manifest fills in at the end.
 *
 * Nothing is created by following a symlink inside the target: each
 * directory is opened from its parent's descriptor with O_NOFOLLOW |
 * O_DIRECTORY, files with O_CREAT | O_EXCL | O_NOFOLLOW. Where a path must
 * be resolved from the target (a parent the manifest does not list, a hard
 * link's first name), openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) does
 * it, or a walk one component at a time with O_NOFOLLOW where openat2 is
 * missing. */
#include "cairn/restore.h"

#include "cairn/errors.h"
#include "cairn/pack.h"
#include "cairn/tree.h"
#include "restore/restore_plan.h"
#include "util/fdbudget.h"
#include "util/fileio.h"
#include "util/hex.h"
#include "util/path.h"
#include "util/time.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define BATCH_FILES 4096           /* regular files (or parts of one) per batch */
#define BATCH_FIRST 128            /* the first batch: the workers start early */
#define BATCH_BYTES (128ull << 20) /* content bytes per batch */
#define BATCH_REFS (128u * 1024)   /* chunk refs per batch */
#define N_BATCHES 3                /* being filled, queued or written at once */
/* Ranged reads of a pack read through gaps up to RANGE_GAP_* bytes and
 * are at most RANGE_MAX_* long. Reading a local gap costs a copy (and the
 * blobs of a pack are shuffled, so a batch needs only some of them);
 * reading a remote one saves a request. */
#define RANGE_GAP_LOCAL (32u << 10)
#define RANGE_MAX_LOCAL (2u << 20)
#define RANGE_GAP_REMOTE (1u << 20)
#define RANGE_MAX_REMOTE (8u << 20)
#define REMOTE_MIN_THREADS 4
#define LOOKUP_SLICE 8192 /* fingerprints per index query */
#define DIR_FDS_MAX 64    /* directories on the way down kept open */
#define FD_MARGIN 96      /* descriptors left for the index, store and caller */
#define MAX_THREADS 256
#define PROGRESS_NS 200000000ll
#define ZERO_CHECK 65536 /* read size when checking that a hole reads as zeros */

/* A regular file, or the part of one a batch writes. */
typedef struct rfile {
	cairn_entry e;        /* the entry; a shallow copy unless owner */
	size_t from, to;      /* chunks written by this batch */
	uint64_t from_offset; /* file offset of chunk from */
	uint64_t to_offset;   /* file offset of chunk to */
	int fd;               /* open for writing; -1 once closed */
	uint8_t owner;        /* frees the entry and closes fd */
	uint8_t last;         /* this batch writes the file's last chunk */
	uint8_t cont;         /* a previous batch wrote its first part */
	uint8_t chmod;        /* the mode it was created with is not the one wanted */
	uint8_t chown;        /* its owner must be set */
	uint8_t truncate;     /* writing its chunks does not give it its size */
	atomic_uint pending;  /* uses of this part not yet written or lost */
	unsigned n_damage;
	char *damage;    /* the first damage found */
	cairn_buf notes; /* metadata problems, NUL-separated, reported with the file */
	int meta_bad;
} rfile;

/* One place a blob goes: file offset of a chunk. */
typedef struct use {
	uint8_t fp[CAIRN_FP_SIZE];
	uint32_t length;
	uint32_t file;
	uint64_t offset;
} use;

/* A distinct fingerprint of the batch and every use of it. */
typedef struct ublob {
	cairn_index_entry ie;
	size_t first, count; /* into uses */
} ublob;

enum batch_state { BATCH_FREE, BATCH_FILLING, BATCH_QUEUED, BATCH_DONE };

/* Files whose content is written together. The first task plans the
 * rest: the ranged reads, then one per file part with nothing to read
 * (empty, all holes, or all of it lost), which only needs finishing. */
typedef struct batch {
	enum batch_state state; /* under mu once queued */
	uint64_t seq;           /* queue order */
	rfile *files;
	size_t n_files, max_files;
	uint64_t bytes;
	size_t refs;

	use *uses;
	size_t n_uses, cap_uses;
	ublob *ublobs;
	size_t cap_ublobs;
	cairn_restore_blob *blobs;
	size_t cap_blobs;
	cairn_restore_range *ranges;
	size_t n_ranges;
	size_t *idle; /* parts with no uses */
	size_t n_idle, cap_idle;

	int planning, planned;           /* under mu */
	size_t n_tasks, next_task, left; /* under mu */
} batch;

/* What a directory does to the entries created in it. */
typedef struct dir_info {
	mode_t mode;           /* its own mode now */
	unsigned plain : 1;    /* new entries get the mode asked for less the umask */
	unsigned gid_egid : 1; /* its group is the effective group (so are new entries') */
} dir_info;

/* A directory on the way down: its metadata waits for its contents. */
typedef struct rdir {
	cairn_entry e;
	size_t len; /* of e.path */
	int fd;     /* -1: reached by path (too deep to keep open) */
	int chown;  /* its owner must be set */
	int holder; /* the holder of a hard link group is below it */
	dir_info info;
} rdir;

/* Hard link groups whose first name is not restored, or could not be:
 * the first name maps to the name holding the content in its place
 * (NULL if there is none). */
typedef struct link_slot {
	char *target;
	char *holder;
	dev_t dev;
	ino_t ino;
} link_slot;

typedef struct link_table {
	link_slot *slots;
	size_t cap, n;
} link_table;

struct restore;

typedef struct worker {
	struct restore *R;
	pthread_t thread;
	int started;
	cairn_sealer *sealer;
	cairn_fingerprinter *fp;
	cairn_buf raw, plain;
	/* What --verify reads back: not plain, which may still hold a blob
	 * being written to other files when one of them is finished. */
	cairn_buf check;
} worker;

typedef struct restore {
	cairn_repo *repo;
	cairn_store *store;
	uint64_t range_gap, range_max;
	const cairn_snapshot *snap;
	const cairn_restore_opts *opts;
	cairn_restore_result *res;
	char **includes;
	size_t n_includes;
	int root_fd;
	dir_info root_info;
	int is_root;
	uid_t euid;
	gid_t egid;
	int umask_known;
	mode_t umask;
	int have_proc;
	atomic_int xattr_unsupported;
	int done; /* the includes are behind us */
	cairn_buf last_path;

	/* A parent directory reached by path, for entries whose parent is not
	 * the directory on top of the stack. */
	char *parent_rel;
	int parent_fd;

	rdir *stack;
	size_t n_stack, cap_stack;
	/* Directories left, whose metadata waits for the hard link holders
	 * below them to be written (see must_wait), deepest first. */
	rdir *waiting;
	size_t n_waiting, cap_waiting;

	link_table links;

	batch batches[N_BATCHES];
	batch *fill;        /* the batch being filled, or NULL */
	uint64_t ring;      /* batches queued so far; the next one is batches[ring % N] */
	uint64_t collected; /* batches collected so far, in queue order */
	size_t max_files;   /* largest batch the descriptors allow */
	size_t max_dir_fds; /* directories on the way down the descriptors allow */
	rfile orphan;       /* a file's rest that no batch took (after a fatal error) */
	size_t next_files;  /* size of the next batch (grows to max_files) */

	worker *workers;
	size_t n_workers;
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	pthread_mutex_t damage_mu;
	int pool_ready;
	int stop;
	atomic_int failed; /* a worker hit a fatal error */
	int fatal_rc;
	char *fatal_msg;

	atomic_uint_fast64_t bytes_written; /* content restored, holes included */
	atomic_uint_fast64_t bytes_lost;    /* content that could not be restored */
	uint64_t files_done;
	int64_t last_progress;
} restore;

static atomic_int no_openat2;


static void progress(restore *R, int force)
{
	const cairn_restore_opts *o = R->opts;
	if (!o->progress)
		return;
	int64_t now = cairn_now_ns(CLOCK_MONOTONIC);
	if (!force && now - R->last_progress < PROGRESS_NS)
		return;
	R->last_progress = now;
	cairn_progress p = {0};
	p.files_done = R->files_done;
	p.bytes_done = atomic_load(&R->bytes_written) + atomic_load(&R->bytes_lost);
	if (R->n_includes == 0) {
		const cairn_summary *s = &R->snap->summary;
		p.files_total = s->files_new + s->files_changed + s->files_unchanged;
		p.bytes_total = s->bytes_total;
	}
	p.current = R->last_path.len ? (const char *)R->last_path.data : NULL;
	o->progress(o->ud, &p);
}

static void warnf(restore *R, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warnf(restore *R, const char *path, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;
	if (!R->opts->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	R->opts->warn(R->opts->ud, path, msg);
}

/* Keeps a problem with a file for the main thread to report: workers do
 * not call the caller's callbacks. */
static void notef(rfile *rf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void notef(rfile *rf, const char *fmt, ...)
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

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

static int grow(void **p, size_t *cap, size_t want, size_t size)
{
	if (want <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 16;
	while (n < want)
		n *= 2;
	void *q = realloc(*p, n * size);
	if (!q)
		return oom();
	*p = q;
	*cap = n;
	return 0;
}

static int is_hole(const cairn_chunk_ref *c)
{
	static const uint8_t zero[CAIRN_FP_SIZE];
	return memcmp(c->fp, zero, CAIRN_FP_SIZE) == 0;
}

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

/* ---- hard link groups ------------------------------------------------ */

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static link_slot *link_find(link_table *t, const char *target)
{
	if (!t->cap)
		return NULL;
	for (size_t i = str_hash(target) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		if (!t->slots[i].target)
			return NULL;
		if (strcmp(t->slots[i].target, target) == 0)
			return &t->slots[i];
	}
}

/* Takes target and holder (either may be freed here on failure). */
static int link_put(link_table *t, char *target, char *holder, dev_t dev, ino_t ino)
{
	if ((t->n + 1) * 2 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		link_slot *s = calloc(cap, sizeof(*s));
		if (!s) {
			free(target);
			free(holder);
			return oom();
		}
		for (size_t i = 0; i < t->cap; i++) {
			if (!t->slots[i].target)
				continue;
			size_t j = str_hash(t->slots[i].target) & (cap - 1);
			while (s[j].target)
				j = (j + 1) & (cap - 1);
			s[j] = t->slots[i];
		}
		free(t->slots);
		t->slots = s;
		t->cap = cap;
	}
	size_t j = str_hash(target) & (t->cap - 1);
	while (t->slots[j].target)
		j = (j + 1) & (t->cap - 1);
	t->slots[j] = (link_slot){target, holder, dev, ino};
	t->n++;
	return 0;
}

static void link_table_free(link_table *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		free(t->slots[i].target);
		free(t->slots[i].holder);
	}
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* Remembers that the file at path could not be restored, so that its hard
 * links are reported rather than linked to whatever is there. */
static int note_failed_file(restore *R, const char *path)
{
	if (link_find(&R->links, path))
		return 0;
	char *p = strdup(path);
	if (!p)
		return oom();
	return link_put(&R->links, p, NULL, 0, 0);
}

/* ---- resolving paths beneath the target ------------------------------ */

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
static int open_beneath(restore *R, const char *rel, int flags, mode_t mode, int create_dirs)
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
static void split_path(const char *path, const char **dir, size_t *dir_len, const char **name)
{
	const char *slash = strrchr(path, '/');
	*dir = path + 1;
	*dir_len = slash > path ? (size_t)(slash - path - 1) : 0;
	*name = slash + 1;
}

/* A descriptor (O_PATH) of the directory holding path, reached from the
 * target; missing directories are created if create. *name_out points
 * into path. */
static int parent_by_path(restore *R, const char *path, int create, const char **name_out)
{
	const char *dir, *name;
	size_t len;
	split_path(path, &dir, &len, &name);
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
		return oom();
	R->parent_fd = open_beneath(R, R->parent_rel, O_PATH | O_DIRECTORY, 0, create);
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
static int parent_dir(restore *R, const char *path, int create, const char **name_out,
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
	return parent_by_path(R, path, create, name_out);
}

/* Clears the way for a new entry name in pfd: removes a non-directory or
 * an empty directory. */
static int make_room(int pfd, const char *name)
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
static int dir_info_of(restore *R, int fd, dir_info *out)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	out->mode = st.st_mode & 07777;
	out->gid_egid = st.st_gid == R->egid;
	out->plain = R->umask_known && !(st.st_mode & S_ISGID) && !has_default_acl(fd);
	return 0;
}

/* ---- metadata -------------------------------------------------------- */

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
			return oom();
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
		warnf(R, e->path, XATTR_UNSUPPORTED_MSG);
	if (rc)
		warnf(R, e->path, "%s", msg);
	return rc;
}

/* Applies owner (as root), user.* xattrs, mode and mtime to the entry
 * name in pfd, in that order: chown clears set-user-id bits and setting
 * xattrs needs write permission. Only for entries without a descriptor of
 * their own (symlinks, FIFOs, devices, directories too deep to keep
 * open). chmod 0 when the mode is known to be right already. Problems are
 * reported; CAIRN_EIO if there was one. */
static int apply_meta_at(restore *R, int pfd, const char *name, const cairn_entry *e, int chmod)
{
	struct stat st;
	int bad = 0;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		warnf(R, e->path, "metadata not restored: %s", strerror(errno));
		return CAIRN_EIO;
	}
	if (R->is_root && fchownat(pfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) != 0) {
		warnf(R, e->path, "cannot set owner %u:%u: %s", e->uid, e->gid, strerror(errno));
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
		warnf(R, e->path, "cannot set mode %04o: %s", e->mode & 07777, strerror(errno));
		bad = 1;
	}
	struct timespec ts[2] = {{0, UTIME_OMIT}, to_timespec(e->mtime_ns)};
	if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0) {
		warnf(R, e->path, "cannot set modification time: %s", strerror(errno));
		bad = 1;
	}
	return bad ? CAIRN_EIO : 0;
}

/* apply_meta_at for an entry reached by path from the target. */
static int apply_meta(restore *R, const cairn_entry *e)
{
	const char *name;
	int pfd = parent_by_path(R, e->path, 0, &name);
	if (pfd == CAIRN_ENOMEM)
		return pfd;
	if (pfd < 0) {
		warnf(R, e->path, "metadata not restored: %s", cairn_error_last());
		return CAIRN_EIO;
	}
	return apply_meta_at(R, pfd, name, e, 1);
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
		warnf(R, e->path, "cannot set owner %u:%u: %s", e->uid, e->gid, strerror(errno));
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
		warnf(R, e->path, "cannot set mode %04o: %s", want, strerror(errno));
		bad = 1;
	}
	struct timespec ts[2] = {{0, UTIME_OMIT}, to_timespec(e->mtime_ns)};
	if (futimens(d->fd, ts) != 0) {
		warnf(R, e->path, "cannot set modification time: %s", strerror(errno));
		bad = 1;
	}
	close(d->fd);
	d->fd = -1;
	return bad ? CAIRN_EIO : 0;
}

/* Sets a regular file's metadata through its descriptor (in a worker):
 * owner, xattrs, mode, then mtime, after the last write. Problems become
 * notes. */
static void finish_file_meta(restore *R, rfile *rf)
{
	const cairn_entry *e = &rf->e;
	mode_t want = e->mode & 07777;
	char msg[1024];
	int unsupported;
	if (rf->chown && fchown(rf->fd, e->uid, e->gid) != 0) {
		notef(rf, "cannot set owner %u:%u: %s", e->uid, e->gid, strerror(errno));
		rf->meta_bad = 1;
	}
	if (e->n_xattrs) {
		int rc = set_xattrs(R, rf->fd, -1, NULL, e, msg, sizeof(msg), &unsupported);
		if (unsupported)
			notef(rf, XATTR_UNSUPPORTED_MSG);
		if (rc == CAIRN_ENOMEM) {
			notef(rf, "extended attributes not restored: out of memory");
			rf->meta_bad = 1;
		} else if (rc) {
			notef(rf, "%s", msg);
			rf->meta_bad = 1;
		}
	}
	if (rf->chmod && fchmod(rf->fd, want) != 0) {
		notef(rf, "cannot set mode %04o: %s", want, strerror(errno));
		rf->meta_bad = 1;
	}
	struct timespec ts[2] = {{0, UTIME_OMIT}, to_timespec(e->mtime_ns)};
	if (futimens(rf->fd, ts) != 0) {
		notef(rf, "cannot set modification time: %s", strerror(errno));
		rf->meta_bad = 1;
	}
}

/* ---- damage ---------------------------------------------------------- */

/* Records a problem with [offset, offset + length) of a file: lost if
 * those bytes could not be written (they stay zeros), else they read back
 * wrong. */
static void damage(restore *R, batch *b, size_t file, uint64_t offset, uint64_t length, int lost,
                   const char *why)
{
	pthread_mutex_lock(&R->damage_mu);
	rfile *rf = &b->files[file];
	if (rf->n_damage++ == 0) {
		cairn_buf m = CAIRN_BUF_INIT;
		int rc = length ? cairn_buf_printf(&m, "bytes %llu to %llu%s: %s",
		                                   (unsigned long long)offset,
		                                   (unsigned long long)(offset + length),
		                                   lost ? " left as zeros" : "", why)
		                : cairn_buf_printf(&m, "%s", why);
		if (rc == 0)
			rf->damage = (char *)cairn_buf_detach(&m, NULL);
		cairn_buf_free(&m);
	}
	pthread_mutex_unlock(&R->damage_mu);
	if (lost)
		atomic_fetch_add(&R->bytes_lost, length);
}

/* A worker's failure that ends the restore (out of memory and the like). */
static void fail_fatal(restore *R, int rc)
{
	pthread_mutex_lock(&R->damage_mu);
	if (!R->fatal_rc) {
		R->fatal_rc = rc;
		R->fatal_msg = strdup(cairn_error_last());
	}
	pthread_mutex_unlock(&R->damage_mu);
	atomic_store(&R->failed, 1);
}

/* ---- workers --------------------------------------------------------- */

/* Whether [off, off + len) of fd reads as zeros, skipping holes. */
static int zeros_at(worker *w, int fd, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	if (cairn_buf_reserve(&w->check, ZERO_CHECK))
		return -1;
	while (off < end) {
		off_t d = lseek(fd, (off_t)off, SEEK_DATA);
		if (d < 0 && errno == ENXIO)
			return 1;
		if (d < 0)
			d = (off_t)off; /* no SEEK_DATA here: read everything */
		if ((uint64_t)d >= end)
			return 1;
		off_t h = lseek(fd, d, SEEK_HOLE);
		uint64_t stop = h < 0 || (uint64_t)h > end ? end : (uint64_t)h;
		for (uint64_t p = (uint64_t)d; p < stop;) {
			size_t n = stop - p > ZERO_CHECK ? ZERO_CHECK : (size_t)(stop - p);
			ssize_t k = cairn_pread_all(fd, w->check.data, n, p);
			if (k < (ssize_t)n)
				return 0;
			for (size_t i = 0; i < n; i++)
				if (w->check.data[i])
					return 0;
			p += n;
		}
		off = stop;
	}
	return 1;
}

/* Re-reads the part of a file a batch wrote and compares every chunk with
 * its fingerprint. */
static void verify_part(worker *w, batch *b, size_t file)
{
	restore *R = w->R;
	rfile *rf = &b->files[file];
	char why[512];
	uint8_t fp[CAIRN_FP_SIZE];
	struct stat st;
	if (rf->n_damage)
		return;
	if (rf->last && fstat(rf->fd, &st) == 0 && (uint64_t)st.st_size != rf->e.size) {
		snprintf(why, sizeof(why), "verify: size %llu, expected %llu",
		         (unsigned long long)st.st_size, (unsigned long long)rf->e.size);
		damage(R, b, file, 0, 0, 0, why);
	}
	uint64_t off = rf->from_offset;
	for (size_t c = rf->from; c < rf->to; off += rf->e.chunks[c++].length) {
		const cairn_chunk_ref *ref = &rf->e.chunks[c];
		int ok;
		cairn_buf_clear(&w->check);
		if (is_hole(ref)) {
			ok = zeros_at(w, rf->fd, off, ref->length);
		} else if (cairn_buf_reserve(&w->check, ref->length) != 0) {
			ok = -1;
		} else {
			ssize_t k = cairn_pread_all(rf->fd, w->check.data, ref->length, off);
			ok = k == (ssize_t)ref->length &&
			     cairn_fingerprint(w->fp, fp, w->check.data, ref->length) == 0 &&
			     memcmp(fp, ref->fp, CAIRN_FP_SIZE) == 0;
		}
		if (ok < 0) {
			fail_fatal(R, oom());
			break;
		}
		if (!ok) {
			damage(R, b, file, off, ref->length, 0,
			       "verify: the bytes read back do not match the snapshot");
		}
	}
}

/* Everything of a file part has been written or lost: verify it if
 * asked, and if it is the file's last part, give the file its size and
 * metadata and close it. */
static void finish_part(worker *w, batch *b, size_t file)
{
	rfile *rf = &b->files[file];
	if (rf->last && (rf->truncate || rf->n_damage) &&
	    ftruncate(rf->fd, (off_t)rf->e.size) != 0) {
		notef(rf, "cannot set the size to %llu: %s", (unsigned long long)rf->e.size,
		      strerror(errno));
		rf->meta_bad = 1;
	}
	if (w->R->opts->verify)
		verify_part(w, b, file);
	if (!rf->last)
		return;
	finish_file_meta(w->R, rf);
	close(rf->fd);
	rf->fd = -1;
}

/* One use of a blob in a file part is done with (written or lost). */
static void use_done(worker *w, batch *b, size_t file)
{
	if (atomic_fetch_sub(&b->files[file].pending, 1) == 1)
		finish_part(w, b, file);
}

static void lose_blob(worker *w, batch *b, const ublob *ub, const char *why)
{
	for (size_t i = ub->first; i < ub->first + ub->count; i++) {
		const use *u = &b->uses[i];
		damage(w->R, b, u->file, u->offset, u->length, 1, why);
		use_done(w, b, u->file);
	}
}

/* Reads one range of a pack, opens every blob in it and writes each to
 * every place that uses it. */
static void write_range(worker *w, batch *b, size_t task)
{
	restore *R = w->R;
	const cairn_restore_range *rg = &b->ranges[task];
	char key[80], pack[CAIRN_ID_HEX + 1], why[1400];
	cairn_repo_pack_key(key, b->blobs[rg->first].pack);
	cairn_hex_encode(pack, b->blobs[rg->first].pack, CAIRN_ID_SIZE);

	int rc = cairn_store_get(R->store, key, rg->offset, rg->length, &w->raw);
	if (rc == CAIRN_ENOMEM) {
		fail_fatal(R, rc);
		return;
	}
	if (rc) {
		snprintf(why, sizeof(why), "cannot read pack %.16s: %s", pack, cairn_error_last());
		for (size_t k = rg->first; k < rg->first + rg->count; k++)
			lose_blob(w, b, &b->ublobs[b->blobs[k].id], why);
		return;
	}
	/* The chunks of one bundle are neighbours here (same offset): the
	 * bundle is opened once for all of them (why holds the reason if it
	 * could not be). */
	const cairn_restore_blob *opened = NULL;
	int opened_rc = 0;
	for (size_t k = rg->first; k < rg->first + rg->count; k++) {
		const cairn_restore_blob *bl = &b->blobs[k];
		const ublob *ub = &b->ublobs[bl->id];
		const uint8_t *chunk;
		uint64_t at = bl->offset - rg->offset;
		if (at + bl->length > w->raw.len) {
			snprintf(why, sizeof(why),
			         "pack %.16s ends before the blob at offset %u (truncated)", pack,
			         bl->offset);
			lose_blob(w, b, ub, why);
			continue;
		}
		int again = ub->ie.kind == CAIRN_BLOB_BUNDLE && opened &&
		            opened->offset == bl->offset && opened->length == bl->length;
		if (!again) {
			opened_rc = cairn_repo_unseal_blob(w->sealer, &ub->ie, w->raw.data + at,
			                                   bl->length, &w->plain);
			opened = ub->ie.kind == CAIRN_BLOB_BUNDLE ? bl : NULL;
		}
		rc = opened_rc;
		if (!rc)
			rc = cairn_repo_blob_chunk(w->fp, &ub->ie, &w->plain, &chunk);
		if (rc == CAIRN_ENOMEM) {
			fail_fatal(R, rc);
			return;
		}
		if (rc) {
			/* a bundle that could not be opened keeps its reason */
			if (!again || !opened_rc)
				snprintf(why, sizeof(why), "%s", cairn_error_last());
			lose_blob(w, b, ub, why);
			continue;
		}
		for (size_t i = ub->first; i < ub->first + ub->count; i++) {
			const use *u = &b->uses[i];
			if (cairn_pwrite_all(b->files[u->file].fd, chunk, u->length, u->offset) == 0) {
				atomic_fetch_add(&R->bytes_written, u->length);
			} else {
				snprintf(why, sizeof(why), "cannot write: %s", strerror(errno));
				damage(R, b, u->file, u->offset, u->length, 1, why);
			}
			use_done(w, b, u->file);
		}
	}
}

static int plan_batch(restore *R, batch *b);

/* The queued batch to work on (under mu): one to plan first, since that
 * makes more tasks, else the oldest with a task left to start. */
static batch *next_batch(restore *R)
{
	batch *best = NULL;
	for (size_t i = 0; i < N_BATCHES; i++) {
		batch *b = &R->batches[i];
		if (b->state != BATCH_QUEUED)
			continue;
		if (!b->planned && !b->planning)
			return b;
		if (b->next_task < b->n_tasks && (!best || b->seq < best->seq))
			best = b;
	}
	return best;
}

/* Plans a batch in a worker, so that the main thread can go on creating
 * entries; the batch's tasks become available to every worker. */
static void run_plan(worker *w, batch *b)
{
	restore *R = w->R;
	int rc = atomic_load(&R->failed) ? 0 : plan_batch(R, b);
	if (rc)
		fail_fatal(R, rc);
	pthread_mutex_lock(&R->mu);
	b->planning = 0;
	b->planned = 1;
	b->n_tasks = rc ? 0 : b->n_ranges + b->n_idle;
	b->left += b->n_tasks;
	if (b->n_tasks)
		pthread_cond_broadcast(&R->work_cv);
	pthread_mutex_unlock(&R->mu);
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	restore *R = w->R;
	pthread_mutex_lock(&R->mu);
	for (;;) {
		batch *b;
		while (!R->stop && !(b = next_batch(R)))
			pthread_cond_wait(&R->work_cv, &R->mu);
		if (R->stop)
			break;
		if (!b->planned) {
			b->planning = 1;
			pthread_mutex_unlock(&R->mu);
			run_plan(w, b);
			pthread_mutex_lock(&R->mu);
		} else {
			size_t task = b->next_task++;
			pthread_mutex_unlock(&R->mu);
			if (!atomic_load(&R->failed)) {
				if (task < b->n_ranges)
					write_range(w, b, task);
				else
					finish_part(w, b, b->idle[task - b->n_ranges]);
			}
			pthread_mutex_lock(&R->mu);
		}
		if (--b->left == 0) {
			b->state = BATCH_DONE;
			pthread_cond_broadcast(&R->done_cv);
		}
	}
	pthread_mutex_unlock(&R->mu);
	return NULL;
}

static int pool_start(restore *R)
{
	const cairn_restore_opts *o = R->opts;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = o->threads > 0 ? (size_t)o->threads : (ncpu > 0 ? (size_t)ncpu : 1);
	/* From a remote store a worker mostly waits for its answer: more of
	 * them keep more requests in flight. */
	if (o->threads <= 0 && R->range_max == RANGE_MAX_REMOTE && n < REMOTE_MIN_THREADS)
		n = REMOTE_MIN_THREADS;
	if (n > MAX_THREADS)
		n = MAX_THREADS;
	pthread_condattr_t ca;
	if (pthread_mutex_init(&R->mu, NULL) || pthread_mutex_init(&R->damage_mu, NULL))
		return cairn_error_set(CAIRN_ERROR, "cannot create a mutex");
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&R->work_cv, NULL) || pthread_cond_init(&R->done_cv, &ca)) {
		pthread_condattr_destroy(&ca);
		return cairn_error_set(CAIRN_ERROR, "cannot create a condition variable");
	}
	pthread_condattr_destroy(&ca);
	R->pool_ready = 1;
	if (!(R->workers = calloc(n, sizeof(*R->workers))))
		return oom();
	R->n_workers = n;
	for (size_t i = 0; i < n; i++) {
		worker *w = &R->workers[i];
		int rc;
		w->R = R;
		if ((rc = cairn_repo_sealer_new(R->repo, &w->sealer, 0)) ||
		    (rc = cairn_repo_fingerprinter_new(R->repo, &w->fp)))
			return rc;
	}
	for (size_t i = 0; i < n; i++) {
		worker *w = &R->workers[i];
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			return cairn_error_set(CAIRN_ERROR, "cannot start a worker thread");
		w->started = 1;
	}
	return 0;
}

static void pool_stop(restore *R)
{
	if (R->pool_ready) {
		pthread_mutex_lock(&R->mu);
		R->stop = 1;
		pthread_cond_broadcast(&R->work_cv);
		pthread_mutex_unlock(&R->mu);
	}
	for (size_t i = 0; i < R->n_workers; i++) {
		worker *w = &R->workers[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		cairn_sealer_free(w->sealer);
		cairn_fingerprinter_free(w->fp);
		cairn_buf_free(&w->raw);
		cairn_buf_free(&w->plain);
		cairn_buf_free(&w->check);
	}
	free(R->workers);
	R->workers = NULL;
	R->n_workers = 0;
	if (R->pool_ready) {
		pthread_mutex_destroy(&R->mu);
		pthread_mutex_destroy(&R->damage_mu);
		pthread_cond_destroy(&R->work_cv);
		pthread_cond_destroy(&R->done_cv);
		R->pool_ready = 0;
	}
}

/* ---- batches --------------------------------------------------------- */

static int use_cmp(const void *pa, const void *pb)
{
	const use *a = pa, *b = pb;
	int c = memcmp(a->fp, b->fp, CAIRN_FP_SIZE);
	if (c)
		return c;
	if (a->file != b->file)
		return a->file < b->file ? -1 : 1;
	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* Whether an index entry can be the blob of every use of ub; damages the
 * uses if not. */
static int blob_usable(restore *R, batch *b, ublob *ub, int found)
{
	char hex[CAIRN_ID_HEX + 1], pack[CAIRN_ID_HEX + 1], why[256];
	cairn_hex_encode(hex, b->uses[ub->first].fp, CAIRN_FP_SIZE);
	cairn_hex_encode(pack, ub->ie.pack, CAIRN_ID_SIZE);
	if (!found || (ub->ie.kind != CAIRN_BLOB_DATA && ub->ie.kind != CAIRN_BLOB_BUNDLE)) {
		snprintf(why, sizeof(why), "chunk %.16s is in no pack of the index", hex);
		for (size_t i = ub->first; i < ub->first + ub->count; i++)
			damage(R, b, b->uses[i].file, b->uses[i].offset, b->uses[i].length, 1, why);
		return 0;
	}
	/* Lengths are bounded before anything is read: the sealed length by
	 * the plaintext's, and the plaintext by the largest chunk or bundle. */
	const cairn_index_entry *e = &ub->ie;
	int bundle = e->kind == CAIRN_BLOB_BUNDLE;
	if (e->raw_length > CAIRN_CHUNK_SIZE_HIGHEST ||
	    e->length > cairn_seal_bound(R->workers[0].sealer,
	                                 bundle ? CAIRN_BUNDLE_MAX : e->raw_length) ||
	    cairn_pack_entry_problem(e->kind, e->offset, e->length, e->raw_length, e->inner)) {
		snprintf(why, sizeof(why),
		         "the index gives chunk %.16s in pack %.16s an impossible length", hex,
		         pack);
		for (size_t i = ub->first; i < ub->first + ub->count; i++)
			damage(R, b, b->uses[i].file, b->uses[i].offset, b->uses[i].length, 1, why);
		return 0;
	}
	int ok = 1;
	for (size_t i = ub->first; i < ub->first + ub->count; i++) {
		if (b->uses[i].length != ub->ie.raw_length) {
			snprintf(why, sizeof(why), "chunk %.16s is %u bytes in pack %.16s, not %u",
			         hex, ub->ie.raw_length, pack, b->uses[i].length);
			damage(R, b, b->uses[i].file, b->uses[i].offset, b->uses[i].length, 1, why);
			ok = 0;
		}
	}
	if (!ok) {
		/* Drop the uses that do not fit; the others still get the blob. */
		size_t k = ub->first;
		for (size_t i = ub->first; i < ub->first + ub->count; i++)
			if (b->uses[i].length == ub->ie.raw_length)
				b->uses[k++] = b->uses[i];
		ub->count = k - ub->first;
	}
	return ub->count > 0;
}

/* Lists what the batch needs, finds where the index says it is, groups
 * it into ranged pack reads, and counts what each file part waits for. */
static int plan_batch(restore *R, batch *b)
{
	uint8_t(*fps)[32] = NULL;
	cairn_index_entry *ents = NULL;
	uint8_t *found = NULL;
	int rc = 0;

	b->n_uses = 0;
	b->n_ranges = 0;
	b->n_idle = 0;
	for (size_t f = 0; f < b->n_files; f++) {
		rfile *rf = &b->files[f];
		uint64_t off = rf->from_offset;
		for (size_t c = rf->from; c < rf->to; c++) {
			const cairn_chunk_ref *ref = &rf->e.chunks[c];
			if (is_hole(ref)) {
				atomic_fetch_add(&R->bytes_written, ref->length);
			} else if (ref->length) {
				if ((rc = grow((void **)&b->uses, &b->cap_uses, b->n_uses + 1,
				               sizeof(*b->uses))))
					goto out;
				use *u = &b->uses[b->n_uses++];
				memcpy(u->fp, ref->fp, CAIRN_FP_SIZE);
				u->length = ref->length;
				u->file = (uint32_t)f;
				u->offset = off;
			}
			off += ref->length;
		}
		rf->to_offset = off;
	}

	size_t n = 0, n_blobs = 0;
	if (b->n_uses) {
		qsort(b->uses, b->n_uses, sizeof(*b->uses), use_cmp);
		for (size_t i = 0; i < b->n_uses; i++)
			if (i == 0 || memcmp(b->uses[i].fp, b->uses[i - 1].fp, CAIRN_FP_SIZE) != 0)
				n++;
	}
	if ((rc = grow((void **)&b->ublobs, &b->cap_ublobs, n, sizeof(*b->ublobs))) ||
	    (rc = grow((void **)&b->blobs, &b->cap_blobs, n, sizeof(*b->blobs))))
		goto out;
	size_t k = 0;
	for (size_t i = 0; i < b->n_uses; i++) {
		if (i == 0 || memcmp(b->uses[i].fp, b->uses[i - 1].fp, CAIRN_FP_SIZE) != 0) {
			memset(&b->ublobs[k], 0, sizeof(b->ublobs[k]));
			b->ublobs[k++].first = i;
		}
		b->ublobs[k - 1].count++;
	}

	size_t slice = n < LOOKUP_SLICE ? n : LOOKUP_SLICE;
	if (n && (!(fps = malloc(slice * sizeof(*fps))) || !(ents = calloc(slice, sizeof(*ents))) ||
	          !(found = calloc(slice, 1)))) {
		rc = oom();
		goto out;
	}
	cairn_index *ix = cairn_repo_index(R->repo);
	for (size_t s = 0; s < n; s += slice) {
		size_t m = n - s < slice ? n - s : slice;
		for (size_t i = 0; i < m; i++)
			memcpy(fps[i], b->uses[b->ublobs[s + i].first].fp, CAIRN_FP_SIZE);
		memset(found, 0, m);
		if ((rc = ix->ops->lookup(ix, (const uint8_t(*)[32])fps, m, ents, found))) {
			cairn_error_prefix(rc, "index lookup");
			goto out;
		}
		for (size_t i = 0; i < m; i++) {
			ublob *ub = &b->ublobs[s + i];
			if (found[i]) {
				ub->ie = ents[i];
				memcpy(ub->ie.fp, fps[i], CAIRN_FP_SIZE);
			}
			if (!blob_usable(R, b, ub, found[i]))
				continue;
			for (size_t j = ub->first; j < ub->first + ub->count; j++)
				atomic_fetch_add_explicit(&b->files[b->uses[j].file].pending, 1,
				                          memory_order_relaxed);
			cairn_restore_blob *bl = &b->blobs[n_blobs++];
			memcpy(bl->pack, ub->ie.pack, sizeof(bl->pack));
			bl->offset = ub->ie.offset;
			bl->length = ub->ie.length;
			bl->id = s + i;
		}
	}
	free(b->ranges);
	b->ranges = NULL;
	if ((rc = cairn_restore_plan_ranges(b->blobs, n_blobs, R->range_gap, R->range_max,
	                                    &b->ranges, &b->n_ranges)))
		goto out;
	for (size_t f = 0; f < b->n_files; f++) {
		if (atomic_load_explicit(&b->files[f].pending, memory_order_relaxed))
			continue;
		if ((rc = grow((void **)&b->idle, &b->cap_idle, b->n_idle + 1, sizeof(*b->idle))))
			goto out;
		b->idle[b->n_idle++] = f;
	}
out:
	free(fps);
	free(ents);
	free(found);
	return rc;
}

/* Waits (keeping the progress line alive) until the workers are done
 * with a queued batch. */
static void wait_batch(restore *R, batch *b)
{
	pthread_mutex_lock(&R->mu);
	while (b->state != BATCH_DONE) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += PROGRESS_NS;
		if (ts.tv_nsec >= 1000000000l) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000l;
		}
		pthread_cond_timedwait(&R->done_cv, &R->mu, &ts);
		if (b->state != BATCH_DONE) {
			pthread_mutex_unlock(&R->mu);
			progress(R, 0);
			pthread_mutex_lock(&R->mu);
		}
	}
	pthread_mutex_unlock(&R->mu);
}

/* Frees what a file part owns (closing its descriptor if it still has
 * it) and empties it. */
static void rfile_clear(rfile *rf)
{
	if (rf->owner) {
		if (rf->fd >= 0)
			close(rf->fd);
		cairn_entry_clear(&rf->e);
	}
	free(rf->damage);
	cairn_buf_free(&rf->notes);
	memset(rf, 0, sizeof(*rf));
	rf->fd = -1;
}

/* Reports the files a finished batch completed, in manifest order, and
 * empties it. A part that is not its file's last hands its damage on to
 * the next part, in the next batch. */
static void collect(restore *R, batch *b)
{
	for (size_t f = 0; f < b->n_files; f++) {
		rfile *rf = &b->files[f];
		if (!rf->last) {
			rfile *next = &R->batches[(b - R->batches + 1) % N_BATCHES].files[0];
			if (rf->n_damage) {
				next->n_damage += rf->n_damage;
				free(next->damage);
				next->damage = rf->damage;
				rf->damage = NULL;
			}
			rfile_clear(rf);
			continue;
		}
		int bad = rf->meta_bad;
		if (rf->n_damage) {
			if (rf->n_damage > 1)
				warnf(R, rf->e.path, "%s (and %u more damaged parts)",
				      rf->damage ? rf->damage : "damaged", rf->n_damage - 1);
			else
				warnf(R, rf->e.path, "%s", rf->damage ? rf->damage : "damaged");
			bad = 1;
		}
		for (size_t at = 0; at < rf->notes.len;) {
			const char *m = (const char *)rf->notes.data + at;
			warnf(R, rf->e.path, "%s", m);
			at += strlen(m) + 1;
		}
		if (bad)
			R->res->errors++;
		R->files_done++;
		rfile_clear(rf);
	}
	b->n_files = 0;
	b->bytes = 0;
	b->refs = 0;
	b->n_uses = 0;
	b->n_ranges = 0;
	b->n_idle = 0;
	b->state = BATCH_FREE;
	R->collected++;
	progress(R, 0);
}

/* Waits for and collects every queued batch, oldest first. */
static int drain(restore *R)
{
	while (R->collected < R->ring) {
		batch *b = &R->batches[R->collected % N_BATCHES];
		wait_batch(R, b);
		collect(R, b);
	}
	if (R->fatal_rc)
		return cairn_error_set(R->fatal_rc, "%s", R->fatal_msg ? R->fatal_msg : "failed");
	return 0;
}

/* Hands the batch being filled to the workers. */
static int seal(restore *R)
{
	batch *b = R->fill;
	int rc;
	if (!b)
		return 0;
	R->fill = NULL;
	if (b->n_files == 0) {
		b->state = BATCH_FREE;
		return 0;
	}
	/* The parts of one file share its descriptor: the part before must be
	 * written (and its batch collected) before this one starts. */
	if (b->files[0].cont && (rc = drain(R))) {
		R->fill = b; /* its files are freed with the rest */
		return rc;
	}
	pthread_mutex_lock(&R->mu);
	b->planning = 0;
	b->planned = 0;
	b->n_tasks = 0;
	b->next_task = 0;
	b->left = 1; /* the plan */
	b->seq = R->ring++;
	b->state = BATCH_QUEUED;
	pthread_cond_signal(&R->work_cv);
	pthread_mutex_unlock(&R->mu);
	if (R->next_files < R->max_files)
		R->next_files = R->next_files * 2 < R->max_files ? R->next_files * 2 : R->max_files;
	return 0;
}

/* The batch being filled, after collecting the one that last used its
 * slot. */
static int fill_batch(restore *R, batch **out)
{
	if (!R->fill) {
		batch *b = &R->batches[R->ring % N_BATCHES];
		if (b->state != BATCH_FREE) {
			wait_batch(R, b);
			collect(R, b);
			if (R->fatal_rc)
				return cairn_error_set(R->fatal_rc, "%s",
				                       R->fatal_msg ? R->fatal_msg : "failed");
		}
		b->state = BATCH_FILLING;
		b->max_files = R->next_files;
		R->fill = b;
	}
	*out = R->fill;
	return 0;
}

/* Adds a created file, open as fd, to the batches (taking its entry and
 * the descriptor); a file too big for one batch is written over several. */
static int add_file(restore *R, cairn_entry *e, int fd, int chmod, int chown)
{
	batch *b = NULL;
	int rc;
	uint64_t bytes = 0, sum = 0;
	for (size_t c = 0; c < e->n_chunks; c++) {
		sum += e->chunks[c].length;
		if (!is_hole(&e->chunks[c]))
			bytes += e->chunks[c].length;
	}
	/* Start a new batch rather than split a file that fits in one. */
	if (R->fill && R->fill->n_files &&
	    (R->fill->n_files == R->fill->max_files || R->fill->refs + e->n_chunks > BATCH_REFS ||
	     R->fill->bytes + bytes > BATCH_BYTES) &&
	    (rc = seal(R))) {
		close(fd);
		cairn_entry_clear(e);
		return rc;
	}
	if ((rc = fill_batch(R, &b))) {
		close(fd);
		cairn_entry_clear(e);
		return rc;
	}
	rfile *rf = &b->files[b->n_files++];
	memset(rf, 0, sizeof(*rf));
	rf->e = *e;
	memset(e, 0, sizeof(*e));
	rf->fd = fd;
	rf->owner = 1;
	rf->chmod = chmod != 0;
	rf->chown = chown != 0;
	rf->truncate =
	    sum != rf->e.size || (rf->e.n_chunks && is_hole(&rf->e.chunks[rf->e.n_chunks - 1]));
	for (;;) {
		size_t to = rf->from;
		bytes = 0;
		while (to < rf->e.n_chunks) {
			if (to > rf->from && (b->refs + (to - rf->from) >= BATCH_REFS ||
			                      b->bytes + bytes >= BATCH_BYTES))
				break;
			if (!is_hole(&rf->e.chunks[to]))
				bytes += rf->e.chunks[to].length;
			to++;
		}
		b->refs += to - rf->from;
		b->bytes += bytes;
		rf->to = to;
		rf->last = to == rf->e.n_chunks;
		if (rf->last)
			return 0;
		/* The rest goes into the next batch: a copy of the part that
		 * takes over the entry and the descriptor. */
		rfile carry = *rf;
		rf->owner = 0;
		if ((rc = seal(R))) {
			rf->owner = 1; /* its batch was not queued: still the owner */
			return rc;
		}
		if ((rc = fill_batch(R, &b))) {
			/* Workers may still use the entry: freed after them. */
			R->orphan = carry;
			return rc;
		}
		rf = &b->files[b->n_files++];
		memset(rf, 0, sizeof(*rf));
		rf->e = carry.e;
		rf->fd = carry.fd;
		rf->owner = 1;
		rf->cont = 1;
		rf->chmod = carry.chmod;
		rf->chown = carry.chown;
		rf->truncate = carry.truncate;
		rf->from = carry.to;
		rf->from_offset = carry.from_offset;
		for (size_t c = carry.from; c < carry.to; c++)
			rf->from_offset += carry.e.chunks[c].length;
	}
}

/* ---- creating entries ------------------------------------------------ */

/* Opens a new regular file name in pfd for writing, in place of whatever
 * was there. When the process runs out of descriptors, the batches in
 * flight are finished first, which closes theirs. -1 with an error set
 * (a fatal one in *fatal). */
static int create_open(restore *R, int pfd, const char *name, mode_t mode, int *fatal)
{
	int flags =
	    (R->opts->verify ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	*fatal = 0;
	/* A fresh target has nothing in the way: try first, clear after. */
	int fd = openat(pfd, name, flags, mode);
	if (fd < 0 && errno == EEXIST && make_room(pfd, name) == 0)
		fd = openat(pfd, name, flags, mode);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && (R->fill || R->collected < R->ring)) {
		int rc;
		if ((rc = seal(R)) || (rc = drain(R))) {
			*fatal = rc;
			return -1;
		}
		fd = openat(pfd, name, flags, mode);
	}
	if (fd < 0)
		cairn_error_set_errno(CAIRN_EIO, errno, "cannot create");
	return fd;
}

/* Creates an empty regular file of size bytes (all hole) in place of
 * whatever was at name, and closes it: the holder of a hard link group,
 * filled at the end. */
static int create_holder(int pfd, const char *name, dev_t *dev, ino_t *ino)
{
	int fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && make_room(pfd, name) == 0)
		fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create");
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0)
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
	/* A strict umask must not keep it from being reopened. */
	else if ((st.st_mode & 0600) != 0600 && fchmod(fd, 0600) != 0)
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot make it writable");
	if (!rc) {
		*dev = st.st_dev;
		*ino = st.st_ino;
	}
	close(fd);
	return rc;
}

/* Creates (or keeps) the directory name in pfd and opens it; d->fd and
 * d->info tell what it is now. pinfo (NULL if unknown) is its parent's. */
static int create_dir(restore *R, int pfd, const dir_info *pinfo, const char *name, rdir *d)
{
	/* Its own mode comes last; until then its contents must be creatable.
	 * mkdir takes the permission and sticky bits. */
	mode_t mode = (d->e.mode & 01777) | 0700;
	struct stat st;
	int fresh = 1;
	if (mkdirat(pfd, name, mode) != 0) {
		if (errno != EEXIST)
			return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create directory");
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			return cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
		if (!S_ISDIR(st.st_mode)) {
			if (unlinkat(pfd, name, 0) != 0 || mkdirat(pfd, name, mode) != 0)
				return cairn_error_set_errno(CAIRN_EIO, errno,
				                             "cannot replace with a directory");
		} else {
			fresh = 0;
			if ((st.st_mode & 0700) != 0700 &&
			    fchmodat(pfd, name, (st.st_mode & 07777) | 0700, 0) != 0)
				return cairn_error_set_errno(CAIRN_EIO, errno,
				                             "cannot make it writable");
		}
	}
	/* The umask may have taken the owner's own bits. */
	if (fresh && (!R->umask_known || (R->umask & 0700)) && fchmodat(pfd, name, mode, 0) != 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot make it writable");
	d->fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d->fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return cairn_error_set(CAIRN_EIO, "replaced during the restore");
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot open");
	}
	/* A new directory is the effective user's, and its group is the
	 * effective group if its parent's is. */
	d->chown = R->is_root && !(fresh && pinfo && pinfo->gid_egid && d->e.uid == R->euid &&
	                           d->e.gid == R->egid);
	if (fresh && pinfo && pinfo->plain && R->umask_known && !(R->umask & 0700)) {
		/* Nothing in the parent changes what mkdir was asked for. */
		d->info.mode = mode & ~R->umask;
		d->info.plain = 1;
		d->info.gid_egid = pinfo->gid_egid;
	} else if (dir_info_of(R, d->fd, &d->info) != 0) {
		int e = errno;
		close(d->fd);
		d->fd = -1;
		return cairn_error_set_errno(CAIRN_EIO, e, "cannot stat");
	}
	return 0;
}

static int create_node(restore *R, int pfd, const dir_info *pinfo, const char *name,
                       const cairn_entry *e, int *chmod)
{
	int rc;
	*chmod = 1;
	if (e->type == CAIRN_ENTRY_SYMLINK) {
		rc = symlinkat(e->link_target, pfd, name);
		if (rc != 0 && errno == EEXIST && make_room(pfd, name) == 0)
			rc = symlinkat(e->link_target, pfd, name);
		return rc ? cairn_error_set_errno(CAIRN_EIO, errno, "cannot create symlink") : 0;
	}
	mode_t type = e->type == CAIRN_ENTRY_FIFO      ? S_IFIFO
	              : e->type == CAIRN_ENTRY_SOCKET  ? S_IFSOCK
	              : e->type == CAIRN_ENTRY_CHARDEV ? S_IFCHR
	                                               : S_IFBLK;
	dev_t dev = (type == S_IFCHR || type == S_IFBLK) ? (dev_t)e->rdev : 0;
	mode_t mode = e->mode & 0777;
	rc = mknodat(pfd, name, type | mode, dev);
	if (rc != 0 && errno == EEXIST && make_room(pfd, name) == 0)
		rc = mknodat(pfd, name, type | mode, dev);
	if (rc)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create");
	*chmod = !(pinfo && pinfo->plain && (mode & ~R->umask) == (e->mode & 07777));
	return 0;
}

/* A hard link: to its first name if that was restored; otherwise this
 * name holds the content (written once the manifest has been read). */
static int create_hardlink(restore *R, int pfd, const char *name, cairn_entry *e)
{
	const char *target = e->link_target, *src = target;
	if (!target || cairn_restore_path_check(target) || !strcmp(target, "/") ||
	    cairn_path_cmp(target, e->path) >= 0)
		return cairn_error_set(CAIRN_ECORRUPT, "hard link to an invalid first name");
	link_slot *s = link_find(&R->links, target);
	if (s && !s->holder)
		return cairn_error_set(CAIRN_EIO,
		                       "not restored: its first name %s was not restored", target);
	if (s) {
		src = s->holder;
	} else if (R->n_includes &&
	           cairn_restore_include_match((const char *const *)R->includes, R->n_includes,
	                                       target) != CAIRN_RESTORE_SELECTED) {
		dev_t dev = 0;
		ino_t ino = 0;
		int rc = create_holder(pfd, name, &dev, &ino);
		if (rc)
			return rc;
		char *t = strdup(target), *h = strdup(e->path);
		if (!t || !h) {
			free(t);
			free(h);
			return oom();
		}
		for (size_t i = 0; i < R->n_stack; i++)
			R->stack[i].holder = 1;
		return link_put(&R->links, t, h, dev, ino);
	}

	const char *sdir, *sname;
	size_t slen;
	split_path(src, &sdir, &slen, &sname);
	char *rel = strndup(sdir, slen);
	if (!rel)
		return oom();
	int sfd = open_beneath(R, rel, O_PATH | O_DIRECTORY, 0, 0);
	free(rel);
	if (sfd < 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot link to %s", src);
	int rc = linkat(sfd, sname, pfd, name, 0);
	if (rc != 0 && errno == EEXIST && make_room(pfd, name) == 0)
		rc = linkat(sfd, sname, pfd, name, 0);
	int saved = errno;
	close(sfd);
	return rc ? cairn_error_set_errno(CAIRN_EIO, saved, "cannot link to %s", src) : 0;
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
static int leave_dirs(restore *R, const char *path)
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
static int finish_waiting(restore *R)
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
static int restore_file(restore *R, int pfd, const dir_info *pinfo, const char *name,
                        cairn_entry *e)
{
	mode_t want = e->mode & 07777;
	/* Created with its permission bits, its mode is right already unless
	 * the umask, a default ACL or set-id bits say otherwise. Writing
	 * xattrs needs the owner's write bit until they are set. */
	mode_t mode = e->n_xattrs ? (want & 0777) | 0200 : want & 0777;
	int chmod = !(pinfo && pinfo->plain && (mode & ~R->umask) == want);
	int chown =
	    R->is_root && !(pinfo && pinfo->gid_egid && e->uid == R->euid && e->gid == R->egid);
	int fatal;
	int fd = create_open(R, pfd, name, mode, &fatal);
	if (fd < 0)
		return fatal ? fatal : 1;
	R->res->files++;
	return add_file(R, e, fd, chmod, chown);
}

/* Restores one manifest entry (taking it). Problems with the entry are
 * reported and counted; only fatal errors are returned. */
static int restore_entry(restore *R, cairn_entry *e)
{
	const char *name;
	const dir_info *pinfo;
	int rc = 0, sel;

	if (cairn_restore_path_check(e->path) != 0) {
		warnf(R, e->path, "not restored: %s", cairn_error_last());
		R->res->errors++;
		goto out;
	}
	if (strcmp(e->path, "/") == 0)
		goto out; /* the target itself: left as it is */
	sel = cairn_restore_include_match((const char *const *)R->includes, R->n_includes, e->path);
	if (sel == CAIRN_RESTORE_SKIP) {
		if (cairn_restore_includes_passed((const char *const *)R->includes, R->n_includes,
		                                  e->path))
			R->done = 1;
		goto out;
	}
	if (sel == CAIRN_RESTORE_ANCESTOR && e->type != CAIRN_ENTRY_DIR)
		goto out;

	cairn_buf_clear(&R->last_path);
	if ((rc = cairn_buf_append_str(&R->last_path, e->path)) || (rc = leave_dirs(R, e->path)))
		goto out;
	int pfd = parent_dir(R, e->path, 1, &name, &pinfo);
	if (pfd == CAIRN_ENOMEM) {
		rc = pfd;
		goto out;
	}
	if (pfd < 0) {
		warnf(R, e->path, "not restored: %s", cairn_error_last());
		R->res->errors++;
		if (e->type == CAIRN_ENTRY_FILE)
			rc = note_failed_file(R, e->path);
		goto out;
	}
	/* The stack may move when a directory is pushed. */
	dir_info pcopy;
	if (pinfo) {
		pcopy = *pinfo;
		pinfo = &pcopy;
	}

	switch (e->type) {
	case CAIRN_ENTRY_DIR: {
		if ((rc = grow((void **)&R->stack, &R->cap_stack, R->n_stack + 1,
		               sizeof(*R->stack))))
			goto out;
		rdir *d = &R->stack[R->n_stack];
		memset(d, 0, sizeof(*d));
		d->e = *e;
		if ((rc = create_dir(R, pfd, pinfo, name, d))) {
			memset(&d->e, 0, sizeof(d->e)); /* still e's */
			break;
		}
		memset(e, 0, sizeof(*e));
		d->len = strlen(d->e.path);
		/* Past this depth, directories are reached by path. */
		if (R->n_stack >= R->max_dir_fds) {
			close(d->fd);
			d->fd = -1;
		}
		R->n_stack++;
		R->res->dirs++;
		break;
	}
	case CAIRN_ENTRY_FILE:
		rc = restore_file(R, pfd, pinfo, name, e);
		if (rc <= 0)
			goto out;
		rc = CAIRN_EIO;
		break;
	case CAIRN_ENTRY_HARDLINK:
		if (!(rc = create_hardlink(R, pfd, name, e)))
			R->res->files++;
		break;
	case CAIRN_ENTRY_CHARDEV:
	case CAIRN_ENTRY_BLOCKDEV:
		if (!R->is_root) {
			warnf(R, e->path, "device not created: that needs root");
			goto out;
		}
		/* fall through */
	case CAIRN_ENTRY_SYMLINK:
	case CAIRN_ENTRY_FIFO:
	case CAIRN_ENTRY_SOCKET: {
		int chmod;
		if ((rc = create_node(R, pfd, pinfo, name, e, &chmod)))
			break;
		R->res->others++;
		rc = apply_meta_at(R, pfd, name, e, chmod);
		if (rc == CAIRN_ENOMEM)
			goto out;
		if (rc)
			R->res->errors++;
		rc = 0;
		goto out;
	}
	default:
		rc = cairn_error_set(CAIRN_ECORRUPT, "unknown entry type %u", e->type);
		break;
	}
	if (rc && rc != CAIRN_ENOMEM) {
		warnf(R, e->path, "not restored: %s", cairn_error_last());
		R->res->errors++;
		rc = e->type == CAIRN_ENTRY_FILE ? note_failed_file(R, e->path) : 0;
	}
out:
	cairn_entry_clear(e);
	progress(R, 0);
	return rc;
}

/* A manifest that cannot be read to its end: what was read is restored,
 * the rest is reported as missing. Other errors end the restore. */
static int manifest_error(restore *R, int rc)
{
	if (rc != CAIRN_ECORRUPT && rc != CAIRN_ENOTFOUND)
		return rc;
	warnf(R, "(manifest)", "the rest of the snapshot cannot be read: %s", cairn_error_last());
	R->res->errors++;
	return 0;
}

static int by_target(const void *a, const void *b)
{
	return cairn_path_cmp((*(link_slot *const *)a)->target, (*(link_slot *const *)b)->target);
}

/* Opens a holder for writing again, checking that it is still the one
 * created. -1 with a message in why. */
static int open_holder(restore *R, const link_slot *s, char *why, size_t why_len)
{
	int flags = (R->opts->verify ? O_RDWR : O_WRONLY) | O_NOFOLLOW;
	int fd = open_beneath(R, s->holder + 1, flags, 0, 0);
	struct stat st;
	if (fd < 0) {
		snprintf(why, why_len, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_dev != s->dev || st.st_ino != s->ino) {
		snprintf(why, why_len, "replaced during the restore");
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes the content of hard link groups whose first name was not
 * restored into the name that stands in for it. */
static int restore_link_holders(restore *R)
{
	link_slot **v = NULL;
	cairn_tree_reader *t = NULL;
	cairn_entry e = {0};
	size_t n = 0, k = 0;
	int rc = 0;

	for (size_t i = 0; i < R->links.cap; i++)
		if (R->links.slots[i].target && R->links.slots[i].holder)
			n++;
	if (n == 0)
		return 0;
	if (!(v = malloc(n * sizeof(*v))))
		return oom();
	n = 0;
	for (size_t i = 0; i < R->links.cap; i++)
		if (R->links.slots[i].target && R->links.slots[i].holder)
			v[n++] = &R->links.slots[i];
	qsort(v, n, sizeof(*v), by_target);

	if ((rc = cairn_tree_reader_open(&t, R->repo, R->snap)))
		goto out;
	while (k < n) {
		rc = cairn_tree_reader_next(t, &e);
		if (rc < 0) {
			rc = manifest_error(R, rc);
			break;
		}
		if (rc == 0)
			break;
		rc = 0;
		while (k < n && cairn_path_cmp(v[k]->target, e.path) < 0) {
			warnf(R, v[k]->holder,
			      "no content: its first name %s is not in the snapshot", v[k]->target);
			R->res->errors++;
			k++;
		}
		if (k < n && strcmp(v[k]->target, e.path) == 0) {
			link_slot *s = v[k++];
			if (e.type != CAIRN_ENTRY_FILE) {
				warnf(R, s->holder, "no content: its first name %s is not a file",
				      s->target);
				R->res->errors++;
			} else {
				char why[256];
				int fd = open_holder(R, s, why, sizeof(why));
				if (fd >= 0 && ftruncate(fd, (off_t)e.size) != 0) {
					snprintf(why, sizeof(why), "cannot set the size: %s",
					         strerror(errno));
					close(fd);
					fd = -1;
				}
				if (fd >= 0) {
					char *p = strdup(s->holder);
					if (!p) {
						close(fd);
						rc = oom();
						break;
					}
					free(e.path);
					e.path = p;
					if ((rc = add_file(R, &e, fd, 1, R->is_root)))
						break;
					continue;
				}
				warnf(R, s->holder, "no content: %s", why);
				R->res->errors++;
			}
		}
		cairn_entry_clear(&e);
	}
	for (; !rc && k < n; k++) {
		warnf(R, v[k]->holder, "no content: its first name %s was not found", v[k]->target);
		R->res->errors++;
	}
	if (!rc && !(rc = seal(R)))
		rc = drain(R);
out:
	cairn_entry_clear(&e);
	cairn_tree_reader_free(t);
	free(v);
	return rc;
}

/* The umask, which open and mkdir apply to what they are asked for, read
 * without changing it (umask(2) would, for every thread). */
static int read_umask(mode_t *out)
{
	char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	unsigned m;
	if (cairn_restore_umask_parse(buf, &m) != 0)
		return -1;
	*out = (mode_t)m;
	return 0;
}

/* Creates the target and its missing parents. */
static int open_target(restore *R, const char *target)
{
	char *p = strdup(target);
	if (!p)
		return oom();
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			int e = errno;
			int rc = cairn_error_set_errno(CAIRN_EIO, e, "cannot create %s", p);
			free(p);
			return rc;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(target, 0755) != 0 && errno != EEXIST)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create %s", target);
	R->root_fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (R->root_fd < 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot open %s", target);
	if (dir_info_of(R, R->root_fd, &R->root_info) != 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat %s", target);
	return 0;
}

/* Sizes the batches by the descriptors the process may still open: every
 * file of a batch in flight holds one, and workers reading packs must
 * never run out. */
static int batches_init(restore *R)
{
	uint64_t limit = cairn_open_fd_limit();
	long open_now = cairn_open_fd_count();
	uint64_t margin = FD_MARGIN + 2 * (uint64_t)R->n_workers;
	R->max_files =
	    cairn_restore_fd_budget(limit, open_now < 0 ? 64 : (uint64_t)open_now, margin,
	                            N_BATCHES, BATCH_FILES, DIR_FDS_MAX, &R->max_dir_fds);
	R->next_files = BATCH_FIRST < R->max_files ? BATCH_FIRST : R->max_files;
	for (size_t i = 0; i < N_BATCHES; i++) {
		batch *b = &R->batches[i];
		if (!(b->files = calloc(R->max_files, sizeof(*b->files))))
			return oom();
		for (size_t f = 0; f < R->max_files; f++)
			b->files[f].fd = -1;
	}
	return 0;
}

static void batches_free(restore *R)
{
	for (size_t i = 0; i < N_BATCHES; i++) {
		batch *b = &R->batches[i];
		if (b->files) {
			for (size_t f = 0; f < b->n_files; f++)
				rfile_clear(&b->files[f]);
			free(b->files);
		}
		free(b->uses);
		free(b->ublobs);
		free(b->blobs);
		free(b->ranges);
		free(b->idle);
	}
	rfile_clear(&R->orphan);
}

int cairn_restore(cairn_repo *r, const cairn_snapshot *snap, const cairn_restore_opts *opts,
                  cairn_restore_result *out)
{
	restore *R = calloc(1, sizeof(*R));
	cairn_tree_reader *t = NULL;
	cairn_entry e = {0};
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!R)
		return oom();
	R->repo = r;
	R->store = cairn_repo_store(r);
	int local = strcmp(R->store->ops->name, "local") == 0;
	R->range_gap = local ? RANGE_GAP_LOCAL : RANGE_GAP_REMOTE;
	R->range_max = local ? RANGE_MAX_LOCAL : RANGE_MAX_REMOTE;
	R->snap = snap;
	R->opts = opts;
	R->res = out;
	R->root_fd = -1;
	R->parent_fd = -1;
	R->orphan.fd = -1;
	R->euid = geteuid();
	R->egid = getegid();
	R->is_root = R->euid == 0;
	R->have_proc = access("/proc/self/fd", X_OK) == 0;
	R->umask_known = read_umask(&R->umask) == 0;

	if (!opts->target || !opts->target[0]) {
		rc = cairn_error_set(CAIRN_EINVAL, "no target directory");
		goto out;
	}
	if (opts->n_includes) {
		if (!(R->includes = calloc(opts->n_includes, sizeof(char *)))) {
			rc = oom();
			goto out;
		}
		for (; R->n_includes < opts->n_includes; R->n_includes++)
			if ((rc = cairn_path_normalize(&R->includes[R->n_includes], "/",
			                                opts->includes[R->n_includes])))
				goto out;
	}
	if ((rc = open_target(R, opts->target)) || (rc = pool_start(R)) ||
	    (rc = cairn_tree_reader_open(&t, r, snap)) || (rc = batches_init(R)))
		goto out;
	progress(R, 1);

	while (!R->done) {
		rc = cairn_tree_reader_next(t, &e);
		if (rc < 0) {
			rc = manifest_error(R, rc);
			break;
		}
		if (rc == 0)
			break;
		if ((rc = restore_entry(R, &e)))
			goto out;
	}
	if (rc || (rc = leave_dirs(R, NULL)) || (rc = seal(R)) || (rc = drain(R)) ||
	    (rc = restore_link_holders(R)) || (rc = finish_waiting(R)))
		goto out;
	R->last_path.len = 0;
	progress(R, 1);
out:
	cairn_entry_clear(&e);
	cairn_tree_reader_free(t);
	pool_stop(R);
	out->bytes = atomic_load(&R->bytes_written);
	batches_free(R);
	for (size_t i = 0; i < R->n_stack; i++) {
		if (R->stack[i].fd >= 0)
			close(R->stack[i].fd);
		cairn_entry_clear(&R->stack[i].e);
	}
	free(R->stack);
	for (size_t i = 0; i < R->n_waiting; i++)
		cairn_entry_clear(&R->waiting[i].e);
	free(R->waiting);
	link_table_free(&R->links);
	for (size_t i = 0; i < R->n_includes; i++)
		free(R->includes[i]);
	free(R->includes);
	cairn_buf_free(&R->last_path);
	free(R->parent_rel);
	if (R->parent_fd >= 0)
		close(R->parent_fd);
	if (R->root_fd >= 0)
		close(R->root_fd);
	free(R->fatal_msg);
	free(R);
	if (!rc && out->errors)
		rc = cairn_error_set(CAIRN_EPARTIAL, "%llu entries could not be restored",
		                     (unsigned long long)out->errors);
	return rc;
}

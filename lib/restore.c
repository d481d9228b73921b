/* The restore engine.
 *
 * The main thread reads the manifest in path order and creates every entry
 * under the target at once (directories, empty regular files of the right
 * size, symlinks, links, FIFOs, devices). Regular file content is gathered
 * in batches: a batch's chunk fingerprints are looked up in one go, the
 * blobs are grouped into ranged pack reads, and a pool of workers reads
 * each range once, authenticates every blob and writes it to each place
 * that uses it. File metadata follows the batch's data; a directory's
 * metadata follows everything inside it, deepest first.
 *
 * A blob that fails to read or authenticate is never written: the places
 * that need it stay zeros, and each file concerned is reported once, when
 * it is finished. A hard link whose first name the includes leave out
 * becomes a regular file that holds the group's content, which one more
 * pass over the manifest fills in at the end.
 *
 * Nothing is created by following a symlink inside the target: paths are
 * resolved beneath the target's descriptor with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), or component by component with O_NOFOLLOW where
 * openat2 is missing. */
#include "cairn/restore.h"

#include "cairn/errors.h"
#include "cairn/tree.h"
#include "restore_plan.h"
#include "util/hex.h"
#include "util/path.h"

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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define BATCH_FILES 4096           /* regular files (or parts of one) per batch */
#define BATCH_BYTES (256ull << 20) /* content bytes per batch */
#define BATCH_REFS (256u * 1024)   /* chunk refs per batch */
#define BATCH_DIRS 4096            /* finished directories waiting for metadata */
#define RANGE_GAP (1u << 20)       /* read through gaps up to this size */
#define RANGE_MAX (16u << 20)      /* longest ranged read of a pack */
#define LOOKUP_SLICE 8192          /* fingerprints per index query */
#define OPEN_FILES_MAX 256         /* descriptors a worker keeps open */
#define MAX_THREADS 256
#define PROGRESS_NS 200000000ll
#define ZERO_CHECK 65536 /* read size when checking that a hole reads as zeros */

/* A regular file, or the part of one this batch writes. */
typedef struct rfile {
	cairn_entry e;
	size_t from, to;      /* chunks written by this batch */
	uint64_t from_offset; /* file offset of chunk from */
	uint64_t to_offset;   /* file offset of chunk to */
	dev_t dev;
	ino_t ino;
	int last; /* this batch writes the file's last chunk */
	unsigned n_damage;
	char *damage; /* the first damage found */
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

/* A directory restored but not finished: its metadata waits for its
 * contents. */
typedef struct rdir {
	cairn_entry e;
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

enum phase { PHASE_WRITE, PHASE_VERIFY };

struct restore;

typedef struct open_file {
	size_t file;
	int fd;
	uint64_t used;
} open_file;

typedef struct worker {
	struct restore *R;
	pthread_t thread;
	int started;
	cairn_sealer *sealer;
	cairn_fingerprinter *fp;
	cairn_buf raw, plain;
	open_file *open;
	size_t n_open, cap_open;
	uint64_t clock;
} worker;

typedef struct restore {
	cairn_repo *repo;
	cairn_store *store;
	const cairn_snapshot *snap;
	const cairn_restore_opts *opts;
	cairn_restore_result *res;
	char **includes;
	size_t n_includes;
	int root_fd;
	int is_root;
	int have_proc;
	int xattr_unsupported;
	int done; /* the includes are behind us */
	cairn_buf last_path;

	/* The parent directory of the last entry handled. */
	char *parent_rel;
	int parent_fd;

	rfile *files;
	size_t n_files;
	uint64_t batch_bytes;
	size_t batch_refs;

	rdir *stack;
	size_t n_stack, cap_stack;
	rdir *pending;
	size_t n_pending, cap_pending;

	link_table links;

	use *uses;
	size_t n_uses, cap_uses;
	ublob *ublobs;
	size_t n_ublobs;
	cairn_restore_blob *blobs;
	cairn_restore_range *ranges;
	size_t n_ranges;

	worker *workers;
	size_t n_workers;
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	pthread_mutex_t damage_mu;
	int pool_ready;
	unsigned generation;
	int stop;
	enum phase phase;
	size_t n_tasks;
	atomic_size_t next_task;
	size_t busy;
	atomic_int failed; /* a worker hit a fatal error */
	int fatal_rc;
	char *fatal_msg;

	atomic_uint_fast64_t bytes_written; /* content restored, holes included */
	atomic_uint_fast64_t bytes_lost;    /* content that could not be restored */
	uint64_t files_done;
	int64_t last_progress;
} restore;

static atomic_int no_openat2;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void progress(restore *R, int force)
{
	const cairn_restore_opts *o = R->opts;
	if (!o->progress)
		return;
	int64_t now = now_ns();
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

/* A descriptor (O_PATH) of the directory holding path, owned by R; missing
 * directories are created if create. *name_out points into path. */
static int parent_dir(restore *R, const char *path, int create, const char **name_out)
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

/* Clears the way for a new entry name in pfd: removes a non-directory or
 * an empty directory. */
static int make_room(int pfd, const char *name)
{
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	return unlinkat(pfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
}

/* ---- metadata -------------------------------------------------------- */

static int set_xattrs(restore *R, int pfd, const char *name, const cairn_entry *e)
{
	cairn_buf p = CAIRN_BUF_INIT;
	int bad = 0;
	if (R->xattr_unsupported)
		return 0;
	/* No *at form of setxattr: go through the directory's descriptor so
	 * that no symlink on the way can be followed. */
	int rc = R->have_proc ? cairn_buf_printf(&p, "/proc/self/fd/%d/%s", pfd, name)
	                      : cairn_buf_printf(&p, "%s%s", R->opts->target, e->path);
	if (rc)
		return oom();
	for (size_t i = 0; i < e->n_xattrs; i++) {
		const cairn_xattr *x = &e->xattrs[i];
		if (strncmp(x->name, "user.", 5) != 0)
			continue;
		if (lsetxattr((const char *)p.data, x->name, x->value, x->value_len, 0) == 0)
			continue;
		if (errno == ENOTSUP || errno == EOPNOTSUPP) {
			warnf(R, e->path,
			      "the target's file system does not support extended attributes: "
			      "none are restored");
			R->xattr_unsupported = 1;
			break;
		}
		warnf(R, e->path, "cannot set extended attribute %s: %s", x->name, strerror(errno));
		bad = 1;
	}
	cairn_buf_free(&p);
	return bad ? CAIRN_EIO : 0;
}

/* Applies owner (as root), user.* xattrs, mode and mtime to the entry at
 * e->path, in that order: chown clears set-user-id bits and setting
 * xattrs needs write permission. With check, the entry must still be the
 * inode (dev, ino). Problems are reported; CAIRN_EIO if there was one. */
static int apply_meta(restore *R, const cairn_entry *e, int check, dev_t dev, ino_t ino)
{
	const char *name;
	struct stat st;
	int bad = 0;
	int pfd = parent_dir(R, e->path, 0, &name);
	if (pfd == CAIRN_ENOMEM)
		return pfd;
	if (pfd < 0) {
		warnf(R, e->path, "metadata not restored: %s", cairn_error_last());
		return CAIRN_EIO;
	}
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		warnf(R, e->path, "metadata not restored: %s", strerror(errno));
		return CAIRN_EIO;
	}
	if (check && (st.st_dev != dev || st.st_ino != ino)) {
		warnf(R, e->path, "metadata not restored: replaced during the restore");
		return CAIRN_EIO;
	}
	if (R->is_root && fchownat(pfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) != 0) {
		warnf(R, e->path, "cannot set owner %u:%u: %s", e->uid, e->gid, strerror(errno));
		bad = 1;
	}
	if (e->n_xattrs) {
		int rc = set_xattrs(R, pfd, name, e);
		if (rc == CAIRN_ENOMEM)
			return rc;
		bad |= rc != 0;
	}
	/* Not a symlink (checked above), so fchmodat follows nothing. */
	if (!S_ISLNK(st.st_mode) && fchmodat(pfd, name, e->mode & 07777, 0) != 0) {
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

/* ---- damage ---------------------------------------------------------- */

/* Records a problem with [offset, offset + length) of file: lost if those
 * bytes could not be written (they stay zeros), else they read back wrong. */
static void damage(restore *R, size_t file, uint64_t offset, uint64_t length, int lost,
                   const char *why)
{
	pthread_mutex_lock(&R->damage_mu);
	rfile *rf = &R->files[file];
	if (rf->n_damage++ == 0) {
		cairn_buf b = CAIRN_BUF_INIT;
		int rc = length ? cairn_buf_printf(&b, "bytes %llu to %llu%s: %s",
		                                   (unsigned long long)offset,
		                                   (unsigned long long)(offset + length),
		                                   lost ? " left as zeros" : "", why)
		                : cairn_buf_printf(&b, "%s", why);
		if (rc == 0)
			rf->damage = (char *)cairn_buf_detach(&b, NULL);
		cairn_buf_free(&b);
	}
	pthread_mutex_unlock(&R->damage_mu);
	if (lost)
		atomic_fetch_add(&R->bytes_lost, length);
}

static void damage_blob(restore *R, const ublob *ub, const char *why)
{
	for (size_t i = ub->first; i < ub->first + ub->count; i++)
		damage(R, R->uses[i].file, R->uses[i].offset, R->uses[i].length, 1, why);
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

static void close_files(worker *w)
{
	for (size_t i = 0; i < w->n_open; i++)
		close(w->open[i].fd);
	w->n_open = 0;
}

/* Opens a file of the batch for writing or reading, checking that it is
 * still the one created. -1 with a message in why. */
static int open_file_checked(restore *R, const rfile *rf, int flags, char *why, size_t why_len)
{
	int fd = open_beneath(R, rf->e.path + 1, flags | O_NOFOLLOW, 0, 0);
	struct stat st;
	if (fd < 0) {
		snprintf(why, why_len, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_dev != rf->dev || st.st_ino != rf->ino) {
		snprintf(why, why_len, "replaced during the restore");
		close(fd);
		return -1;
	}
	return fd;
}

/* The worker's descriptor for writing file, kept among its open files. */
static int write_fd(worker *w, size_t file, char *why, size_t why_len)
{
	size_t victim = 0;
	for (size_t i = 0; i < w->n_open; i++) {
		if (w->open[i].file == file) {
			w->open[i].used = ++w->clock;
			return w->open[i].fd;
		}
		if (w->open[i].used < w->open[victim].used)
			victim = i;
	}
	int fd = open_file_checked(w->R, &w->R->files[file], O_WRONLY, why, why_len);
	if (fd < 0)
		return -1;
	if (w->n_open == w->cap_open) {
		close(w->open[victim].fd);
		w->open[victim] = w->open[--w->n_open];
	}
	w->open[w->n_open++] = (open_file){file, fd, ++w->clock};
	return fd;
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t k = pwrite(fd, p, n, (off_t)off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

static ssize_t pread_all(int fd, uint8_t *p, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, p + got, n - got, (off_t)(off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* Reads one range of a pack, opens every blob in it and writes each to
 * every place that uses it. */
static void write_range(worker *w, size_t task)
{
	restore *R = w->R;
	const cairn_restore_range *rg = &R->ranges[task];
	char key[80], pack[CAIRN_ID_HEX + 1], why[1400];
	cairn_repo_pack_key(key, R->blobs[rg->first].pack);
	cairn_hex_encode(pack, R->blobs[rg->first].pack, CAIRN_ID_SIZE);

	int rc = cairn_store_get(R->store, key, rg->offset, rg->length, &w->raw);
	if (rc == CAIRN_ENOMEM) {
		fail_fatal(R, rc);
		return;
	}
	if (rc) {
		snprintf(why, sizeof(why), "cannot read pack %.16s: %s", pack, cairn_error_last());
		for (size_t k = rg->first; k < rg->first + rg->count; k++)
			damage_blob(R, &R->ublobs[R->blobs[k].id], why);
		return;
	}
	for (size_t k = rg->first; k < rg->first + rg->count; k++) {
		const cairn_restore_blob *b = &R->blobs[k];
		const ublob *ub = &R->ublobs[b->id];
		uint64_t at = b->offset - rg->offset;
		if (at + b->length > w->raw.len) {
			snprintf(why, sizeof(why),
			         "pack %.16s ends before the blob at offset %u (truncated)", pack,
			         b->offset);
			damage_blob(R, ub, why);
			continue;
		}
		rc = cairn_repo_open_blob(w->sealer, w->fp, &ub->ie, w->raw.data + at, b->length,
		                          &w->plain);
		if (rc == CAIRN_ENOMEM) {
			fail_fatal(R, rc);
			return;
		}
		if (rc) {
			snprintf(why, sizeof(why), "%s", cairn_error_last());
			damage_blob(R, ub, why);
			continue;
		}
		for (size_t i = ub->first; i < ub->first + ub->count; i++) {
			const use *u = &R->uses[i];
			int fd = write_fd(w, u->file, why, sizeof(why));
			if (fd >= 0 && pwrite_all(fd, w->plain.data, u->length, u->offset) != 0)
				snprintf(why, sizeof(why), "cannot write: %s", strerror(errno));
			else if (fd >= 0) {
				atomic_fetch_add(&R->bytes_written, u->length);
				continue;
			}
			damage(R, u->file, u->offset, u->length, 1, why);
		}
	}
}

/* Whether [off, off + len) of fd reads as zeros, skipping holes. */
static int zeros_at(worker *w, int fd, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	if (cairn_buf_reserve(&w->plain, ZERO_CHECK))
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
			ssize_t k = pread_all(fd, w->plain.data, n, p);
			if (k < (ssize_t)n)
				return 0;
			for (size_t i = 0; i < n; i++)
				if (w->plain.data[i])
					return 0;
			p += n;
		}
		off = stop;
	}
	return 1;
}

/* Re-reads the part of a file this batch wrote and compares every chunk
 * with its fingerprint. */
static void verify_file(worker *w, size_t task)
{
	restore *R = w->R;
	rfile *rf = &R->files[task];
	char why[512];
	uint8_t fp[CAIRN_FP_SIZE];
	if (rf->n_damage || rf->from == rf->to)
		return;
	int fd = open_file_checked(R, rf, O_RDONLY, why, sizeof(why));
	if (fd < 0) {
		damage(R, task, rf->from_offset, rf->to_offset - rf->from_offset, 0, why);
		return;
	}
	struct stat st;
	if (rf->last && fstat(fd, &st) == 0 && (uint64_t)st.st_size != rf->e.size) {
		snprintf(why, sizeof(why), "verify: size %llu, expected %llu",
		         (unsigned long long)st.st_size, (unsigned long long)rf->e.size);
		damage(R, task, 0, 0, 0, why);
	}
	uint64_t off = rf->from_offset;
	for (size_t c = rf->from; c < rf->to; off += rf->e.chunks[c++].length) {
		const cairn_chunk_ref *ref = &rf->e.chunks[c];
		int ok;
		cairn_buf_clear(&w->plain);
		if (is_hole(ref)) {
			ok = zeros_at(w, fd, off, ref->length);
		} else if (cairn_buf_reserve(&w->plain, ref->length) != 0) {
			ok = -1;
		} else {
			ssize_t k = pread_all(fd, w->plain.data, ref->length, off);
			ok = k == (ssize_t)ref->length &&
			     cairn_fingerprint(w->fp, fp, w->plain.data, ref->length) == 0 &&
			     memcmp(fp, ref->fp, CAIRN_FP_SIZE) == 0;
		}
		if (ok < 0) {
			fail_fatal(R, oom());
			break;
		}
		if (!ok) {
			damage(R, task, off, ref->length, 0,
			       "verify: the bytes read back do not match the snapshot");
		}
	}
	close(fd);
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	restore *R = w->R;
	unsigned seen = 0;
	pthread_mutex_lock(&R->mu);
	for (;;) {
		while (!R->stop && R->generation == seen)
			pthread_cond_wait(&R->work_cv, &R->mu);
		if (R->stop)
			break;
		seen = R->generation;
		enum phase ph = R->phase;
		size_t n = R->n_tasks;
		pthread_mutex_unlock(&R->mu);
		for (;;) {
			size_t i = atomic_fetch_add(&R->next_task, 1);
			if (i >= n || atomic_load(&R->failed))
				break;
			if (ph == PHASE_WRITE)
				write_range(w, i);
			else
				verify_file(w, i);
		}
		close_files(w);
		pthread_mutex_lock(&R->mu);
		if (--R->busy == 0)
			pthread_cond_signal(&R->done_cv);
	}
	pthread_mutex_unlock(&R->mu);
	return NULL;
}

static int pool_start(restore *R)
{
	const cairn_restore_opts *o = R->opts;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = o->threads > 0 ? (size_t)o->threads : (ncpu > 0 ? (size_t)ncpu : 1);
	if (n > MAX_THREADS)
		n = MAX_THREADS;
	/* Share the descriptors the process may open among the workers. */
	size_t per = OPEN_FILES_MAX;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		rlim_t spare = rl.rlim_cur > 128 ? rl.rlim_cur - 128 : 1;
		if (spare / n < per)
			per = spare / n ? (size_t)(spare / n) : 1;
	}
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
		w->cap_open = per;
		if (!(w->open = calloc(per, sizeof(*w->open))))
			return oom();
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
		close_files(w);
		free(w->open);
		cairn_sealer_free(w->sealer);
		cairn_fingerprinter_free(w->fp);
		cairn_buf_free(&w->raw);
		cairn_buf_free(&w->plain);
	}
	free(R->workers);
	if (R->pool_ready) {
		pthread_mutex_destroy(&R->mu);
		pthread_mutex_destroy(&R->damage_mu);
		pthread_cond_destroy(&R->work_cv);
		pthread_cond_destroy(&R->done_cv);
	}
}

/* Runs n tasks of a phase on the workers and waits for them, keeping the
 * progress line alive meanwhile. */
static int run_phase(restore *R, enum phase ph, size_t n)
{
	if (n == 0)
		return 0;
	pthread_mutex_lock(&R->mu);
	R->phase = ph;
	R->n_tasks = n;
	atomic_store(&R->next_task, 0);
	R->busy = R->n_workers;
	R->generation++;
	pthread_cond_broadcast(&R->work_cv);
	while (R->busy) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += PROGRESS_NS;
		if (ts.tv_nsec >= 1000000000l) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000l;
		}
		pthread_cond_timedwait(&R->done_cv, &R->mu, &ts);
		if (R->busy) {
			pthread_mutex_unlock(&R->mu);
			progress(R, 0);
			pthread_mutex_lock(&R->mu);
		}
	}
	pthread_mutex_unlock(&R->mu);
	if (R->fatal_rc)
		return cairn_error_set(R->fatal_rc, "%s", R->fatal_msg ? R->fatal_msg : "failed");
	return 0;
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
static int blob_usable(restore *R, ublob *ub, int found)
{
	char hex[CAIRN_ID_HEX + 1], pack[CAIRN_ID_HEX + 1], why[256];
	cairn_hex_encode(hex, R->uses[ub->first].fp, CAIRN_FP_SIZE);
	cairn_hex_encode(pack, ub->ie.pack, CAIRN_ID_SIZE);
	if (!found || ub->ie.kind != CAIRN_BLOB_DATA) {
		snprintf(why, sizeof(why), "chunk %.16s is in no pack of the index", hex);
		damage_blob(R, ub, why);
		return 0;
	}
	/* Lengths are bounded before anything is read: the sealed length by
	 * the plaintext's, and the plaintext by the largest chunk. */
	if (ub->ie.raw_length > CAIRN_CHUNK_SIZE_HIGHEST ||
	    ub->ie.length > cairn_seal_bound(R->workers[0].sealer, ub->ie.raw_length)) {
		snprintf(why, sizeof(why),
		         "the index gives chunk %.16s in pack %.16s an impossible length", hex,
		         pack);
		damage_blob(R, ub, why);
		return 0;
	}
	int ok = 1;
	for (size_t i = ub->first; i < ub->first + ub->count; i++) {
		if (R->uses[i].length != ub->ie.raw_length) {
			snprintf(why, sizeof(why), "chunk %.16s is %u bytes in pack %.16s, not %u",
			         hex, ub->ie.raw_length, pack, R->uses[i].length);
			damage(R, R->uses[i].file, R->uses[i].offset, R->uses[i].length, 1, why);
			ok = 0;
		}
	}
	if (!ok) {
		/* Drop the uses that do not fit; the others still get the blob. */
		size_t k = ub->first;
		for (size_t i = ub->first; i < ub->first + ub->count; i++)
			if (R->uses[i].length == ub->ie.raw_length)
				R->uses[k++] = R->uses[i];
		ub->count = k - ub->first;
	}
	return ub->count > 0;
}

/* Lists what the batch needs, finds where the index says it is, and
 * groups it into ranged pack reads. */
static int plan_batch(restore *R)
{
	uint8_t(*fps)[32] = NULL;
	cairn_index_entry *ents = NULL;
	uint8_t *found = NULL;
	int rc = 0;

	R->n_uses = 0;
	R->n_ublobs = 0;
	R->n_ranges = 0;
	for (size_t f = 0; f < R->n_files; f++) {
		rfile *rf = &R->files[f];
		uint64_t off = rf->from_offset;
		for (size_t c = rf->from; c < rf->to; c++) {
			const cairn_chunk_ref *ref = &rf->e.chunks[c];
			if (is_hole(ref)) {
				atomic_fetch_add(&R->bytes_written, ref->length);
			} else if (ref->length) {
				if ((rc = grow((void **)&R->uses, &R->cap_uses, R->n_uses + 1,
				               sizeof(*R->uses))))
					goto out;
				use *u = &R->uses[R->n_uses++];
				memcpy(u->fp, ref->fp, CAIRN_FP_SIZE);
				u->length = ref->length;
				u->file = (uint32_t)f;
				u->offset = off;
			}
			off += ref->length;
		}
		rf->to_offset = off;
	}
	if (R->n_uses == 0)
		goto out;
	qsort(R->uses, R->n_uses, sizeof(*R->uses), use_cmp);

	size_t n = 0;
	for (size_t i = 0; i < R->n_uses; i++)
		if (i == 0 || memcmp(R->uses[i].fp, R->uses[i - 1].fp, CAIRN_FP_SIZE) != 0)
			n++;
	free(R->ublobs);
	free(R->blobs);
	R->blobs = NULL;
	if (!(R->ublobs = calloc(n, sizeof(*R->ublobs))) ||
	    !(R->blobs = calloc(n, sizeof(*R->blobs)))) {
		rc = oom();
		goto out;
	}
	for (size_t i = 0; i < R->n_uses; i++) {
		if (i == 0 || memcmp(R->uses[i].fp, R->uses[i - 1].fp, CAIRN_FP_SIZE) != 0)
			R->ublobs[R->n_ublobs++].first = i;
		R->ublobs[R->n_ublobs - 1].count++;
	}

	size_t slice = n < LOOKUP_SLICE ? n : LOOKUP_SLICE;
	if (!(fps = malloc(slice * sizeof(*fps))) || !(ents = calloc(slice, sizeof(*ents))) ||
	    !(found = calloc(slice, 1))) {
		rc = oom();
		goto out;
	}
	cairn_index *ix = cairn_repo_index(R->repo);
	size_t n_blobs = 0;
	for (size_t s = 0; s < n; s += slice) {
		size_t k = n - s < slice ? n - s : slice;
		for (size_t i = 0; i < k; i++)
			memcpy(fps[i], R->uses[R->ublobs[s + i].first].fp, CAIRN_FP_SIZE);
		memset(found, 0, k);
		if ((rc = ix->ops->lookup(ix, (const uint8_t(*)[32])fps, k, ents, found))) {
			cairn_error_prefix(rc, "index lookup");
			goto out;
		}
		for (size_t i = 0; i < k; i++) {
			ublob *ub = &R->ublobs[s + i];
			if (found[i]) {
				ub->ie = ents[i];
				memcpy(ub->ie.fp, fps[i], CAIRN_FP_SIZE);
			}
			if (!blob_usable(R, ub, found[i]))
				continue;
			cairn_restore_blob *b = &R->blobs[n_blobs++];
			memcpy(b->pack, ub->ie.pack, sizeof(b->pack));
			b->offset = ub->ie.offset;
			b->length = ub->ie.length;
			b->id = s + i;
		}
	}
	free(R->ranges);
	R->ranges = NULL;
	rc = cairn_restore_plan_ranges(R->blobs, n_blobs, RANGE_GAP, RANGE_MAX, &R->ranges,
	                               &R->n_ranges);
out:
	free(fps);
	free(ents);
	free(found);
	return rc;
}

static void clear_rdirs(rdir *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cairn_entry_clear(&v[i].e);
}

/* Applies the metadata of finished directories, deepest first. */
static int finish_dirs(restore *R)
{
	int rc = 0;
	for (size_t i = 0; i < R->n_pending && !rc; i++) {
		int m = apply_meta(R, &R->pending[i].e, 0, 0, 0);
		if (m == CAIRN_ENOMEM)
			rc = m;
		else if (m)
			R->res->errors++;
	}
	clear_rdirs(R->pending, R->n_pending);
	R->n_pending = 0;
	return rc;
}

/* Reports and finishes the files whose last part this batch wrote. */
static int finish_files(restore *R)
{
	for (size_t f = 0; f < R->n_files; f++) {
		rfile *rf = &R->files[f];
		if (!rf->last)
			continue;
		int bad = 0;
		if (rf->n_damage) {
			if (rf->n_damage > 1)
				warnf(R, rf->e.path, "%s (and %u more damaged parts)",
				      rf->damage ? rf->damage : "damaged", rf->n_damage - 1);
			else
				warnf(R, rf->e.path, "%s", rf->damage ? rf->damage : "damaged");
			bad = 1;
		}
		int m = apply_meta(R, &rf->e, 1, rf->dev, rf->ino);
		if (m == CAIRN_ENOMEM)
			return m;
		if (m || bad)
			R->res->errors++;
		R->files_done++;
		progress(R, 0);
	}
	return 0;
}

/* Writes everything the batch holds, then finishes what it completed. A
 * file not finished by this batch stays as the first of the next. */
static int flush(restore *R)
{
	int rc = 0;
	if (R->n_files) {
		if ((rc = plan_batch(R)) || (rc = run_phase(R, PHASE_WRITE, R->n_ranges)))
			goto out;
		if (R->opts->verify && (rc = run_phase(R, PHASE_VERIFY, R->n_files)))
			goto out;
		if ((rc = finish_files(R)))
			goto out;
	}
	rc = finish_dirs(R);
out:
	if (R->n_files) {
		rfile *tail = &R->files[R->n_files - 1];
		size_t keep = !rc && !tail->last;
		for (size_t f = 0; f + keep < R->n_files; f++) {
			cairn_entry_clear(&R->files[f].e);
			free(R->files[f].damage);
		}
		if (keep) {
			rfile carry = *tail;
			carry.from = carry.to;
			carry.from_offset = carry.to_offset;
			R->files[0] = carry;
		}
		R->n_files = keep;
	}
	R->batch_bytes = 0;
	R->batch_refs = 0;
	R->n_uses = 0;
	progress(R, 0);
	return rc;
}

/* Adds a created file (taking its entry) to the batch; a file too big for
 * one batch is written over several. */
static int add_file(restore *R, cairn_entry *e, dev_t dev, ino_t ino)
{
	int rc;
	if ((R->n_files == BATCH_FILES || R->batch_refs >= BATCH_REFS ||
	     R->batch_bytes >= BATCH_BYTES) &&
	    (rc = flush(R))) {
		cairn_entry_clear(e);
		return rc;
	}
	rfile *rf = &R->files[R->n_files++];
	memset(rf, 0, sizeof(*rf));
	rf->e = *e;
	memset(e, 0, sizeof(*e));
	rf->dev = dev;
	rf->ino = ino;
	for (;;) {
		rf = &R->files[R->n_files - 1];
		size_t to = rf->from;
		uint64_t bytes = 0;
		while (to < rf->e.n_chunks) {
			if (to > rf->from && (R->batch_refs + (to - rf->from) >= BATCH_REFS ||
			                      R->batch_bytes + bytes >= BATCH_BYTES))
				break;
			if (!is_hole(&rf->e.chunks[to]))
				bytes += rf->e.chunks[to].length;
			to++;
		}
		R->batch_refs += to - rf->from;
		R->batch_bytes += bytes;
		rf->to = to;
		rf->last = to == rf->e.n_chunks;
		if (rf->last)
			return 0;
		if ((rc = flush(R)))
			return rc;
	}
}

/* ---- creating entries ------------------------------------------------ */

/* Creates an empty regular file of size bytes (all hole) in place of
 * whatever was at name. */
static int create_file(int pfd, const char *name, uint64_t size, dev_t *dev, ino_t *ino)
{
	int fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && make_room(pfd, name) == 0)
		fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create");
	struct stat st;
	int rc = 0;
	if (size > (uint64_t)INT64_MAX || ftruncate(fd, (off_t)size) != 0)
		rc = cairn_error_set_errno(CAIRN_EIO, size > (uint64_t)INT64_MAX ? EFBIG : errno,
		                           "cannot set the size to %llu", (unsigned long long)size);
	else if (fstat(fd, &st) != 0)
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
	/* A strict umask must not keep the workers from reopening it. */
	else if ((st.st_mode & 0600) != 0600 && fchmod(fd, 0600) != 0)
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot make it writable");
	if (!rc) {
		*dev = st.st_dev;
		*ino = st.st_ino;
	}
	close(fd);
	return rc;
}

static int create_dir(int pfd, const char *name)
{
	struct stat st;
	if (mkdirat(pfd, name, 0700) != 0) {
		if (errno != EEXIST)
			return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create directory");
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			return cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
		if (!S_ISDIR(st.st_mode)) {
			if (unlinkat(pfd, name, 0) != 0 || mkdirat(pfd, name, 0700) != 0)
				return cairn_error_set_errno(CAIRN_EIO, errno,
				                             "cannot replace with a directory");
		}
	}
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
	if (!S_ISDIR(st.st_mode))
		return cairn_error_set(CAIRN_EIO, "replaced during the restore");
	/* Its own mode comes last; until then its contents must be creatable. */
	if ((st.st_mode & 0700) != 0700 && fchmodat(pfd, name, (st.st_mode & 07777) | 0700, 0) != 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot make it writable");
	return 0;
}

static int create_node(int pfd, const char *name, const cairn_entry *e)
{
	int rc;
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
	rc = mknodat(pfd, name, type | 0600, dev);
	if (rc != 0 && errno == EEXIST && make_room(pfd, name) == 0)
		rc = mknodat(pfd, name, type | 0600, dev);
	return rc ? cairn_error_set_errno(CAIRN_EIO, errno, "cannot create") : 0;
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
		dev_t dev;
		ino_t ino;
		int rc = create_file(pfd, name, 0, &dev, &ino);
		if (rc)
			return rc;
		char *t = strdup(target), *h = strdup(e->path);
		if (!t || !h) {
			free(t);
			free(h);
			return oom();
		}
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

/* Moves directories the entry at path is not inside of to the pending
 * list: their contents are complete. */
static int leave_dirs(restore *R, const char *path)
{
	while (R->n_stack) {
		rdir *top = &R->stack[R->n_stack - 1];
		if (path && cairn_restore_path_is_below(path, top->e.path))
			break;
		if (R->n_pending == BATCH_DIRS) {
			int rc = flush(R);
			if (rc)
				return rc;
		}
		int rc = grow((void **)&R->pending, &R->cap_pending, R->n_pending + 1,
		              sizeof(*R->pending));
		if (rc)
			return rc;
		R->pending[R->n_pending++] = *top;
		R->n_stack--;
	}
	return 0;
}

/* Restores one manifest entry (taking it). Problems with the entry are
 * reported and counted; only fatal errors are returned. */
static int restore_entry(restore *R, cairn_entry *e)
{
	const char *name;
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
	int pfd = parent_dir(R, e->path, 1, &name);
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

	switch (e->type) {
	case CAIRN_ENTRY_DIR:
		if ((rc = create_dir(pfd, name)))
			break;
		R->res->dirs++;
		if ((rc = grow((void **)&R->stack, &R->cap_stack, R->n_stack + 1,
		               sizeof(*R->stack))))
			goto out;
		R->stack[R->n_stack++].e = *e;
		memset(e, 0, sizeof(*e));
		break;
	case CAIRN_ENTRY_FILE: {
		dev_t dev;
		ino_t ino;
		if ((rc = create_file(pfd, name, e->size, &dev, &ino)))
			break;
		R->res->files++;
		return add_file(R, e, dev, ino);
	}
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
	case CAIRN_ENTRY_SOCKET:
		if ((rc = create_node(pfd, name, e)))
			break;
		R->res->others++;
		rc = apply_meta(R, e, 0, 0, 0);
		if (rc == CAIRN_ENOMEM)
			goto out;
		if (rc)
			R->res->errors++;
		rc = 0;
		goto out;
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
				rfile probe = {.dev = s->dev, .ino = s->ino};
				probe.e.path = s->holder;
				int fd = open_file_checked(R, &probe, O_WRONLY, why, sizeof(why));
				if (fd >= 0 && ftruncate(fd, (off_t)e.size) != 0)
					snprintf(why, sizeof(why), "cannot set the size: %s",
					         strerror(errno));
				else if (fd >= 0) {
					close(fd);
					char *p = strdup(s->holder);
					if (!p) {
						rc = oom();
						break;
					}
					free(e.path);
					e.path = p;
					if ((rc = add_file(R, &e, s->dev, s->ino)))
						break;
					continue;
				}
				if (fd >= 0)
					close(fd);
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
	if (!rc)
		rc = flush(R);
out:
	cairn_entry_clear(&e);
	cairn_tree_reader_free(t);
	free(v);
	return rc;
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
	return 0;
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
	R->snap = snap;
	R->opts = opts;
	R->res = out;
	R->root_fd = -1;
	R->parent_fd = -1;
	R->is_root = geteuid() == 0;
	R->have_proc = access("/proc/self/fd", X_OK) == 0;

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
			if ((rc = cairn_restore_include_normalize(opts->includes[R->n_includes],
			                                          &R->includes[R->n_includes])))
				goto out;
	}
	if (!(R->files = calloc(BATCH_FILES, sizeof(*R->files)))) {
		rc = oom();
		goto out;
	}
	if ((rc = open_target(R, opts->target)) || (rc = pool_start(R)) ||
	    (rc = cairn_tree_reader_open(&t, r, snap)))
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
	if (rc || (rc = leave_dirs(R, NULL)) || (rc = flush(R)) || (rc = restore_link_holders(R)))
		goto out;
	/* Directories changed by the link holders' content are already
	 * finished; nothing else is left to write. */
	R->last_path.len = 0;
	progress(R, 1);
out:
	cairn_entry_clear(&e);
	cairn_tree_reader_free(t);
	pool_stop(R);
	out->bytes = atomic_load(&R->bytes_written);
	if (R->files) {
		for (size_t f = 0; f < R->n_files; f++) {
			cairn_entry_clear(&R->files[f].e);
			free(R->files[f].damage);
		}
		free(R->files);
	}
	clear_rdirs(R->stack, R->n_stack);
	clear_rdirs(R->pending, R->n_pending);
	free(R->stack);
	free(R->pending);
	link_table_free(&R->links);
	free(R->uses);
	free(R->ublobs);
	free(R->blobs);
	free(R->ranges);
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

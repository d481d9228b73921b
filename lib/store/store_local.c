/* The local-directory store: one file per object, under the root.
 *
 * Every call works relative to a descriptor of the root opened once, so
 * the store keeps working the same if the process changes directory, and
 * nothing but the key is joined to build a name.
 *
 * A put never exposes a partial object under its final name: the bytes go
 * to a temporary file in the destination directory (".tmp-<random>"; keys
 * never have a component starting with '.', so temporary names cannot
 * collide with objects and listings skip them), which is synced and then
 * renamed (or, for write-once puts, hard-linked) into place before the
 * directory itself is synced. A content-addressed put (putv_named), whose
 * directory is known only once its bytes are hashed, writes its temporary
 * file in the key's top directory (e.g. data/) instead. Those that a
 * killed process leaves behind are listed by list_temp, by keys that del
 * accepts ("data/ab/.tmp-<random>").
 *
 * Listings give each file's st_mtime as the object's modification time;
 * they stat every entry anyway, to tell files from directories. */
#include "cairn/store.h"

#include "store/store_internal.h"

#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "util/fileio.h"
#include "util/ratelimit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#define KEY_MAX 1024
/* Keys are at most a few levels deep; the bound stops a symlink loop. */
#define LIST_DEPTH_MAX 16
#define TMP_PREFIX ".tmp-"

typedef struct local_store {
	cairn_store base;
	char *root;
	int rootfd;
	/* --limit-upload, --limit-download: the bytes of objects written and
	 * read (the store may be a network mount) */
	cairn_ratelimit up, down;
} local_store;

static const char *reason_bad_key(const char *key, int allow_prefix)
{
	size_t n = strlen(key);
	if (n == 0 && !allow_prefix)
		return "empty key";
	if (n > KEY_MAX)
		return "key too long";
	if (key[0] == '/')
		return "absolute key";
	if (strstr(key, "//"))
		return "empty path component";
	if (strstr(key, ".."))
		return "'..' in key";
	if (key[0] == '.' || strstr(key, "/."))
		return "path component starting with '.'";
	if (!allow_prefix && key[n - 1] == '/')
		return "key ends with '/'";
	return NULL;
}

static int check_key(const local_store *s, const char *key)
{
	const char *why = reason_bad_key(key, 0);
	if (why)
		return cairn_error_set(CAIRN_EINVAL, "invalid store key '%s' in %s: %s", key,
		                       s->root, why);
	return 0;
}

/* Unpredictable enough that concurrent writers (threads or processes) do
 * not collide; O_EXCL catches the rare case that they do. */
static void tmp_name(char out[32])
{
	static atomic_uint_fast64_t counter;
	uint64_t r;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
		    ((uint64_t)getpid() << 40) ^
		    atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ull;
	}
	snprintf(out, 32, TMP_PREFIX "%016llx", (unsigned long long)r);
}

/* Whether name is one that tmp_name() gives. */
static int is_temp_name(const char *name)
{
	size_t n = strlen(TMP_PREFIX);
	return strncmp(name, TMP_PREFIX, n) == 0 && name[n] != '\0';
}

/* Some file systems cannot sync a directory and say so with EINVAL; the
 * rename is then as durable as that file system makes it. */
static int sync_dir(const local_store *s, int dirfd, const char *dir, size_t dirlen)
{
	if (fsync(dirfd) < 0 && errno != EINVAL && errno != ENOTSUP)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot sync directory %s/%.*s",
		                             s->root, (int)dirlen, dir);
	return 0;
}

/* Opens dir (relative to the root, "" for the root itself), creating it
 * and its parents if missing. Each directory created is made durable in
 * its parent, or a crash could lose an object that was already synced. */
static int open_dir_p(const local_store *s, const char *dir, int *fd_out)
{
	int fd = openat(s->rootfd, dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		*fd_out = fd;
		return 0;
	}
	if (errno != ENOENT)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot open directory %s/%s",
		                             s->root, dir);

	char path[KEY_MAX + 1];
	size_t n = strlen(dir);
	memcpy(path, dir, n + 1);
	int parent = dup(s->rootfd);
	if (parent < 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot open directory %s", s->root);
	const char *start = path;
	for (;;) {
		char *slash = strchr(start, '/');
		if (slash)
			*slash = '\0';
		if (mkdirat(parent, start, 0755) < 0 && errno != EEXIST) {
			int rc = cairn_error_set_errno(
			    CAIRN_EIO, errno, "cannot create directory %s/%s", s->root, path);
			close(parent);
			return rc;
		}
		/* Synced even if another writer just created it: that writer may
		 * not have synced the parent yet. */
		int rc = sync_dir(s, parent, path, start > path ? (size_t)(start - path - 1) : 0);
		if (rc) {
			close(parent);
			return rc;
		}
		fd = openat(parent, start, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int err = errno;
		close(parent);
		if (fd < 0)
			return cairn_error_set_errno(CAIRN_EIO, err, "cannot open directory %s/%s",
			                             s->root, path);
		if (!slash)
			break;
		*slash = '/';
		start = slash + 1;
		parent = fd;
	}
	*fd_out = fd;
	return 0;
}

static int write_all(int fd, const cairn_iovec *iov, size_t n);

static int write_block(void *fd, const uint8_t *p, size_t len)
{
	cairn_iovec v = {.data = p, .len = len};
	return write_all(*(int *)fd, &v, 1) == 0 ? 0 : -1;
}

/* Appends a piece held in a file: copied by the kernel where it can. */
static int copy_piece(int fd, const cairn_iovec *p)
{
	loff_t in = (loff_t)p->off;
	size_t left = p->len;
	while (left) {
		ssize_t n = copy_file_range(p->fd, &in, fd, NULL, left, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		left -= (size_t)n;
	}
	if (!left)
		return 0;
	/* no copy_file_range here (or across these file systems) */
	cairn_iovec rest = {.len = left, .fd = p->fd, .off = p->off + (p->len - left)};
	if (cairn_iov_each(&rest, 1, write_block, &fd) != 0) {
		if (!errno)
			errno = EIO;
		return -1;
	}
	return 0;
}

/* Writes every piece, in order, a batch of pieces per system call. */
static int write_all(int fd, const cairn_iovec *iov, size_t n)
{
	struct iovec v[256];
	size_t i = 0, done = 0; /* bytes of iov[i] already written */
	while (i < n) {
		if (!iov[i].data) {
			if (copy_piece(fd, &iov[i]) != 0)
				return -1;
			i++;
			continue;
		}
		int k = 0;
		for (size_t j = i; j < n && iov[j].data && k < (int)(sizeof(v) / sizeof(v[0]));
		     j++, k++) {
			size_t skip = j == i ? done : 0;
			v[k].iov_base = (void *)((const uint8_t *)iov[j].data + skip);
			v[k].iov_len = iov[j].len - skip;
		}
		ssize_t w = writev(fd, v, k);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0 && k > 0 && (iov[i].len - done) > 0) {
			errno = EIO;
			return -1;
		}
		size_t left = (size_t)w;
		while (i < n && left >= iov[i].len - done) {
			left -= iov[i].len - done;
			done = 0;
			i++;
		}
		done += left;
	}
	return 0;
}

/* A write-once publish: link() fails if the name exists, unlike rename().
 * File systems without hard links get renameat2's no-replace flag. */
static int publish_once(int from, const char *tmp, int to, const char *name)
{
	if (linkat(from, tmp, to, name, 0) == 0) {
		unlinkat(from, tmp, 0);
		return 0;
	}
	if (errno != EPERM && errno != ENOTSUP && errno != ENOSYS)
		return -1;
	return renameat2(from, tmp, to, name, RENAME_NOREPLACE);
}

/* A key split into its directory (relative to the root, "" for the root)
 * and its last component. */
typedef struct split_key {
	char dir[KEY_MAX + 1];
	size_t dirlen;
	const char *name;
} split_key;

static void split(split_key *k, const char *key)
{
	const char *slash = strrchr(key, '/');
	k->dirlen = slash ? (size_t)(slash - key) : 0;
	memcpy(k->dir, key, k->dirlen);
	k->dir[k->dirlen] = '\0';
	k->name = slash ? slash + 1 : key;
}

/* The key of a temporary file, as list_temp gives it: a name tmp_name()
 * could give, in a directory that may hold objects (or the root). */
static int is_temp_key(const char *key)
{
	split_key k;
	if (strlen(key) > KEY_MAX)
		return 0;
	split(&k, key);
	return is_temp_name(k.name) && !strstr(k.name, "..") &&
	       (k.name == key || !reason_bad_key(k.dir, 0));
}

/* Creates a new temporary file in dirfd; tmp gets its name. The
 * descriptor, or -1 with errno set (and tmp ""). */
static int open_tmp(int dirfd, char tmp[32])
{
	for (int attempt = 0;; attempt++) {
		tmp_name(tmp);
		int fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST || attempt == 8) {
			tmp[0] = '\0';
			return -1;
		}
	}
}

/* open_tmp, for writing key. */
static int create_tmp(const local_store *s, int dirfd, const char *key, char tmp[32], int *fd_out)
{
	if ((*fd_out = open_tmp(dirfd, tmp)) >= 0)
		return 0;
	return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create a temporary file for %s/%s",
	                             s->root, key);
}

/* Syncs and closes the temporary file of key; *fd becomes -1. */
static int sync_close(const local_store *s, int *fd, const char *key)
{
	int rc = 0;
	if (fsync(*fd) < 0)
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot sync %s/%s", s->root, key);
	if (close(*fd) < 0 && !rc)
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot write %s/%s", s->root, key);
	*fd = -1;
	return rc;
}

/* Gives the synced temporary file tmp (in from) its final name k (whose
 * directory is open as to), then syncs that directory. tmp[0] becomes
 * '\0' once the temporary name is gone. 1, having done nothing, when from
 * and to are on different file systems. */
static int publish(const local_store *s, int from, char tmp[32], int to, const split_key *k,
                   const char *key, unsigned flags)
{
	if (flags & CAIRN_PUT_ONCE) {
		if (publish_once(from, tmp, to, k->name) < 0) {
			if (errno == EXDEV)
				return 1;
			if (errno == EEXIST)
				return cairn_error_set(CAIRN_EEXISTS, "object %s/%s already exists",
				                       s->root, key);
			return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create %s/%s",
			                             s->root, key);
		}
	} else if (renameat(from, tmp, to, k->name) < 0) {
		if (errno == EXDEV)
			return 1;
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot rename %s into %s/%s", tmp,
		                             s->root, key);
	}
	tmp[0] = '\0';
	return sync_dir(s, to, k->dir, k->dirlen);
}

/* put of the pieces, not paced: the bytes of putv, or a copy of an
 * object already paced when it was written. */
static int put_pieces(local_store *s, const char *key, const cairn_iovec *iov, size_t n,
                      unsigned flags)
{
	int rc = check_key(s, key);
	if (rc)
		return rc;

	split_key k;
	split(&k, key);
	int dirfd = -1, fd = -1;
	char tmp[32] = "";
	if ((rc = open_dir_p(s, k.dir, &dirfd)) || (rc = create_tmp(s, dirfd, key, tmp, &fd)))
		goto out;
	if (write_all(fd, iov, n) < 0) {
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot write %s/%s", s->root, key);
		goto out;
	}
	if (!(rc = sync_close(s, &fd, key)))
		rc = publish(s, dirfd, tmp, dirfd, &k, key, flags);
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlinkat(dirfd, tmp, 0);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

/* Objects written whole are small (config, keys, snapshots, index files):
 * paced as one, before they are written. */
static int local_putv(cairn_store *st, const char *key, const cairn_iovec *iov, size_t n,
                      unsigned flags)
{
	local_store *s = (local_store *)st;
	uint64_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += iov[i].len;
	cairn_ratelimit_take(&s->up, len);
	return put_pieces(s, key, iov, n, flags);
}

/* Gathers the bytes of an object into blocks and writes each block once.
 *
 * Where the file system says how to align them (statx's STATX_DIOALIGN:
 * ext4, XFS and btrfs on Linux 6.1 and later), the blocks are written
 * with O_DIRECT, past the page cache. A backup writes its packs once and
 * reads none of them back: copying hundreds of megabytes into the page
 * cache cost more CPU than anything else the store does, and pushed the
 * machine's own data out of memory. The last partial block goes through
 * the page cache, as does everything after a direct write the file system
 * refuses (EINVAL). */
typedef struct block_writer {
	local_store *s;
	const char *dir; /* where the temporary file is, for messages */
	int fd;
	int direct;   /* O_DIRECT is set: only whole, aligned blocks */
	uint64_t at;  /* bytes written */
	uint8_t *buf; /* WRITE_BLOCK bytes, DIRECT_ALIGN-aligned */
	size_t len;
} block_writer;

enum { WRITE_BLOCK = 256 * 1024, DIRECT_ALIGN = 4096 };

/* Whether direct writes to fd need no more alignment than DIRECT_ALIGN
 * (a power of two, as every alignment is). */
static int direct_fits(int fd)
{
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) != 0 ||
	    !(sx.stx_mask & STATX_DIOALIGN) || !sx.stx_dio_mem_align || !sx.stx_dio_offset_align)
		return 0;
	return DIRECT_ALIGN % sx.stx_dio_mem_align == 0 &&
	       DIRECT_ALIGN % sx.stx_dio_offset_align == 0;
}

static int block_writer_start(block_writer *b, int fd)
{
	b->fd = fd;
	b->direct = direct_fits(fd) && fcntl(fd, F_SETFL, O_DIRECT) == 0;
	b->at = 0;
	b->len = 0;
	if (posix_memalign((void **)&b->buf, DIRECT_ALIGN, WRITE_BLOCK) != 0) {
		b->buf = NULL;
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	return 0;
}

static int block_error(const block_writer *b)
{
	return cairn_error_set_errno(CAIRN_EIO, errno, "cannot write in %s/%s", b->s->root, b->dir);
}

/* Turns O_DIRECT off: the rest goes through the page cache. */
static int block_writer_buffered(block_writer *b)
{
	if (!b->direct)
		return 0;
	b->direct = 0;
	return fcntl(b->fd, F_SETFL, 0) < 0 ? block_error(b) : 0;
}

static int block_write_paced(block_writer *b, const void *p, size_t len);

/* Paced a block at a time. */
static int block_write(block_writer *b, const void *p, size_t len)
{
	const uint8_t *at = p;
	for (size_t k; len; at += k, len -= k) {
		k = len < WRITE_BLOCK ? len : WRITE_BLOCK;
		cairn_ratelimit_take(&b->s->up, k);
		int rc = block_write_paced(b, at, k);
		if (rc)
			return rc;
	}
	return 0;
}

static int block_write_paced(block_writer *b, const void *p, size_t len)
{
	int ok = cairn_pwrite_all(b->fd, p, len, b->at) == 0;
	/* A refused direct write has its whole range written again. */
	if (!ok && errno == EINVAL && b->direct) {
		int rc = block_writer_buffered(b);
		if (rc)
			return rc;
		ok = cairn_pwrite_all(b->fd, p, len, b->at) == 0;
	}
	if (!ok)
		return block_error(b);
	b->at += len;
	return 0;
}

static int block_add(void *ud, const uint8_t *p, size_t len)
{
	block_writer *b = ud;
	while (len) {
		/* Through the page cache, a large piece is written from where
		 * it is. */
		if (!b->direct && !b->len && len >= WRITE_BLOCK)
			return block_write(b, p, len);
		size_t k = WRITE_BLOCK - b->len < len ? WRITE_BLOCK - b->len : len;
		memcpy(b->buf + b->len, p, k);
		b->len += k;
		p += k;
		len -= k;
		if (b->len == WRITE_BLOCK) {
			int rc = block_write(b, b->buf, b->len);
			b->len = 0;
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Writes what is left: its aligned part as the blocks before it, the
 * rest through the page cache. */
static int block_finish(block_writer *b)
{
	size_t head = b->direct ? b->len / DIRECT_ALIGN * DIRECT_ALIGN : 0;
	int rc = head ? block_write(b, b->buf, head) : 0;
	if (!rc && head < b->len && !(rc = block_writer_buffered(b)))
		rc = block_write(b, b->buf + head, b->len - head);
	b->len = 0;
	return rc;
}

/* The object is written to a temporary file in the top directory of its
 * keys (the one a symlink may move to another disk), hashed on the way,
 * then linked under the name its id gives. One pass over the pieces
 * instead of one to hash them and one to write them. */
/* No temporary file for a putv_named (errno err): the object is named
 * after its bytes, which are hashed to name it in the message. */
static int tmp_failed(const local_store *s, int err, const cairn_iovec *iov, size_t n,
                      cairn_store_name_fn name)
{
	uint8_t id[32];
	char key[CAIRN_STORE_NAME_MAX] = "";
	if (cairn_sha256_iov(id, iov, n) == 0)
		name(key, id);
	else
		snprintf(key, sizeof(key), "(a new object)");
	return cairn_error_set_errno(CAIRN_EIO, err, "cannot create a temporary file for %s/%s",
	                             s->root, key);
}

static int local_putv_named(cairn_store *st, const cairn_iovec *iov, size_t n,
                            cairn_store_name_fn name, uint8_t id_out[32], unsigned flags)
{
	local_store *s = (local_store *)st;
	static const uint8_t zero[32];
	char key[CAIRN_STORE_NAME_MAX], top[CAIRN_STORE_NAME_MAX], tmp[32] = "";
	split_key k;
	int topfd = -1, dirfd = -1, fd = -1, rc;
	block_writer b = {.s = s, .dir = top};

	name(key, zero);
	const char *slash = strchr(key, '/');
	size_t toplen = slash ? (size_t)(slash - key) : 0;
	memcpy(top, key, toplen);
	top[toplen] = '\0';
	if ((rc = open_dir_p(s, top, &topfd)))
		goto out;
	if ((fd = open_tmp(topfd, tmp)) < 0) {
		rc = tmp_failed(s, errno, iov, n, name);
		goto out;
	}
	if ((rc = block_writer_start(&b, fd)) ||
	    (rc = cairn_sha256_iov_each(id_out, iov, n, block_add, &b)) || (rc = block_finish(&b)))
		goto out;

	name(key, id_out);
	split(&k, key);
	if ((rc = check_key(s, key)) || (rc = sync_close(s, &fd, key)) ||
	    (rc = open_dir_p(s, k.dir, &dirfd)))
		goto out;
	if ((rc = publish(s, topfd, tmp, dirfd, &k, key, flags)) == 1) {
		/* the key's directory is on another file system: copy */
		struct stat sb;
		if ((fd = openat(topfd, tmp, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) < 0) {
			rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot read back %s/%s/%s",
			                           s->root, top, tmp);
			goto out;
		}
		cairn_iovec whole = {.len = (size_t)sb.st_size, .fd = fd};
		rc = put_pieces(s, key, &whole, 1, flags);
	}
out:
	free(b.buf);
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlinkat(topfd, tmp, 0);
	if (topfd >= 0)
		close(topfd);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

/* Opens an object for reading; directories and names under a file are
 * "no such object". */
static int open_object(const local_store *s, const char *key, int *fd_out, uint64_t *size_out)
{
	int fd = openat(s->rootfd, key, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return cairn_error_set(CAIRN_ENOTFOUND, "no object %s/%s", s->root, key);
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot open %s/%s", s->root, key);
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat %s/%s", s->root, key);
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return cairn_error_set(CAIRN_ENOTFOUND, "no object %s/%s (not a regular file)",
		                       s->root, key);
	}
	*fd_out = fd;
	*size_out = (uint64_t)st.st_size;
	return 0;
}

/* Reads up to want bytes from offset onto out, paced a block at a time. */
static int read_paced(local_store *s, const char *key, int fd, cairn_buf *out, size_t want,
                      uint64_t offset)
{
	size_t step = cairn_ratelimit_on(&s->down) ? WRITE_BLOCK : want;
	while (want) {
		size_t k = want < step ? want : step;
		cairn_ratelimit_take(&s->down, k);
		ssize_t r = cairn_pread_all(fd, out->data + out->len, k, offset);
		if (r < 0)
			return cairn_error_set_errno(CAIRN_EIO, errno, "cannot read %s/%s", s->root,
			                             key);
		out->len += (size_t)r;
		if ((size_t)r < k)
			break;
		want -= k;
		offset += k;
	}
	return 0;
}

static int local_get(cairn_store *st, const char *key, uint64_t offset, uint64_t length,
                     cairn_buf *out)
{
	local_store *s = (local_store *)st;
	int rc = check_key(s, key);
	if (rc)
		return rc;

	int fd = -1;
	uint64_t size = 0;
	cairn_buf_clear(out);
	rc = open_object(s, key, &fd, &size);
	if (rc)
		return rc;

	uint64_t want = offset >= size ? 0 : size - offset;
	if (length < want)
		want = length;
	if (want > SIZE_MAX / 2) {
		rc = cairn_error_set(CAIRN_ENOMEM, "cannot read %s/%s: %llu bytes is too much",
		                     s->root, key, (unsigned long long)want);
		goto out;
	}
	rc = cairn_buf_reserve(out, (size_t)want);
	if (rc)
		goto out;
	/* Objects never change, but a file replaced behind the store's back
	 * may have shrunk: give what there is. */
	rc = read_paced(s, key, fd, out, (size_t)want, offset);

out:
	close(fd);
	if (rc)
		cairn_buf_clear(out);
	return rc;
}

static int local_stat(cairn_store *st, const char *key, uint64_t *size_out)
{
	local_store *s = (local_store *)st;
	int rc = check_key(s, key);
	if (rc)
		return rc;
	struct stat sb;
	if (fstatat(s->rootfd, key, &sb, 0) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return cairn_error_set(CAIRN_ENOTFOUND, "no object %s/%s", s->root, key);
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat %s/%s", s->root, key);
	}
	if (!S_ISREG(sb.st_mode))
		return cairn_error_set(CAIRN_ENOTFOUND, "no object %s/%s (not a regular file)",
		                       s->root, key);
	*size_out = (uint64_t)sb.st_size;
	return 0;
}

/* Removes an object, or a temporary file that list_temp gave. */
static int local_del(cairn_store *st, const char *key)
{
	local_store *s = (local_store *)st;
	int rc = is_temp_key(key) ? 0 : check_key(s, key);
	if (rc)
		return rc;
	if (unlinkat(s->rootfd, key, 0) < 0 && errno != ENOENT && errno != ENOTDIR)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot delete %s/%s", s->root, key);
	return 0;
}

/* What a walk of the store's directories reports. */
typedef enum walk_mode {
	WALK_OBJECTS, /* objects: regular files whose names do not start with '.' */
	WALK_TEMP,    /* the temporary files of puts (TMP_PREFIX...) */
} walk_mode;

typedef struct list_walk {
	const local_store *s;
	walk_mode mode;
	cairn_store_list_cb list_cb; /* list() gets keys and sizes; else item_cb */
	cairn_store_item_cb item_cb;
	void *ud;
	cairn_buf key; /* the directory being walked, "" or ending in '/' */
} list_walk;

static int walk_dir(list_walk *w, int dirfd, const char *match, int depth);

/* Whether the entry is worth a stat: a directory that may hold what the
 * walk looks for, or a file it may report. */
static int walk_wants(const list_walk *w, const struct dirent *e, const char *match)
{
	/* ".", ".." and anything hidden are not objects, nor walked into. */
	if (e->d_name[0] == '.')
		return w->mode == WALK_TEMP && is_temp_name(e->d_name);
	if (match && strncmp(e->d_name, match, strlen(match)) != 0)
		return 0;
	/* Looking for temporary files, an object needs no stat. */
	return w->mode == WALK_OBJECTS || e->d_type != DT_REG;
}

/* Reports the regular file named w->key with the status sb. */
static int walk_report(list_walk *w, const struct stat *sb)
{
	const char *key = (const char *)w->key.data;
	if (w->list_cb)
		return w->list_cb(key, (uint64_t)sb->st_size, w->ud);
	cairn_store_item item = {
	    .key = key, .size = (uint64_t)sb->st_size, .mtime = (int64_t)sb->st_mtime};
	return w->item_cb(&item, w->ud);
}

/* Walks into name, a directory in dirfd whose key is w->key. */
static int walk_subdir(list_walk *w, int dirfd, const char *name, int depth)
{
	if (depth >= LIST_DEPTH_MAX)
		return cairn_error_set(CAIRN_EIO, "cannot list %s/%s: too deeply nested",
		                       w->s->root, (const char *)w->key.data);
	int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sub < 0) {
		if (errno == ENOENT)
			return 0;
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot list %s/%s", w->s->root,
		                             (const char *)w->key.data);
	}
	int rc = cairn_buf_append_str(&w->key, "/");
	if (rc) {
		close(sub);
		return rc;
	}
	return walk_dir(w, sub, NULL, depth + 1);
}

/* Looks at the entry e of dirfd, whose key prefix is w->key (base bytes
 * long). */
static int walk_entry(list_walk *w, int dirfd, const struct dirent *e, size_t base, int depth)
{
	struct stat sb;
	/* Follows symlinks, so that e.g. data/ may live on another disk. */
	if (fstatat(dirfd, e->d_name, &sb, 0) < 0) {
		/* Removed since readdir() saw it, e.g. by a concurrent prune
		 * or a put that has finished. */
		if (errno == ENOENT)
			return 0;
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat %s/%.*s%s", w->s->root,
		                             (int)base, (const char *)w->key.data, e->d_name);
	}
	int hidden = e->d_name[0] == '.';
	int rc = cairn_buf_append_str(&w->key, e->d_name);
	if (rc)
		return rc;
	if (S_ISREG(sb.st_mode) && hidden == (w->mode == WALK_TEMP))
		return walk_report(w, &sb);
	if (S_ISDIR(sb.st_mode) && !hidden)
		return walk_subdir(w, dirfd, e->d_name, depth);
	return 0;
}

/* Lists dirfd (which it closes), whose key prefix is in w->key. At the top
 * level only names starting with match count; below it (match NULL),
 * everything. */
static int walk_dir(list_walk *w, int dirfd, const char *match, int depth)
{
	int rc = 0;
	DIR *d = fdopendir(dirfd);
	if (!d) {
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot list %s/%.*s", w->s->root,
		                           (int)w->key.len, (const char *)w->key.data);
		close(dirfd);
		return rc;
	}
	size_t base = w->key.len;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			if (errno)
				rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot list %s/%.*s",
				                           w->s->root, (int)base,
				                           (const char *)w->key.data);
			break;
		}
		if (walk_wants(w, e, match))
			rc = walk_entry(w, dirfd, e, base, depth);
		w->key.len = base;
		if (rc)
			break;
	}
	closedir(d);
	return rc;
}

/* Walks the keys that start with prefix. */
static int walk_prefix(list_walk *w, const char *prefix)
{
	const local_store *s = w->s;
	const char *why = reason_bad_key(prefix, 1);
	if (why)
		return cairn_error_set(CAIRN_EINVAL, "invalid store prefix '%s' in %s: %s", prefix,
		                       s->root, why);

	const char *slash = strrchr(prefix, '/');
	size_t dirlen = slash ? (size_t)(slash - prefix) + 1 : 0;
	cairn_buf_init(&w->key);
	int rc = cairn_buf_append(&w->key, prefix, dirlen);
	if (!rc)
		rc = cairn_buf_append_str(&w->key, "");
	if (rc)
		goto out;

	int fd = openat(s->rootfd, dirlen ? (const char *)w->key.data : ".",
	                O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot list %s/%s", s->root,
			                           (const char *)w->key.data);
		goto out;
	}
	rc = walk_dir(w, fd, prefix[dirlen] ? prefix + dirlen : NULL, 0);

out:
	cairn_buf_free(&w->key);
	return rc;
}

static int local_list(cairn_store *st, const char *prefix, cairn_store_list_cb cb, void *ud)
{
	list_walk w = {.s = (local_store *)st, .mode = WALK_OBJECTS, .list_cb = cb, .ud = ud};
	return walk_prefix(&w, prefix);
}

static int local_list_items(cairn_store *st, const char *prefix, cairn_store_item_cb cb, void *ud)
{
	list_walk w = {.s = (local_store *)st, .mode = WALK_OBJECTS, .item_cb = cb, .ud = ud};
	return walk_prefix(&w, prefix);
}

/* Every directory of the store may hold them: put and putv write theirs
 * beside the object, putv_named in the top directory of its keys. */
static int local_list_temp(cairn_store *st, cairn_store_item_cb cb, void *ud)
{
	list_walk w = {.s = (local_store *)st, .mode = WALK_TEMP, .item_cb = cb, .ud = ud};
	return walk_prefix(&w, "");
}

static void local_free(cairn_store *st)
{
	local_store *s = (local_store *)st;
	if (s->rootfd >= 0)
		close(s->rootfd);
	cairn_ratelimit_destroy(&s->up);
	cairn_ratelimit_destroy(&s->down);
	free(s->root);
	free(s);
}

static int local_put(cairn_store *st, const char *key, const void *data, size_t len, unsigned flags)
{
	cairn_iovec one = {data, len};
	return local_putv(st, key, &one, 1, flags);
}

static const struct cairn_store_ops local_ops = {
    .version = CAIRN_STORE_OPS_VERSION,
    .name = "local",
    .put = local_put,
    .get = local_get,
    .stat = local_stat,
    .list = local_list,
    .del = local_del,
    .free = local_free,
    .putv = local_putv,
    .putv_named = local_putv_named,
    .list_items = local_list_items,
    .list_temp = local_list_temp,
};

/* mkdir -p for the root, which may be absolute or relative. */
static int mkdir_p(char *path)
{
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		int ok = mkdir(path, 0755) == 0 || errno == EEXIST;
		int err = errno;
		*p = c;
		if (!ok)
			return cairn_error_set_errno(CAIRN_EIO, err, "cannot create directory %.*s",
			                             (int)(p - path), path);
		if (!c)
			return 0;
		while (p[1] == '/')
			p++;
	}
}

int cairn_store_local_open(cairn_store **out, const char *path, int create)
{
	return cairn_store__local_open(out, path, create, NULL);
}

int cairn_store__local_open(cairn_store **out, const char *path, int create,
                            const cairn_store_opts *opts)
{
	*out = NULL;
	if (!path || !path[0])
		return cairn_error_set(CAIRN_EINVAL, "empty store path");

	int rc = 0;
	local_store *s = calloc(1, sizeof(*s));
	if (!s)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	s->base.ops = &local_ops;
	s->rootfd = -1;
	cairn_ratelimit_init(&s->up, opts ? opts->limit_upload : 0, NULL, NULL);
	cairn_ratelimit_init(&s->down, opts ? opts->limit_download : 0, NULL, NULL);
	s->root = strdup(path);
	if (!s->root) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	/* Messages join the root and a key with '/'. */
	size_t n = strlen(s->root);
	while (n > 1 && s->root[n - 1] == '/')
		s->root[--n] = '\0';

	if (create) {
		rc = mkdir_p(s->root);
		if (rc)
			goto out;
	}
	s->rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0) {
		if (errno == ENOENT)
			rc = cairn_error_set(CAIRN_ENOREPO, "no repository at %s", s->root);
		else if (errno == ENOTDIR)
			rc = cairn_error_set(CAIRN_ENOREPO, "no repository at %s (not a directory)",
			                     s->root);
		else
			rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot open %s", s->root);
		goto out;
	}
	*out = &s->base;
	return 0;

out:
	local_free(&s->base);
	return rc;
}

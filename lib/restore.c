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

#define BATCH_FILES 4096
#define BATCH_BYTES (256ull << 20)
#define BATCH_REFS (256u * 1024)
#define BATCH_DIRS 4096
#define RANGE_GAP (1u << 20)
#define RANGE_MAX (16u << 20)
#define LOOKUP_SLICE 8192
#define OPEN_FILES_MAX 256
#define MAX_THREADS 256
#define PROGRESS_NS 200000000ll
#define ZERO_CHECK 65536

/* A regular file, or the part of one this batch writes. */
typedef struct rfile {
	cairn_entry e;
	uint64_t length;      /* sum of chunk lengths: the file's size */
	size_t from, to;      /* chunks written by this batch */
	uint64_t from_offset; /* file offset of chunk from */
	dev_t dev;
	ino_t ino;
	int last;             /* this batch writes the file's last chunk */
	unsigned n_damage;
	char *damage;         /* the first damage found */
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
	const cairn_restore_opts *opts;
	cairn_restore_result *res;
	char **includes;
	size_t n_includes;
	int root_fd;
	int is_root;
	int xattr_unsupported;
	int done; /* the includes are behind us */
	char *last_path;

	/* The parent directory of the last entry created. */
	char *parent_rel;
	int parent_fd;

	rfile *files;
	size_t n_files, cap_files;
	uint64_t batch_bytes;
	size_t batch_refs;

	rdir *stack;
	size_t n_stack, cap_stack;
	rdir *pending;
	size_t n_pending, cap_pending;

	use *uses;
	size_t n_uses, cap_uses;
	ublob *ublobs;
	size_t n_ublobs;
	cairn_restore_blob *blobs;
	cairn_restore_range *ranges;
	size_t n_ranges;
	size_t *verify_list;
	size_t n_verify;

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

	atomic_uint_fast64_t bytes_written; /* content restored, holes included */
	atomic_uint_fast64_t bytes_lost;    /* content that could not be restored */
	uint64_t files_done;
	int64_t last_progress;
} restore;

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
		const cairn_summary *s = &R->snap_summary;
		p.files_total = s->files_new + s->files_changed + s->files_unchanged;
		p.bytes_total = s->bytes_total;
	}
	p.current = R->last_path;
	o->progress(o->ud, &p);
}

/* What the files of the restore engine share: the state of one restore,
 * its batches of files and its workers. See restore.c for how they fit. */
#ifndef CAIRN_RESTORE_INTERNAL_H
#define CAIRN_RESTORE_INTERNAL_H

#include "cairn/errors.h"
#include "cairn/manifest.h"
#include "cairn/restore.h"
#include "cairn/tree.h"
#include "util/buf.h"
#include "restore/restore_plan.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/types.h>

#define BATCH_FILES 4096           /* regular files (or parts of one) per batch */
#define BATCH_FIRST 128            /* the first batch: the workers start early */
#define BATCH_BYTES (128ull << 20) /* content bytes per batch */
#define BATCH_REFS (128u * 1024)   /* chunk refs per batch */
#define N_BATCHES 3                /* being filled, queued or written at once */
#define DIR_FDS_MAX 64             /* directories on the way down kept open */
#define PROGRESS_NS 200000000ll

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

	cairn_restore_use *uses;
	size_t n_uses, cap_uses;
	cairn_restore_need *needs;
	size_t cap_needs;
	cairn_blob_loc *blobs; /* the needs the index gave a usable place, by pack */
	size_t cap_blobs;
	cairn_pack_range *ranges;
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
	dev_t dev; /* what it is, to know it again when reached by path */
	ino_t ino;
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

/* An entry whose file flags wait for the end of the restore. */
typedef struct rflags {
	char *path;
	dev_t dev; /* what it is, to know it again */
	ino_t ino;
	uint32_t flags;
} rflags;

struct restore;

typedef struct worker {
	struct restore *R;
	pthread_t thread;
	int started;
	cairn_sealer *sealer;
	cairn_fingerprinter *fp;
	cairn_buf raw;             /* the range of a pack read last */
	cairn_range_reader reader; /* the blobs out of raw */
	cairn_buf elsewhere;       /* a blob read from where the index did not say */
	/* What --verify reads back: not the reader's plaintext, which may
	 * still hold a blob being written to other files when one of them is
	 * finished. */
	cairn_buf check;
} worker;

typedef struct restore {
	cairn_repo *repo;
	int remote; /* the packs are reached over a network */
	const cairn_snapshot *snap;
	const cairn_restore_opts *opts;
	cairn_restore_result *res;
	cairn_patterns *includes, *excludes; /* NULL: none given */
	/* Directories not taken themselves, above the entry being read: each
	 * is created when something below it is taken. */
	cairn_entry *held;
	size_t n_held, cap_held;
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

	/* Entries whose flags are set last (restore_apply_flags), in the
	 * order they were created. */
	rflags *flags;
	size_t n_flags, cap_flags;
	atomic_int flags_unsupported;

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
	atomic_int failed;       /* a worker hit a fatal error */
	cairn_error_saved fatal; /* code 0 until a worker fails */

	atomic_uint_fast64_t bytes_written; /* content restored, holes included */
	atomic_uint_fast64_t bytes_lost;    /* content that could not be restored */
	uint64_t files_done;
	int64_t last_progress;
} restore;

/* restore.c */
void restore_progress(restore *R, int force);
void restore_warnf(restore *R, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The next entry of the manifest: 1, 0 at its end or where the rest of it
 * cannot be read (reported and counted), or a fatal error. */
int restore_next_entry(restore *R, cairn_tree_reader *t, cairn_entry *e);

/* create.c: one entry at a time, then the hard link holders */
int restore_entry(restore *R, cairn_entry *e);
int restore_link_holders(restore *R);
void restore_links_free(link_table *t);

/* beneath.c */
int restore_open_beneath(restore *R, const char *rel, int flags, mode_t mode, int create_dirs);
void restore_split_path(const char *path, const char **dir, size_t *dir_len, const char **name);
int restore_parent_by_path(restore *R, const char *path, int create, const char **name_out);
int restore_parent_dir(restore *R, const char *path, int create, const char **name_out,
                       const dir_info **info_out);
int restore_make_room(int pfd, const char *name);
int restore_dir_info_of(restore *R, int fd, dir_info *out);

/* meta.c */
int restore_path_fd_chmod(restore *R, int fd, mode_t mode);
void restore_notef(rfile *rf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int restore_apply_meta_at(restore *R, int pfd, const char *name, const cairn_entry *e, int chmod);
void restore_finish_file_meta(restore *R, rfile *rf);
int restore_leave_dirs(restore *R, const char *path);
int restore_finish_waiting(restore *R);
int restore_keep_flags(restore *R, const cairn_entry *e, dev_t dev, ino_t ino);
int restore_apply_flags(restore *R);
void restore_flags_free(restore *R);

/* batch.c */
int restore_batches_init(restore *R);
void restore_batches_free(restore *R);
int restore_add_file(restore *R, cairn_entry *e, int fd, int chmod, int chown);
int restore_queue_batch(restore *R);
int restore_drain(restore *R);
int restore_plan_batch(restore *R, batch *b);

/* workers.c */
int restore_pool_start(restore *R);
void restore_pool_stop(restore *R);
void restore_damage(restore *R, batch *b, size_t file, uint64_t offset, uint64_t length, int lost,
                    const char *why);

#endif

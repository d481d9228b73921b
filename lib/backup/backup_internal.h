/* The backup engine's shared state, and what its modules call of each
 * other.
 *
 * The main thread walks the tree depth-first in path order and puts every
 * entry into a bounded ring (scan.c). Regular files that the files cache
 * (the parent snapshot's manifest) cannot vouch for are read by a pool of
 * workers (read.c): each reads and chunks a window of up to 2 MiB (many
 * small files, or part of a big one) and makes it a job that every idle
 * worker helps with (jobs.c): fingerprints, one question to the dedup set
 * and the index for the whole window (dedup.c), sealing of the new chunks
 * into packs. Full packs go to a committer thread that writes them and
 * registers their blobs (commit.c). The main thread takes finished
 * entries off the ring in order and appends them to the manifest, whose
 * chunks go through the same dedup path into packs of their own. backup.c
 * puts the steps in order.
 *
 * Locks: lock guards the ring and the jobs; dedup_lock the dedup set and
 * the counters; commit_lock the committer's queue. */
#ifndef CAIRN_BACKUP_INTERNAL_H
#define CAIRN_BACKUP_INTERNAL_H

#include "backup/dedup.h"
#include "backup/jobs.h"
#include "backup/pending.h"
#include "cairn/backup.h"
#include "cairn/chunker.h"
#include "cairn/errors.h"
#include "cairn/pack.h"
#include "cairn/pattern.h"
#include "cairn/tree.h"
#include "gc/view.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#define RING_SLOTS 512
#define READ_SIZE (1u << 20)
#define WINDOW_SIZE (2u << 20) /* chunk data a worker holds before deduplicating it */
#define PROGRESS_NS 250000000LL

enum file_status { NOT_A_FILE, FILE_NEW, FILE_CHANGED, FILE_UNCHANGED };

/* An entry of the ring, in path order. */
struct slot {
	cairn_entry e;
	struct stat st;    /* the walker's lstat of a file that needs work */
	size_t chunks_cap; /* allocated length of e.chunks */
	enum file_status status;
	cairn_backup_change change; /* told to opts->item */
	int needs_work;
	int stream; /* standard input (--stdin): read to its end, not opened by path */
	int done;
	int failed;    /* unreadable: reported and left out of the snapshot */
	char *warning; /* reported by the main thread */
};

/* A directory to descend into: open, and its names. */
struct dir_list {
	int fd;
	char **names;
	size_t n;
};

/* The count of what is to do, on a thread of its own (count.c): its
 * totals are the thread's until state is COUNT_DONE. */
enum count_state { COUNT_RUNNING, COUNT_DONE, COUNT_GAVE_UP };
struct count {
	pthread_t thread;
	int started;
	atomic_int stop;
	atomic_int state;
	uint64_t files, bytes, entries, max;
	cairn_patterns *excludes; /* its own: a matcher is for one thread */
};

/* Hardlinks seen: (dev, ino) -> first path. */
struct link_map {
	struct link {
		uint64_t dev, ino;
		char *path;
	} * items;
	size_t cap, count;
};

/* A thread that reads files, or (the main thread's) stores the
 * manifest's blobs. */
struct worker {
	struct backup *b;
	pthread_t thread;
	int started;
	cairn_sealer *sealer;
	cairn_fingerprinter *fp;
	cairn_pack_writer *pack;
	cairn_chunker chunker;
	uint8_t *buf;
	size_t buf_cap;
	size_t buf_len; /* bytes of buf in use by pending chunks and the file being read */
	/* Chunks read but not yet deduplicated, from one or more files: their
	 * data stays in buf until the window is settled. */
	cairn_pending *pend;
	size_t n_pend, cap_pend;
	/* jobs[cur]: the previous window, being sealed; the other one is
	 * the window just chunked while it is being offered, else idle. */
	cairn_job jobs[2];
	int cur;
	uint8_t *bundle; /* CAIRN_BUNDLE_MAX bytes, for bundles not in one piece in a window */
	cairn_dedup_batch ask;
};

struct backup {
	cairn_repo *repo;
	const cairn_backup_opts *opts;
	cairn_index *index;
	uint32_t pack_target;
	const char *spool_dir; /* where packs being filled live */
	cairn_chunker chunker; /* template, copied per worker */
	char **paths;          /* the top paths: absolute, sorted */
	size_t n_paths;
	cairn_patterns *excludes; /* opts' excludes, with what each matched */
	int64_t started_ns;

	pthread_mutex_t lock;
	pthread_cond_t work_cv, done_cv;
	struct slot *ring;
	uint64_t head, tail, dispatch; /* head <= dispatch <= tail, indices mod RING_SLOTS */
	int stop;
	int fatal;
	cairn_error_saved fatal_error;
	/* Who sleeps on the condition variables: wake-ups are system calls,
	 * so they are made only when someone is waiting. */
	int idle_workers;
	int main_waiting;
	cairn_jobs jobs; /* windows offered to idle workers, under lock */

	/* Guards the set of chunks this backup stored, and the counters. */
	pthread_mutex_t dedup_lock;
	cairn_dedup dedup;
	cairn_gc_view gc; /* the marker and what prune condemned (not in a dry run) */
	uint64_t bytes_added, blobs_added, tree_blobs_added, bytes_read;

	struct worker *workers;
	int n_workers;
	size_t batch_max; /* files a worker takes at once: it holds two batches open */

	/* Full packs wait in a queue for the committer thread, which writes
	 * them to the store and registers their blobs while the workers fill
	 * the next ones. At most max_packs writers exist: one per worker,
	 * and three more queued or being committed, so that a worker does not
	 * wait while the committer syncs a pack or registers a batch; their
	 * blobs are in temporary files, so a writer holds little memory. Where
	 * they cannot be, and packs are held in memory, only one more. */
	pthread_mutex_t commit_lock;
	pthread_cond_t commit_cv;
	pthread_t committer;
	int committer_started, commit_stop;
	cairn_sealer *commit_sealer;
	cairn_pack_writer **queue, **free_packs;
	size_t n_queue, n_free, n_packs, max_packs;
	struct worker main_ctx; /* for manifest blobs, on the main thread */

	/* main thread only */
	cairn_tree_writer *tree;
	cairn_snapshot parent_snapshot; /* the files cache */
	cairn_tree_reader *parent;
	cairn_entry parent_entry;
	int parent_valid, parent_done;
	size_t snapshots_skipped; /* records left out when choosing the parent */
	struct link_map links;
	cairn_summary sum;
	uint64_t files_done;
	uint64_t bytes_skipped; /* of files taken unread: done, for the progress */
	struct count count;
	int64_t last_progress;
	char **ancestors; /* directory entries emitted for the paths' parents */
	size_t n_ancestors;
};

/* backup.c */

/* Stops the backup after a failure; the first one is what it reports. */
void cairn_backup_fail(struct backup *b, int rc);

/* scan.c: the main thread */

/* Absolute, sorted, without duplicates or paths inside another given path. */
int cairn_backup_top_paths(const cairn_backup_opts *o, char ***out, size_t *n_out);
/* The latest readable snapshot of host with the same paths: CAIRN_ENOTFOUND
 * if none. Records that cannot be read are told to skips. */
int cairn_backup_find_parent(cairn_repo *r, const char *host, char **paths, size_t n,
                             cairn_snapshot_skips *skips, cairn_snapshot *out);
/* The top path of a backup of standard input: "/" + stdin_name. */
int cairn_backup_stdin_path(struct backup *b);
/* Walks the top paths into the ring, and emits the entries the workers
 * finish, until every one is in the manifest. *failed: whether the
 * backup had failed by then. */
int cairn_backup_scan(struct backup *b, int *failed);
/* Stores the manifest's blobs (cairn_tree_writer's sink; ud: the main
 * thread's worker). */
int cairn_backup_tree_sink(void *ud, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind,
                           const uint8_t *data, size_t len);
/* Calls the progress callback, at most every PROGRESS_NS unless force. */
void cairn_backup_progress(struct backup *b, const char *current, int force);
void cairn_backup_links_free(struct link_map *m);
/* What the walk leaves out of a listed directory: all of it if it is the
 * repository being backed up to or a cairn cache, all but the tag files
 * if it has a tag of --exclude-caches or --exclude-if-present. */
int cairn_backup_is_this_repo(struct backup *b, const struct dir_list *d);
int cairn_backup_is_cairn_cache(const struct dir_list *d);
void cairn_backup_keep_tags_only(struct backup *b, struct dir_list *d);
void cairn_backup_dir_list_free(struct dir_list *d);

/* count.c: the count of the files and bytes to do, ahead of the walk */

/* Starts it if there is a progress callback to give totals to; a count
 * that cannot start leaves the progress without totals. */
void cairn_backup_count_start(struct backup *b);
/* Stops it (if running) and frees it; safe to call again. */
void cairn_backup_count_stop(struct backup *b);
/* The totals once the count has finished; else leaves them alone. */
void cairn_backup_count_totals(struct backup *b, uint64_t *files, uint64_t *bytes);

/* read.c: the workers */

int cairn_backup_worker_init(struct worker *w, struct backup *b, int for_data);
void cairn_backup_worker_free(struct worker *w);
void *cairn_backup_worker_main(void *arg);
/* The batch size that keeps the files the workers hold open (two batches
 * each) within what the process may still open. */
size_t cairn_backup_batch_files_max(const struct backup *b);
/* The work of a job (jobs.h), done by a worker. */
extern const cairn_job_ops cairn_backup_job_ops;

/* commit.c: pack writers and the committer */

cairn_pack_writer *cairn_backup_pack_writer_new(struct backup *b);
/* Seals the new chunks of pend[from, to) into w's pack. */
int cairn_backup_seal_new(struct worker *w, const cairn_pending *pend, size_t from, size_t to);
/* Stores a new blob in w's pack. */
int cairn_backup_store_blob(struct worker *w, const uint8_t *fp, uint8_t kind, const uint8_t *data,
                            size_t len);
/* Commits w's pack (last: its final one, committed here). */
int cairn_backup_flush_pack(struct worker *w, int last);
void cairn_backup_help_commit(struct backup *b, cairn_sealer *sealer);
void cairn_backup_committer_start(struct backup *b);
void cairn_backup_committer_stop(struct backup *b);
void cairn_backup_committer_free(struct backup *b);

#endif

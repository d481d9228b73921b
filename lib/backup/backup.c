/* The backup engine.
 *
 * The main thread walks the tree depth-first in path order and puts every
 * entry into a bounded ring. Regular files that the files cache (the
 * parent snapshot's manifest) cannot vouch for are read by a pool of
 * workers: each reads and chunks a window of up to 2 MiB (many small
 * files, or part of a big one) and makes it a job that every idle worker
 * helps with: fingerprints, one question to the dedup set and the index
 * for the whole window, sealing of the new chunks into packs. Full packs
 * go to a committer thread that writes them and registers their blobs.
 * The main thread takes finished entries off the ring in order and
 * appends them to the manifest, whose chunks go through the same dedup
 * path into packs of their own. */
#include "cairn/backup.h"

#include "backup/dedup.h"
#include "backup/jobs.h"

#include "cairn/chunker.h"
#include "cairn/errors.h"
#include "cairn/tree.h"
#include "util/fdbudget.h"
#include "util/fileio.h"
#include "util/path.h"
#include "util/time.h"
#include "fs/exclude.h"
#include "fs/meta.h"
#include "fs/walk.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RING_SLOTS 512
#define READ_SIZE (1u << 20)
#define WINDOW_SIZE (2u << 20) /* chunk data a worker holds before deduplicating it */
#define PROGRESS_NS 250000000LL
/* read_region's answer when the source file, not the repository, failed */
#define FILE_READ_ERROR 1

static const uint8_t zero_fp[CAIRN_FP_SIZE];


/* ---- hardlinks seen: (dev, ino) -> first path ---- */

struct link_map {
	struct link {
		uint64_t dev, ino;
		char *path;
	} *items;
	size_t cap, count;
};

static struct link *link_slot(struct link_map *m, uint64_t dev, uint64_t ino)
{
	size_t j = (ino * 0x9e3779b97f4a7c15ull ^ dev) & (m->cap - 1);
	while (m->items[j].path && (m->items[j].dev != dev || m->items[j].ino != ino))
		j = (j + 1) & (m->cap - 1);
	return &m->items[j];
}

/* The first path seen for (dev, ino), or NULL after recording path. */
static int link_lookup(struct link_map *m, uint64_t dev, uint64_t ino, const char *path,
		       const char **first)
{
	*first = NULL;
	if (2 * (m->count + 1) > m->cap) {
		struct link_map n = {.cap = m->cap ? 2 * m->cap : 256};
		if (!(n.items = calloc(n.cap, sizeof(*n.items))))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		for (size_t i = 0; i < m->cap; i++)
			if (m->items[i].path)
				*link_slot(&n, m->items[i].dev, m->items[i].ino) = m->items[i];
		n.count = m->count;
		free(m->items);
		*m = n;
	}
	struct link *l = link_slot(m, dev, ino);
	if (l->path) {
		*first = l->path;
		return 0;
	}
	if (!(l->path = strdup(path)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	l->dev = dev;
	l->ino = ino;
	m->count++;
	return 0;
}

static void link_map_free(struct link_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->items[i].path);
	free(m->items);
}

static int flush_index(void *repo)
{
	return cairn_repo_flush_index(repo);
}

/* ---- pipeline state ---- */

enum file_status { NOT_A_FILE, FILE_NEW, FILE_CHANGED, FILE_UNCHANGED };

struct slot {
	cairn_entry e;
	struct stat st; /* the walker's lstat of a file that needs work */
	size_t chunks_cap; /* allocated length of e.chunks */
	enum file_status status;
	int needs_work;
	int done;
	int failed;     /* unreadable: reported and left out of the snapshot */
	char *warning;  /* reported by the main thread */
};

struct worker;

struct backup {
	cairn_repo *repo;
	const cairn_backup_opts *opts;
	cairn_index *index;
	uint32_t pack_target;
	const char *spool_dir; /* where packs being filled live */
	cairn_chunker chunker; /* template, copied per worker */

	pthread_mutex_t lock;
	pthread_cond_t work_cv, done_cv;
	struct slot *ring;
	uint64_t head, tail, dispatch; /* head <= dispatch <= tail, indices mod RING_SLOTS */
	int stop;
	int fatal;
	char fatal_msg[1024];
	/* Who sleeps on the condition variables: wake-ups are system calls,
	 * so they are made only when someone is waiting. */
	int idle_workers;
	int main_waiting;
	cairn_jobs jobs; /* windows offered to idle workers, under lock */

	/* Guards the set of chunks this backup stored, and the counters. */
	pthread_mutex_t dedup_lock;
	cairn_dedup dedup;
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
	struct worker *main_ctx; /* for manifest blobs, on the main thread */

	/* main thread only */
	cairn_tree_writer *tree;
	cairn_tree_reader *parent;
	cairn_entry parent_entry;
	int parent_valid, parent_done;
	struct link_map links;
	cairn_summary sum;
	uint64_t files_done, bytes_done;
	int64_t last_progress;
	char **ancestors; /* directory entries emitted for the paths' parents */
	size_t n_ancestors;
};

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

static void set_fatal(struct backup *b, int rc)
{
	pthread_mutex_lock(&b->lock);
	if (!b->fatal) {
		b->fatal = rc ? rc : CAIRN_ERROR;
		snprintf(b->fatal_msg, sizeof(b->fatal_msg), "%s", cairn_error_last());
	}
	b->stop = 1;
	pthread_cond_broadcast(&b->work_cv);
	pthread_cond_broadcast(&b->done_cv);
	pthread_cond_broadcast(&b->jobs.job_cv);
	pthread_mutex_unlock(&b->lock);
	/* a worker waiting for a free pack writer */
	pthread_mutex_lock(&b->commit_lock);
	pthread_cond_broadcast(&b->commit_cv);
	pthread_mutex_unlock(&b->commit_lock);
}

/* A pack writer whose blobs go to a temporary file when one can be made,
 * else to memory. */
static cairn_pack_writer *pack_writer_new(struct backup *b)
{
	cairn_pack_writer *p = malloc(sizeof(*p));
	if (!p)
		return NULL;
	cairn_pack_writer_init(p);
	if (cairn_pack_writer_spool(p, b->spool_dir) != 0)
		cairn_error_clear();
	return p;
}

static int worker_init(struct worker *w, struct backup *b, int for_data)
{
	int rc;
	w->b = b;
	if (!(w->pack = pack_writer_new(b)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = cairn_repo_sealer_new(b->repo, &w->sealer, 0)) ||
	    (rc = cairn_repo_fingerprinter_new(b->repo, &w->fp)))
		return rc;
	if (!for_data)
		return 0;
	w->chunker = b->chunker;
	w->buf_cap = (size_t)b->chunker.params.max + 2 * READ_SIZE;
	if (!(w->buf = malloc(w->buf_cap)) || !(w->jobs[0].buf = malloc(w->buf_cap)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return 0;
}

static void worker_free(struct worker *w)
{
	cairn_sealer_free(w->sealer);
	cairn_fingerprinter_free(w->fp);
	if (w->pack) {
		cairn_pack_writer_free(w->pack);
		free(w->pack);
	}
	free(w->buf);
	free(w->pend);
	for (int i = 0; i < 2; i++) {
		free(w->jobs[i].buf);
		free(w->jobs[i].pend);
	}
	free(w->bundle);
	cairn_dedup_batch_free(&w->ask);
}

static int commit_pack(struct backup *b, cairn_sealer *sealer, cairn_pack_writer *pack)
{
	if (b->opts->dry_run) {
		cairn_pack_writer_reset(pack);
		return 0;
	}
	return cairn_repo_commit_pack(b->repo, sealer, pack);
}

/* Commits the queued packs, oldest first, until none is left, with the
 * caller's own sealer. Called with commit_lock held; drops it while
 * committing. */
static void commit_queued(struct backup *b, cairn_sealer *sealer)
{
	while (b->n_queue) {
		cairn_pack_writer *pack = b->queue[0];
		memmove(b->queue, b->queue + 1, --b->n_queue * sizeof(*b->queue));
		pthread_mutex_unlock(&b->commit_lock);
		int rc = b->fatal ? 0 : commit_pack(b, sealer, pack);
		if (rc)
			set_fatal(b, rc);
		cairn_pack_writer_reset(pack);
		pthread_mutex_lock(&b->commit_lock);
		b->free_packs[b->n_free++] = pack;
		pthread_cond_broadcast(&b->commit_cv);
	}
}

static void *committer_main(void *arg)
{
	struct backup *b = arg;
	pthread_mutex_lock(&b->commit_lock);
	for (;;) {
		while (!b->n_queue && !b->commit_stop)
			pthread_cond_wait(&b->commit_cv, &b->commit_lock);
		if (!b->n_queue)
			break;
		commit_queued(b, b->commit_sealer);
	}
	pthread_mutex_unlock(&b->commit_lock);
	return NULL;
}

/* At the end: a thread done with its own last pack helps the committer
 * with the packs still queued, rather than leave them to one core. */
static void help_commit(struct backup *b, cairn_sealer *sealer)
{
	if (!b->committer_started)
		return;
	pthread_mutex_lock(&b->commit_lock);
	commit_queued(b, sealer);
	pthread_mutex_unlock(&b->commit_lock);
}

/* Commits the worker's pack: through the committer when it runs and the
 * worker goes on with another writer, else here. The workers' last packs
 * are committed side by side, each by its worker, at the end. */
static int flush_pack(struct worker *w, int last)
{
	struct backup *b = w->b;
	if (w->pack->count == 0)
		return 0;
	if (!b->committer_started || w == b->main_ctx || last)
		return commit_pack(b, w->sealer, w->pack);
	cairn_pack_writer *next = NULL;
	pthread_mutex_lock(&b->commit_lock);
	b->queue[b->n_queue++] = w->pack;
	w->pack = NULL;
	pthread_cond_broadcast(&b->commit_cv);
	while (!b->n_free && b->n_packs >= b->max_packs && !b->fatal)
		pthread_cond_wait(&b->commit_cv, &b->commit_lock);
	if (b->n_free)
		next = b->free_packs[--b->n_free];
	else if (b->n_packs < b->max_packs && (next = pack_writer_new(b)))
		b->n_packs++;
	pthread_mutex_unlock(&b->commit_lock);
	if (!next)
		return b->fatal ? b->fatal : cairn_error_set(CAIRN_ENOMEM, "out of memory");
	w->pack = next;
	return 0;
}

/* Starts the committer; without it, workers commit their own packs. */
static void committer_start(struct backup *b)
{
	b->max_packs = (size_t)b->n_workers + (b->workers[0].pack->spooled ? 3 : 1);
	b->queue = calloc(b->max_packs, sizeof(*b->queue));
	b->free_packs = calloc(b->max_packs, sizeof(*b->free_packs));
	if (!b->queue || !b->free_packs ||
	    cairn_repo_sealer_new(b->repo, &b->commit_sealer, 0) != 0) {
		cairn_error_clear(); /* the workers commit, then */
		return;
	}
	b->n_packs = (size_t)b->n_workers; /* the workers' own */
	if (pthread_create(&b->committer, NULL, committer_main, b) == 0)
		b->committer_started = 1;
}

/* Waits until every queued pack is committed, and ends the committer. */
static void committer_stop(struct backup *b)
{
	if (b->committer_started) {
		pthread_mutex_lock(&b->commit_lock);
		b->commit_stop = 1;
		pthread_cond_broadcast(&b->commit_cv);
		pthread_mutex_unlock(&b->commit_lock);
		pthread_join(b->committer, NULL);
		b->committer_started = 0;
	}
}

static void committer_free(struct backup *b)
{
	for (size_t i = 0; i < b->n_free; i++) {
		cairn_pack_writer_free(b->free_packs[i]);
		free(b->free_packs[i]);
	}
	for (size_t i = 0; i < b->n_queue; i++) {
		cairn_pack_writer_free(b->queue[i]);
		free(b->queue[i]);
	}
	free(b->free_packs);
	free(b->queue);
	cairn_sealer_free(b->commit_sealer);
}

/* Counts what a blob just added to w's pack (before: the pack's size
 * until then; chunks: of kind), and hands the pack on once full. */
static int stored(struct worker *w, size_t before, uint8_t kind, size_t chunks)
{
	struct backup *b = w->b;
	pthread_mutex_lock(&b->dedup_lock);
	b->bytes_added += cairn_pack_size(w->pack) - before;
	if (kind == CAIRN_BLOB_DATA)
		b->blobs_added += chunks;
	else
		b->tree_blobs_added += chunks;
	pthread_mutex_unlock(&b->dedup_lock);
	if (cairn_pack_size(w->pack) >= b->pack_target)
		return flush_pack(w, 0);
	return 0;
}

/* Stores a new blob in the worker's pack. */
static int store_blob(struct worker *w, const uint8_t *fp, uint8_t kind, const uint8_t *data,
		      size_t len)
{
	size_t before = cairn_pack_size(w->pack);
	int rc = cairn_pack_add(w->pack, w->sealer, fp, kind, data, len);
	return rc ? rc : stored(w, before, kind, 1);
}

/* Stores the n new chunks pend[at[0]], pend[at[1]], ... (len bytes in
 * all) as one bundle, or alone if n is 1. */
static int store_bundle(struct worker *w, const cairn_pending *pend, const size_t *at, size_t n,
			size_t len)
{
	if (n == 1)
		return store_blob(w, pend[at[0]].fp, CAIRN_BLOB_DATA, pend[at[0]].data, len);
	uint8_t fps[CAIRN_BUNDLE_CHUNKS][CAIRN_FP_SIZE];
	uint32_t lens[CAIRN_BUNDLE_CHUNKS];
	const uint8_t *plain = pend[at[0]].data;
	int contiguous = 1;
	for (size_t k = 0; k < n; k++) {
		const cairn_pending *p = &pend[at[k]];
		memcpy(fps[k], p->fp, CAIRN_FP_SIZE);
		lens[k] = p->len;
		if (k && p->data != pend[at[k - 1]].data + pend[at[k - 1]].len)
			contiguous = 0;
	}
	/* Chunks of files read one after the other are neighbours in the
	 * window; a known chunk between them makes a copy necessary. */
	if (!contiguous) {
		if (!w->bundle && !(w->bundle = malloc(CAIRN_BUNDLE_MAX)))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		for (size_t k = 0, off = 0; k < n; off += lens[k++])
			memcpy(w->bundle + off, pend[at[k]].data, lens[k]);
		plain = w->bundle;
	}
	size_t before = cairn_pack_size(w->pack);
	int rc = cairn_pack_add_bundle(w->pack, w->sealer, (const uint8_t(*)[CAIRN_FP_SIZE])fps,
				       lens, n, plain, len);
	return rc ? rc : stored(w, before, CAIRN_BLOB_DATA, n);
}

/* Seals the new chunks of pend[from, to): the small ones together in
 * bundles, the others one by one. */
static int seal_new(struct worker *w, const cairn_pending *pend, size_t from, size_t to)
{
	size_t at[CAIRN_BUNDLE_CHUNKS], n = 0, len = 0;
	int rc = 0;
	for (size_t i = from; i < to && !rc; i++) {
		const cairn_pending *p = &pend[i];
		if (p->state != CHUNK_NEW)
			continue;
		if (p->len > BUNDLE_CHUNK_MAX) {
			rc = store_blob(w, p->fp, CAIRN_BLOB_DATA, p->data, p->len);
			continue;
		}
		if (n && (n == CAIRN_BUNDLE_CHUNKS || len + p->len > CAIRN_BUNDLE_MAX)) {
			rc = store_bundle(w, pend, at, n, len);
			n = len = 0;
		}
		at[n++] = i;
		len += p->len;
	}
	return !rc && n ? store_bundle(w, pend, at, n, len) : rc;
}


/* ---- the work of a job, done for the scheduler (jobs.c) ---- */

static int add_ref(cairn_entry *e, size_t *cap, const uint8_t *fp, uint32_t len)
{
	int rc = cairn_array_grow((void **)&e->chunks, cap, e->n_chunks + 1, sizeof(*e->chunks));
	if (rc)
		return rc;
	memcpy(e->chunks[e->n_chunks].fp, fp, CAIRN_FP_SIZE);
	e->chunks[e->n_chunks].length = len;
	e->n_chunks++;
	return 0;
}


static int job_fingerprint(void *worker, cairn_pending *pend, size_t from, size_t to)
{
	struct worker *w = worker;
	int rc = 0;
	for (size_t i = from; i < to && !rc; i++) {
		cairn_pending *p = &pend[i];
		if (p->data) /* a hole's fingerprint is set */
			rc = cairn_fingerprint(w->fp, p->fp, p->data, p->len);
	}
	return rc;
}

static int job_classify(void *worker, cairn_pending *pend, size_t n)
{
	struct worker *w = worker;
	return cairn_dedup_pending(&w->b->dedup, &w->ask, pend, n);
}

static int job_seal(void *worker, const cairn_pending *pend, size_t from, size_t to)
{
	return seal_new(worker, pend, from, to);
}

static void job_fail(void *worker, int rc)
{
	set_fatal(((struct worker *)worker)->b, rc);
}

static const cairn_job_ops job_ops = {
	.fingerprint = job_fingerprint,
	.classify = job_classify,
	.seal = job_seal,
	.fail = job_fail,
};

/* Finishes job, one of w's (see cairn_jobs_finish), and adds its chunks
 * to their entries. */
static int job_finish(struct worker *w, cairn_job *job)
{
	if (!job->n)
		return 0;
	int rc = cairn_jobs_finish(&w->b->jobs, w, job, &w->jobs[job == &w->jobs[0]]);
	for (size_t i = 0; !rc && i < job->n; i++) {
		cairn_pending *p = &job->pend[i];
		rc = add_ref(&p->slot->e, &p->slot->chunks_cap, p->fp, p->len);
	}
	job->n = 0;
	return rc;
}

/* Makes the pending chunks, and the buffer holding them, w's next job
 * and offers it. */
static void job_offer(struct worker *w)
{
	cairn_job *job = &w->jobs[w->cur ^ 1];
	job->buf = w->buf;
	job->pend = w->pend;
	job->cap = w->cap_pend;
	job->n = w->n_pend;
	w->buf = NULL;
	w->pend = NULL;
	w->cap_pend = w->n_pend = 0;
	cairn_jobs_offer(&w->b->jobs, job);
}

static int pend(struct worker *w, struct slot *slot, const uint8_t *data, size_t len)
{
	int rc = cairn_array_grow((void **)&w->pend, &w->cap_pend, w->n_pend + 1, sizeof(*w->pend));
	if (rc)
		return rc;
	cairn_pending *p = &w->pend[w->n_pend++];
	p->data = data;
	p->len = (uint32_t)len;
	p->slot = slot;
	if (!data)
		memcpy(p->fp, zero_fp, CAIRN_FP_SIZE); /* data gets its own in the job */
	return 0;
}

static int pend_hole(struct worker *w, struct slot *slot, uint64_t len)
{
	while (len) {
		uint32_t n = len > (1u << 30) ? (1u << 30) : (uint32_t)len;
		int rc = pend(w, slot, NULL, n);
		if (rc)
			return rc;
		len -= n;
	}
	return 0;
}

/* Offers the pending chunks of every file in this window as the next job
 * (one index batch for many small files), finishes the previous window's,
 * and takes its buffer for the next window, with the last keep bytes of
 * this one at its start. */
static int settle_window(struct worker *w, size_t keep)
{
	if (keep > w->buf_len)
		keep = w->buf_len;
	int offered = w->n_pend > 0;
	if (offered)
		job_offer(w);
	cairn_job *prev = &w->jobs[w->cur];
	int rc = job_finish(w, prev);
	if (offered) {
		/* Also after a failure: the new job is the one to finish. */
		w->buf = prev->buf;
		w->pend = prev->pend;
		w->cap_pend = prev->cap;
		prev->buf = NULL;
		prev->pend = NULL;
		prev->cap = 0;
		w->cur ^= 1;
		if (!rc)
			memcpy(w->buf, w->jobs[w->cur].buf + w->buf_len - keep, keep);
	} else if (!rc && keep < w->buf_len) {
		memmove(w->buf, w->buf + w->buf_len - keep, keep);
	}
	w->n_pend = 0;
	w->buf_len = rc ? 0 : keep;
	return rc;
}

/* Reads [off, end) of fd into the window, chunks it and pends the chunks
 * for slot. *read_out counts the bytes read; reading stops at end of file.
 * A failure of the file (not fatal to the backup) comes back as
 * FILE_READ_ERROR. */
static int read_region(struct worker *w, struct slot *slot, int fd, uint64_t off, uint64_t end,
		       uint64_t *read_out)
{
	size_t start = w->buf_len, scan = w->buf_len; /* this region's unchunked bytes */
	int rc = 0, eof = 0;
	cairn_chunker_reset(&w->chunker);
	while (!eof) {
		if (start >= WINDOW_SIZE || w->buf_cap - w->buf_len < READ_SIZE) {
			/* Chunks point into buf: settle them before it is
			 * compacted. Settling at WINDOW_SIZE, not when buf is
			 * full, keeps the memory touched small. */
			size_t keep = w->buf_len - start;
			if ((rc = settle_window(w, keep)))
				return rc;
			scan -= start;
			start = 0;
		}
		size_t want = w->buf_cap - w->buf_len;
		if (want > READ_SIZE)
			want = READ_SIZE;
		if (want > end - off)
			want = (size_t)(end - off);
		ssize_t n = want ? pread(fd, w->buf + w->buf_len, want, (off_t)off) : 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cairn_error_set_errno(CAIRN_EIO, errno, "read failed");
			return FILE_READ_ERROR;
		}
		off += (uint64_t)n;
		w->buf_len += (size_t)n;
		*read_out += (uint64_t)n;
		eof = n == 0 || off >= end;
		while (scan < w->buf_len) {
			size_t cut = cairn_chunker_scan(&w->chunker, w->buf + scan, w->buf_len - scan);
			if (cut == CAIRN_CHUNKER_NO_CUT) {
				scan = w->buf_len;
				break;
			}
			scan += cut;
			if ((rc = pend(w, slot, w->buf + start, scan - start)))
				return rc;
			start = scan;
		}
	}
	if (start < w->buf_len && (rc = pend(w, slot, w->buf + start, w->buf_len - start)))
		return rc;
	return 0;
}

static int same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec && a->st_ino == b->st_ino;
}

/* fstat of an open file that must still be a regular file; the error
 * (CAIRN_EIO) is the file's. */
static int stat_regular(int fd, struct stat *st)
{
	if (fstat(fd, st) != 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
	if (!S_ISREG(st->st_mode))
		return cairn_error_set(CAIRN_EIO, "no longer a regular file");
	return 0;
}

/* Opens a file to back up, or returns -1 with errno set. The first
 * READ_SIZE bytes are asked for at once: the files of a worker's batch
 * are opened together, so that those not in the page cache are read from
 * the disk side by side rather than one after the other. */
static int open_source(const struct slot *s)
{
	/* O_NONBLOCK: what was a file may be a FIFO by now, and opening
	 * that would wait for a writer; it does nothing to a regular file. */
	int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	int fd = open(s->e.path, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(s->e.path, flags);
	if (fd >= 0 && s->st.st_size > 0)
		(void)posix_fadvise(fd, 0, s->st.st_size < READ_SIZE ? s->st.st_size : READ_SIZE,
				    POSIX_FADV_WILLNEED);
	return fd;
}

/* Reads one file, opened by open_source (fd, or -1 and open_errno), into
 * slot s. Problems with the file itself end up in s->failed /
 * s->warning; only repository failures are returned. */
static int process_file(struct worker *w, struct slot *s, int fd, int open_errno)
{
	cairn_entry *e = &s->e;
	const struct stat *before = &s->st; /* the walker's: no fstat before reading */
	struct stat after;
	uint64_t bytes = 0;
	int rc = 0;
	if (fd < 0) {
		cairn_error_set_errno(CAIRN_EIO, open_errno, "cannot open");
		goto file_error;
	}
	if ((rc = cairn_read_xattrs(NULL, fd, &e->xattrs, &e->n_xattrs)))
		goto out;

	/* A size of 0 may be a lie: such a file is read to the end below,
	 * only after making sure nothing endless was opened instead. */
	if (before->st_size == 0 && stat_regular(fd, &after) != 0)
		goto file_error;

	uint64_t pos = 0, size = (uint64_t)before->st_size;
	/* Fewer blocks than bytes: walk the data extents, keep holes as holes. */
	int sparse = (uint64_t)before->st_blocks * 512 < size;
	while (sparse && pos < size) {
		off_t data = lseek(fd, (off_t)pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			data = (off_t)size;
		else if (data < 0) {
			sparse = 0; /* no SEEK_DATA here: read it all */
			break;
		}
		if ((uint64_t)data > size)
			data = (off_t)size;
		if ((rc = pend_hole(w, s, (uint64_t)data - pos)))
			goto out;
		pos = (uint64_t)data;
		if (pos >= size)
			break;
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		uint64_t got = 0;
		rc = read_region(w, s, fd, pos, (uint64_t)hole, &got);
		bytes += got;
		if (rc == FILE_READ_ERROR)
			goto file_error;
		if (rc)
			goto out;
		pos += got;
		if (got < (uint64_t)hole - (uint64_t)data)
			break; /* shrank while read */
	}
	if (!sparse) {
		uint64_t got = 0;
		/* Up to the size seen at open: no read just to meet the end of
		 * the file, and a file that grows meanwhile is reported below.
		 * A size of 0 may be a lie (special file systems): read to EOF. */
		rc = read_region(w, s, fd, pos, size ? size : UINT64_MAX, &got);
		bytes += got;
		pos += got;
		if (rc == FILE_READ_ERROR)
			goto file_error;
		if (rc)
			goto out;
	}
	if (stat_regular(fd, &after) != 0)
		goto file_error;
	if (!same_stat(before, &after)) {
		/* What was read belongs to the file as it is now. */
		cairn_entry_set_stat(e, &after);
		s->warning = strdup("changed while read; stored as read");
	}
	e->size = pos;
	goto out;

file_error:
	s->failed = 1;
	s->warning = strdup(cairn_error_last());
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&w->b->dedup_lock);
	w->b->bytes_read += bytes;
	pthread_mutex_unlock(&w->b->dedup_lock);
	return rc;
}

/* Files a worker takes at once: their chunks are deduplicated together. */
#define WORKER_BATCH 32

/* Files a worker took, opened (and their first bytes asked for) as soon
 * as they are taken. */
struct batch {
	struct slot *slot[WORKER_BATCH];
	int fd[WORKER_BATCH], err[WORKER_BATCH];
	size_t n;
};

/* Descriptors kept for everything else: the walk's directories, the
 * store, the index and the caller. */
#define FD_MARGIN 128
/* A file whose descriptor could not be had in advance: opened when read. */
#define OPEN_LATER (-2)

/* The batch size that keeps the files the workers hold open (two batches
 * each) within what the process may still open. */
static size_t batch_files_max(const struct backup *b)
{
	long open_now = cairn_open_fd_count();
	/* the spools of the packs being filled or committed (committer_start) */
	uint64_t used = (open_now < 0 ? 64 : (uint64_t)open_now) + FD_MARGIN + b->max_packs;
	uint64_t limit = cairn_open_fd_limit();
	uint64_t per = limit > used ? (limit - used) / (2 * (uint64_t)b->n_workers) : 0;
	return per < 1 ? 1 : per > WORKER_BATCH ? WORKER_BATCH : (size_t)per;
}

static void batch_open(struct batch *bt)
{
	for (size_t i = 0; i < bt->n; i++) {
		bt->fd[i] = open_source(bt->slot[i]);
		bt->err[i] = errno;
		/* Out of descriptors now (the walk or a store may hold
		 * more): the file's turn will come with this one's closed. */
		if (bt->fd[i] < 0 && (errno == EMFILE || errno == ENFILE))
			bt->fd[i] = OPEN_LATER;
	}
}

/* Closes the batch's files from `from` on, opened and not read: after a
 * failure. */
static void batch_close(const struct batch *bt, size_t from)
{
	for (size_t i = from; i < bt->n; i++)
		if (bt->fd[i] >= 0)
			close(bt->fd[i]);
}

/* Reads the batch's files and settles what they left pending. */
static int batch_process(struct worker *w, const struct batch *bt)
{
	int rc = 0;
	for (size_t i = 0; i < bt->n && !rc; i++) {
		int fd = bt->fd[i], err = bt->err[i];
		if (fd == OPEN_LATER) {
			fd = open_source(bt->slot[i]);
			err = errno;
		}
		if ((rc = process_file(w, bt->slot[i], fd, err))) {
			cairn_error_prefix(rc, "%s", bt->slot[i]->e.path);
			batch_close(bt, i + 1);
		}
	}
	if (!rc)
		rc = settle_window(w, 0);
	/* also after a failure: helpers use its buffer */
	int rc_job = job_finish(w, &w->jobs[w->cur]);
	return rc ? rc : rc_job;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct backup *b = w->b;
	/* The batch being read, and the next one, taken and opened before it
	 * is read: where the page cache is cold, the next files' first bytes
	 * come from the disk meanwhile, not one file after the other. */
	struct batch bt[2];
	int cur = 0;
	bt[0].n = bt[1].n = 0;
	for (;;) {
		struct batch *now = &bt[cur], *next = &bt[cur ^ 1];
		pthread_mutex_lock(&b->lock);
		for (;;) {
			while (b->dispatch < b->tail && !b->ring[b->dispatch % RING_SLOTS].needs_work)
				b->dispatch++;
			/* After a failure nothing is taken: cairn_jobs_work would
			 * return at once and this loop spin, starving the
			 * owners that must withdraw their jobs. */
			cairn_job *job = b->fatal ? NULL : cairn_jobs_oldest(&b->jobs);
			if (job) {
				cairn_jobs_work(&b->jobs, w, job, 0);
				continue;
			}
			if (b->stop || b->dispatch < b->tail || now->n)
				break;
			b->idle_workers++;
			pthread_cond_wait(&b->work_cv, &b->lock);
			b->idle_workers--;
		}
		if (b->fatal || (b->stop && b->dispatch == b->tail && !now->n)) {
			pthread_mutex_unlock(&b->lock);
			batch_close(now, 0);
			break;
		}
		/* Several files when there are many queued, so that the other
		 * workers still find some. */
		size_t want = (size_t)((b->tail - b->dispatch) / ((uint64_t)b->n_workers * 2));
		if (want < 1)
			want = 1;
		if (want > b->batch_max)
			want = b->batch_max;
		next->n = 0;
		while (next->n < want && b->dispatch < b->tail) {
			struct slot *s = &b->ring[b->dispatch++ % RING_SLOTS];
			if (s->needs_work)
				next->slot[next->n++] = s;
		}
		pthread_mutex_unlock(&b->lock);
		batch_open(next);

		if (now->n) {
			int rc = batch_process(w, now);
			if (rc) {
				batch_close(next, 0);
				set_fatal(b, rc);
				break;
			}
			pthread_mutex_lock(&b->lock);
			for (size_t i = 0; i < now->n; i++)
				now->slot[i]->done = 1;
			if (b->main_waiting)
				pthread_cond_signal(&b->done_cv);
			pthread_mutex_unlock(&b->lock);
			now->n = 0;
		}
		cur ^= 1;
	}
	int rc = b->fatal ? 0 : flush_pack(w, 1);
	if (rc)
		set_fatal(b, rc);
	help_commit(b, w->sealer);
	return NULL;
}

/* ---- the main thread: walk, files cache, manifest ---- */

static int tree_sink(void *ud, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind, const uint8_t *data,
		     size_t len)
{
	struct worker *w = ud;
	w->n_pend = 0;
	int rc = cairn_array_grow((void **)&w->pend, &w->cap_pend, 1, sizeof(*w->pend));
	if (rc)
		return rc;
	memcpy(w->pend[0].fp, fp, CAIRN_FP_SIZE);
	w->pend[0].data = data;
	w->pend[0].len = (uint32_t)len;
	w->n_pend = 1;
	rc = cairn_dedup_pending(&w->b->dedup, &w->ask, w->pend, 1);
	if (!rc && w->pend[0].state == CHUNK_NEW)
		rc = store_blob(w, fp, kind, data, len);
	w->n_pend = 0;
	return rc;
}

static void report(struct backup *b, const char *path, const char *msg)
{
	if (b->opts->warn)
		b->opts->warn(b->opts->ud, path, msg);
}

static void progress(struct backup *b, const char *current, int force)
{
	if (!b->opts->progress)
		return;
	int64_t t = cairn_now_ns(CLOCK_MONOTONIC);
	if (!force && t - b->last_progress < PROGRESS_NS)
		return;
	b->last_progress = t;
	pthread_mutex_lock(&b->dedup_lock);
	cairn_progress p = {.files_done = b->files_done, .bytes_done = b->bytes_read,
			    .current = current};
	pthread_mutex_unlock(&b->dedup_lock);
	b->opts->progress(b->opts->ud, &p);
}

/* Emits the finished entries at the head of the ring. Called with the
 * lock held; drops it while working. */
static int drain(struct backup *b)
{
	while (b->head < b->tail) {
		struct slot *s = &b->ring[b->head % RING_SLOTS];
		if (!s->done)
			break;
		pthread_mutex_unlock(&b->lock);
		int rc = 0;
		if (s->warning)
			report(b, s->e.path, s->warning);
		if (s->failed) {
			b->sum.errors++;
		} else {
			switch (s->status) {
			case FILE_NEW: b->sum.files_new++; break;
			case FILE_CHANGED: b->sum.files_changed++; break;
			case FILE_UNCHANGED: b->sum.files_unchanged++; break;
			case NOT_A_FILE:
				if (s->e.type == CAIRN_ENTRY_DIR)
					b->sum.dirs++;
				else
					b->sum.others++;
				break;
			}
			if (s->e.type == CAIRN_ENTRY_FILE)
				b->sum.bytes_total += s->e.size;
			rc = cairn_tree_writer_add(b->tree, &s->e);
		}
		if (s->e.type == CAIRN_ENTRY_FILE)
			b->files_done++;
		cairn_entry_clear(&s->e);
		free(s->warning);
		memset(s, 0, sizeof(*s));
		pthread_mutex_lock(&b->lock);
		if (rc)
			return rc;
		b->head++;
		/* Workers never look behind the head: those slots get reused. */
		if (b->dispatch < b->head)
			b->dispatch = b->head;
	}
	return 0;
}

/* Waits for room in the ring, then adds e (taken over) to it. */
static int enqueue(struct backup *b, cairn_entry *e, const struct stat *st,
		   enum file_status status, int needs_work)
{
	int rc = 0;
	pthread_mutex_lock(&b->lock);
	for (;;) {
		if (b->fatal)
			break;
		if ((rc = drain(b)))
			break;
		if (b->tail - b->head < RING_SLOTS)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += PROGRESS_NS;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		b->main_waiting = 1;
		pthread_cond_timedwait(&b->done_cv, &b->lock, &ts);
		b->main_waiting = 0;
		pthread_mutex_unlock(&b->lock);
		progress(b, NULL, 0);
		pthread_mutex_lock(&b->lock);
	}
	if (b->fatal || rc) {
		pthread_mutex_unlock(&b->lock);
		cairn_entry_clear(e);
		return rc ? rc : b->fatal;
	}
	struct slot *s = &b->ring[b->tail % RING_SLOTS];
	s->e = *e;
	memset(e, 0, sizeof(*e));
	if (needs_work)
		s->st = *st;
	s->status = status;
	s->needs_work = needs_work;
	s->done = !needs_work;
	b->tail++;
	if (needs_work && b->idle_workers)
		pthread_cond_signal(&b->work_cv);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/* Moves the parent manifest forward to path; returns its entry there, or
 * NULL if the parent has no such path. */
static const cairn_entry *parent_find(struct backup *b, const char *path)
{
	while (b->parent && !b->parent_done) {
		if (b->parent_valid) {
			int c = cairn_path_cmp(b->parent_entry.path, path);
			if (c == 0)
				return &b->parent_entry;
			if (c > 0)
				return NULL;
			cairn_entry_clear(&b->parent_entry);
			b->parent_valid = 0;
		}
		int rc = cairn_tree_reader_next(b->parent, &b->parent_entry);
		if (rc == 1) {
			b->parent_valid = 1;
			continue;
		}
		if (rc < 0)
			report(b, "(parent snapshot)", cairn_error_last());
		b->parent_done = 1; /* without a files cache every file is read */
	}
	return NULL;
}

static int visit(struct backup *b, int dfd, const char *name, const char *path, dev_t top_dev,
		 int descend);

static int visit_children(struct backup *b, const char *path, dev_t top_dev)
{
	char **names;
	size_t n;
	/* Opened once: its names are listed and its children looked up
	 * relative to it (a path walk of one component instead of the whole
	 * path, per entry), so both are of the same directory. */
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc = dfd < 0 ? cairn_error_set_errno(CAIRN_EIO, errno, "cannot open directory")
			 : cairn_dir_names(dfd, &names, &n);
	if (rc) {
		report(b, path, cairn_error_last());
		b->sum.errors++;
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	size_t plen = strlen(path);
	for (size_t i = 0; i < n && !rc; i++) {
		size_t len = plen + 1 + strlen(names[i]) + 1;
		char *child = malloc(len);
		if (!child) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			break;
		}
		snprintf(child, len, "%s/%s", strcmp(path, "/") ? path : "", names[i]);
		rc = visit(b, dfd, names[i], child, top_dev, 1);
		free(child);
	}
	close(dfd);
	cairn_names_free(names, n);
	return rc;
}

/* Visits path, which is name in directory dfd (AT_FDCWD: path itself). */
static int visit(struct backup *b, int dfd, const char *name, const char *path, dev_t top_dev,
		 int descend)
{
	cairn_entry e = {0};
	struct stat st;
	int rc;
	const cairn_backup_opts *o = b->opts;

	if (o->n_excludes && cairn_exclude_match(o->excludes, o->n_excludes, path))
		return 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
		report(b, path, cairn_error_last());
		b->sum.errors++;
		return 0;
	}
	progress(b, path, 0);
	int is_root = strcmp(path, "/") == 0;
	if (is_root) {
		/* "/" has no entry of its own: its children are the top. */
		return descend ? visit_children(b, path, top_dev) : 0;
	}
	if ((rc = cairn_entry_set_stat(&e, &st))) {
		report(b, path, "unknown file type; skipped");
		return 0;
	}
	if (!(e.path = strdup(path)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");

	enum file_status status = NOT_A_FILE;
	int needs_work = 0;
	if (e.type == CAIRN_ENTRY_SYMLINK) {
		size_t cap = (size_t)st.st_size + 1 > 256 ? (size_t)st.st_size + 1 : 256;
		for (;;) {
			char *t = malloc(cap);
			if (!t) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				goto out;
			}
			ssize_t n = readlinkat(dfd, name, t, cap);
			if (n < 0) {
				free(t);
				cairn_error_set_errno(CAIRN_EIO, errno, "cannot read link");
				report(b, path, cairn_error_last());
				b->sum.errors++;
				goto out;
			}
			if ((size_t)n < cap) {
				t[n] = '\0';
				e.link_target = t;
				break;
			}
			free(t);
			cap *= 2;
		}
		if (!*e.link_target) {
			report(b, path, "empty symlink target; skipped");
			goto out;
		}
	} else if (e.type == CAIRN_ENTRY_FILE) {
		const char *first = NULL;
		if (st.st_nlink > 1 &&
		    (rc = link_lookup(&b->links, st.st_dev, st.st_ino, path, &first)))
			goto out;
		if (first) {
			/* The size stays: listings show the link's size. */
			e.type = CAIRN_ENTRY_HARDLINK;
			if (!(e.link_target = strdup(first))) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				goto out;
			}
		} else {
			const cairn_entry *p = parent_find(b, path);
			if (p && p->type == CAIRN_ENTRY_FILE && p->size == e.size &&
			    p->mtime_ns == e.mtime_ns && p->ctime_ns == e.ctime_ns &&
			    p->ino == e.ino) {
				status = FILE_UNCHANGED;
				e.chunks = b->parent_entry.chunks;
				e.n_chunks = b->parent_entry.n_chunks;
				b->parent_entry.chunks = NULL;
				b->parent_entry.n_chunks = 0;
				/* Setting an xattr changes the ctime: the
				 * parent's are still the file's. */
				e.xattrs = b->parent_entry.xattrs;
				e.n_xattrs = b->parent_entry.n_xattrs;
				b->parent_entry.xattrs = NULL;
				b->parent_entry.n_xattrs = 0;
				/* Its chunks are taken: the parent entry is spent. */
				cairn_entry_clear(&b->parent_entry);
				b->parent_valid = 0;
			} else {
				status = p ? FILE_CHANGED : FILE_NEW;
				needs_work = 1;
			}
		}
	}
	/* A file to read gets its xattrs from its worker, through the
	 * descriptor it opens anyway. */
	if (status != FILE_UNCHANGED && !needs_work &&
	    (rc = cairn_read_xattrs(path, -1, &e.xattrs, &e.n_xattrs)))
		goto out;
	int is_dir = e.type == CAIRN_ENTRY_DIR;
	if ((rc = enqueue(b, &e, &st, status, needs_work)))
		goto out;
	if (is_dir && descend && !(o->one_file_system && st.st_dev != top_dev))
		rc = visit_children(b, path, top_dev);
out:
	cairn_entry_clear(&e);
	return rc;
}

/* Emits directory entries for the parents of path not emitted yet. */
static int visit_ancestors(struct backup *b, const char *path)
{
	/* Drop remembered ancestors that are not above this path. */
	while (b->n_ancestors) {
		const char *a = b->ancestors[b->n_ancestors - 1];
		size_t n = strlen(a);
		if (strncmp(path, a, n) == 0 && path[n] == '/')
			break;
		free(b->ancestors[--b->n_ancestors]);
	}
	for (const char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		size_t n = (size_t)(p - path);
		int seen = 0;
		for (size_t i = 0; i < b->n_ancestors; i++)
			if (strlen(b->ancestors[i]) == n && !strncmp(b->ancestors[i], path, n))
				seen = 1;
		if (seen)
			continue;
		char *a = strndup(path, n);
		char **v = realloc(b->ancestors, (b->n_ancestors + 1) * sizeof(*v));
		if (!a || !v) {
			free(a);
			if (v)
				b->ancestors = v;
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		}
		b->ancestors = v;
		b->ancestors[b->n_ancestors++] = a;
		int rc = visit(b, AT_FDCWD, a, a, 0, 0);
		if (rc)
			return rc;
	}
	return 0;
}

static int by_path(const void *x, const void *y)
{
	return cairn_path_cmp(*(char *const *)x, *(char *const *)y);
}

/* Absolute, sorted, without duplicates or paths inside another given path. */
static int top_paths(const cairn_backup_opts *o, char ***out, size_t *n_out)
{
	char **v = calloc(o->n_paths + 1, sizeof(char *));
	size_t n = 0;
	int rc = 0;
	if (!v)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < o->n_paths && !rc; i++)
		if (!(rc = cairn_path_normalize(&v[n], NULL, o->paths[i])))
			n++;
	if (!rc)
		qsort(v, n, sizeof(*v), by_path);
	size_t k = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		if (k) {
			const char *prev = v[k - 1];
			size_t pl = strlen(prev);
			if (!strcmp(prev, v[i]) || !strcmp(prev, "/") ||
			    (!strncmp(v[i], prev, pl) && v[i][pl] == '/')) {
				free(v[i]);
				continue;
			}
		}
		v[k++] = v[i];
	}
	if (rc) {
		cairn_names_free(v, n);
		return rc;
	}
	*out = v;
	*n_out = k;
	return 0;
}

static int same_paths(const cairn_snapshot *s, char **paths, size_t n)
{
	if (s->n_paths != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->paths[i], paths[i]))
			return 0;
	return 1;
}

static int find_parent(cairn_repo *r, const char *host, char **paths, size_t n,
		       cairn_snapshot *out)
{
	cairn_snapshot *list;
	size_t count;
	int rc = cairn_snapshot_list(r, &list, &count);
	if (rc)
		return rc;
	rc = CAIRN_ENOTFOUND;
	for (size_t i = count; i-- > 0;) {
		if (!strcmp(list[i].host, host) && same_paths(&list[i], paths, n)) {
			*out = list[i];
			memset(&list[i], 0, sizeof(list[i]));
			rc = 0;
			break;
		}
	}
	cairn_snapshot_list_free(list, count);
	return rc;
}

static int strv_dup(const char *const *src, size_t n, char ***out)
{
	*out = calloc(n + 1, sizeof(char *));
	if (!*out)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (!((*out)[i] = strdup(src[i])))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return 0;
}

/* Tells the workers to commit their last packs and end. */
static void stop_workers(struct backup *b)
{
	pthread_mutex_lock(&b->lock);
	b->stop = 1;
	pthread_cond_broadcast(&b->work_cv);
	pthread_mutex_unlock(&b->lock);
}

static int finish_workers(struct backup *b)
{
	stop_workers(b);
	for (int i = 0; i < b->n_workers; i++)
		if (b->workers[i].started) {
			pthread_join(b->workers[i].thread, NULL);
			b->workers[i].started = 0;
		}
	committer_stop(b);
	return b->fatal;
}

int cairn_backup(cairn_repo *r, const cairn_backup_opts *opts, cairn_snapshot *out)
{
	struct backup *b = calloc(1, sizeof(*b));
	struct worker main_ctx = {0};
	cairn_snapshot parent = {0};
	char **paths = NULL;
	size_t n_paths = 0;
	int64_t started = cairn_now_ns(CLOCK_MONOTONIC);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!b)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	b->repo = r;
	b->opts = opts;
	b->index = cairn_repo_index(r);
	b->pack_target = cairn_repo_config_get(r)->pack_target;
	b->spool_dir = getenv("TMPDIR");
	if (!b->spool_dir || !*b->spool_dir)
		b->spool_dir = "/var/tmp";
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->dedup_lock, NULL);
	cairn_dedup_init(&b->dedup, &b->dedup_lock, b->index, opts->dry_run, opts->dedup_generation,
			 flush_index, r);
	pthread_cond_init(&b->work_cv, NULL);
	pthread_cond_init(&b->done_cv, NULL);
	pthread_mutex_init(&b->commit_lock, NULL);
	pthread_cond_init(&b->commit_cv, NULL);

	if (opts->n_paths == 0) {
		rc = cairn_error_set(CAIRN_EINVAL, "nothing to back up: give one or more paths");
		goto out;
	}
	if ((rc = top_paths(opts, &paths, &n_paths)))
		goto out;
	if ((rc = cairn_chunker_init(&b->chunker, &cairn_repo_config_get(r)->chunker)))
		goto out;

	/* The snapshot record. */
	out->time_ns = cairn_now_ns(CLOCK_REALTIME);
	char host[256];
	if (opts->host) {
		out->host = strdup(opts->host);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		out->host = strdup(host);
	}
	struct passwd *pw = getpwuid(getuid());
	out->user = strdup(pw ? pw->pw_name : "");
	if (!out->host || !out->user) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = strv_dup((const char *const *)paths, n_paths, &out->paths)))
		goto out;
	out->n_paths = n_paths;
	if ((rc = strv_dup(opts->tags, opts->n_tags, &out->tags)))
		goto out;
	out->n_tags = opts->n_tags;

	/* The parent snapshot is the files cache. */
	rc = find_parent(r, out->host, paths, n_paths, &parent);
	if (rc == 0) {
		out->has_parent = 1;
		memcpy(out->parent, parent.id, CAIRN_ID_SIZE);
		if ((rc = cairn_tree_reader_open(&b->parent, r, &parent)))
			goto out;
	} else if (rc != CAIRN_ENOTFOUND) {
		goto out;
	}
	rc = 0;

	b->ring = calloc(RING_SLOTS, sizeof(*b->ring));
	if (!b->ring) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = worker_init(&main_ctx, b, 0)))
		goto out;
	b->main_ctx = &main_ctx;
	if ((rc = cairn_tree_writer_new(&b->tree, &b->chunker.params, main_ctx.fp, tree_sink,
					&main_ctx)))
		goto out;

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	b->n_workers = opts->threads > 0 ? opts->threads : (ncpu > 0 ? (int)ncpu : 1);
	if (b->n_workers > 64)
		b->n_workers = 64;
	b->workers = calloc((size_t)b->n_workers, sizeof(*b->workers));
	if (!b->workers) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = cairn_jobs_init(&b->jobs, (size_t)b->n_workers, &job_ops, &b->lock, &b->work_cv,
				  &b->idle_workers, &b->fatal)))
		goto out;
	for (int i = 0; i < b->n_workers; i++)
		if ((rc = worker_init(&b->workers[i], b, 1)))
			goto out;
	committer_start(b);
	b->batch_max = batch_files_max(b);
	for (int i = 0; i < b->n_workers; i++) {
		if (pthread_create(&b->workers[i].thread, NULL, worker_main, &b->workers[i]) != 0) {
			rc = cairn_error_set(CAIRN_ERROR, "cannot start a worker thread");
			goto out;
		}
		b->workers[i].started = 1;
	}

	for (size_t i = 0; i < n_paths && !rc; i++) {
		struct stat st;
		if (lstat(paths[i], &st) != 0) {
			cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
			report(b, paths[i], cairn_error_last());
			b->sum.errors++;
			continue;
		}
		if (!(rc = visit_ancestors(b, paths[i])))
			rc = visit(b, AT_FDCWD, paths[i], paths[i], st.st_dev, 1);
	}

	/* Wait for the workers' last files, then for their packs. */
	pthread_mutex_lock(&b->lock);
	while (!rc && !b->fatal && b->head < b->tail) {
		if ((rc = drain(b)))
			break;
		if (b->head < b->tail) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			b->main_waiting = 1;
			pthread_cond_timedwait(&b->done_cv, &b->lock, &ts);
			b->main_waiting = 0;
		}
	}
	int failed = b->fatal;
	pthread_mutex_unlock(&b->lock);
	/* The manifest's last chunks and pack while the workers commit
	 * theirs; not after a failure, which left the tree incomplete. */
	stop_workers(b);
	if (!rc && !failed &&
	    !(rc = cairn_tree_writer_finish(b->tree, &out->manifest, &out->n_manifest,
					    &out->manifest_size)))
		rc = flush_pack(&main_ctx, 1);
	if (!rc && !failed)
		help_commit(b, main_ctx.sealer);
	if (finish_workers(b)) {
		/* A worker's failure explains whatever stopped the main thread. */
		rc = b->fatal;
		cairn_error_set(rc, "%s", b->fatal_msg);
	}
	if (rc)
		goto out;
	if ((rc = cairn_repo_flush_index(r)))
		goto out;

	b->sum.bytes_read = b->bytes_read;
	b->sum.bytes_added = b->bytes_added;
	b->sum.blobs_added = b->blobs_added;
	b->sum.tree_blobs_added = b->tree_blobs_added;
	b->sum.duration_ns = (uint64_t)(cairn_now_ns(CLOCK_MONOTONIC) - started);
	out->summary = b->sum;
	progress(b, NULL, 1);
	if (!opts->dry_run && (rc = cairn_snapshot_save(r, out)))
		goto out;
	if (b->sum.errors)
		rc = cairn_error_set(CAIRN_EPARTIAL, "%llu path(s) could not be read",
				     (unsigned long long)b->sum.errors);
out:
	if (b->workers) {
		int saved = rc;
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", cairn_error_last());
		finish_workers(b);
		/* What the failed backup did store is still worth finding next
		 * time; the failure it met is the one to report. */
		if (saved && !opts->dry_run)
			(void)cairn_repo_flush_index(r);
		for (int i = 0; i < b->n_workers; i++)
			worker_free(&b->workers[i]);
		free(b->workers);
		committer_free(b);
		if (saved)
			cairn_error_set(saved, "%s", msg);
	}
	if (b->jobs.lock)
		cairn_jobs_free(&b->jobs);
	if (b->ring) {
		for (size_t i = 0; i < RING_SLOTS; i++) {
			cairn_entry_clear(&b->ring[i].e);
			free(b->ring[i].warning);
		}
		free(b->ring);
	}
	worker_free(&main_ctx);
	cairn_tree_writer_free(b->tree);
	cairn_tree_reader_free(b->parent);
	cairn_entry_clear(&b->parent_entry);
	cairn_snapshot_clear(&parent);
	link_map_free(&b->links);
	cairn_names_free(b->ancestors, b->n_ancestors);
	cairn_names_free(paths, n_paths);
	cairn_dedup_free(&b->dedup);
	pthread_mutex_destroy(&b->lock);
	pthread_mutex_destroy(&b->dedup_lock);
	pthread_cond_destroy(&b->work_cv);
	pthread_cond_destroy(&b->done_cv);
	pthread_mutex_destroy(&b->commit_lock);
	pthread_cond_destroy(&b->commit_cv);
	free(b);
	if (rc && rc != CAIRN_EPARTIAL)
		cairn_snapshot_clear(out);
	return rc;
}

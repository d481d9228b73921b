/* The workers: they take files off the ring in batches, open them,
 * read and chunk them into windows, and offer each window as a job
 * (jobs.h) that every idle worker helps with. */
#include "backup/backup_internal.h"

#include "fs/meta.h"
#include "util/buf.h"
#include "util/fdbudget.h"
#include "util/hold.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* read_region's answer when the source file, not the repository, failed */
#define FILE_READ_ERROR 1

int cairn_backup_worker_init(struct worker *w, struct backup *b, int for_data)
{
	int rc;
	w->b = b;
	if (!(w->pack = cairn_backup_pack_writer_new(b)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = cairn_repo_sealer_new(b->repo, &w->sealer, 0)) ||
	    (rc = cairn_repo_fingerprinter_new(b->repo, &w->fp)))
		return rc;
	w->ask.sealer = w->sealer;
	if (!for_data)
		return 0;
	w->chunker = b->chunker;
	w->buf_cap = (size_t)b->chunker.params.max + 2 * READ_SIZE;
	if (!(w->buf = malloc(w->buf_cap)) || !(w->jobs[0].buf = malloc(w->buf_cap)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return 0;
}

void cairn_backup_worker_free(struct worker *w)
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
	return cairn_backup_seal_new(worker, pend, from, to);
}

static void job_fail(void *worker, int rc)
{
	cairn_backup_fail(((struct worker *)worker)->b, rc);
}

const cairn_job_ops cairn_backup_job_ops = {
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

/* ---- reading files into windows of chunks ---- */

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
		memset(p->fp, 0, CAIRN_FP_SIZE); /* data gets its own in the job */
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
		ssize_t n = !want          ? 0
		            : slot->stream ? read(fd, w->buf + w->buf_len, want)
		                           : pread(fd, w->buf + w->buf_len, want, (off_t)off);
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
			size_t cut =
			    cairn_chunker_scan(&w->chunker, w->buf + scan, w->buf_len - scan);
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
	if (s->stream)
		return fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
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
	/* Tests stop here to look at the progress line mid-backup. */
	cairn_hold("backup-file-read");
	if (fd < 0) {
		cairn_error_set_errno(CAIRN_EIO, open_errno, "cannot open");
		goto file_error;
	}
	if (s->stream) {
		/* Standard input: no attributes of its own, read to its end. */
		rc = read_region(w, s, fd, 0, UINT64_MAX, &bytes);
		if (rc == FILE_READ_ERROR)
			goto file_error;
		e->size = bytes;
		goto out;
	}
	if ((rc = cairn_read_attrs(e, NULL, fd)))
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

/* A file whose descriptor could not be had in advance: opened when read. */
#define OPEN_LATER (-2)

/* The batch size that keeps the files the workers hold open (two batches
 * each) within what the process may still open. */
size_t cairn_backup_batch_files_max(const struct backup *b)
{
	/* kept free besides: the spools of the packs being filled or
	 * committed (committer_start) */
	uint64_t per = cairn_fd_spare(b->max_packs) / (2 * (uint64_t)b->n_workers);
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

void *cairn_backup_worker_main(void *arg)
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
			while (b->dispatch < b->tail &&
			       !b->ring[b->dispatch % RING_SLOTS].needs_work)
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
				cairn_backup_fail(b, rc);
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
	int rc = b->fatal ? 0 : cairn_backup_flush_pack(w, 1);
	if (rc)
		cairn_backup_fail(b, rc);
	cairn_backup_help_commit(b, w->sealer);
	return NULL;
}

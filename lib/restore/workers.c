/* The worker pool: one worker plans a queued batch (restore_plan_batch),
 * then every worker takes its ranges: it reads each once, authenticates
 * every blob and writes it into each file that uses it, through the
 * descriptor the main thread opened. The worker that writes the last
 * piece of a file gives it its size and metadata and closes it. A blob
 * that fails to read or authenticate is never written: the places that
 * need it stay zeros, and each file concerned keeps a damage record,
 * reported when the main thread collects its batch. */
#include "restore/restore_internal.h"

#include "cairn/pack.h"
#include "util/fileio.h"
#include "util/hex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REMOTE_MIN_THREADS 4
#define MAX_THREADS 256
#define ZERO_CHECK 65536 /* read size when checking that a hole reads as zeros */

/* Records a problem with [offset, offset + length) of a file: lost if
 * those bytes could not be written (they stay zeros), else they read back
 * wrong. */
void restore_damage(restore *R, batch *b, size_t file, uint64_t offset, uint64_t length, int lost,
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
	if (!R->fatal.code)
		cairn_error_save(&R->fatal, rc);
	pthread_mutex_unlock(&R->damage_mu);
	atomic_store(&R->failed, 1);
}

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
		restore_damage(R, b, file, 0, 0, 0, why);
	}
	uint64_t off = rf->from_offset;
	for (size_t c = rf->from; c < rf->to; off += rf->e.chunks[c++].length) {
		const cairn_chunk_ref *ref = &rf->e.chunks[c];
		int ok;
		cairn_buf_clear(&w->check);
		if (cairn_restore_is_hole(ref)) {
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
			fail_fatal(R, cairn_error_set(CAIRN_ENOMEM, "out of memory"));
			break;
		}
		if (!ok) {
			restore_damage(R, b, file, off, ref->length, 0,
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
		restore_notef(rf, "cannot set the size to %llu: %s", (unsigned long long)rf->e.size,
		              strerror(errno));
		rf->meta_bad = 1;
	}
	if (w->R->opts->verify)
		verify_part(w, b, file);
	if (!rf->last)
		return;
	restore_finish_file_meta(w->R, rf);
	close(rf->fd);
	rf->fd = -1;
}

/* One use of a blob in a file part is done with (written or lost). */
static void use_done(worker *w, batch *b, size_t file)
{
	if (atomic_fetch_sub(&b->files[file].pending, 1) == 1)
		finish_part(w, b, file);
}

static void lose_blob(worker *w, batch *b, const cairn_restore_need *nd, const char *why)
{
	for (size_t i = nd->first; i < nd->first + nd->count; i++) {
		const cairn_restore_use *u = &b->uses[i];
		restore_damage(w->R, b, u->file, u->offset, u->length, 1, why);
		use_done(w, b, u->file);
	}
}

/* Writes a blob's chunk to every place that uses it. */
static void write_uses(worker *w, batch *b, const cairn_restore_need *nd, const uint8_t *chunk)
{
	restore *R = w->R;
	char why[256];
	for (size_t i = nd->first; i < nd->first + nd->count; i++) {
		const cairn_restore_use *u = &b->uses[i];
		if (cairn_pwrite_all(b->files[u->file].fd, chunk, u->length, u->offset) == 0) {
			atomic_fetch_add(&R->bytes_written, u->length);
		} else {
			snprintf(why, sizeof(why), "cannot write: %s", strerror(errno));
			restore_damage(R, b, u->file, u->offset, u->length, 1, why);
		}
		use_done(w, b, u->file);
	}
}

/* A blob was not where the index said (its pack gone, moved by a prune,
 * or a location an index holder made up): it is read from any other place
 * (cairn_repo_read_blob_elsewhere) and written, or its uses are lost with
 * why, the first failure, unless the last one says more. 0, or
 * CAIRN_ENOMEM (the restore fails). */
static int read_elsewhere(worker *w, batch *b, const cairn_restore_need *nd, const char *why)
{
	char last[1400];
	uint8_t kind = nd->ie.kind == CAIRN_BLOB_BUNDLE ? CAIRN_BLOB_DATA : nd->ie.kind;
	int rc = cairn_repo_read_blob_elsewhere(w->R->repo, w->reader.sealer, w->reader.fp, &nd->ie,
	                                        kind, &w->elsewhere);
	if (rc == CAIRN_ENOMEM) {
		fail_fatal(w->R, rc);
		return rc;
	}
	if (rc == CAIRN_ENOTFOUND || !rc) {
		if (!rc)
			write_uses(w, b, nd, w->elsewhere.data);
		else
			lose_blob(w, b, nd, why);
		return 0;
	}
	snprintf(last, sizeof(last), "%s", cairn_error_last());
	lose_blob(w, b, nd, last);
	return 0;
}

/* The pack of a range is gone: a prune may have moved its blobs to
 * another pack. Each is read from where it is now. */
static void read_moved(worker *w, batch *b, const cairn_pack_range *rg)
{
	char why[1400], pack[CAIRN_ID_HEX + 1];
	cairn_hex_encode(pack, b->blobs[rg->first].pack, CAIRN_ID_SIZE);
	snprintf(why, sizeof(why), "pack %.16s is gone", pack);
	for (size_t k = rg->first; k < rg->first + rg->count; k++)
		if (read_elsewhere(w, b, &b->needs[b->blobs[k].id], why))
			break;
}

/* Reads one range of a pack, opens every blob in it and writes each to
 * every place that uses it. */
static void write_range(worker *w, batch *b, size_t task)
{
	restore *R = w->R;
	const cairn_pack_range *rg = &b->ranges[task];
	char pack[CAIRN_ID_HEX + 1], why[1400];

	int rc = cairn_repo_read_range(R->repo, b->blobs[rg->first].pack, rg->offset, rg->length,
	                               &w->raw);
	if (rc == CAIRN_ENOMEM) {
		fail_fatal(R, rc);
		return;
	}
	if (rc == CAIRN_ENOTFOUND) {
		read_moved(w, b, rg);
		return;
	}
	if (rc) {
		cairn_hex_encode(pack, b->blobs[rg->first].pack, CAIRN_ID_SIZE);
		snprintf(why, sizeof(why), "cannot read pack %.16s: %s", pack, cairn_error_last());
		/* Short (a location past the pack's end): the blobs may be
		 * elsewhere. Unreadable: so are the others of the pack. */
		for (size_t k = rg->first; k < rg->first + rg->count; k++)
			if (rc != CAIRN_ECORRUPT)
				lose_blob(w, b, &b->needs[b->blobs[k].id], why);
			else if (read_elsewhere(w, b, &b->needs[b->blobs[k].id], why))
				return;
		return;
	}
	cairn_repo_range_start(&w->reader, &w->raw, rg->offset);
	for (size_t k = rg->first; k < rg->first + rg->count; k++) {
		const cairn_restore_need *nd = &b->needs[b->blobs[k].id];
		const uint8_t *chunk;
		rc = cairn_repo_range_chunk(&w->reader, &nd->ie, &chunk);
		if (rc == CAIRN_ENOMEM) {
			fail_fatal(R, rc);
			return;
		}
		if (rc) {
			snprintf(why, sizeof(why), "%s", cairn_error_last());
			if (read_elsewhere(w, b, nd, why))
				return;
			continue;
		}
		write_uses(w, b, nd, chunk);
	}
}

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
	int rc = atomic_load(&R->failed) ? 0 : restore_plan_batch(R, b);
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

int restore_pool_start(restore *R)
{
	const cairn_restore_opts *o = R->opts;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = o->threads > 0 ? (size_t)o->threads : (ncpu > 0 ? (size_t)ncpu : 1);
	/* From a remote store a worker mostly waits for its answer: more of
	 * them keep more requests in flight. */
	if (o->threads <= 0 && R->remote && n < REMOTE_MIN_THREADS)
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
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	R->n_workers = n;
	for (size_t i = 0; i < n; i++) {
		worker *w = &R->workers[i];
		int rc;
		w->R = R;
		if ((rc = cairn_repo_sealer_new(R->repo, &w->sealer, 0)) ||
		    (rc = cairn_repo_fingerprinter_new(R->repo, &w->fp)))
			return rc;
		cairn_repo_range_init(&w->reader, w->sealer, w->fp);
	}
	for (size_t i = 0; i < n; i++) {
		worker *w = &R->workers[i];
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			return cairn_error_set(CAIRN_ERROR, "cannot start a worker thread");
		w->started = 1;
	}
	return 0;
}

void restore_pool_stop(restore *R)
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
		cairn_buf_free(&w->elsewhere);
		cairn_repo_range_free(&w->reader);
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

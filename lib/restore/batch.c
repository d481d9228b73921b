/* Batches of regular files whose content is written together. The main
 * thread fills one while the workers write the ones queued before it; a
 * full batch is queued (restore_queue_batch), and collected in queue
 * order once the workers are done with it. A file too big for one batch
 * is written over several, a part in each. */
#include "restore/restore_internal.h"

#include "cairn/pack.h"
#include "util/fdbudget.h"
#include "util/hex.h"
#include "util/hold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOOKUP_SLICE 8192 /* fingerprints per index query */

/* 1 if the index entry e can be the blob of every use of nd. */
static int entry_fits(restore *R, const batch *b, const cairn_restore_need *nd,
                      const cairn_index_entry *e)
{
	if ((e->kind != CAIRN_BLOB_DATA && e->kind != CAIRN_BLOB_BUNDLE) ||
	    cairn_repo_blob_check(R->workers[0].sealer, e))
		return 0;
	for (size_t i = nd->first; i < nd->first + nd->count; i++)
		if (b->uses[i].length != e->raw_length)
			return 0;
	return 1;
}

/* The index has no usable answer for nd (none, or one that cannot be the
 * blob: a location an index holder made up, or a lost registration): the
 * first that fits of the index's other rows, then of the store's own
 * record, becomes nd->ie, and *found is set. */
static int relocate(restore *R, const batch *b, cairn_restore_need *nd, uint8_t *found)
{
	cairn_index_entry rows[CAIRN_INDEX_ROWS_MAX];
	uint8_t n;
	for (int from_store = 0; from_store < 2; from_store++) {
		int rc = cairn_repo_blob_places(R->repo, b->uses[nd->first].fp, from_store,
		                                CAIRN_INDEX_ROWS_MAX, rows, &n);
		if (rc)
			return rc;
		for (uint8_t i = 0; i < n; i++)
			if (entry_fits(R, b, nd, &rows[i])) {
				nd->ie = rows[i];
				*found = 1;
				return 0;
			}
	}
	return 0;
}

/* Whether an index entry can be the blob of every use of nd; damages the
 * uses if not. */
static int blob_usable(restore *R, batch *b, cairn_restore_need *nd, int found)
{
	char hex[CAIRN_ID_HEX + 1], pack[CAIRN_ID_HEX + 1], why[256];
	cairn_hex_encode(hex, b->uses[nd->first].fp, CAIRN_FP_SIZE);
	cairn_hex_encode(pack, nd->ie.pack, CAIRN_ID_SIZE);
	if (!found || (nd->ie.kind != CAIRN_BLOB_DATA && nd->ie.kind != CAIRN_BLOB_BUNDLE)) {
		snprintf(why, sizeof(why), "chunk %.16s is in no pack of the index", hex);
		for (size_t i = nd->first; i < nd->first + nd->count; i++)
			restore_damage(R, b, b->uses[i].file, b->uses[i].offset, b->uses[i].length,
			               1, why);
		return 0;
	}
	/* Lengths are bounded before anything is read. */
	if (cairn_repo_blob_check(R->workers[0].sealer, &nd->ie)) {
		snprintf(why, sizeof(why),
		         "the index gives chunk %.16s in pack %.16s an impossible length", hex,
		         pack);
		for (size_t i = nd->first; i < nd->first + nd->count; i++)
			restore_damage(R, b, b->uses[i].file, b->uses[i].offset, b->uses[i].length,
			               1, why);
		return 0;
	}
	int ok = 1;
	for (size_t i = nd->first; i < nd->first + nd->count; i++) {
		if (b->uses[i].length != nd->ie.raw_length) {
			snprintf(why, sizeof(why), "chunk %.16s is %u bytes in pack %.16s, not %u",
			         hex, nd->ie.raw_length, pack, b->uses[i].length);
			restore_damage(R, b, b->uses[i].file, b->uses[i].offset, b->uses[i].length,
			               1, why);
			ok = 0;
		}
	}
	if (!ok) {
		/* Drop the uses that do not fit; the others still get the blob. */
		size_t k = nd->first;
		for (size_t i = nd->first; i < nd->first + nd->count; i++)
			if (b->uses[i].length == nd->ie.raw_length)
				b->uses[k++] = b->uses[i];
		nd->count = k - nd->first;
	}
	return nd->count > 0;
}

/* Lists the places the chunks of the batch's file parts go (holes need
 * no blob: they count as written at once). */
static int list_uses(restore *R, batch *b)
{
	int rc;
	b->n_uses = 0;
	for (size_t f = 0; f < b->n_files; f++) {
		rfile *rf = &b->files[f];
		uint64_t off = rf->from_offset;
		for (size_t c = rf->from; c < rf->to; c++) {
			const cairn_chunk_ref *ref = &rf->e.chunks[c];
			if (cairn_restore_is_hole(ref)) {
				atomic_fetch_add(&R->bytes_written, ref->length);
			} else if (ref->length) {
				if ((rc = cairn_array_grow((void **)&b->uses, &b->cap_uses,
				                           b->n_uses + 1, sizeof(*b->uses))))
					return rc;
				cairn_restore_use *u = &b->uses[b->n_uses++];
				memcpy(u->fp, ref->fp, CAIRN_FP_SIZE);
				u->length = ref->length;
				u->file = (uint32_t)f;
				u->offset = off;
			}
			off += ref->length;
		}
		rf->to_offset = off;
	}
	return 0;
}

/* Finds where the index says each of the n needs of the batch is, one
 * slice of fingerprints a query, and lists the usable ones as blobs to
 * read (count in *n_blobs); each use of one is a piece its file part
 * waits for. */
static int locate_needs(restore *R, batch *b, size_t n, size_t *n_blobs)
{
	uint8_t(*fps)[32] = NULL;
	cairn_index_entry *ents = NULL;
	uint8_t *found = NULL;
	int rc = 0;

	*n_blobs = 0;
	size_t slice = n < LOOKUP_SLICE ? n : LOOKUP_SLICE;
	if (n && (!(fps = malloc(slice * sizeof(*fps))) || !(ents = calloc(slice, sizeof(*ents))) ||
	          !(found = calloc(slice, 1)))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t s = 0; s < n; s += slice) {
		size_t m = n - s < slice ? n - s : slice;
		for (size_t i = 0; i < m; i++)
			memcpy(fps[i], b->uses[b->needs[s + i].first].fp, CAIRN_FP_SIZE);
		memset(found, 0, m);
		if ((rc = cairn_repo_locate_blobs(R->repo, (const uint8_t(*)[32])fps, m, ents,
		                                  found))) {
			cairn_error_prefix(rc, "index lookup");
			goto out;
		}
		/* Tests move the blobs (a prune repacks) before they are read. */
		cairn_hold("restore-located");
		for (size_t i = 0; i < m; i++) {
			cairn_restore_need *nd = &b->needs[s + i];
			if (found[i])
				nd->ie = ents[i];
			if ((!found[i] || !entry_fits(R, b, nd, &nd->ie)) &&
			    (rc = relocate(R, b, nd, &found[i])))
				goto out;
			if (!blob_usable(R, b, nd, found[i]))
				continue;
			for (size_t j = nd->first; j < nd->first + nd->count; j++)
				atomic_fetch_add_explicit(&b->files[b->uses[j].file].pending, 1,
				                          memory_order_relaxed);
			cairn_blob_loc *bl = &b->blobs[(*n_blobs)++];
			memcpy(bl->pack, nd->ie.pack, sizeof(bl->pack));
			bl->offset = nd->ie.offset;
			bl->length = nd->ie.length;
			bl->id = s + i;
		}
	}
out:
	free(fps);
	free(ents);
	free(found);
	return rc;
}

/* Lists the file parts with nothing to read: they only need finishing. */
static int list_idle(batch *b)
{
	int rc;
	b->n_idle = 0;
	for (size_t f = 0; f < b->n_files; f++) {
		if (atomic_load_explicit(&b->files[f].pending, memory_order_relaxed))
			continue;
		if ((rc = cairn_array_grow((void **)&b->idle, &b->cap_idle, b->n_idle + 1,
		                           sizeof(*b->idle))))
			return rc;
		b->idle[b->n_idle++] = f;
	}
	return 0;
}

/* Lists what the batch needs, finds where the index says it is, groups
 * it into ranged pack reads, and counts what each file part waits for. */
int restore_plan_batch(restore *R, batch *b)
{
	size_t n = 0, n_blobs = 0;
	int rc;

	b->n_ranges = 0;
	b->n_idle = 0;
	if ((rc = list_uses(R, b)) ||
	    (rc = cairn_restore_group_uses(b->uses, b->n_uses, &b->needs, &b->cap_needs, &n)) ||
	    (rc = cairn_array_grow((void **)&b->blobs, &b->cap_blobs, n, sizeof(*b->blobs))) ||
	    (rc = locate_needs(R, b, n, &n_blobs)))
		return rc;
	free(b->ranges);
	b->ranges = NULL;
	if ((rc = cairn_repo_plan_reads(R->repo, b->blobs, n_blobs, &b->ranges, &b->n_ranges)))
		return rc;
	return list_idle(b);
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
			restore_progress(R, 0);
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
				restore_warnf(R, rf->e.path, "%s (and %u more damaged parts)",
				              rf->damage ? rf->damage : "damaged",
				              rf->n_damage - 1);
			else
				restore_warnf(R, rf->e.path, "%s",
				              rf->damage ? rf->damage : "damaged");
			bad = 1;
		}
		for (size_t at = 0; at < rf->notes.len;) {
			const char *m = (const char *)rf->notes.data + at;
			restore_warnf(R, rf->e.path, "%s", m);
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
	restore_progress(R, 0);
}

/* Waits for and collects every queued batch, oldest first. */
int restore_drain(restore *R)
{
	while (R->collected < R->ring) {
		batch *b = &R->batches[R->collected % N_BATCHES];
		wait_batch(R, b);
		collect(R, b);
	}
	if (R->fatal.code)
		return cairn_error_restore(&R->fatal);
	return 0;
}

/* Hands the batch being filled to the workers. */
int restore_queue_batch(restore *R)
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
	if (b->files[0].cont && (rc = restore_drain(R))) {
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
			if (R->fatal.code)
				return cairn_error_restore(&R->fatal);
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
int restore_add_file(restore *R, cairn_entry *e, int fd, int chmod, int chown)
{
	batch *b = NULL;
	int rc;
	uint64_t bytes = 0, sum = 0;
	for (size_t c = 0; c < e->n_chunks; c++) {
		sum += e->chunks[c].length;
		if (!cairn_restore_is_hole(&e->chunks[c]))
			bytes += e->chunks[c].length;
	}
	/* Start a new batch rather than split a file that fits in one. */
	if (R->fill && R->fill->n_files &&
	    (R->fill->n_files == R->fill->max_files || R->fill->refs + e->n_chunks > BATCH_REFS ||
	     R->fill->bytes + bytes > BATCH_BYTES) &&
	    (rc = restore_queue_batch(R))) {
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
	rf->truncate = sum != rf->e.size ||
	               (rf->e.n_chunks && cairn_restore_is_hole(&rf->e.chunks[rf->e.n_chunks - 1]));
	for (;;) {
		size_t to = cairn_restore_part_end(rf->e.chunks, rf->e.n_chunks, rf->from, b->refs,
		                                   b->bytes, BATCH_REFS, BATCH_BYTES, &bytes);
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
		if ((rc = restore_queue_batch(R))) {
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

/* Sizes the batches by the descriptors the process may still open: every
 * file of a batch in flight holds one, and workers reading packs must
 * never run out. */
int restore_batches_init(restore *R)
{
	/* Each worker may hold a pack and a file open besides. */
	uint64_t spare = cairn_fd_spare(2 * (uint64_t)R->n_workers);
	R->max_files =
	    cairn_restore_fd_budget(spare, N_BATCHES, BATCH_FILES, DIR_FDS_MAX, &R->max_dir_fds);
	R->next_files = BATCH_FIRST < R->max_files ? BATCH_FIRST : R->max_files;
	for (size_t i = 0; i < N_BATCHES; i++) {
		batch *b = &R->batches[i];
		if (!(b->files = calloc(R->max_files, sizeof(*b->files))))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		for (size_t f = 0; f < R->max_files; f++)
			b->files[f].fd = -1;
	}
	return 0;
}

void restore_batches_free(restore *R)
{
	for (size_t i = 0; i < N_BATCHES; i++) {
		batch *b = &R->batches[i];
		if (b->files) {
			for (size_t f = 0; f < b->n_files; f++)
				rfile_clear(&b->files[f]);
			free(b->files);
		}
		free(b->uses);
		free(b->needs);
		free(b->blobs);
		free(b->ranges);
		free(b->idle);
	}
	rfile_clear(&R->orphan);
}

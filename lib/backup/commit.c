/* Pack writers and the committer: new blobs are sealed into a thread's
 * open pack; full packs are written to the store and their blobs
 * registered by the committer thread, or by their thread at the end. */
#include "backup/backup_internal.h"

#include "util/hold.h"

#include <stdlib.h>
#include <string.h>

/* A pack writer whose blobs go to a temporary file when one can be made,
 * else to memory. */
cairn_pack_writer *cairn_backup_pack_writer_new(struct backup *b)
{
	cairn_pack_writer *p = malloc(sizeof(*p));
	if (!p)
		return NULL;
	cairn_pack_writer_init(p);
	if (cairn_pack_writer_spool(p, b->spool_dir) != 0)
		cairn_error_clear();
	return p;
}

static int commit_pack(struct backup *b, cairn_sealer *sealer, cairn_pack_writer *pack)
{
	if (b->opts->dry_run) {
		cairn_pack_writer_reset(pack);
		return 0;
	}
	int rc = cairn_repo_commit_pack(b->repo, sealer, pack);
	/* Tests kill a backup here: a pack is in, its snapshot is not. */
	if (!rc)
		cairn_hold("backup-committed");
	return rc;
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
			cairn_backup_fail(b, rc);
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
void cairn_backup_help_commit(struct backup *b, cairn_sealer *sealer)
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
int cairn_backup_flush_pack(struct worker *w, int last)
{
	struct backup *b = w->b;
	if (w->pack->count == 0)
		return 0;
	if (!b->committer_started || w == &b->main_ctx || last)
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
	else if (b->n_packs < b->max_packs && (next = cairn_backup_pack_writer_new(b)))
		b->n_packs++;
	pthread_mutex_unlock(&b->commit_lock);
	if (!next)
		return b->fatal ? b->fatal : cairn_error_set(CAIRN_ENOMEM, "out of memory");
	w->pack = next;
	return 0;
}

/* Starts the committer; without it, workers commit their own packs. */
void cairn_backup_committer_start(struct backup *b)
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
void cairn_backup_committer_stop(struct backup *b)
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

void cairn_backup_committer_free(struct backup *b)
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
		return cairn_backup_flush_pack(w, 0);
	return 0;
}

/* Stores a new blob in the worker's pack. */
int cairn_backup_store_blob(struct worker *w, const uint8_t *fp, uint8_t kind, const uint8_t *data,
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
		return cairn_backup_store_blob(w, pend[at[0]].fp, CAIRN_BLOB_DATA, pend[at[0]].data,
		                               len);
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
int cairn_backup_seal_new(struct worker *w, const cairn_pending *pend, size_t from, size_t to)
{
	size_t at[CAIRN_BUNDLE_CHUNKS], n = 0, len = 0;
	int rc = 0;
	for (size_t i = from; i < to && !rc; i++) {
		const cairn_pending *p = &pend[i];
		if (p->state != CHUNK_NEW)
			continue;
		if (p->len > BUNDLE_CHUNK_MAX) {
			rc = cairn_backup_store_blob(w, p->fp, CAIRN_BLOB_DATA, p->data, p->len);
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

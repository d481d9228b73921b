/* Committing a pack: upload it, write the index/ object that lists its
 * blobs, then queue them for registration in the index, which is done in
 * batches of many packs (or when asked: cairn_repo_flush_index). */
#include "repo/repo_internal.h"

#include "cairn/errors.h"
#include "cairn/indexfile.h"
#include "cairn/index.h"
#include "repo/repo_format.h"
#include "util/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Blobs of committed packs wait to be registered in the index: one
 * transaction per shard for many packs rather than for each. A shard's
 * B-tree takes random fingerprints, so each transaction rewrites most of
 * its leaves whatever its size. */
#define REGISTER_BATCH 32768

static void index_key(char out[80], const uint8_t id[CAIRN_ID_SIZE])
{
	char hex[CAIRN_ID_HEX + 1];
	cairn_hex_encode(hex, id, CAIRN_ID_SIZE);
	snprintf(out, 80, "%s%s", CAIRN_INDEX_PREFIX, hex);
}

/* Registers the pending entries, then the index/ objects that list them:
 * an object counts as imported only once its entries are in. With the
 * index server out of reach, the objects are written down for the next
 * command to tell it (journal.c); their entries are in them. Called with
 * the pending lock held. */
static int register_pending(cairn_repo *r)
{
	struct pending *p = &r->pending;
	int rc = 0;
	if (!p->n || !(rc = cairn_index_insert(r->index, p->entries, p->n))) {
		p->n = 0;
		for (; p->n_objects && !rc; p->n_objects -= !rc)
			rc = cairn_index_object_add(r->index, p->objects[p->n_objects - 1]);
	}
	if (rc && rc != CAIRN_ENOMEM && cairn_index_offline(r->index, NULL, 0) &&
	    !(rc = cairn_repo_journal_add(r, 'o', (const uint8_t(*)[CAIRN_ID_SIZE])p->objects,
	                                  p->n_objects))) {
		p->n = 0;
		p->n_objects = 0;
	}
	return rc;
}

int cairn_repo_flush_index(cairn_repo *r)
{
	pthread_mutex_lock(&r->pending.lock);
	int rc = register_pending(r);
	pthread_mutex_unlock(&r->pending.lock);
	return rc;
}

/* Queues a pack's entries and its index object for registration, and
 * registers the queue once it holds a batch. */
static int queue_entries(cairn_repo *r, const cairn_index_entry *entries, size_t n,
                         const uint8_t index_id[CAIRN_ID_SIZE])
{
	struct pending *p = &r->pending;
	pthread_mutex_lock(&p->lock);
	int rc = cairn_array_grow((void **)&p->entries, &p->cap, p->n + n, sizeof(*p->entries));
	if (!rc)
		rc = cairn_array_grow((void **)&p->objects, &p->cap_objects, p->n_objects + 1,
		                      sizeof(*p->objects));
	if (!rc) {
		memcpy(p->entries + p->n, entries, n * sizeof(*entries));
		p->n += n;
		memcpy(p->objects[p->n_objects++], index_id, CAIRN_ID_SIZE);
		if (p->n >= REGISTER_BATCH)
			rc = register_pending(r);
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int cairn_repo_put_index_object(cairn_repo *r, cairn_sealer *s, const cairn_index_entry *entries,
                                size_t n, uint8_t id_out[CAIRN_ID_SIZE])
{
	cairn_buf plain = CAIRN_BUF_INIT, sealed = CAIRN_BUF_INIT;
	char key[80];
	int rc;
	if ((rc = cairn_indexfile_encode(&plain, entries, n)))
		goto out;
	if ((rc = cairn_seal(s, &sealed, NULL, CAIRN_BLOB_INDEX, plain.data, plain.len)))
		goto out;
	cairn_sha256(id_out, sealed.data, sealed.len);
	index_key(key, id_out);
	rc = cairn_store_put(r->store, key, sealed.data, sealed.len, 0);
out:
	cairn_buf_free(&plain);
	cairn_buf_free(&sealed);
	return rc;
}

int cairn_repo_commit_pack(cairn_repo *r, cairn_sealer *s, cairn_pack_writer *w)
{
	uint8_t pack_id[CAIRN_ID_SIZE], index_id[CAIRN_ID_SIZE];
	cairn_index_entry *entries = NULL;
	int rc;

	if ((rc = cairn_pack_finish(w, s, NULL)) ||
	    (rc = cairn_store_putv_named(r->store, w->iov, w->n_iov, cairn_repo_pack_key, pack_id,
	                                 0)))
		goto out;

	entries = calloc(w->count ? w->count : 1, sizeof(*entries));
	if (!entries) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < w->count; i++)
		cairn_pack_entry_to_index(&w->entries[i], pack_id, &entries[i]);
	cairn_repo_trust_pack(r, pack_id, w->entries, w->count);
	if ((rc = cairn_repo_put_index_object(r, s, entries, w->count, index_id)))
		goto out;
	rc = queue_entries(r, entries, w->count, index_id);
out:
	free(entries);
	cairn_pack_writer_reset(w);
	return rc;
}

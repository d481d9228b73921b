/* Keeping the index in step with the store: importing the index/ objects
 * it has not seen (on every open of an embedded index), and rebuilding it
 * from all of them. A rebuild then recovers what no readable index/
 * object lists from the packs themselves: each pack's trailer lists its
 * blobs, so the packs in data/ that no imported object covers are read
 * from their tails, their blobs registered, and new index/ objects
 * written for them, so that the store knows them again for every client. */
#include "repo/repo_internal.h"
#include "repo/gc_io.h"

#include "cairn/errors.h"
#include "cairn/indexfile.h"
#include "cairn/index.h"
#include "repo/repo_format.h"
#include "util/hex.h"
#include "util/parallel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Blobs recovered from trailers go into new index/ objects and the index
 * this many at a time. */
#define RECOVER_BATCH 32768
/* Shards of the local copy of the store's record beside a server's index. */
#define STORE_INDEX_SHARDS 16

/* Pack ids, sorted once filled, to ask whether a pack is among them. */
struct pack_set {
	uint8_t (*ids)[CAIRN_ID_SIZE];
	size_t n, cap;
};

static int pack_set_add(struct pack_set *set, const uint8_t id[CAIRN_ID_SIZE])
{
	int rc = cairn_array_grow((void **)&set->ids, &set->cap, set->n + 1, sizeof(*set->ids));
	if (!rc)
		memcpy(set->ids[set->n++], id, CAIRN_ID_SIZE);
	return rc;
}

static int pack_set_has(const struct pack_set *set, const uint8_t id[CAIRN_ID_SIZE])
{
	return set->n && bsearch(id, set->ids, set->n, sizeof(*set->ids), cairn_id_cmp) != NULL;
}

/* Tells warn about the object key that failed with this thread's message,
 * given without the key when it starts with it. */
static void report(cairn_warn_cb warn, void *ud, const char *key)
{
	const char *why = cairn_error_last();
	size_t n = strlen(key);
	if (!warn)
		return;
	if (strncmp(why, key, n) == 0 && strncmp(why + n, ": ", 2) == 0)
		why += n + 2;
	warn(ud, key, why);
}

/* ---- index/ objects ---- */

/* Imports one index/ object into ix (none: NULL); with covered, adds the
 * packs it lists. */
static int import_index_object(cairn_repo *r, cairn_index *ix, cairn_sealer *s,
                               const uint8_t id[CAIRN_ID_SIZE], struct pack_set *covered)
{
	cairn_buf plain = CAIRN_BUF_INIT;
	cairn_index_entry *entries = NULL;
	size_t count = 0;
	int rc;
	if ((rc = cairn_repo_load_object(r, s, CAIRN_INDEX_PREFIX, id, CAIRN_BLOB_INDEX,
	                                 CAIRN_INDEX_OBJECT_MAX, &plain)))
		goto out;
	if ((rc = cairn_indexfile_decode(plain.data, plain.len, &entries, &count))) {
		char hex[CAIRN_ID_HEX + 1];
		cairn_hex_encode(hex, id, CAIRN_ID_SIZE);
		cairn_error_prefix(rc, "%s%s", CAIRN_INDEX_PREFIX, hex);
		goto out;
	}
	if (ix && (rc = cairn_index_insert(ix, entries, count)))
		goto out;
	/* The decoder gives the entries grouped by pack. */
	for (size_t i = 0; covered && !rc && i < count; i++)
		if (i == 0 || memcmp(entries[i].pack, entries[i - 1].pack, CAIRN_ID_SIZE) != 0)
			rc = pack_set_add(covered, entries[i].pack);
	if (!rc && ix)
		rc = cairn_index_object_add(ix, id);
out:
	free(entries);
	cairn_buf_free(&plain);
	return rc;
}

int cairn_repo_import_object(cairn_repo *r, cairn_sealer *s, const uint8_t id[CAIRN_ID_SIZE])
{
	return import_index_object(r, r->index, s, id, NULL);
}

/* Imports into ix the index/ objects it has not seen (every one if all;
 * ix NULL, with all: only reads them, for covered). A damaged or vanished object must not make the
 * whole repository unusable: its blobs are merely unknown to the index (restore reports what it
 * cannot find), it is told to warn and tried again next time. */
static int import_objects(cairn_repo *r, cairn_index *ix, cairn_sealer *s, int all,
                          struct pack_set *covered, cairn_warn_cb warn, void *ud,
                          cairn_index_rebuild *res)
{
	uint8_t(*ids)[CAIRN_ID_SIZE] = NULL;
	size_t n = 0;
	char key[96], hex[CAIRN_ID_HEX + 1];
	int rc;
	if ((rc = cairn_repo_list_ids(r, CAIRN_INDEX_PREFIX, &ids, &n)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		int known = 0;
		if (!all && (rc = cairn_index_object_known(ix, ids[i], &known)))
			goto out;
		if (known)
			continue;
		rc = import_index_object(r, ix, s, ids[i], covered);
		if (rc == CAIRN_ECORRUPT) {
			cairn_hex_encode(hex, ids[i], CAIRN_ID_SIZE);
			snprintf(key, sizeof(key), "%s%s", CAIRN_INDEX_PREFIX, hex);
			report(warn, ud, key);
			res->objects_damaged++;
		}
		if (rc == CAIRN_ECORRUPT || rc == CAIRN_ENOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc)
			goto out;
		res->objects++;
	}
out:
	free(ids);
	return rc;
}

int cairn_repo_sync_index(cairn_repo *r, int rebuild, uint64_t *imported_out)
{
	cairn_index_rebuild res = {0};
	cairn_sealer *s = NULL;
	int rc;
	/* A server is refilled, not cleared: other clients may be registering
	 * at the same time, and registrations are idempotent. */
	if (rebuild && !r->index_remote && (rc = cairn_index_clear(r->index)))
		return rc;
	if ((rc = cairn_repo_sealer_new(r, &s, 0)))
		return rc;
	rc = import_objects(r, r->index, s, rebuild, NULL, NULL, NULL, &res);
	if (!rc && imported_out)
		*imported_out = res.objects;
	cairn_sealer_free(s);
	return rc;
}

/* ---- pack trailers ---- */

struct pack_file {
	uint8_t id[CAIRN_ID_SIZE];
	uint64_t size;
};

struct pack_files {
	struct pack_file *v;
	size_t n, cap;
};

/* Keeps the packs named exactly as a pack is written: data/<aa>/<64 hex>,
 * lowercase, aa its first two digits. */
static int collect_pack(const char *key, uint64_t size, void *ud)
{
	struct pack_files *l = ud;
	struct pack_file p = {.size = size};
	char again[80];
	const char *hex = key + strlen(CAIRN_DATA_PREFIX);
	if (strlen(hex) != 3 + CAIRN_ID_HEX || cairn_hex_decode(p.id, CAIRN_ID_SIZE, hex + 3) != 0)
		return 0;
	cairn_repo_pack_key(again, p.id);
	if (strcmp(again, key) != 0)
		return 0;
	int rc = cairn_array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v));
	if (!rc)
		l->v[l->n++] = p;
	return rc;
}

/* Blobs recovered from trailers and not yet in an index/ object. */
struct recovered {
	cairn_index_entry *entries;
	size_t n, cap;
};

/* Where recovered blobs go: into ix, and with write, first into new
 * index/ objects, so that the store knows them before the index does. */
struct recover_to {
	cairn_index *ix;
	int write;
};

static int write_recovered(cairn_repo *r, cairn_sealer *s, const struct recover_to *to,
                           struct recovered *rec, cairn_index_rebuild *res)
{
	uint8_t id[CAIRN_ID_SIZE];
	int rc;
	if (!rec->n)
		return 0;
	if (to->write && ((rc = cairn_repo_put_index_object(r, s, rec->entries, rec->n, id)) ||
	                  (rc = cairn_index_insert(to->ix, rec->entries, rec->n)) ||
	                  (rc = cairn_index_object_add(to->ix, id))))
		return rc;
	if (!to->write && (rc = cairn_index_insert(to->ix, rec->entries, rec->n)))
		return rc;
	res->objects_written += to->write;
	rec->n = 0;
	return 0;
}

/* Takes the blobs of pack p from its trailer into rec. A trailer that
 * fails is told to warn and counted; a pack gone since the listing (a
 * prune) is passed over. */
static int recover_pack(cairn_repo *r, cairn_sealer *s, const struct pack_file *p,
                        struct recovered *rec, cairn_warn_cb warn, void *ud,
                        cairn_index_rebuild *res)
{
	cairn_pack_entry *entries = NULL;
	size_t count = 0;
	char key[80];
	int rc = cairn_repo_read_trailer(r, s, p->id, p->size, &entries, &count);
	if (rc == CAIRN_ECORRUPT) {
		cairn_repo_pack_key(key, p->id);
		report(warn, ud, key);
		res->packs_damaged++;
		rc = 0;
		goto out;
	}
	if (rc == CAIRN_ENOTFOUND)
		rc = 0;
	if (rc || !count)
		goto out;
	if ((rc = cairn_array_grow((void **)&rec->entries, &rec->cap, rec->n + count,
	                           sizeof(*rec->entries))))
		goto out;
	for (size_t i = 0; i < count; i++)
		cairn_pack_entry_to_index(&entries[i], p->id, &rec->entries[rec->n++]);
	res->packs_recovered++;
	res->blobs_recovered += count;
out:
	free(entries);
	return rc;
}

/* Recovers every pack of data/ that covered does not hold. */
static int recover_from_trailers(cairn_repo *r, cairn_sealer *s, const struct recover_to *to,
                                 struct pack_set *covered, cairn_warn_cb warn, void *ud,
                                 cairn_index_rebuild *res)
{
	struct pack_files packs = {0};
	struct recovered rec = {0};
	int rc = cairn_store_list(r->store, CAIRN_DATA_PREFIX, collect_pack, &packs);
	if (rc)
		goto out;
	if (covered->n)
		qsort(covered->ids, covered->n, sizeof(*covered->ids), cairn_id_cmp);
	for (size_t i = 0; i < packs.n && !rc; i++) {
		if (pack_set_has(covered, packs.v[i].id))
			continue;
		rc = recover_pack(r, s, &packs.v[i], &rec, warn, ud, res);
		if (!rc && rec.n >= RECOVER_BATCH)
			rc = write_recovered(r, s, to, &rec, res);
	}
	if (!rc)
		rc = write_recovered(r, s, to, &rec, res);
out:
	free(packs.v);
	free(rec.entries);
	return rc;
}

int cairn_repo_rebuild_index(cairn_repo *r, cairn_warn_cb warn, void *ud, cairn_index_rebuild *out)
{
	struct pack_set covered = {0};
	cairn_sealer *s = NULL;
	int rc;
	memset(out, 0, sizeof(*out));
	if (!r->index_remote && (rc = cairn_index_clear(r->index)))
		return rc;
	if ((rc = cairn_repo_sealer_new(r, &s, 0)))
		return rc;
	struct recover_to to = {r->index, 1};
	rc = import_objects(r, r->index, s, 1, &covered, warn, ud, out);
	if (!rc)
		rc = recover_from_trailers(r, s, &to, &covered, warn, ud, out);
	/* An index/ object a killed prune left may name a deleted pack. */
	if (!rc)
		rc = cairn_repo_apply_done(r, NULL);
	cairn_sealer_free(s);
	free(covered.ids);
	return rc;
}

/* ---- the store's own record, for a reader the index failed ---- */

/* Where the store's record is read into: the embedded index itself, or
 * beside a server's a local one in the cache directory (store-index/),
 * kept from one command to the next. Under r->store_ix_lock. */
static int store_index(cairn_repo *r, cairn_index **out)
{
	cairn_buf dir = CAIRN_BUF_INIT;
	int rc = 0;
	if (!r->store_ix && !r->index_remote)
		r->store_ix = r->index;
	if (!r->store_ix && !r->cache_dir)
		return cairn_error_set(CAIRN_ENOTFOUND, "no cache directory for the store's index");
	if (!r->store_ix && !(rc = cairn_buf_printf(&dir, "%s/store-index", r->cache_dir)))
		rc = cairn_index_sqlite_open(&r->store_ix, (const char *)dir.data,
		                             STORE_INDEX_SHARDS);
	cairn_buf_free(&dir);
	*out = r->store_ix;
	return rc;
}

int cairn_repo_store_rows(cairn_repo *r, const uint8_t fp[CAIRN_FP_SIZE], size_t max,
                          cairn_index_entry *rows, uint8_t *count_out)
{
	struct pack_set covered = {0};
	cairn_index_rebuild res = {0};
	cairn_sealer *s = NULL;
	cairn_index *ix = NULL;
	*count_out = 0;
	pthread_mutex_lock(&r->store_ix_lock);
	int rc = store_index(r, &ix);
	if (!rc)
		rc = cairn_repo_sealer_new(r, &s, 0);
	/* index/ objects: an embedded index imported them when opened */
	if (!rc && !r->store_ix_objects && ix != r->index)
		rc = import_objects(r, ix, s, 0, NULL, NULL, NULL, &res);
	r->store_ix_objects = !rc;
	if (!rc)
		rc = cairn_index_rows(ix, (const uint8_t(*)[CAIRN_FP_SIZE])fp, 1, max, rows,
		                      count_out);
	/* Then, once, the packs no index/ object lists, from their trailers
	 * (nothing is written: this reader may not be allowed to). The
	 * objects are read again only for the packs they cover: what they
	 * list is in ix already, or was dropped from it on purpose. */
	if (!rc && !*count_out && !r->store_ix_trailers) {
		struct recover_to to = {ix, 0};
		r->store_ix_trailers = 1;
		rc = import_objects(r, NULL, s, 1, &covered, NULL, NULL, &res);
		if (!rc)
			rc = recover_from_trailers(r, s, &to, &covered, NULL, NULL, &res);
		if (!rc)
			rc = cairn_index_rows(ix, (const uint8_t(*)[CAIRN_FP_SIZE])fp, 1, max, rows,
			                      count_out);
	}
	pthread_mutex_unlock(&r->store_ix_lock);
	cairn_sealer_free(s);
	free(covered.ids);
	return rc;
}

/* ---- index/ objects that list packs that are gone ---- */

struct unlist {
	cairn_repo *r;
	const uint8_t (*dead)[CAIRN_ID_SIZE]; /* sorted */
	size_t n_dead;
	uint8_t (*ids)[CAIRN_ID_SIZE];
};

/* An index/ object that lists dead packs is deleted; if it lists live
 * ones too, a new object lists those first. */
static int unlist_object(void *ud, size_t i)
{
	struct unlist *u = ud;
	cairn_repo *r = u->r;
	cairn_sealer *s = NULL;
	cairn_buf plain = CAIRN_BUF_INIT;
	cairn_index_entry *e = NULL;
	size_t n = 0, kept = 0, dead = 0;
	char key[96], hex[CAIRN_ID_HEX + 1];
	int rc = cairn_repo_sealer_new(r, &s, 0);
	if (!rc)
		rc = cairn_repo_load_object(r, s, CAIRN_INDEX_PREFIX, u->ids[i], CAIRN_BLOB_INDEX,
		                            CAIRN_INDEX_OBJECT_MAX, &plain);
	if (!rc)
		rc = cairn_indexfile_decode(plain.data, plain.len, &e, &n);
	if (rc == CAIRN_ECORRUPT || rc == CAIRN_ENOTFOUND) {
		rc = 0; /* check reports a damaged one; a vanished one is no matter */
		goto out;
	}
	for (size_t j = 0; j < n && !rc; j++) {
		if (u->n_dead &&
		    bsearch(e[j].pack, u->dead, u->n_dead, CAIRN_ID_SIZE, cairn_id_cmp))
			dead++;
		else
			e[kept++] = e[j];
	}
	if (rc || !dead)
		goto out;
	if (kept) {
		/* Registered too: this index may never have imported the old
		 * object, and takes the new one for known. */
		uint8_t id[CAIRN_ID_SIZE];
		if ((rc = cairn_repo_put_index_object(r, s, e, kept, id)) ||
		    (rc = cairn_index_insert(r->index, e, kept)) ||
		    (rc = cairn_index_object_add(r->index, id)))
			goto out;
	}
	cairn_hex_encode(hex, u->ids[i], CAIRN_ID_SIZE);
	snprintf(key, sizeof(key), "%s%s", CAIRN_INDEX_PREFIX, hex);
	rc = cairn_store_del(r->store, key);
out:
	free(e);
	cairn_buf_free(&plain);
	cairn_sealer_free(s);
	return rc;
}

int cairn_repo_unlist_packs(cairn_repo *r, const uint8_t (*dead)[CAIRN_ID_SIZE], size_t n,
                            unsigned threads)
{
	struct unlist u = {.r = r, .dead = dead, .n_dead = n};
	size_t n_ids = 0;
	if (!n)
		return 0;
	int rc = cairn_repo_list_ids(r, CAIRN_INDEX_PREFIX, &u.ids, &n_ids);
	if (!rc)
		rc = cairn_parallel_for(n_ids, threads ? threads : 1, unlist_object, &u);
	free(u.ids);
	return rc;
}

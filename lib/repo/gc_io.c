/* Prune's records in gc/, and applying its done records to the index. */
#include "repo/gc_io.h"

#include "cairn/errors.h"
#include "cairn/index.h"
#include "repo/repo_internal.h"

#include <stdlib.h>
#include <string.h>

struct name_list {
	cairn_gc_name *v;
	size_t n, cap;
};

static int collect_name(const char *key, uint64_t size, void *ud)
{
	struct name_list *l = ud;
	cairn_gc_name g;
	(void)size;
	if (cairn_gc_record_parse_key(key, &g.generation, &g.type) != 0)
		return 0;
	int rc = cairn_array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v));
	if (!rc)
		l->v[l->n++] = g;
	return rc;
}

static int by_generation(const void *a, const void *b)
{
	const cairn_gc_name *x = a, *y = b;
	if (x->generation != y->generation)
		return x->generation < y->generation ? -1 : 1;
	return (x->type > y->type) - (x->type < y->type);
}

int cairn_repo_gc_list(cairn_repo *r, cairn_gc_name **out, size_t *n_out)
{
	struct name_list l = {0};
	int rc = cairn_store_list(r->store, CAIRN_GC_PREFIX, collect_name, &l);
	if (rc) {
		free(l.v);
		return rc;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), by_generation);
	*out = l.v;
	*n_out = l.n;
	return 0;
}

int cairn_repo_gc_last(cairn_repo *r, cairn_gc_last *out)
{
	cairn_gc_name *names = NULL;
	size_t n = 0;
	memset(out, 0, sizeof(*out));
	int rc = cairn_repo_gc_list(r, &names, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		uint64_t g = names[i].generation;
		uint64_t *last = names[i].type == CAIRN_GC_PLAN      ? &out->plan
		                 : names[i].type == CAIRN_GC_RUNNING ? &out->running
		                 : names[i].type == CAIRN_GC_DONE    ? &out->done
		                                                     : NULL;
		if (last && g > *last)
			*last = g;
	}
	free(names);
	return rc;
}

int cairn_repo_gc_load(cairn_repo *r, cairn_sealer *s, uint64_t generation, enum cairn_gc_type type,
                       cairn_gc_record *out)
{
	cairn_buf raw = CAIRN_BUF_INIT, plain = CAIRN_BUF_INIT;
	char key[64];
	int rc;
	memset(out, 0, sizeof(*out));
	cairn_gc_record_key(key, generation, type);
	if ((rc = cairn_store_get(
	         r->store, key, 0,
	         (uint64_t)CAIRN_GC_RECORD_MAX + CAIRN_SEAL_NONCE + CAIRN_SEAL_TAG + 2, &raw)))
		goto out;
	if ((rc = cairn_unseal(s, &plain, NULL, CAIRN_BLOB_GC, raw.data, raw.len,
	                       CAIRN_GC_RECORD_MAX)) ||
	    (rc = cairn_gc_record_decode(out, plain.data, plain.len))) {
		cairn_error_prefix(rc, "%s", key);
		goto out;
	}
	/* A record replayed under another name must not pass for it. */
	if (out->generation != generation || out->type != type) {
		cairn_gc_record_clear(out);
		rc = cairn_error_set(CAIRN_ECORRUPT, "%s: the record inside is another one", key);
	}
out:
	cairn_buf_free(&raw);
	cairn_buf_free(&plain);
	return rc;
}

int cairn_repo_gc_put(cairn_repo *r, cairn_sealer *s, const cairn_gc_record *rec)
{
	cairn_buf plain = CAIRN_BUF_INIT, sealed = CAIRN_BUF_INIT;
	char key[64];
	int rc;
	cairn_gc_record_key(key, rec->generation, rec->type);
	if (!(rc = cairn_gc_record_encode(&plain, rec)) &&
	    !(rc = cairn_seal(s, &sealed, NULL, CAIRN_BLOB_GC, plain.data, plain.len)))
		rc = cairn_store_put(r->store, key, sealed.data, sealed.len, CAIRN_PUT_ONCE);
	cairn_buf_free(&plain);
	cairn_buf_free(&sealed);
	return rc;
}

int cairn_repo_gc_lost(cairn_repo *r, cairn_sealer *s, cairn_gc_lost **out, size_t *n_out,
                       uint64_t **gens_out, size_t *n_gens_out)
{
	cairn_gc_name *names = NULL;
	cairn_gc_lost *v = NULL;
	uint64_t *gens = NULL;
	size_t n_names = 0, n = 0, cap = 0, n_gens = 0, cap_gens = 0;
	int rc = cairn_repo_gc_list(r, &names, &n_names);
	for (size_t i = 0; i < n_names && !rc; i++) {
		cairn_gc_record rec;
		if (names[i].type != CAIRN_GC_LOST)
			continue;
		rc = cairn_repo_gc_load(r, s, names[i].generation, CAIRN_GC_LOST, &rec);
		if (rc == CAIRN_ENOTFOUND) { /* retired meanwhile */
			rc = 0;
			continue;
		}
		if (!rc &&
		    !(rc = cairn_array_grow((void **)&v, &cap, n + rec.n_lost, sizeof(*v)))) {
			if (rec.n_lost)
				memcpy(v + n, rec.lost, rec.n_lost * sizeof(*v));
			n += rec.n_lost;
		}
		if (!rc && gens_out &&
		    !(rc = cairn_array_grow((void **)&gens, &cap_gens, n_gens + 1, sizeof(*gens))))
			gens[n_gens++] = names[i].generation;
		cairn_gc_record_clear(&rec);
	}
	free(names);
	if (rc) {
		free(v);
		free(gens);
		return rc;
	}
	*out = v;
	*n_out = cairn_gc_lost_sort(v, n);
	if (gens_out) {
		*gens_out = gens;
		*n_gens_out = n_gens;
	}
	return 0;
}

int cairn_repo_pack_dead(const cairn_repo *r, const uint8_t pack[CAIRN_ID_SIZE])
{
	struct dead_packs *d = (struct dead_packs *)&r->dead;
	pthread_rwlock_rdlock(&d->lock);
	int dead = d->n && bsearch(pack, d->ids, d->n, CAIRN_ID_SIZE, cairn_id_cmp) != NULL;
	pthread_rwlock_unlock(&d->lock);
	return dead;
}

/* Keeps the packs of rec as gone, for an index that kept their rows. */
static int remember_dead(cairn_repo *r, const cairn_gc_record *rec)
{
	struct dead_packs *d = &r->dead;
	pthread_rwlock_wrlock(&d->lock);
	int rc = cairn_array_grow((void **)&d->ids, &d->cap, d->n + rec->n_packs, sizeof(*d->ids));
	if (!rc) {
		for (size_t i = 0; i < rec->n_packs; i++)
			memcpy(d->ids[d->n++], rec->packs[i].id, CAIRN_ID_SIZE);
		qsort(d->ids, d->n, sizeof(*d->ids), cairn_id_cmp);
	}
	pthread_rwlock_unlock(&d->lock);
	return rc;
}

/* Drops the rows of one done record's packs, and remembers it as taken. */
static int apply_one(cairn_repo *r, cairn_sealer *s, uint64_t generation, const uint8_t mark[32])
{
	cairn_gc_record rec;
	int rc = cairn_repo_gc_load(r, s, generation, CAIRN_GC_DONE, &rec);
	if (rc)
		return rc;
	const uint8_t(*packs)[CAIRN_ID_SIZE] = NULL;
	uint8_t(*ids)[CAIRN_ID_SIZE] = malloc(rec.n_packs ? rec.n_packs * CAIRN_ID_SIZE : 1);
	if (!ids) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < rec.n_packs; i++)
		memcpy(ids[i], rec.packs[i].id, CAIRN_ID_SIZE);
	packs = (const uint8_t(*)[CAIRN_ID_SIZE])ids;
	if (!cairn_index_can_prune(r->index) ||
	    cairn_index_drop_packs(r->index, packs, rec.n_packs) != 0) {
		/* A server that will not take it from this token: look past
		 * the rows instead, this time and every time. */
		rc = remember_dead(r, &rec);
		goto out;
	}
	rc = cairn_index_object_add(r->index, mark);
out:
	free(ids);
	cairn_gc_record_clear(&rec);
	return rc;
}

int cairn_repo_apply_done(cairn_repo *r, uint64_t *applied_out)
{
	cairn_gc_name *names = NULL;
	cairn_sealer *s = NULL;
	size_t n = 0;
	uint64_t applied = 0;
	char key[64];
	int rc;
	if ((rc = cairn_repo_gc_list(r, &names, &n)))
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		uint8_t mark[32];
		int known = 0;
		if (names[i].type != CAIRN_GC_DONE)
			continue;
		cairn_gc_record_key(key, names[i].generation, CAIRN_GC_DONE);
		cairn_sha256(mark, key, strlen(key));
		if ((rc = cairn_index_object_known(r->index, mark, &known)) || known)
			continue;
		if (!s && (rc = cairn_repo_sealer_new(r, &s, 0)))
			break;
		rc = apply_one(r, s, names[i].generation, mark);
		if (rc == CAIRN_ENOTFOUND) /* the listing is older than a compaction */
			rc = 0;
		else if (!rc)
			applied++;
	}
	cairn_sealer_free(s);
	free(names);
	if (!rc && applied_out)
		*applied_out = applied;
	return rc;
}

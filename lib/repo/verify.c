/* Locations checked against the packs they name. An index is not the
 * store: an index server's append token can register any location for a
 * fingerprint, and a pack can be gone. Before a backup counts a chunk as
 * stored because an index says so, the location is compared with the
 * authenticated trailer of its pack, which only a holder of the
 * repository's key can have written.
 *
 * Each pack's trailer is read once (a stat and one or two ranged reads)
 * and kept, sorted by fingerprint, while the cache has room: at most
 * CACHE_ENTRIES trailer entries and CACHE_PACKS packs, the least recently
 * used dropped first. Packs this process committed are entered from
 * their writer, unread. The cache lives as long as the repository handle
 * (one command); a pack a prune deletes meanwhile is the deletion
 * protocol's business (cairn_gc_view), as it is for every location. */
#include "repo/repo_internal.h"

#include "cairn/errors.h"
#include "cairn/pack.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_ENTRIES (256u * 1024) /* about 13 MiB of trailer entries */
#define CACHE_PACKS 4096

enum pack_state {
	PACK_GOOD, /* its trailer read and authenticated */
	PACK_BAD,  /* missing, or its trailer does not read */
};

struct known_pack {
	uint8_t id[CAIRN_ID_SIZE];
	enum pack_state state;
	cairn_pack_entry *entries; /* by fingerprint; NULL when bad */
	size_t n;
	uint64_t used; /* the cache's clock when last asked */
};

struct cairn_verified {
	pthread_mutex_t lock;
	struct known_pack *packs;
	size_t n, cap;
	size_t entries; /* held by all packs */
	uint64_t clock;
};

static int entry_by_fp(const void *a, const void *b)
{
	return memcmp(((const cairn_pack_entry *)a)->fp, ((const cairn_pack_entry *)b)->fp,
	              CAIRN_FP_SIZE);
}

int cairn_verified_new(cairn_verified **out)
{
	cairn_verified *v = calloc(1, sizeof(*v));
	if (!v || pthread_mutex_init(&v->lock, NULL) != 0) {
		free(v);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	*out = v;
	return 0;
}

void cairn_verified_free(cairn_verified *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		free(v->packs[i].entries);
	free(v->packs);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

/* Under v->lock. */
static struct known_pack *find(cairn_verified *v, const uint8_t id[CAIRN_ID_SIZE])
{
	for (size_t i = 0; i < v->n; i++)
		if (!memcmp(v->packs[i].id, id, CAIRN_ID_SIZE))
			return &v->packs[i];
	return NULL;
}

/* Drops the least recently used packs until n more entries and a pack
 * fit. Under v->lock. */
static void make_room(cairn_verified *v, size_t n)
{
	while (v->n && (v->n >= CACHE_PACKS || v->entries + n > CACHE_ENTRIES)) {
		size_t old = 0;
		for (size_t i = 1; i < v->n; i++)
			if (v->packs[i].used < v->packs[old].used)
				old = i;
		v->entries -= v->packs[old].n;
		free(v->packs[old].entries);
		v->packs[old] = v->packs[--v->n];
	}
}

/* Keeps what is known of pack id: its n entries (taken over, sorted by
 * fingerprint) or, with entries NULL, that it is bad. Another thread may
 * have entered it meanwhile: then entries are freed. Under v->lock. */
static void remember(cairn_verified *v, const uint8_t id[CAIRN_ID_SIZE], cairn_pack_entry *entries,
                     size_t n)
{
	if (find(v, id) || n > CACHE_ENTRIES) {
		free(entries);
		return;
	}
	make_room(v, n);
	if (cairn_array_grow((void **)&v->packs, &v->cap, v->n + 1, sizeof(*v->packs))) {
		free(entries);
		return;
	}
	struct known_pack *p = &v->packs[v->n++];
	memcpy(p->id, id, CAIRN_ID_SIZE);
	p->state = entries ? PACK_GOOD : PACK_BAD;
	p->entries = entries;
	p->n = entries ? n : 0;
	p->used = ++v->clock;
	v->entries += p->n;
}

/* 1 if a good pack's trailer lists e's chunk exactly where e says. */
static int lists(const struct known_pack *p, const cairn_index_entry *e)
{
	cairn_pack_entry key;
	memcpy(key.fp, e->fp, CAIRN_FP_SIZE);
	const cairn_pack_entry *hit = bsearch(&key, p->entries, p->n, sizeof(key), entry_by_fp);
	if (!hit)
		return 0;
	/* the same chunk twice in one pack: any of its entries */
	while (hit > p->entries && !memcmp(hit[-1].fp, e->fp, CAIRN_FP_SIZE))
		hit--;
	/* A compact entry (length 0) claims only the pack and the offset. */
	for (; hit < p->entries + p->n && !memcmp(hit->fp, e->fp, CAIRN_FP_SIZE); hit++)
		if (hit->offset == e->offset &&
		    (e->length == 0 ||
		     (hit->kind == e->kind && hit->length == e->length &&
		      hit->raw_length == e->raw_length && hit->inner == e->inner)))
			return 1;
	return 0;
}

/* Judges the locations e[i] for i in idx[0, n), all in one pack, against
 * what the cache knows of it: 1 if it knew the pack. Under v->lock. */
static int judge(cairn_verified *v, const cairn_index_entry *e, const size_t *idx, size_t n,
                 uint8_t *ok)
{
	struct known_pack *p = find(v, e[idx[0]].pack);
	if (!p)
		return 0;
	p->used = ++v->clock;
	for (size_t k = 0; k < n; k++)
		ok[idx[k]] = p->state == PACK_GOOD && lists(p, &e[idx[k]]);
	return 1;
}

/* Reads the trailer of the pack of e[idx[0]], judges the locations
 * e[idx[k]] (k < n) against it, and keeps it in the cache. A pack that is
 * missing or whose trailer fails is bad; other errors (the store cannot
 * be read) are returned. */
static int load(cairn_repo *r, cairn_sealer *s, const cairn_index_entry *e, const size_t *idx,
                size_t n, uint8_t *ok)
{
	struct known_pack p = {.state = PACK_GOOD};
	uint64_t size;
	char key[80];
	cairn_repo_pack_key(key, e[idx[0]].pack);
	int rc = cairn_store_stat(r->store, key, &size);
	if (!rc)
		rc = cairn_repo_read_trailer(r, s, e[idx[0]].pack, size, &p.entries, &p.n);
	if (rc && rc != CAIRN_ENOTFOUND && rc != CAIRN_ECORRUPT) {
		free(p.entries);
		return rc;
	}
	if (rc) {
		free(p.entries);
		p.entries = NULL;
		p.n = 0;
		p.state = PACK_BAD;
	} else {
		qsort(p.entries, p.n, sizeof(*p.entries), entry_by_fp);
	}
	for (size_t k = 0; k < n; k++)
		ok[idx[k]] = p.state == PACK_GOOD && lists(&p, &e[idx[k]]);
	pthread_mutex_lock(&r->verified->lock);
	remember(r->verified, e[idx[0]].pack, p.entries, p.n);
	pthread_mutex_unlock(&r->verified->lock);
	return 0;
}

static _Thread_local const cairn_index_entry *sort_entries;

static int idx_by_pack(const void *a, const void *b)
{
	const cairn_index_entry *x = &sort_entries[*(const size_t *)a];
	const cairn_index_entry *y = &sort_entries[*(const size_t *)b];
	return memcmp(x->pack, y->pack, CAIRN_ID_SIZE);
}

int cairn_repo_verify_locations(cairn_repo *r, cairn_sealer *s, const cairn_index_entry *e,
                                size_t n, uint8_t *ok)
{
	size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
	int rc = 0;
	if (!idx)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	sort_entries = e;
	qsort(idx, n, sizeof(*idx), idx_by_pack);
	for (size_t from = 0, to; from < n && !rc; from = to) {
		for (to = from + 1;
		     to < n && !memcmp(e[idx[to]].pack, e[idx[from]].pack, CAIRN_ID_SIZE); to++)
			;
		pthread_mutex_lock(&r->verified->lock);
		int known = judge(r->verified, e, idx + from, to - from, ok);
		pthread_mutex_unlock(&r->verified->lock);
		if (!known)
			rc = load(r, s, e, idx + from, to - from, ok);
	}
	free(idx);
	return rc;
}

void cairn_repo_trust_pack(cairn_repo *r, const uint8_t id[CAIRN_ID_SIZE],
                           const cairn_pack_entry *entries, size_t n)
{
	cairn_pack_entry *copy = malloc((n ? n : 1) * sizeof(*copy));
	if (!copy)
		return; /* it is read when asked, then */
	memcpy(copy, entries, n * sizeof(*copy));
	qsort(copy, n, sizeof(*copy), entry_by_fp);
	pthread_mutex_lock(&r->verified->lock);
	remember(r->verified, id, copy, n);
	pthread_mutex_unlock(&r->verified->lock);
}

/* Healing: what check finds lost must not stay claimed. The index's rows
 * of packs that are gone are dropped, and the chunks snapshots need that
 * are gone or damaged are written down (gc/<random>-lost) with the pack
 * each was lost in: a backup takes them for absent, reads the files that
 * use them again even when unchanged, and stores them again, which heals
 * every snapshot that needs them (a chunk is named by its content). A
 * lost record whose chunks are all found again, in no pack where they
 * were lost, is removed. */
#include "check/check_internal.h"

#include "cairn/index.h"
#include "cairn/store.h"
#include "format/gcfile.h"
#include "repo/gc_io.h"
#include "util/hex.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct lost_list {
	cairn_gc_lost *v;
	size_t n, cap;
};

static const uint8_t no_pack[CAIRN_ID_SIZE];

/* The pack a problem names ("data/<aa>/<hex>"), or all zero. */
static void problem_pack(const cairn_check_problem *p, uint8_t out[CAIRN_ID_SIZE])
{
	const char *prefix = "data/";
	memset(out, 0, CAIRN_ID_SIZE);
	if (strncmp(p->object, prefix, 5) == 0 && strlen(p->object) == 8 + CAIRN_ID_HEX)
		(void)cairn_hex_decode(out, CAIRN_ID_SIZE, p->object + 8);
}

/* Whether the pack is gone from the store now: asked again, so that a
 * pack written since the listing is not taken for lost. */
static int pack_gone(check_ctx *c, const uint8_t pack[CAIRN_ID_SIZE], int *gone)
{
	char key[CAIRN_CHECK_OBJECT_MAX];
	uint64_t size;
	check_pack_object(key, pack);
	int rc = cairn_store_stat(cairn_repo_store(c->repo), key, &size);
	*gone = rc == CAIRN_ENOTFOUND;
	return rc == CAIRN_ENOTFOUND ? 0 : rc;
}

static int lost_kind(enum cairn_check_kind k)
{
	return k == CAIRN_CHECK_PACK_MISSING || k == CAIRN_CHECK_PACK_SHORT ||
	       k == CAIRN_CHECK_CHUNK_UNKNOWN || k == CAIRN_CHECK_CHUNK_MISPLACED ||
	       k == CAIRN_CHECK_BLOB;
}

/* The referenced chunks the problems say are lost. */
static int collect_lost(check_ctx *c, struct lost_list *l)
{
	const check_problems *ps = &c->problems;
	for (size_t i = 0; i < ps->n_chunks; i++) {
		const cairn_check_problem *p = &ps->items[ps->chunks[i].problem];
		if (!lost_kind(p->kind) || !cairn_sorted_fps_has(&c->refs, ps->chunks[i].fp))
			continue;
		int rc = cairn_array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v));
		if (rc)
			return rc;
		memcpy(l->v[l->n].fp, ps->chunks[i].fp, CAIRN_FP_SIZE);
		problem_pack(p, l->v[l->n].pack);
		if (p->kind == CAIRN_CHECK_PACK_MISSING) {
			int gone;
			if ((rc = pack_gone(c, l->v[l->n].pack, &gone)))
				return rc;
			if (!gone) /* written since the listing */
				continue;
		}
		l->n++;
	}
	l->n = cairn_gc_lost_sort(l->v, l->n);
	return 0;
}

/* Drops the index's rows of the packs that are gone, and makes the
 * index/ objects stop listing them. */
static int forget_missing(check_ctx *c)
{
	const check_problems *ps = &c->problems;
	cairn_index *ix = cairn_repo_index(c->repo);
	uint8_t(*packs)[CAIRN_ID_SIZE] = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	for (size_t i = 0; i < ps->n && !rc; i++) {
		const cairn_check_problem *p = &ps->items[i];
		uint8_t id[CAIRN_ID_SIZE];
		int gone;
		if (p->kind != CAIRN_CHECK_PACK_MISSING &&
		    p->kind != CAIRN_CHECK_INDEX_PACK_MISSING)
			continue;
		problem_pack(p, id);
		if (!memcmp(id, no_pack, CAIRN_ID_SIZE) || (rc = pack_gone(c, id, &gone)) || !gone)
			continue;
		if (!(rc = cairn_array_grow((void **)&packs, &cap, n + 1, sizeof(*packs))))
			memcpy(packs[n++], id, CAIRN_ID_SIZE);
	}
	if (!rc && n) {
		qsort(packs, n, sizeof(*packs), cairn_id_cmp);
		rc = cairn_repo_unlist_packs(c->repo, (const uint8_t(*)[CAIRN_ID_SIZE])packs, n,
		                             c->threads);
	}
	/* A server that will not drop rows for this token keeps them: the
	 * lost record makes backups look past them all the same. */
	if (!rc && n && cairn_index_can_prune(ix) &&
	    cairn_index_drop_packs(ix, (const uint8_t(*)[CAIRN_ID_SIZE])packs, n) == 0)
		c->res->packs_forgotten = n;
	free(packs);
	return rc;
}

/* Retires the lost records all of whose chunks are found again; the
 * pairs of the others go to kept. */
static int retire(check_ctx *c, cairn_sealer *s, const struct lost_list *now,
                  struct lost_list *kept)
{
	cairn_gc_name *names = NULL;
	size_t n = 0;
	int rc = cairn_repo_gc_list(c->repo, &names, &n);
	for (size_t i = 0; i < n && !rc; i++) {
		cairn_gc_record rec;
		int healed = 1;
		if (names[i].type != CAIRN_GC_LOST)
			continue;
		if ((rc = cairn_repo_gc_load(c->repo, s, names[i].generation, CAIRN_GC_LOST,
		                             &rec))) {
			rc = rc == CAIRN_ENOTFOUND ? 0 : rc;
			continue;
		}
		for (size_t k = 0; k < rec.n_lost && healed && !rc; k++) {
			int gone = 1;
			if (memcmp(rec.lost[k].pack, no_pack, CAIRN_ID_SIZE) != 0)
				rc = pack_gone(c, rec.lost[k].pack, &gone);
			healed = gone && !cairn_gc_lost_has(now->v, now->n, rec.lost[k].fp, NULL);
		}
		if (!rc && healed) {
			char key[64];
			cairn_gc_record_key(key, names[i].generation, CAIRN_GC_LOST);
			if (!(rc = cairn_store_del(cairn_repo_store(c->repo), key)))
				c->res->lost_retired++;
		} else if (!rc &&
		           !(rc = cairn_array_grow((void **)&kept->v, &kept->cap,
		                                   kept->n + rec.n_lost, sizeof(*kept->v)))) {
			memcpy(kept->v + kept->n, rec.lost, rec.n_lost * sizeof(*rec.lost));
			kept->n += rec.n_lost;
		}
		cairn_gc_record_clear(&rec);
	}
	kept->n = cairn_gc_lost_sort(kept->v, kept->n);
	free(names);
	return rc;
}

/* Writes down the lost chunks no kept record holds yet. */
static int record_new(check_ctx *c, cairn_sealer *s, struct lost_list *now,
                      const struct lost_list *kept)
{
	cairn_gc_record rec = {.type = CAIRN_GC_LOST};
	size_t w = 0;
	for (size_t i = 0; i < now->n; i++)
		if (!cairn_gc_lost_has(kept->v, kept->n, now->v[i].fp, NULL))
			now->v[w++] = now->v[i];
	c->res->lost_chunks = now->n;
	if (!w)
		return 0;
	randombytes_buf(&rec.generation, sizeof(rec.generation));
	rec.lost = now->v;
	rec.n_lost = w;
	int rc = cairn_repo_gc_put(c->repo, s, &rec);
	rec.lost = NULL;
	return rc;
}

int check_heal(check_ctx *c)
{
	struct lost_list now = {0}, kept = {0};
	cairn_sealer *s = NULL;
	int rc;
	if ((rc = collect_lost(c, &now)) || (rc = forget_missing(c)) ||
	    (rc = cairn_repo_sealer_new(c->repo, &s, 0)) || (rc = retire(c, s, &now, &kept)))
		goto out;
	rc = record_new(c, s, &now, &kept);
out:
	if (rc)
		cairn_error_prefix(rc, "cannot record what check found lost");
	cairn_sealer_free(s);
	free(now.v);
	free(kept.v);
	return rc;
}

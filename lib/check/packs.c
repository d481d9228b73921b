/* The packs against what names them: each index/ object against the
 * trailers of the packs it lists (one ranged read of a pack's tail), every
 * pack's blobs listed by an index/ object, and every chunk the snapshots
 * reference placed by the index in a pack that is there and holds it. */
#include "check/check_internal.h"
#include "format/gcfile.h"

#include "cairn/indexfile.h"
#include "cairn/pack.h"
#include "repo/repo_format.h"
#include "util/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Referenced chunks are looked up in the index this many at a time. */
#define LOCATE_BATCH 4096

static int entry_cmp(const void *pa, const void *pb)
{
	const cairn_pack_entry *a = pa, *b = pb;
	int c = memcmp(a->fp, b->fp, CAIRN_FP_SIZE);
	if (c)
		return c;
#define BY(f)                                                                                      \
	if (a->f != b->f)                                                                          \
		return a->f < b->f ? -1 : 1;
	BY(offset)
	BY(length)
	BY(kind)
	BY(raw_length)
	BY(inner)
#undef BY
	return 0;
}

/* A trailer's entries in the order of entry_cmp, which the checks search. */
static void sort_entries(cairn_pack_entry *entries, size_t n)
{
	if (n)
		qsort(entries, n, sizeof(*entries), entry_cmp);
}

int check_trailer_parse(cairn_sealer *s, const uint8_t *pack_tail, size_t len, uint64_t pack_size,
                        cairn_pack_entry **entries_out, size_t *n_out)
{
	int rc = cairn_pack_parse_tail(s, pack_tail, len, pack_size, entries_out, n_out);
	if (!rc)
		sort_entries(*entries_out, *n_out);
	return rc;
}

int check_trailer_read(check_ctx *c, cairn_sealer *s, const check_pack *p,
                       cairn_pack_entry **entries_out, size_t *n_out)
{
	int rc = cairn_repo_read_trailer(c->repo, s, p->id, p->size, entries_out, n_out);
	if (!rc)
		sort_entries(*entries_out, *n_out);
	return rc;
}

int check_trailer_bad(check_ctx *c, check_pack *p)
{
	char object[CAIRN_CHECK_OBJECT_MAX];
	int rc = 0;
	check_pack_object(object, p->id);
	pthread_mutex_lock(&c->lock);
	if (p->trailer != TRAILER_BAD) {
		p->trailer = TRAILER_BAD;
		rc = check_report_locked(c, CAIRN_CHECK_PACK_TRAILER, object, 0, cairn_error_last(),
		                         NULL, &p->trailer_problem);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Reads p's trailer; 1 if it does not read (reported), or a failure. */
static int trailer_get(check_ctx *c, cairn_sealer *s, check_pack *p, cairn_pack_entry **entries,
                       size_t *n)
{
	int rc = check_trailer_read(c, s, p, entries, n);
	if (rc == CAIRN_ENOTFOUND && check_pack_pruned(c, p->id))
		return 1; /* deleted by a prune since the listing */
	int o = check_outcome(c, rc);
	if (o == 1) {
		rc = check_trailer_bad(c, p);
		return rc ? rc : 1;
	}
	return o;
}

static int key_cmp(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
	return a < b ? -1 : a > b;
}

/* Keeps the places of the blobs of p's trailer t (read whole), for the
 * places the index gives. Called with c->lock held. */
static int keep_places(check_pack *p, const cairn_pack_entry *t, size_t n_t)
{
	if (p->places)
		return 0;
	p->n_blobs = (uint32_t)n_t;
	if (!(p->places = malloc((n_t ? n_t : 1) * sizeof(*p->places))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t k = 0; k < n_t; k++)
		p->places[k] = check_place_key(t[k].fp, t[k].offset, t[k].length);
	qsort(p->places, n_t, sizeof(*p->places), key_cmp);
	return 0;
}

/* ---- index/ objects against the trailers ---- */

static int index_entry_cmp(const void *pa, const void *pb)
{
	const cairn_index_entry *a = pa, *b = pb;
	int c = memcmp(a->pack, b->pack, CAIRN_ID_SIZE);
	return c ? c : memcmp(a->fp, b->fp, CAIRN_FP_SIZE);
}

/* Marks the trailer entries of p that the index/ object's entries e name,
 * and reports those that name none. */
static int match_trailer(check_ctx *c, const char *object, check_pack *p,
                         const cairn_index_entry *e, size_t n, const cairn_pack_entry *t,
                         size_t n_t)
{
	char fp[CAIRN_ID_HEX + 1], pack[CAIRN_ID_HEX + 1], detail[256];
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	if (!p->listed) {
		p->n_blobs = (uint32_t)n_t;
		p->trailer = TRAILER_OK;
		if (!(p->listed = calloc(n_t / 8 + 1, 1)))
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if (!rc)
		rc = keep_places(p, t, n_t);
	for (size_t i = 0; i < n && !rc; i++) {
		cairn_pack_entry key = {.kind = e[i].kind,
		                        .offset = e[i].offset,
		                        .length = e[i].length,
		                        .raw_length = e[i].raw_length,
		                        .inner = e[i].inner};
		memcpy(key.fp, e[i].fp, CAIRN_FP_SIZE);
		const cairn_pack_entry *hit = bsearch(&key, t, n_t, sizeof(*t), entry_cmp);
		if (hit) {
			size_t k = (size_t)(hit - t);
			p->listed[k / 8] |= (uint8_t)(1u << (k % 8));
			continue;
		}
		cairn_hex_encode(fp, e[i].fp, CAIRN_FP_SIZE);
		cairn_hex_encode(pack, p->id, CAIRN_ID_SIZE);
		snprintf(detail, sizeof(detail),
		         "lists blob %.16s in pack %.16s at offset %u (length %u), which the "
		         "pack's trailer does not hold",
		         fp, pack, e[i].offset, e[i].length);
		rc = check_report_locked(c, CAIRN_CHECK_INDEX_ENTRY, object, 0, detail, e[i].fp,
		                         NULL);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* The entries e[0, n) of one pack in the index/ object named object. */
static int index_pack(check_ctx *c, cairn_sealer *s, const char *object, const cairn_index_entry *e,
                      size_t n)
{
	char pack[CAIRN_ID_HEX + 1], detail[256];
	cairn_pack_entry *t = NULL;
	size_t n_t = 0;
	check_pack *p = check_pack_find(c, e[0].pack);
	if (!p && check_pack_pruned(c, e[0].pack))
		return 0; /* its object is being rewritten by the prune */
	if (!p) {
		cairn_hex_encode(pack, e[0].pack, CAIRN_ID_SIZE);
		snprintf(detail, sizeof(detail),
		         "lists %zu blobs of pack %s, which is not in data/", n, pack);
		return check_report(c, CAIRN_CHECK_INDEX_PACK_MISSING, object, 0, detail, NULL,
		                    NULL);
	}
	pthread_mutex_lock(&c->lock);
	int bad = p->trailer == TRAILER_BAD;
	pthread_mutex_unlock(&c->lock);
	if (bad)
		return 0;
	int rc = trailer_get(c, s, p, &t, &n_t);
	if (rc == 0)
		rc = match_trailer(c, object, p, e, n, t, n_t);
	free(t);
	return rc == 1 ? 0 : rc;
}

struct index_step {
	check_ctx *c;
	uint8_t (*ids)[CAIRN_ID_SIZE];
};

static int index_object(void *ud, size_t i)
{
	struct index_step *st = ud;
	check_ctx *c = st->c;
	char object[CAIRN_CHECK_OBJECT_MAX];
	cairn_buf plain = CAIRN_BUF_INIT;
	cairn_index_entry *e = NULL;
	cairn_sealer *s = NULL;
	size_t n = 0;
	int rc, o;

	check_object_name(object, CAIRN_INDEX_PREFIX, st->ids[i]);
	if ((rc = cairn_repo_sealer_new(c->repo, &s, 0)))
		goto out;
	rc = cairn_repo_load_object(c->repo, s, CAIRN_INDEX_PREFIX, st->ids[i], CAIRN_BLOB_INDEX,
	                            CAIRN_INDEX_OBJECT_MAX, &plain);
	if (!rc && (rc = cairn_indexfile_decode(plain.data, plain.len, &e, &n)))
		cairn_error_prefix(rc, "%s", object);
	if ((o = check_outcome(c, rc)) == 1)
		rc = check_report(c, CAIRN_CHECK_INDEX_OBJECT, object, 0, cairn_error_last(), NULL,
		                  NULL);
	if (rc || o)
		goto out;
	if (n)
		qsort(e, n, sizeof(*e), index_entry_cmp);
	for (size_t from = 0, to; from < n && !rc; from = to) {
		for (to = from + 1; to < n && memcmp(e[to].pack, e[from].pack, CAIRN_ID_SIZE) == 0;
		     to++)
			;
		rc = index_pack(c, s, object, e + from, to - from);
	}
out:
	check_progress_add(c, 1, 0);
	cairn_sealer_free(s);
	cairn_buf_free(&plain);
	free(e);
	return rc;
}

/* The blobs of pack i that no index/ object lists: a pack no object
 * named has its trailer read here for the first time. */
static int pack_unlisted(void *ud, size_t i)
{
	check_ctx *c = ud;
	check_pack *p = &c->packs[i];
	char object[CAIRN_CHECK_OBJECT_MAX], detail[160];
	cairn_pack_entry *t = NULL;
	cairn_sealer *s = NULL;
	size_t n_t = 0, unlisted = 0, problem = 0;
	int rc = 0;

	/* Alone on p from here: the index/ objects are done. */
	if (p->trailer == TRAILER_BAD)
		goto out;
	for (size_t k = 0; p->listed && k < p->n_blobs; k++)
		unlisted += !(p->listed[k / 8] & (1u << (k % 8)));
	if (p->listed && unlisted == 0)
		goto out;
	if ((rc = cairn_repo_sealer_new(c->repo, &s, 0)) ||
	    (rc = trailer_get(c, s, p, &t, &n_t)) != 0)
		goto out;
	if (!p->listed)
		unlisted = n_t;
	if (unlisted == 0)
		goto out;
	check_pack_object(object, p->id);
	if (unlisted == n_t)
		snprintf(detail, sizeof(detail), "no index/ object lists any of its %zu blob%s",
		         n_t, n_t == 1 ? "" : "s");
	else
		snprintf(detail, sizeof(detail), "no index/ object lists %zu of its %zu blobs",
		         unlisted, n_t);
	pthread_mutex_lock(&c->lock);
	rc = keep_places(p, t, n_t);
	if (!rc)
		rc = check_problem_add(&c->problems, CAIRN_CHECK_PACK_UNINDEXED, object, 0, detail,
		                       unlisted, &problem);
	for (size_t k = 0; k < n_t && !rc; k++)
		if (!p->listed || !(p->listed[k / 8] & (1u << (k % 8))))
			rc = check_problem_chunk(&c->problems, problem, t[k].fp);
	pthread_mutex_unlock(&c->lock);
out:
	check_progress_add(c, 1, 0);
	cairn_sealer_free(s);
	free(t);
	return rc == 1 ? 0 : rc;
}

int check_index_objects(check_ctx *c)
{
	struct index_step st = {.c = c};
	size_t n = 0;
	int rc = cairn_repo_list_ids(c->repo, CAIRN_INDEX_PREFIX, &st.ids, &n);
	if (rc)
		return cairn_error_prefix(rc, "cannot list index/");
	c->res->index_objects = n;
	check_progress_begin(c, "index objects", n, 0);
	rc = check_run(c, n, index_object, &st);
	free(st.ids);
	if (rc)
		return rc;
	check_progress_begin(c, "pack trailers", c->n_packs, 0);
	return check_run(c, c->n_packs, pack_unlisted, c);
}

/* ---- the places of the referenced chunks ---- */

/* The chunk of e, referenced, has its place in a pack: is it there, and
 * long enough? Called with c->lock held. */
static int place_chunk(check_ctx *c, const cairn_index_entry *e)
{
	char object[CAIRN_CHECK_OBJECT_MAX], detail[192];
	check_pack *p = check_pack_find(c, e->pack);
	check_pack_object(object, e->pack);
	if (!p && check_pack_pruned_locked(c, e->pack))
		return 0; /* pruned: the chunk has a copy elsewhere */
	if (!p)
		return check_report_locked(c, CAIRN_CHECK_PACK_MISSING, object, 0,
		                           "the pack is not in data/, and the index places chunks "
		                           "that snapshots reference in it",
		                           e->fp, NULL);
	p->referenced = 1;
	if ((uint64_t)e->offset + e->length > p->size) {
		snprintf(detail, sizeof(detail),
		         "the pack's %llu bytes end before the blob at offset %u (length %u) that "
		         "the index places in it",
		         (unsigned long long)p->size, e->offset, e->length);
		return check_report_locked(c, CAIRN_CHECK_PACK_SHORT, object, 0, detail, e->fp,
		                           NULL);
	}
	if (p->trailer == TRAILER_BAD)
		return check_problem_chunk(&c->problems, p->trailer_problem, e->fp);
	uint64_t key = check_place_key(e->fp, e->offset, e->length);
	if (p->places && !bsearch(&key, p->places, p->n_blobs, sizeof(key), key_cmp))
		return check_report_locked(c, CAIRN_CHECK_CHUNK_MISPLACED, object, 0,
		                           "the index places chunks that snapshots reference in "
		                           "the pack where its trailer holds none",
		                           e->fp, NULL);
	return 0;
}

/* A referenced chunk the index does not know: lost in a pack that an
 * earlier check found gone (and made the index forget), or unknown.
 * Called with c->lock held. */
static int unknown_chunk(check_ctx *c, const uint8_t fp[CAIRN_FP_SIZE])
{
	static const uint8_t none[CAIRN_ID_SIZE];
	char object[CAIRN_CHECK_OBJECT_MAX];
	for (size_t j = cairn_gc_lost_first(c->lost, c->n_lost, fp);
	     j < c->n_lost && !memcmp(c->lost[j].fp, fp, CAIRN_FP_SIZE); j++) {
		const cairn_gc_lost *l = &c->lost[j];
		if (!memcmp(l->pack, none, CAIRN_ID_SIZE) || check_pack_find(c, l->pack))
			continue;
		check_pack_object(object, l->pack);
		return check_report_locked(
		    c, CAIRN_CHECK_PACK_MISSING, object, 0,
		    "the pack is not in data/, and snapshots reference chunks "
		    "that were in it (the index forgot it when check found it "
		    "gone)",
		    fp, NULL);
	}
	return check_report_locked(c, CAIRN_CHECK_CHUNK_UNKNOWN, "index", 0,
	                           "chunks that snapshots reference are in no pack the index knows",
	                           fp, NULL);
}

static int locate_batch(void *ud, size_t i)
{
	check_ctx *c = ud;
	size_t from = i * LOCATE_BATCH;
	size_t n = c->refs.n - from < LOCATE_BATCH ? c->refs.n - from : LOCATE_BATCH;
	cairn_index_entry *e = malloc(n * sizeof(*e));
	uint8_t *found = malloc(n);
	int rc;
	if (!e || !found) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = cairn_repo_locate_blobs(
	         c->repo, (const uint8_t(*)[CAIRN_FP_SIZE])c->refs.fps + from, n, e, found))) {
		cairn_error_prefix(rc, "cannot look chunks up in the index");
		goto out;
	}
	pthread_mutex_lock(&c->lock);
	for (size_t k = 0; k < n && !rc; k++)
		rc = found[k] ? place_chunk(c, &e[k]) : unknown_chunk(c, c->refs.fps[from + k]);
	pthread_mutex_unlock(&c->lock);
	check_progress_add(c, n, 0);
out:
	free(e);
	free(found);
	return rc;
}

int check_references(check_ctx *c)
{
	check_progress_begin(c, "chunks", c->refs.n, 0);
	return check_run(c, (c->refs.n + LOCATE_BATCH - 1) / LOCATE_BATCH, locate_batch, c);
}

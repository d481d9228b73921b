/* --read-data: the packs chosen are read whole, one at a time per
 * thread; a pack's bytes must hash to its id, and every blob its trailer
 * lists must authenticate and match its fingerprint (each chunk of a
 * bundle too), through the repository's blob reader. */
#include "check/check_internal.h"

#include "cairn/pack.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct read_step {
	check_ctx *c;
	size_t *chosen; /* indexes of c->packs */
};

/* The chunks of one bundle share its offset: neighbours, it is opened
 * once for them all. */
static int by_place(const void *pa, const void *pb)
{
	const cairn_pack_entry *a = pa, *b = pb;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return a->inner < b->inner ? -1 : a->inner > b->inner;
}

/* Checks every blob the trailer t lists in raw, the whole pack p. */
static int pack_blobs(check_ctx *c, const check_pack *p, const cairn_buf *raw, cairn_pack_entry *t,
                      size_t n_t)
{
	char object[CAIRN_CHECK_OBJECT_MAX];
	cairn_sealer *s = NULL;
	cairn_fingerprinter *f = NULL;
	cairn_range_reader rr;
	uint64_t blobs = 0;
	int rc;

	if ((rc = cairn_repo_sealer_new(c->repo, &s, 0)) ||
	    (rc = cairn_repo_fingerprinter_new(c->repo, &f)))
		goto out;
	check_pack_object(object, p->id);
	qsort(t, n_t, sizeof(*t), by_place);
	cairn_repo_range_init(&rr, s, f);
	cairn_repo_range_start(&rr, raw, 0);
	for (size_t k = 0; k < n_t && !rc; k++) {
		cairn_index_entry e;
		const uint8_t *chunk;
		cairn_pack_entry_to_index(&t[k], p->id, &e);
		blobs += k == 0 || t[k].offset != t[k - 1].offset;
		int o = check_outcome(c, cairn_repo_range_chunk(&rr, &e, &chunk));
		if (o == 1)
			rc = check_report(c, CAIRN_CHECK_BLOB, object, t[k].offset,
			                  cairn_error_last(), t[k].fp, NULL);
		else
			rc = o;
	}
	cairn_repo_range_free(&rr);
	pthread_mutex_lock(&c->lock);
	c->res->blobs_read += blobs;
	pthread_mutex_unlock(&c->lock);
out:
	cairn_fingerprinter_free(f);
	cairn_sealer_free(s);
	return rc;
}

static int read_pack(void *ud, size_t i)
{
	struct read_step *st = ud;
	check_ctx *c = st->c;
	check_pack *p = &c->packs[st->chosen[i]];
	char object[CAIRN_CHECK_OBJECT_MAX], detail[128];
	cairn_buf raw = CAIRN_BUF_INIT;
	cairn_pack_entry *t = NULL;
	cairn_sealer *s = NULL;
	uint8_t id[CAIRN_ID_SIZE];
	size_t n_t = 0;
	int rc, o;

	check_pack_object(object, p->id);
	rc = cairn_repo_read_range(c->repo, p->id, 0, CAIRN_GET_ALL, &raw);
	if (rc == CAIRN_ENOTFOUND && check_pack_pruned(c, p->id)) {
		rc = 0; /* deleted by a prune since the listing */
		goto out;
	}
	if ((o = check_outcome(c, rc)) == 1)
		rc = check_report(c, CAIRN_CHECK_PACK_MISSING, object, 0,
		                  "the pack went away while it was checked", NULL, NULL);
	if (rc || o)
		goto out;
	check_progress_add(c, 1, raw.len);
	pthread_mutex_lock(&c->lock);
	c->res->packs_read++;
	c->res->bytes_read += raw.len;
	pthread_mutex_unlock(&c->lock);

	cairn_sha256(id, raw.data, raw.len);
	if (sodium_memcmp(id, p->id, CAIRN_ID_SIZE) != 0) {
		snprintf(detail, sizeof(detail), "its %zu bytes do not hash to its id", raw.len);
		if ((rc = check_report(c, CAIRN_CHECK_PACK_ID, object, 0, detail, NULL, NULL)))
			goto out;
	}
	if ((rc = cairn_repo_sealer_new(c->repo, &s, 0)))
		goto out;
	rc = check_trailer_parse(s, raw.data, raw.len, raw.len, &t, &n_t);
	if (rc)
		cairn_error_prefix(rc, "%s", object);
	if ((o = check_outcome(c, rc)) == 1)
		rc = check_trailer_bad(c, p);
	if (!rc && !o)
		rc = pack_blobs(c, p, &raw, t, n_t);
out:
	cairn_sealer_free(s);
	cairn_buf_free(&raw);
	free(t);
	return rc;
}

int check_read_data(check_ctx *c)
{
	struct read_step st = {.c = c};
	uint8_t(*ids)[CAIRN_ID_SIZE] = malloc((c->n_packs ? c->n_packs : 1) * sizeof(*ids));
	uint8_t *chosen = malloc(c->n_packs ? c->n_packs : 1);
	size_t n = 0;
	uint64_t bytes = 0;
	int rc = 0;

	if (!ids || !chosen ||
	    !(st.chosen = malloc((c->n_packs ? c->n_packs : 1) * sizeof(*st.chosen)))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < c->n_packs; i++)
		memcpy(ids[i], c->packs[i].id, CAIRN_ID_SIZE);
	cairn_check_subset_choose(&c->opts->subset, (const uint8_t(*)[CAIRN_ID_SIZE])ids,
	                          c->n_packs, chosen, NULL, NULL);
	for (size_t i = 0; i < c->n_packs; i++) {
		if (!chosen[i])
			continue;
		st.chosen[n++] = i;
		bytes += c->packs[i].size;
	}
	check_progress_begin(c, "packs", n, bytes);
	rc = check_run(c, n, read_pack, &st);
out:
	free(ids);
	free(chosen);
	free(st.chosen);
	return rc;
}

/* Deduplication: the set of chunks a backup stored, in two generations,
 * and the decision for each pending chunk. */
#include "backup/dedup.h"

#include "cairn/errors.h"
#include "cairn/index.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

/* Fingerprints of the older generation asked about at once when a new
 * one starts. */
#define CARRY_BATCH 4096

int cairn_fpset_grow(cairn_fpset *s)
{
	size_t cap = s->cap ? 2 * s->cap : 4096;
	uint8_t(*keys)[CAIRN_FP_SIZE] =
	    cap <= SIZE_MAX / CAIRN_FP_SIZE ? malloc(cap * CAIRN_FP_SIZE) : NULL;
	if (!keys)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	/* Not calloc: its fresh pages would be mapped to the zero page by the
	 * first probe and copied at the first insert, which flushes the TLB
	 * of every core running the backup's threads. */
	memset(keys, 0, cap * CAIRN_FP_SIZE);
	for (size_t i = 0; i < s->cap; i++) {
		if (!memcmp(s->keys[i], cairn_fpset_empty, CAIRN_FP_SIZE))
			continue;
		size_t j = cairn_fpset_hash(s->keys[i]) & (cap - 1);
		while (memcmp(keys[j], cairn_fpset_empty, CAIRN_FP_SIZE))
			j = (j + 1) & (cap - 1);
		memcpy(keys[j], s->keys[i], CAIRN_FP_SIZE);
	}
	free(s->keys);
	s->keys = keys;
	s->cap = cap;
	return 0;
}

void cairn_fpset_free(cairn_fpset *s)
{
	free(s->keys);
	memset(s, 0, sizeof(*s));
}

void cairn_dedup_init(cairn_dedup *d, pthread_mutex_t *lock, cairn_index *index, int dry_run,
                      size_t generation_max, int (*flush_index)(void *ud), void *ud)
{
	memset(d, 0, sizeof(*d));
	d->lock = lock;
	d->index = index;
	d->dry_run = dry_run;
	d->generation_max = generation_max ? generation_max : CAIRN_DEDUP_GENERATION_DEFAULT;
	d->flush_index = flush_index;
	d->ud = ud;
}

void cairn_dedup_free(cairn_dedup *d)
{
	cairn_fpset_free(&d->known);
	cairn_fpset_free(&d->known_old);
}

void cairn_dedup_batch_free(cairn_dedup_batch *q)
{
	free(q->fps);
	free(q->out);
	free(q->found);
	free(q->check);
	free(q->ok);
	memset(q, 0, sizeof(*q));
}

/* Whether this backup stored fp. Under d->lock. */
static int known(const cairn_dedup *d, const uint8_t *fp)
{
	return cairn_fpset_has(&d->known, fp) || cairn_fpset_has(&d->known_old, fp);
}

/* Moves what the index does not know yet of d->known_old (chunks in packs
 * still being filled or queued) into d->known. */
static int carry_unregistered(cairn_dedup *d)
{
	const cairn_fpset *old = &d->known_old;
	uint8_t(*ask)[CAIRN_FP_SIZE] = malloc(CARRY_BATCH * sizeof(*ask));
	cairn_index_entry *out = malloc(CARRY_BATCH * sizeof(*out));
	uint8_t *found = malloc(CARRY_BATCH);
	int rc = ask && out && found ? 0 : cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0, n = 0; i < old->cap && !rc; n = 0) {
		for (; i < old->cap && n < CARRY_BATCH; i++)
			if (memcmp(old->keys[i], cairn_fpset_empty, CAIRN_FP_SIZE))
				memcpy(ask[n++], old->keys[i], CAIRN_FP_SIZE);
		if (n &&
		    !(rc = cairn_index_lookup(d->index, (const uint8_t(*)[32])ask, n, out, found)))
			for (size_t k = 0; k < n && !rc; k++)
				if (!found[k] || (d->gone && d->gone(d->gone_ud, &out[k])))
					cairn_fpset_insert(&d->known, ask[k], &rc);
	}
	free(ask);
	free(out);
	free(found);
	return rc;
}

/* Starts a new generation of d->known: see cairn_dedup. Under d->lock,
 * which holds the other threads meanwhile. */
static int new_generation(cairn_dedup *d)
{
	int dry = d->dry_run;
	int rc = dry ? 0 : d->flush_index(d->ud);
	if (!rc && !dry && d->known_old.count)
		rc = carry_unregistered(d);
	if (rc)
		return rc;
	free(d->known_old.keys);
	d->known_old = d->known;
	memset(&d->known, 0, sizeof(d->known));
	d->ask_all = 1;
	return 0;
}

/* Grows q's arrays to hold n questions. */
static int batch_reserve(cairn_dedup_batch *q, size_t n)
{
	size_t cap = q->cap;
	int rc;
	if ((rc = cairn_array_grow((void **)&q->fps, &cap, n, CAIRN_FP_SIZE)))
		return rc;
	cap = q->cap;
	if ((rc = cairn_array_grow((void **)&q->out, &cap, n, sizeof(*q->out))))
		return rc;
	cap = q->cap;
	if ((rc = cairn_array_grow((void **)&q->found, &cap, n, 1)))
		return rc;
	q->cap = cap;
	return 0;
}

/* Checks the locations the index gave for the n_ask questions of q:
 * those that fail count as not found, and are rejected in the index. */
static int verify_found(cairn_dedup *d, cairn_dedup_batch *q, size_t n_ask)
{
	size_t m = 0, bad = 0;
	int rc;
	for (size_t k = 0; k < n_ask; k++)
		m += q->found[k];
	if (!d->verify || m == 0)
		return 0;
	size_t cap = q->cap_check;
	if ((rc = cairn_array_grow((void **)&q->check, &cap, m, sizeof(*q->check))))
		return rc;
	cap = q->cap_check;
	if ((rc = cairn_array_grow((void **)&q->ok, &cap, m, 1)))
		return rc;
	q->cap_check = cap;
	m = 0;
	for (size_t k = 0; k < n_ask; k++)
		if (q->found[k])
			q->check[m++] = q->out[k];
	if ((rc = d->verify(d->verify_ud, q->sealer, q->check, m, q->ok)))
		return rc;
	m = 0;
	for (size_t k = 0; k < n_ask; k++) {
		if (!q->found[k])
			continue;
		if (!q->ok[m]) {
			q->found[k] = 0;
			q->check[bad++] = q->check[m];
		}
		m++;
	}
	if (bad == 0)
		return 0;
	/* Advisory: a client that cannot reject still stores the chunk. */
	if (!d->dry_run)
		cairn_index_reject(d->index, q->check, bad);
	pthread_mutex_lock(d->lock);
	d->rejected += bad;
	pthread_mutex_unlock(d->lock);
	return 0;
}

int cairn_dedup_pending(cairn_dedup *d, cairn_dedup_batch *q, cairn_pending *pend, size_t n)
{
	size_t n_ask = 0;
	int rc = 0, err = 0;

	pthread_mutex_lock(d->lock);
	for (size_t i = 0; i < n; i++)
		pend[i].state =
		    !pend[i].data || known(d, pend[i].fp) ? CHUNK_KNOWN : CHUNK_ASK_INDEX;
	pthread_mutex_unlock(d->lock);

	for (size_t i = 0; i < n; i++)
		if (pend[i].state == CHUNK_ASK_INDEX)
			n_ask++;
	if (n_ask) {
		if ((rc = batch_reserve(q, n_ask)))
			return rc;
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (pend[i].state == CHUNK_ASK_INDEX)
				memcpy(q->fps[k++], pend[i].fp, CAIRN_FP_SIZE);
		const uint8_t(*fps)[32] = (const uint8_t(*)[32])q->fps;
		/* lookup_dedup finds what this process registered (cairn/sys/index.h),
		 * which is all a later generation needs of the index. */
		rc = cairn_index_lookup_dedup(d->index, fps, n_ask, q->out, q->found);
		if (!rc)
			rc = verify_found(d, q, n_ask);
		if (rc)
			return rc;
		k = 0;
		pthread_mutex_lock(d->lock);
		for (size_t i = 0; i < n && !err; i++) {
			cairn_pending *p = &pend[i];
			if (p->state != CHUNK_ASK_INDEX)
				continue;
			int in_index = q->found[k] && !(d->gone && d->gone(d->gone_ud, &q->out[k]));
			k++;
			if (d->known.count >= d->generation_max && (err = new_generation(d)))
				break;
			int claimed = cairn_fpset_has(&d->known_old, p->fp) ||
			              cairn_fpset_insert(&d->known, p->fp, &err);
			p->state = (in_index || claimed) ? CHUNK_KNOWN : CHUNK_NEW;
		}
		pthread_mutex_unlock(d->lock);
		if (err)
			return err;
	}
	return 0;
}

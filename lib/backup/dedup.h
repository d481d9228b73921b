/* Deduplication: the set of chunks a backup stored, and the decision for
 * each pending chunk whether it is new. No I/O of its own: the index is
 * asked through its table. */
#ifndef CAIRN_BACKUP_DEDUP_H
#define CAIRN_BACKUP_DEDUP_H

#include "backup/pending.h"
#include "cairn/sys/index.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Fingerprints in a generation of the set by default: a generation takes
 * at most 8 MiB (a table at most half full). */
#define CAIRN_DEDUP_GENERATION_DEFAULT (128u << 10)

/* A set of fingerprints: open addressing, at most half full. */
typedef struct cairn_fpset {
	uint8_t (*keys)[CAIRN_FP_SIZE]; /* all-zero = empty slot */
	size_t cap, count;
} cairn_fpset;

/* An empty slot's key. */
static const uint8_t cairn_fpset_empty[CAIRN_FP_SIZE];

/* Doubles the table (4096 slots at first). */
int cairn_fpset_grow(cairn_fpset *s);
void cairn_fpset_free(cairn_fpset *s);

/* Inline: asked for every chunk. */
static inline uint64_t cairn_fpset_hash(const uint8_t *fp)
{
	uint64_t h;
	memcpy(&h, fp, sizeof(h));
	return h;
}

/* 1 if fp was already in the set; else inserts it and returns 0. On
 * running out of memory sets *err and returns 1. */
static inline int cairn_fpset_insert(cairn_fpset *s, const uint8_t *fp, int *err)
{
	if (2 * (s->count + 1) > s->cap && (*err = cairn_fpset_grow(s)))
		return 1;
	size_t j = cairn_fpset_hash(fp) & (s->cap - 1);
	while (memcmp(s->keys[j], cairn_fpset_empty, CAIRN_FP_SIZE)) {
		if (!memcmp(s->keys[j], fp, CAIRN_FP_SIZE))
			return 1;
		j = (j + 1) & (s->cap - 1);
	}
	memcpy(s->keys[j], fp, CAIRN_FP_SIZE);
	s->count++;
	return 0;
}

static inline int cairn_fpset_has(const cairn_fpset *s, const uint8_t *fp)
{
	if (!s->cap)
		return 0;
	size_t j = cairn_fpset_hash(fp) & (s->cap - 1);
	while (memcmp(s->keys[j], cairn_fpset_empty, CAIRN_FP_SIZE)) {
		if (!memcmp(s->keys[j], fp, CAIRN_FP_SIZE))
			return 1;
		j = (j + 1) & (s->cap - 1);
	}
	return 0;
}

/* The chunks this backup stored, by fingerprint: the index learns of
 * them only when their packs are registered. So that memory does not
 * grow with the backup, the set has two generations: known takes at most
 * generation_max fingerprints; then the queued registrations are made,
 * known_old becomes known plus what of the old known_old the index does
 * not know yet (chunks in packs still being filled or queued), known
 * starts empty, and from then on the index answers for the chunks the
 * set forgot: lookup_dedup finds what this process registered. A dry
 * run registers
 * nothing, so the index could never take over from the set: it keeps the
 * two generations only, and counts a chunk again when it comes back after
 * more than generation_max others (its figures are an estimate, from
 * above). */
typedef struct cairn_dedup {
	pthread_mutex_t *lock; /* the owner's: it guards the set */
	cairn_index *index;
	int dry_run;
	/* Makes the queued registrations (cairn_repo_flush_index); not
	 * called in a dry run. */
	int (*flush_index)(void *ud);
	void *ud;
	cairn_fpset known, known_old;
	size_t generation_max;
	int ask_all; /* a generation has passed: the index holds some of ours */
	/* Optional: 1 if the index's entry e must be taken for absent (a
	 * prune condemned or deleted it); the chunk is then stored again. */
	int (*gone)(void *ud, const cairn_index_entry *e);
	void *gone_ud;
	/* Optional: checks the n locations the index gave against their
	 * packs (cairn_repo_verify_locations), with the asking thread's
	 * sealer (its batch's): ok[i] = 0 for one that is not there. Such a
	 * chunk is stored again and its row rejected in the index
	 * (cairn_index_reject), so that lookups offer the new one. */
	int (*verify)(void *ud, void *sealer, const cairn_index_entry *e, size_t n, uint8_t *ok);
	void *verify_ud;
	size_t rejected; /* locations that failed verification; under lock */
} cairn_dedup;

/* A thread's arrays for its questions to the index, grown as needed. */
typedef struct cairn_dedup_batch {
	uint8_t (*fps)[CAIRN_FP_SIZE];
	cairn_index_entry *out;
	uint8_t *found;
	size_t cap;
	/* the locations found, to verify, and the verdicts */
	cairn_index_entry *check;
	uint8_t *ok;
	size_t cap_check;
	void *sealer; /* the owning thread's, for verify */
} cairn_dedup_batch;

/* generation_max 0: CAIRN_DEDUP_GENERATION_DEFAULT. */
void cairn_dedup_init(cairn_dedup *d, pthread_mutex_t *lock, cairn_index *index, int dry_run,
                      size_t generation_max, int (*flush_index)(void *ud), void *ud);
void cairn_dedup_free(cairn_dedup *d);
void cairn_dedup_batch_free(cairn_dedup_batch *q);

/* Decides for each of the n pending chunks whether it is new
 * (CHUNK_NEW) or known (CHUNK_KNOWN). Asks the set first, then the index
 * in one batch (through q's arrays), then claims what neither knows: of
 * two threads racing on one chunk, one stores it. Takes d->lock. */
int cairn_dedup_pending(cairn_dedup *d, cairn_dedup_batch *q, cairn_pending *pend, size_t n);

#endif

/* What the files of a prune share.
 *
 *   prune.c   the steps in order; waiting for another prune; the pending plan
 *   live.c    the chunks the snapshots reference (8 bytes each)
 *   plan.c    the index read in fingerprint order: which blob copies are used,
 *             what each pack holds, which packs to condemn or repack
 *   repack.c  copying the used blobs of mostly unused packs into new packs
 *   finish.c  carrying out a plan: the done record, the index, the deletions
 *
 * Memory: the live set (8 bytes per referenced chunk), the pack table
 * (about 100 bytes per pack), the used chunks of the packs to repack
 * (8 bytes each), the plan's filter (10 bytes per
 * condemned chunk), and one page of index rows. */
#ifndef CAIRN_GC_PRUNE_INTERNAL_H
#define CAIRN_GC_PRUNE_INTERNAL_H

#include "cairn/bloom.h"
#include "cairn/prune.h"
#include "cairn/sys/index.h"
#include "format/gcfile.h"
#include "gc/marker.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the live set (pure) ---- */

/* The first 8 bytes of referenced fingerprints, sorted once finished. Two
 * chunks that share them are a chance of 2^-64 a pair, and all it can do
 * is keep an unused chunk: the set only ever says "maybe referenced". */
typedef struct gc_live {
	uint64_t *keys;
	size_t n, cap, sorted;
} gc_live;

int gc_live_add(gc_live *l, const uint8_t fp[CAIRN_FP_SIZE]);
void gc_live_finish(gc_live *l);
int gc_live_has(const gc_live *l, const uint8_t fp[CAIRN_FP_SIZE]);
void gc_live_free(gc_live *l);

/* ---- packs ---- */

enum gc_pack_state {
	PACK_UNSEEN = 0, /* no index row names it (yet) */
	PACK_KEEP,
	PACK_DELETE,         /* every blob unused: condemned as it is */
	PACK_REPACK,         /* its used blobs copied, then condemned */
	PACK_UNINDEXED_LIVE, /* unknown to the index, holds needed chunks: kept */
	PACK_DAMAGED,        /* unknown to the index and its trailer fails: kept */
};

typedef struct gc_pack {
	uint8_t id[CAIRN_ID_SIZE];
	uint64_t size;
	enum gc_pack_state state;
	uint64_t used_rows, unused_rows;
	uint64_t used_bytes, unused_bytes; /* estimates from the rows */
	int has_lost;   /* holds a copy check found damaged: repacked without it */
	uint64_t *used; /* PACK_REPACK: its used chunks, offset << 32 | inner */
	size_t n_used, cap_used;
} gc_pack;

typedef struct gc_packs {
	gc_pack *v; /* sorted by id */
	size_t n, cap;
} gc_packs;

gc_pack *gc_packs_find(const gc_packs *t, const uint8_t id[CAIRN_ID_SIZE]);
void gc_packs_free(gc_packs *t);

/* ---- one prune ---- */

typedef struct gc_prune {
	cairn_repo *repo;
	cairn_index *index;
	const cairn_prune_opts *opts;
	cairn_prune_result *res;
	cairn_marker *marker;
	unsigned threads;
	gc_packs packs;                      /* data/ as listed at the start */
	gc_live live;                        /* what the snapshots reference */
	uint8_t (*snapshots)[CAIRN_ID_SIZE]; /* the records the mark read, sorted */
	size_t n_snapshots;
	/* Packs the index names that data/ did not list, once asked. */
	struct gc_extra {
		uint8_t id[CAIRN_ID_SIZE];
		int exists;
	} * extra;
	size_t n_extra, cap_extra;
	cairn_gc_lost *lost; /* what check found lost: such rows are no copies */
	size_t n_lost;
	pthread_mutex_t lock;
	cairn_progress progress;
	int64_t progress_at;
} gc_prune;

/* live.c: reads every snapshot record of the store (the ones in skip, a
 * sorted list, aside) and adds what each references to live; the ids
 * read go to *ids_out (sorted; may be NULL). A record that cannot be read
 * fails the call; one that vanished (forgotten meanwhile) is passed over. */
int gc_mark(gc_prune *p, const uint8_t (*skip)[CAIRN_ID_SIZE], size_t n_skip, gc_live *live,
            uint8_t (**ids_out)[CAIRN_ID_SIZE], size_t *n_ids_out);

/* plan.c */
/* 1 if the pack exists: listed at the start, or found since. */
int gc_pack_exists(gc_prune *p, const uint8_t id[CAIRN_ID_SIZE], int *exists);
/* Reads the index and decides each pack's state; the plan's filter of
 * condemned chunks comes back in *condemned (NULL if none). */
int gc_plan(gc_prune *p, cairn_bloom **condemned);
/* Whether fp has an index row in an existing pack outside the sorted
 * list of condemned packs, and that pack's trailer lists it there. */
int gc_live_copy(gc_prune *p, const uint8_t fp[CAIRN_FP_SIZE],
                 const uint8_t (*condemned)[CAIRN_ID_SIZE], size_t n_condemned, int *found);

/* repack.c: copies the used blobs of the PACK_REPACK packs into new packs
 * and registers them. */
int gc_repack(gc_prune *p);

/* finish.c: carries out plan (its running backups have ended): keeps the
 * condemned packs a snapshot written since took up, deletes the others. */
int gc_finish(gc_prune *p, cairn_gc_record *plan);
/* Completes a done record whose deletions a killed prune left undone. */
int gc_complete_done(gc_prune *p, const cairn_gc_record *done);

/* prune.c */
void gc_progress(gc_prune *p, const char *unit, uint64_t done, uint64_t total, int force);
void gc_warn(gc_prune *p, const char *object, const char *message);

#endif

/* What the files of lib/check share: the pure parts (the problems found
 * and the chunks each concerns) and
 * the state of one check that its steps fill in.
 *
 *   check.c      the steps in order, the packs of data/, reporting
 *   problems.c   problems by (kind, object, offset), the chunks they concern
 *   subset.c     --read-data-subset: parsing and choosing packs
 *   snapshots.c  records, manifests, the referenced chunks; who needs what
 *   packs.c      trailers against index/ objects; the referenced chunks' places
 *   read_data.c  reading packs whole, every blob checked
 *   heal.c       what is lost leaves the index and is written down */
#ifndef CAIRN_CHECK_INTERNAL_H
#define CAIRN_CHECK_INTERNAL_H

#include "cairn/check.h"
#include "cairn/errors.h"
#include "util/fpset.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* ---- problems (pure; not thread-safe) ---- */

/* A chunk a problem concerns: the snapshots and files that use it need
 * the problem's object. */
typedef struct check_chunk {
	uint8_t fp[CAIRN_FP_SIZE];
	uint32_t problem;
} check_chunk;

typedef struct check_problems {
	cairn_check_problem *items; /* in the order found */
	size_t n, cap;
	uint32_t *slots; /* open addressing over items: index + 1, 0 if free */
	size_t n_slots;
	check_chunk *chunks; /* sorted by check_problems_sort */
	size_t n_chunks, cap_chunks;
} check_problems;

/* The problem (kind, object, offset), concerning count more chunks,
 * blobs or entries: found again, its count grows; else it is added with
 * detail. *index_out (may be NULL) gets its index. */
int check_problem_add(check_problems *ps, enum cairn_check_kind kind, const char *object,
                      uint64_t offset, const char *detail, uint64_t count, size_t *index_out);
/* Records that problem concerns the chunk fp. */
int check_problem_chunk(check_problems *ps, size_t problem, const uint8_t fp[CAIRN_FP_SIZE]);
/* Sorts the chunks by fingerprint (and problem), without repeats: call it
 * before check_problems_find. */
void check_problems_sort(check_problems *ps);
/* How many problems concern fp; *first is the first of them in
 * ps->chunks. */
size_t check_problems_find(const check_problems *ps, const uint8_t fp[CAIRN_FP_SIZE],
                           size_t *first);
/* The snapshot snap needs problem's object: through the file at path, or
 * (path NULL) through its manifest. */
int check_problem_need(check_problems *ps, size_t problem, const uint8_t snap[CAIRN_ID_SIZE],
                       const char *path);
/* Moves the problems, sorted by kind, object and offset, to *out. */
void check_problems_take(check_problems *ps, cairn_check_problem **out, size_t *n_out);
void check_problems_free(check_problems *ps);
void check_problem_clear(cairn_check_problem *p);

/* ---- one check ---- */

enum check_trailer {
	TRAILER_UNREAD = 0,
	TRAILER_OK,
	TRAILER_BAD,
};

/* A pack of data/, as listed. */
typedef struct check_pack {
	uint8_t id[CAIRN_ID_SIZE];
	uint64_t size;
	enum check_trailer trailer;
	uint32_t n_blobs; /* entries of its trailer */
	uint8_t *listed;  /* bit i: an index/ object lists entry i (check_trailer_read's order) */
	uint64_t *places; /* check_place_key of each trailer entry, sorted */
	size_t trailer_problem; /* TRAILER_BAD: its problem */
	int referenced;         /* the index places a referenced chunk in it */
} check_pack;

typedef struct check_ctx {
	cairn_repo *repo;
	const cairn_check_opts *opts;
	cairn_check_result *res;
	unsigned threads;
	pthread_mutex_t lock; /* everything below */
	check_problems problems;
	check_pack *packs; /* sorted by id */
	size_t n_packs, cap_packs;
	cairn_sorted_fps refs;                      /* the chunks the snapshots reference */
	uint8_t (*snapshots_listed)[CAIRN_ID_SIZE]; /* the ids in snapshots/ */
	uint8_t (*snapshots)[CAIRN_ID_SIZE];        /* the records that loaded */
	size_t n_snapshots, cap_snapshots;
	struct cairn_gc_lost *lost; /* what an earlier check found lost, sorted */
	size_t n_lost;
	/* The packs done records name (a prune deleted them), read the first
	 * time a pack is found gone; sorted. */
	uint8_t (*pruned)[CAIRN_ID_SIZE];
	size_t n_pruned;
	int pruned_read;
	int fatal; /* a failure that ends the check: the store could not be read */
	cairn_error_saved fatal_error;
	cairn_progress progress;
	int64_t progress_at;
} check_ctx;

/* The store key of a pack ("data/<aa>/<id>") or of an object
 * (prefix<id>), as problems name them. */
void check_pack_object(char out[CAIRN_CHECK_OBJECT_MAX], const uint8_t id[CAIRN_ID_SIZE]);
void check_object_name(char out[CAIRN_CHECK_OBJECT_MAX], const char *prefix,
                       const uint8_t id[CAIRN_ID_SIZE]);
check_pack *check_pack_find(check_ctx *c, const uint8_t id[CAIRN_ID_SIZE]);
/* A blob's place in its pack, in 8 bytes: a chunk's fingerprint is
 * random already, so its first 8 bytes mixed with the offset and length
 * tell places apart but for a chance of 2^-64. */
uint64_t check_place_key(const uint8_t fp[CAIRN_FP_SIZE], uint32_t offset, uint32_t length);

/* 1 if a prune deleted the pack (a done record names it): a pack gone
 * for that reason is no damage, and what needs it has a copy elsewhere.
 * The _locked form is for a caller holding c->lock. */
int check_pack_pruned(check_ctx *c, const uint8_t id[CAIRN_ID_SIZE]);
int check_pack_pruned_locked(check_ctx *c, const uint8_t id[CAIRN_ID_SIZE]);
/* 1 if the snapshot's record is gone from the store now (forgotten). */
int check_snapshot_gone(check_ctx *c, const uint8_t id[CAIRN_ID_SIZE]);

/* Takes the outcome rc of reading an object: 0 stays 0; a damaged or
 * missing object (CAIRN_ECORRUPT, CAIRN_ENOTFOUND) is 1, for the caller
 * to report as a problem; anything else ends the check (the first such
 * failure is kept) and comes back. */
int check_outcome(check_ctx *c, int rc);
/* 1 once the check is ending. */
int check_stopped(check_ctx *c);
/* Reports a problem (check_problem_add, count 1) concerning the chunk fp
 * (may be NULL); *index_out may be NULL. The _locked form is for a caller
 * holding c->lock. */
int check_report(check_ctx *c, enum cairn_check_kind kind, const char *object, uint64_t offset,
                 const char *detail, const uint8_t *fp, size_t *index_out);
int check_report_locked(check_ctx *c, enum cairn_check_kind kind, const char *object,
                        uint64_t offset, const char *detail, const uint8_t *fp, size_t *index_out);
/* Calls fn(ud, i) for i in [0, n) on c->threads threads (none once the
 * check is ending); then 0, or the failure that ended the check. */
int check_run(check_ctx *c, size_t n, int (*fn)(void *ud, size_t i), void *ud);
/* Progress: a new step counting `total` units (0: unknown). */
void check_progress_begin(check_ctx *c, const char *unit, uint64_t total, uint64_t bytes_total);
void check_progress_add(check_ctx *c, uint64_t done, uint64_t bytes);

/* snapshots.c */
int check_snapshots(check_ctx *c);
int check_needs(check_ctx *c);

/* packs.c */
/* Reads the trailer of p: its entries sorted by fingerprint, offset,
 * length and kind. CAIRN_ECORRUPT (with a message) if it does not read. */
int check_trailer_read(check_ctx *c, cairn_sealer *s, const check_pack *p,
                       cairn_pack_entry **entries_out, size_t *n_out);
int check_trailer_parse(cairn_sealer *s, const uint8_t *pack_tail, size_t len, uint64_t pack_size,
                        cairn_pack_entry **entries_out, size_t *n_out);
/* The trailer of p does not read (this thread's message says why): one
 * problem however often that is found. */
int check_trailer_bad(check_ctx *c, check_pack *p);
int check_index_objects(check_ctx *c);
int check_references(check_ctx *c);

/* read_data.c */
int check_read_data(check_ctx *c);

/* heal.c: after the other steps, with the problems' chunks sorted */
int check_heal(check_ctx *c);

#endif

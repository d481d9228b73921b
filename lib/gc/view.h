/* What a backup must know of prune (docs/MAINTENANCE.md, "Prune"): it
 * announces itself with a marker before it reads snapshots, caches or the
 * index, drops what its index believes about deleted packs, and takes the
 * chunks of a pending plan for absent: it stores them again rather than
 * refer to a chunk a prune may delete. */
#ifndef CAIRN_GC_VIEW_H
#define CAIRN_GC_VIEW_H

#include "cairn/bloom.h"
#include "cairn/repo.h"
#include "format/gcfile.h"
#include "gc/marker.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_gc_view {
	cairn_repo *repo;
	cairn_marker *marker;
	uint64_t generation;             /* of the pending plan; 0 if none */
	uint64_t seen;                   /* the highest generation of gc/ at the start */
	uint8_t (*packs)[CAIRN_ID_SIZE]; /* its condemned packs, sorted */
	size_t n_packs;
	cairn_bloom *condemned; /* its condemned chunks; NULL if none */
	cairn_gc_lost *lost;    /* what check found lost, sorted */
	size_t n_lost;
} cairn_gc_view;

/* Writes the backup's marker, applies the done records, reads the
 * pending plan and the lost records. On failure nothing is left to end. */
int cairn_gc_view_open(cairn_gc_view *v, cairn_repo *r);
/* 1 if a chunk a snapshot would reuse by fingerprint alone (the parent's
 * files cache) may be condemned, or was found lost. */
int cairn_gc_view_chunk_condemned(const cairn_gc_view *v, const uint8_t fp[CAIRN_FP_SIZE]);
/* 1 if the index entry e must be taken for absent: in a condemned pack
 * and maybe a condemned chunk, in a pack a prune deleted, or found lost
 * there by check. */
int cairn_gc_view_entry_gone(const cairn_gc_view *v, const cairn_index_entry *e);
/* Before the snapshot is written, and again once it is in the store: 0,
 * or CAIRN_ERROR if the marker went unwritten so long that a prune may
 * have taken the backup for dead and deleted what it reused. Such a
 * marker is written again first; then if no prune has published a plan
 * since the start, none can have, since any later one sees the marker
 * fresh, and the backup goes on. The second call covers the time the
 * snapshot took to reach the store: a prune that lists the markers then
 * must still find this one fresh, or it may carry out a plan without
 * seeing the snapshot. */
int cairn_gc_view_check(cairn_gc_view *v);
/* Ends the marker. The snapshot, if any, must be written before. */
void cairn_gc_view_close(cairn_gc_view *v);

#endif

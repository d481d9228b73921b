/* Prune's records in the store (gc/), read and written through the
 * repository: sealed, named by generation, checked against their names.
 * And what every client does with the "done" records: the packs they
 * name are gone, so the index must stop placing chunks in them
 * (lib/repo/gc_io.c; the rule as a whole: lib/gc/, docs/MAINTENANCE.md). */
#ifndef CAIRN_REPO_GC_IO_H
#define CAIRN_REPO_GC_IO_H

#include "cairn/repo.h"
#include "format/gcfile.h"

#include <stddef.h>
#include <stdint.h>

/* A record as listed: its generation and type. */
typedef struct cairn_gc_name {
	uint64_t generation;
	enum cairn_gc_type type;
} cairn_gc_name;

/* Every record in gc/, sorted by generation then type; other names are
 * passed over. *out is the caller's to free. */
int cairn_repo_gc_list(cairn_repo *r, cairn_gc_name **out, size_t *n_out);
/* The highest generation of each kind of record in gc/ now (0: none). */
typedef struct cairn_gc_last {
	uint64_t plan, running, done;
} cairn_gc_last;
int cairn_repo_gc_last(cairn_repo *r, cairn_gc_last *out);

/* Reads the record (generation, type) into out (the caller clears it):
 * authenticated, and its generation and type must be its name's.
 * CAIRN_ENOTFOUND if it is not there; CAIRN_ECORRUPT naming it. */
int cairn_repo_gc_load(cairn_repo *r, cairn_sealer *s, uint64_t generation, enum cairn_gc_type type,
                       cairn_gc_record *out);
/* Seals and writes rec under its name; CAIRN_EEXISTS if one is there. */
int cairn_repo_gc_put(cairn_repo *r, cairn_sealer *s, const cairn_gc_record *rec);

/* The pairs of every lost record, sorted (cairn_gc_lost_sort); the
 * records' generations (their names) in *gens_out when it is not NULL.
 * A damaged record is an error naming it. */
int cairn_repo_gc_lost(cairn_repo *r, cairn_sealer *s, cairn_gc_lost **out, size_t *n_out,
                       uint64_t **gens_out, size_t *n_gens_out);

/* Applies the done records of gc/ that the index has not taken yet: the
 * rows of their packs are dropped, and the record is remembered as taken
 * (among the index's imported objects, under the SHA-256 of its name).
 * An index that may not drop rows (an index server, without an admin
 * token) keeps them; the repository then treats those packs as gone when
 * it looks chunks up (cairn_repo_pack_dead). *applied_out (may be NULL)
 * counts the records taken. */
int cairn_repo_apply_done(cairn_repo *r, uint64_t *applied_out);
/* 1 if a done record names this pack and the index still has its rows. */
int cairn_repo_pack_dead(const cairn_repo *r, const uint8_t pack[CAIRN_ID_SIZE]);

#endif

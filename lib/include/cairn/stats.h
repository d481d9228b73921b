/* What snapshots take: the bytes a restore writes, the distinct chunks
 * they need and what those take in the packs after compression and
 * encryption. The distinct chunks are counted in a sorted set of their
 * fingerprints (32 bytes each), never by holding the trees. */
#ifndef CAIRN_STATS_H
#define CAIRN_STATS_H

#include "cairn/repo.h"
#include "cairn/snapshot.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_stats {
	uint64_t snapshots;
	uint64_t files;         /* regular files, in every snapshot counted (not hard links) */
	uint64_t restore_bytes; /* their sizes added up: what restoring them all writes */
	uint64_t chunks;        /* distinct content chunks (holes aside) */
	uint64_t unique_bytes;  /* their sizes: the content, each chunk once */
	uint64_t stored_bytes;  /* their blobs in the packs (a bundle of small chunks once) */
	uint64_t tree_chunks;   /* distinct chunks of the manifests */
	uint64_t tree_stored_bytes;
	uint64_t missing; /* content and manifest chunks the index knows no place of */
} cairn_stats;

/* Adds up the n snapshots (their records loaded) into *out: each
 * manifest is read once; then the index is asked where every distinct
 * chunk is, in batches. Errors are the tree readers' and the index's. */
int cairn_stats_compute(cairn_repo *r, const cairn_snapshot *snaps, size_t n, cairn_stats *out);

#endif

/* Pruning a repository (`cairn prune`): removing the data no snapshot
 * needs, with no lock, while backups run from any number of machines.
 *
 * One run: finishes the plan a previous run left, if every backup that
 * was running when it was published has ended; then marks what the
 * snapshots reference, copies the used blobs of mostly unused packs into
 * new packs, and publishes a new plan condemning the unused packs (and
 * the leftovers of killed backups). A plan is carried out at once when no
 * backup is running, else by the next run after those backups end. The
 * rule and why it is safe: docs/MAINTENANCE.md, "Prune". */
#ifndef CAIRN_PRUNE_H
#define CAIRN_PRUNE_H

#include "cairn/progress.h"
#include "cairn/repo.h"

#include <stdint.h>

#define CAIRN_PRUNE_MAX_UNUSED_DEFAULT 10.0

typedef struct cairn_prune_opts {
	/* Partly used packs are repacked, the most unused first, until the
	 * unused bytes left are at most this percentage of the used ones (0:
	 * none left; 100: no repacking). */
	double max_unused;
	int dry_run;        /* decide and report; write and delete nothing */
	cairn_warn_cb warn; /* objects passed over (NULL: not told) */
	void *warn_ud;
	cairn_progress_cb progress; /* NULL: none */
	void *progress_ud;
	unsigned threads; /* 0: one per core */
} cairn_prune_opts;

typedef struct cairn_prune_result {
	uint64_t snapshots;                      /* snapshot records read */
	uint64_t packs_total, bytes_total;       /* in data/ when the run began */
	uint64_t packs_deleted, bytes_deleted;   /* deleted by this run */
	uint64_t packs_repacked, bytes_repacked; /* their used blobs copied, the packs condemned */
	uint64_t blobs_copied, bytes_copied;     /* into new packs */
	uint64_t packs_condemned, bytes_condemned; /* by this run's plan, deleted or waiting */
	uint64_t packs_reprieved;        /* condemned, but a new snapshot took them up: kept */
	uint64_t packs_kept, bytes_kept; /* not condemned */
	uint64_t bytes_unused_kept;      /* unused bytes (estimate) left in kept packs */
	uint64_t packs_unindexed;        /* packs the index does not know that hold needed
	                                    chunks: kept (cairn index rebuild) */
	uint64_t temp_deleted;           /* leftovers of killed writes removed */
	uint64_t rows_dropped_packs;     /* packs gone from the store whose index rows went */
	uint64_t generation;             /* of the plan this run published (0: none) */
	uint64_t waiting_generation;     /* a plan that waits for backups (0: none) */
	uint64_t backups_waited;         /* how many backups it waits for */
} cairn_prune_result;

/* Prunes r (see above). Fails (and deletes nothing) when a snapshot
 * record cannot be read: what it needs cannot be known. */
int cairn_prune(cairn_repo *r, const cairn_prune_opts *opts, cairn_prune_result *out);

#endif

/* The backup engine: walk -> read -> chunk + fingerprint -> dedup ->
 * seal -> pack -> store, on a pool of worker threads. */
#ifndef CAIRN_BACKUP_H
#define CAIRN_BACKUP_H

#include "cairn/progress.h"
#include "cairn/repo.h"
#include "cairn/snapshot.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_backup_opts {
	const char *const *paths; /* as given; stored as absolute paths */
	size_t n_paths;
	const char *const *tags;
	size_t n_tags;
	const char *host;            /* NULL: gethostname() */
	const char *const *excludes; /* patterns (cairn/pattern.h) */
	size_t n_excludes;
	int one_file_system;
	int dry_run; /* read and chunk, store nothing */
	int threads; /* 0: number of CPUs */
	/* Fingerprints in a generation of the set of chunks this backup
	 * stored (two generations, 64 bytes each at most); 0: 128 Ki. */
	size_t dedup_generation;
	cairn_progress_cb progress;
	cairn_warn_cb warn;
	void *ud;
} cairn_backup_opts;

/* Backs up; on success (or CAIRN_EPARTIAL: some paths, or some snapshot
 * records when choosing the parent, could not be read and were told to
 * warn; the snapshot is still written) *out holds the snapshot, the
 * caller clears it. */
int cairn_backup(cairn_repo *r, const cairn_backup_opts *opts, cairn_snapshot *out);

#endif

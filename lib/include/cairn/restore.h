/* The restore engine: manifest -> chunk locations -> each pack range read
 * once -> authenticate -> write files, then metadata (directories last). */
#ifndef CAIRN_RESTORE_H
#define CAIRN_RESTORE_H

#include "cairn/progress.h"
#include "cairn/repo.h"
#include "cairn/snapshot.h"

typedef struct cairn_restore_opts {
	const char *target; /* entries go to target/<absolute path> */
	/* Patterns (cairn/pattern.h): restore what the includes name (none:
	 * everything) but what the excludes name. A pattern that matched
	 * nothing is told to warn; if every include is one, the restore fails
	 * with CAIRN_ENOTFOUND. */
	const char *const *includes;
	size_t n_includes;
	const char *const *excludes;
	size_t n_excludes;
	/* Count what would be restored, and tell each path to dry_list (if
	 * set), creating nothing: the target need not exist. */
	int dry_run;
	void (*dry_list)(void *ud, const char *path);
	int verify;  /* re-read written files and compare */
	int threads; /* 0: number of CPUs */
	cairn_progress_cb progress;
	cairn_warn_cb warn; /* damaged or unwritable entries */
	void *ud;
} cairn_restore_opts;

typedef struct cairn_restore_result {
	uint64_t files, dirs, others; /* others: hard links, symlinks, devices, ... */
	uint64_t bytes;
	uint64_t errors; /* entries not restored or restored incompletely */
} cairn_restore_result;

/* 0; CAIRN_EPARTIAL if some entries could not be restored (each reported
 * through warn, naming the path and the damaged object); or a fatal error. */
int cairn_restore(cairn_repo *r, const cairn_snapshot *snap, const cairn_restore_opts *opts,
                  cairn_restore_result *out);

#endif

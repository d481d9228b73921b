/* What a long operation (backup, restore, check) reports while it runs: how far
 * it has got, and the problems with single paths that do not stop it. */
#ifndef CAIRN_PROGRESS_H
#define CAIRN_PROGRESS_H

#include <stdint.h>

typedef struct cairn_progress {
	uint64_t files_done;
	uint64_t bytes_done;
	uint64_t files_total; /* 0 if unknown */
	uint64_t bytes_total; /* 0 if unknown */
	const char *current;  /* a path being worked on, or NULL */
	const char *unit;     /* what files_done counts ("packs"); NULL: files */
} cairn_progress;

/* Called from one thread, at most a few times a second. */
typedef void (*cairn_progress_cb)(void *ud, const cairn_progress *p);
/* A non-fatal problem with one path (unreadable, changed while read, ...);
 * path is NULL for one that concerns no path (a pattern that matched
 * nothing). */
typedef void (*cairn_warn_cb)(void *ud, const char *path, const char *message);

#endif

/* The backup engine: walk -> read -> chunk + fingerprint -> dedup ->
 * seal -> pack -> store, on a pool of worker threads. */
#ifndef CAIRN_BACKUP_H
#define CAIRN_BACKUP_H

#include "cairn/progress.h"
#include "cairn/repo.h"
#include "cairn/snapshot.h"

#include <stddef.h>
#include <stdint.h>

/* What became of one entry of the tree, against the parent snapshot. */
typedef enum cairn_backup_change {
	CAIRN_BACKUP_NEW,       /* not in the parent snapshot (or no parent) */
	CAIRN_BACKUP_CHANGED,   /* in it, but different: a file read again */
	CAIRN_BACKUP_UNCHANGED, /* a file taken from the parent unread; another
	                         * entry of the same type, mode and times */
	CAIRN_BACKUP_FAILED,    /* could not be read: left out, or (a directory
	                         * that cannot be listed) stored empty */
} cairn_backup_change;

typedef struct cairn_backup_item {
	const char *path;
	cairn_backup_change change;
	uint8_t type;      /* enum cairn_entry_type; 0 for a path that failed to stat */
	uint64_t size;     /* a file's (and a hardlink's) size, else 0 */
	const char *error; /* CAIRN_BACKUP_FAILED: why */
} cairn_backup_item;

/* Told each entry as it goes into the manifest, on one thread, in path
 * order, and each path that fails (also told to warn) as it fails. */
typedef void (*cairn_backup_item_cb)(void *ud, const cairn_backup_item *item);

typedef struct cairn_backup_opts {
	const char *const *paths; /* as given; stored as absolute paths */
	size_t n_paths;
	const char *const *tags;
	size_t n_tags;
	const char *host;            /* NULL: gethostname() */
	const char *const *excludes; /* patterns (cairn/pattern.h) */
	size_t n_excludes;
	int one_file_system;
	/* A directory holding a CACHEDIR.TAG that begins with its signature
	 * (https://bford.info/cachedir/), or one of these files ("NAME", or
	 * "NAME:header": a file NAME that begins with header), keeps only
	 * the tag files (restic's --exclude-caches, --exclude-if-present). */
	int exclude_caches;
	const char *const *exclude_if_present;
	size_t n_exclude_if_present;
	/* Not NULL: the backup holds one regular file, /stdin_name, read
	 * from standard input to its end (mode 0600, the user's, modified
	 * now); paths are not used. stdin_name is one name, without '/'. */
	const char *stdin_name;
	int dry_run; /* read and chunk, store nothing */
	int threads; /* 0: number of CPUs */
	/* Fingerprints in a generation of the set of chunks this backup
	 * stored (two generations, 64 bytes each at most); 0: 128 Ki. */
	size_t dedup_generation;
	/* With a progress callback, a second walk counts the files and
	 * bytes to do ahead of the reading, so that the progress gives
	 * totals once it has finished; it gives up (no totals) past
	 * count_max entries (0: CAIRN_BACKUP_COUNT_MAX). */
	uint64_t count_max;
	cairn_progress_cb progress;
	cairn_warn_cb warn;
	cairn_backup_item_cb item; /* NULL: not told */
	void *ud;
} cairn_backup_opts;

#define CAIRN_BACKUP_COUNT_MAX (4u * 1024 * 1024)

/* Backs up; on success (or CAIRN_EPARTIAL: some paths, or some snapshot
 * records when choosing the parent, could not be read and were told to
 * warn; the snapshot is still written) *out holds the snapshot, the
 * caller clears it. */
int cairn_backup(cairn_repo *r, const cairn_backup_opts *opts, cairn_snapshot *out);

/* The paths in the len bytes of a --files-from file's text, given to add
 * in order (they point into text, which is changed in place, and has a
 * byte after its len for the last name's terminator): one a
 * line, a "\r" before the "\n" dropped, empty lines and lines whose first
 * character is '#' left out. nul_separated (--files-from-raw): names
 * separated by NUL bytes, only empty ones left out. add's failure is
 * returned. */
int cairn_backup_files_from_parse(char *text, size_t len, int nul_separated,
                                  int (*add)(void *ud, const char *path), void *ud);

#endif

/* Comparing two snapshots: the entries added, removed, whose content,
 * type or metadata changed, walking both manifests in path order at once
 * (a merge of two sorted streams: one entry of each in memory). Content
 * is compared by chunk lists, never by reading data. */
#ifndef CAIRN_DIFF_H
#define CAIRN_DIFF_H

#include "cairn/manifest.h"
#include "cairn/repo.h"
#include "cairn/snapshot.h"

#include <stddef.h>
#include <stdint.h>

enum cairn_diff_kind {
	CAIRN_DIFF_SAME = 0,
	CAIRN_DIFF_ADDED,    /* only in the second */
	CAIRN_DIFF_REMOVED,  /* only in the first */
	CAIRN_DIFF_CONTENT,  /* chunks, symlink or hard link target, device number */
	CAIRN_DIFF_TYPE,     /* a file became a directory, a symlink, ... */
	CAIRN_DIFF_METADATA, /* only mode, owner, mtime, xattrs or file flags */
};

/* Which metadata differ (any kind but ADDED and REMOVED may have some). */
enum cairn_diff_meta {
	CAIRN_DIFF_META_MODE = 1 << 0,
	CAIRN_DIFF_META_OWNER = 1 << 1,
	CAIRN_DIFF_META_MTIME = 1 << 2,
	CAIRN_DIFF_META_XATTRS = 1 << 3,
	CAIRN_DIFF_META_FLAGS = 1 << 4,
};

typedef struct cairn_diff_change {
	enum cairn_diff_kind kind;
	const cairn_entry *before; /* NULL when added */
	const cairn_entry *after;  /* NULL when removed */
	unsigned meta;             /* enum cairn_diff_meta bits */
	/* Content bytes: of the chunks the second has and the first has not
	 * (counted with their repeats), and the reverse. An added file adds
	 * its size, a removed one removes it. */
	uint64_t bytes_added, bytes_removed;
} cairn_diff_change;

/* Counts of a whole comparison. Files are regular files and hard links;
 * others are symlinks, devices, fifos and sockets. */
typedef struct cairn_diff_totals {
	uint64_t files_added, files_removed, dirs_added, dirs_removed;
	uint64_t others_added, others_removed;
	uint64_t changed_content, changed_type, changed_metadata;
	uint64_t bytes_added, bytes_removed;
} cairn_diff_totals;

/* Compares two entries of the same path: 0 and *out filled (kind SAME
 * when nothing differs), or CAIRN_ENOMEM. Pure. */
int cairn_diff_entries(const cairn_entry *before, const cairn_entry *after, cairn_diff_change *out);

/* The next entry of a stream in path order: 1 and *out filled (the
 * differ clears it), 0 at its end, or an error. */
typedef int (*cairn_entry_source)(void *ud, cairn_entry *out);
/* Told each change in path order; a non-zero return stops the walk and
 * is returned. */
typedef int (*cairn_diff_cb)(void *ud, const cairn_diff_change *c);

/* Merges two streams of entries in path order (cairn_path_cmp) and tells
 * cb every change, adding it to *totals (zeroed first). A stream out of
 * order is CAIRN_ECORRUPT. Does no I/O of its own. */
int cairn_diff_streams(cairn_entry_source before, void *before_ud, cairn_entry_source after,
                       void *after_ud, cairn_diff_cb cb, void *ud, cairn_diff_totals *totals);

/* cairn_diff_streams over the manifests of two snapshots. */
int cairn_diff_snapshots(cairn_repo *r, const cairn_snapshot *before, const cairn_snapshot *after,
                         cairn_diff_cb cb, void *ud, cairn_diff_totals *totals);

#endif

/* Choosing snapshots: restic's filter (--host, --tag, --path) and the
 * groups that retention policies apply to (--group-by). Pure. */
#ifndef CAIRN_SELECT_H
#define CAIRN_SELECT_H

#include "cairn/snapshot.h"

#include <stddef.h>

typedef struct cairn_snapshot_filter {
	const char *const *hosts; /* any one of them */
	size_t n_hosts;
	const char *const *tags; /* alternatives: "a,b" needs both a and b */
	size_t n_tags;
	const char *const *paths; /* every one must be among the snapshot's */
	size_t n_paths;
} cairn_snapshot_filter;

/* Whether s passes f; an empty filter passes everything. */
int cairn_snapshot_filter_match(const cairn_snapshot_filter *f, const cairn_snapshot *s);

/* What snapshots are grouped by. */
enum cairn_group_by {
	CAIRN_GROUP_BY_HOST = 1 << 0,
	CAIRN_GROUP_BY_PATHS = 1 << 1,
	CAIRN_GROUP_BY_TAGS = 1 << 2,
};
#define CAIRN_GROUP_BY_DEFAULT (CAIRN_GROUP_BY_HOST | CAIRN_GROUP_BY_PATHS)

/* Parses "host,paths,tags" (any of them, comma-separated; "" for one
 * group of everything) into enum cairn_group_by bits. CAIRN_EINVAL with a
 * message naming a word that is none of them. */
int cairn_group_by_parse(const char *spec, unsigned *out);

/* Replaces out's contents with the key of s's group: two snapshots are in
 * one group when their keys are equal. Paths and tags count as sets. */
int cairn_snapshot_group_key(cairn_buf *out, const cairn_snapshot *s, unsigned group_by);

#endif

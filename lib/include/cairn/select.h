/* Choosing snapshots: restic's filter (--host, --tag, --path), the
 * snapshot a name and a filter choose, and the groups that retention
 * policies apply to (--group-by). All pure but cairn_snapshot_select. */
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
/* Whether f asks for nothing (NULL does not either). */
int cairn_snapshot_filter_empty(const cairn_snapshot_filter *f);
/* Appends what f asks for as words that follow "snapshot": "of host a
 * or b tagged x,y or z with paths /p and /q" (nothing for an empty
 * filter). 0 or CAIRN_ENOMEM. */
int cairn_snapshot_filter_describe(cairn_buf *out, const cairn_snapshot_filter *f);
/* The index in list (n snapshots, oldest first, as cairn_snapshot_list
 * gives them) of the newest that passes f (NULL: any), or n if none
 * does. */
size_t cairn_snapshot_filter_latest(const cairn_snapshot *list, size_t n,
                                    const cairn_snapshot_filter *f);

/* Loads into out (the caller clears it) the snapshot that name chooses,
 * narrowed by f (NULL: no filter). name is "latest", the newest readable
 * snapshot that passes f (records that cannot be read are told to skips,
 * as cairn_snapshot_resolve_readable does), or a full id or a unique
 * prefix of one, which must name a snapshot that passes f.
 * CAIRN_ENOTFOUND with a message saying what f asked for; CAIRN_EINVAL
 * for a name that is no id or an ambiguous prefix; a store's error. */
int cairn_snapshot_select(cairn_repo *r, const char *name, const cairn_snapshot_filter *f,
                          cairn_snapshot *out, cairn_snapshot_skips *skips);

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

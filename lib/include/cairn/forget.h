/* Forgetting snapshots: which ones a retention policy removes, group by
 * group, and removing a snapshot's record. Forgetting frees no space by
 * itself: the data the removed snapshots alone needed stays in the
 * repository until it is pruned. */
#ifndef CAIRN_FORGET_H
#define CAIRN_FORGET_H

#include "cairn/repo.h"
#include "cairn/retention.h"
#include "cairn/select.h"
#include "cairn/snapshot.h"

#include <stddef.h>

typedef struct cairn_forget_entry {
	const cairn_snapshot *snap; /* in the list the plan was made from */
	unsigned reasons;           /* enum cairn_retention_reason bits; 0: remove */
} cairn_forget_entry;

typedef struct cairn_forget_group {
	cairn_forget_entry *entries; /* newest first */
	size_t n;
} cairn_forget_group;

typedef struct cairn_forget_plan {
	cairn_forget_group *groups; /* in the order of their newest snapshots */
	size_t n_groups;
	size_t n_keep, n_remove;
} cairn_forget_plan;

/* Applies policy p to the snapshots of list that pass filter f, grouped
 * by group_by (enum cairn_group_by bits). Snapshots that do not pass the
 * filter are in no group and untouched. The plan points into list, which
 * must outlive it. CAIRN_EINVAL for a policy without rules (it would
 * remove everything) or a bad count; CAIRN_ENOMEM. */
int cairn_forget_plan_make(cairn_forget_plan *out, const cairn_snapshot *list, size_t n,
                           const cairn_snapshot_filter *f, unsigned group_by,
                           const cairn_retention_policy *p);
void cairn_forget_plan_free(cairn_forget_plan *plan);

/* Removes the snapshot's record from the store, then from the index
 * server's catalogue, if there is one. A record already gone is not an
 * error. The catalogue's failure is reported (CAIRN_EIO) after the store
 * has forgotten the snapshot: listings skip catalogue entries whose
 * record is gone, and `cairn index rebuild` drops them. */
int cairn_snapshot_forget(cairn_repo *r, const uint8_t id[CAIRN_ID_SIZE]);

#endif

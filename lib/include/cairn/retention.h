/* Retention: which snapshots a policy keeps (`cairn forget`). Pure: no
 * I/O, no repository; the caller lists, groups and removes.
 *
 * The rules are restic's. Within one group (snapshots of the same host
 * and paths, by default), newest first:
 * - keep-last N keeps the N newest;
 * - keep-hourly/daily/weekly/monthly/yearly N keep the newest snapshot of
 *   each of the N most recent hours (days, ISO weeks, months, years) that
 *   have one, in local time;
 * - keep-within D keeps every snapshot taken within D of the group's
 *   newest;
 * - keep-tag T keeps every snapshot carrying T ("a,b": carrying both).
 * A snapshot is kept when any rule keeps it; the rest are removed. A
 * count of -1 is unlimited. */
#ifndef CAIRN_RETENTION_H
#define CAIRN_RETENTION_H

#include <stddef.h>
#include <stdint.h>

/* Why a snapshot is kept: one bit a rule. */
enum cairn_retention_reason {
	CAIRN_KEEP_LAST = 1 << 0,
	CAIRN_KEEP_HOURLY = 1 << 1,
	CAIRN_KEEP_DAILY = 1 << 2,
	CAIRN_KEEP_WEEKLY = 1 << 3,
	CAIRN_KEEP_MONTHLY = 1 << 4,
	CAIRN_KEEP_YEARLY = 1 << 5,
	CAIRN_KEEP_WITHIN = 1 << 6,
	CAIRN_KEEP_TAG = 1 << 7,
};

typedef struct cairn_retention_policy {
	int last, hourly, daily, weekly, monthly, yearly; /* 0: rule off; -1: unlimited */
	int64_t within_ns;                                /* 0: rule off */
	const char *const *keep_tags;                     /* each a tag, or "a,b" for all of them */
	size_t n_keep_tags;
} cairn_retention_policy;

/* What the policy needs of a snapshot. */
typedef struct cairn_retention_item {
	int64_t time_ns; /* since the epoch, UTC */
	const char *const *tags;
	size_t n_tags;
} cairn_retention_item;

/* Whether the policy has any rule: a policy without one would remove
 * every snapshot, which callers refuse. */
int cairn_retention_policy_empty(const cairn_retention_policy *p);

/* Decides for the n snapshots of one group, in any order: reasons[i]
 * gets the enum cairn_retention_reason bits that keep items[i], 0 when
 * it is to be removed. CAIRN_ENOMEM, or CAIRN_EINVAL for a count below
 * -1. */
int cairn_retention_apply(const cairn_retention_policy *p, const cairn_retention_item *items,
                          size_t n, unsigned *reasons);

/* The words for one reason bit ("last snapshot", "daily snapshot", ...),
 * or NULL for a bit that is not one. */
const char *cairn_retention_reason_name(unsigned bit);

/* Whether tags contain every tag of the comma-separated list want
 * ("a,b"); an empty list is in everything. */
int cairn_tags_contain_all(const char *const *tags, size_t n_tags, const char *want);

/* Parses a duration such as "2y5m7d3h" (years, months, days, hours;
 * restic's units, a year 365 days, a month 30) into nanoseconds.
 * CAIRN_EINVAL with a message for anything else. */
int cairn_duration_parse(const char *s, int64_t *ns_out);

#endif

#include "cairn/forget.h"

#include "cairn/errors.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

/* A snapshot that passed the filter, with its group's key. */
struct member {
	const cairn_snapshot *snap;
	cairn_buf key;
	size_t group; /* groups numbered from the one with the newest snapshot */
};

/* Newer first; equal times by id, so that the order is total. */
static int by_time(const struct member *x, const struct member *y)
{
	if (x->snap->time_ns != y->snap->time_ns)
		return x->snap->time_ns > y->snap->time_ns ? -1 : 1;
	return memcmp(x->snap->id, y->snap->id, CAIRN_ID_SIZE);
}

static int by_key(const struct member *x, const struct member *y)
{
	size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
	int c = n ? memcmp(x->key.data, y->key.data, n) : 0;
	if (c || x->key.len == y->key.len)
		return c;
	return x->key.len < y->key.len ? -1 : 1;
}

static int by_key_then_time(const void *a, const void *b)
{
	int c = by_key(a, b);
	return c ? c : by_time(a, b);
}

static int by_group_then_time(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return by_time(x, y);
}

static int head_newest_first(const void *a, const void *b, void *ud)
{
	const struct member *m = ud;
	return by_time(&m[*(const size_t *)a], &m[*(const size_t *)b]);
}

/* Numbers the groups of m[0..k), sorted by key and newest first within
 * a key, from the group whose newest snapshot is the newest; then sorts
 * m by group and time. */
static int number_groups(struct member *m, size_t k, size_t *n_groups)
{
	size_t *heads = malloc((k ? k : 1) * sizeof(*heads)), groups = 0;
	if (!heads)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < k; i++)
		if (i == 0 || by_key(&m[i], &m[i - 1]) != 0)
			heads[groups++] = i;
	qsort_r(heads, groups, sizeof(*heads), head_newest_first, m);
	for (size_t g = 0; g < groups; g++)
		for (size_t i = heads[g]; i < k && by_key(&m[i], &m[heads[g]]) == 0; i++)
			m[i].group = g;
	free(heads);
	qsort(m, k, sizeof(*m), by_group_then_time);
	*n_groups = groups;
	return 0;
}

static void members_free(struct member *m, size_t k)
{
	for (size_t i = 0; i < k; i++)
		cairn_buf_free(&m[i].key);
	free(m);
}

/* The members passing f, grouped and newest first within each group. */
static int gather(struct member **out, size_t *n_out, size_t *n_groups, const cairn_snapshot *list,
                  size_t n, const cairn_snapshot_filter *f, unsigned group_by)
{
	struct member *m = calloc(n ? n : 1, sizeof(*m));
	size_t k = 0;
	int rc = 0;
	if (!m)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < n; i++) {
		if (!cairn_snapshot_filter_match(f, &list[i]))
			continue;
		m[k].snap = &list[i];
		rc = cairn_snapshot_group_key(&m[k++].key, &list[i], group_by);
	}
	if (!rc) {
		qsort(m, k, sizeof(*m), by_key_then_time);
		rc = number_groups(m, k, n_groups);
	}
	if (rc) {
		members_free(m, k);
		return rc;
	}
	*out = m;
	*n_out = k;
	return 0;
}

/* Decides one group: members m[0..n), newest first. */
static int decide_group(cairn_forget_group *g, const struct member *m, size_t n,
                        const cairn_retention_policy *p)
{
	cairn_retention_item *items = calloc(n, sizeof(*items));
	unsigned *reasons = calloc(n, sizeof(*reasons));
	int rc = 0;
	g->entries = calloc(n, sizeof(*g->entries));
	if (!items || !reasons || !g->entries) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		items[i] = (cairn_retention_item){.time_ns = m[i].snap->time_ns,
		                                  .tags = (const char *const *)m[i].snap->tags,
		                                  .n_tags = m[i].snap->n_tags};
	if ((rc = cairn_retention_apply(p, items, n, reasons)))
		goto out;
	for (size_t i = 0; i < n; i++)
		g->entries[i] = (cairn_forget_entry){.snap = m[i].snap, .reasons = reasons[i]};
	g->n = n;
out:
	free(items);
	free(reasons);
	return rc;
}

int cairn_forget_plan_make(cairn_forget_plan *out, const cairn_snapshot *list, size_t n,
                           const cairn_snapshot_filter *f, unsigned group_by,
                           const cairn_retention_policy *p)
{
	struct member *m = NULL;
	size_t k = 0, groups = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	if (cairn_retention_policy_empty(p))
		return cairn_error_set(CAIRN_EINVAL, "no policy given: say which snapshots to keep "
		                                     "(--keep-last N, --keep-daily N, ...)");
	if ((rc = gather(&m, &k, &groups, list, n, f, group_by)))
		return rc;
	if (groups && !(out->groups = calloc(groups, sizeof(*out->groups))))
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t start = 0; !rc && start < k;) {
		size_t end = start + 1;
		while (end < k && m[end].group == m[start].group)
			end++;
		cairn_forget_group *g = &out->groups[out->n_groups++];
		rc = decide_group(g, &m[start], end - start, p);
		for (size_t i = 0; !rc && i < g->n; i++) {
			if (g->entries[i].reasons)
				out->n_keep++;
			else
				out->n_remove++;
		}
		start = end;
	}
	members_free(m, k);
	if (rc)
		cairn_forget_plan_free(out);
	return rc;
}

void cairn_forget_plan_free(cairn_forget_plan *plan)
{
	for (size_t i = 0; i < plan->n_groups; i++)
		free(plan->groups[i].entries);
	free(plan->groups);
	memset(plan, 0, sizeof(*plan));
}

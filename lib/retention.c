#include "cairn/retention.h"

#include "cairn/errors.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_HOUR (3600LL * 1000000000LL)
/* what a duration may reach: about 290 years of nanoseconds fit an int64_t */
#define MAX_HOURS (INT64_MAX / NS_PER_HOUR)

/* The calendar rules: a snapshot's bucket, and the reason bit. */
enum bucket_kind {
	BUCKET_LAST,
	BUCKET_HOURLY,
	BUCKET_DAILY,
	BUCKET_WEEKLY,
	BUCKET_MONTHLY,
	BUCKET_YEARLY,
	N_BUCKETS
};

static const unsigned bucket_reason[N_BUCKETS] = {
    CAIRN_KEEP_LAST,   CAIRN_KEEP_HOURLY,  CAIRN_KEEP_DAILY,
    CAIRN_KEEP_WEEKLY, CAIRN_KEEP_MONTHLY, CAIRN_KEEP_YEARLY,
};

int cairn_retention_policy_empty(const cairn_retention_policy *p)
{
	return !p->last && !p->hourly && !p->daily && !p->weekly && !p->monthly && !p->yearly &&
	       !p->within_ns && !p->n_keep_tags;
}

/* Local calendar fields of t, the way a user reads the snapshot's time. */
static struct tm local_time(int64_t time_ns)
{
	time_t secs = (time_t)(time_ns / 1000000000);
	struct tm tm;
	if (time_ns < 0 && time_ns % 1000000000)
		secs--;
	if (!localtime_r(&secs, &tm))
		memset(&tm, 0, sizeof(tm));
	return tm;
}

/* The ISO 8601 week-based year and week of tm (weeks start on Monday;
 * week 1 holds the year's first Thursday). */
static int64_t iso_week(const struct tm *tm)
{
	int wday = (tm->tm_wday + 6) % 7; /* Monday 0 */
	int year = tm->tm_year + 1900;
	int week = (tm->tm_yday - wday + 10) / 7;
	if (week < 1) {
		/* the last week of the year before: 52 or 53 */
		int py = year - 1;
		int p_days = (py % 4 == 0 && (py % 100 != 0 || py % 400 == 0)) ? 366 : 365;
		int p_yday = tm->tm_yday + p_days;
		return (int64_t)py * 100 + (p_yday - wday + 10) / 7;
	}
	int days = (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 366 : 365;
	/* a week whose Thursday falls in the next year belongs to it */
	if (tm->tm_yday - wday + 3 >= days)
		return (int64_t)(year + 1) * 100 + 1;
	return (int64_t)year * 100 + week;
}

static int64_t bucket_of(enum bucket_kind kind, const struct tm *tm, size_t position)
{
	int64_t y = tm->tm_year + 1900;
	switch (kind) {
	case BUCKET_LAST:
		return (int64_t)position;
	case BUCKET_HOURLY:
		return ((y * 100 + tm->tm_mon + 1) * 100 + tm->tm_mday) * 100 + tm->tm_hour;
	case BUCKET_DAILY:
		return (y * 100 + tm->tm_mon + 1) * 100 + tm->tm_mday;
	case BUCKET_WEEKLY:
		return iso_week(tm);
	case BUCKET_MONTHLY:
		return y * 100 + tm->tm_mon + 1;
	case BUCKET_YEARLY:
	default:
		return y;
	}
}

static int newest_first(const void *a, const void *b, void *ud)
{
	const cairn_retention_item *items = ud;
	int64_t ta = items[*(const size_t *)a].time_ns;
	int64_t tb = items[*(const size_t *)b].time_ns;
	if (ta != tb)
		return ta > tb ? -1 : 1;
	/* equal times: a stable order, so that one of them is "the newest" */
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static int keeps_tag(const cairn_retention_policy *p, const cairn_retention_item *it)
{
	for (size_t i = 0; i < p->n_keep_tags; i++)
		if (cairn_tags_contain_all(it->tags, it->n_tags, p->keep_tags[i]))
			return 1;
	return 0;
}

/* order: the items' indices, newest first. */
static void decide(const cairn_retention_policy *p, const cairn_retention_item *items,
                   const size_t *order, size_t n, unsigned *reasons)
{
	int left[N_BUCKETS] = {p->last, p->hourly, p->daily, p->weekly, p->monthly, p->yearly};
	int64_t last_bucket[N_BUCKETS];
	int have_bucket[N_BUCKETS] = {0};
	int64_t newest = items[order[0]].time_ns;

	for (size_t k = 0; k < n; k++) {
		const cairn_retention_item *it = &items[order[k]];
		unsigned why = 0;
		struct tm tm = local_time(it->time_ns);
		if (keeps_tag(p, it))
			why |= CAIRN_KEEP_TAG;
		if (p->within_ns && newest - it->time_ns <= p->within_ns)
			why |= CAIRN_KEEP_WITHIN;
		for (int b = 0; b < N_BUCKETS; b++) {
			if (left[b] == 0)
				continue;
			int64_t v = bucket_of((enum bucket_kind)b, &tm, k);
			if (have_bucket[b] && v == last_bucket[b])
				continue;
			have_bucket[b] = 1;
			last_bucket[b] = v;
			why |= bucket_reason[b];
			if (left[b] > 0)
				left[b]--;
		}
		reasons[order[k]] = why;
	}
}

int cairn_retention_apply(const cairn_retention_policy *p, const cairn_retention_item *items,
                          size_t n, unsigned *reasons)
{
	const int counts[N_BUCKETS] = {p->last,   p->hourly,  p->daily,
	                               p->weekly, p->monthly, p->yearly};
	for (int b = 0; b < N_BUCKETS; b++)
		if (counts[b] < -1)
			return cairn_error_set(CAIRN_EINVAL,
			                       "a keep count must be -1 (all) or more, not %d",
			                       counts[b]);
	if (n == 0)
		return 0;
	size_t *order = malloc(n * sizeof(*order));
	if (!order)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), newest_first, (void *)items);
	decide(p, items, order, n, reasons);
	free(order);
	return 0;
}

const char *cairn_retention_reason_name(unsigned bit)
{
	switch (bit) {
	case CAIRN_KEEP_LAST:
		return "last snapshot";
	case CAIRN_KEEP_HOURLY:
		return "hourly snapshot";
	case CAIRN_KEEP_DAILY:
		return "daily snapshot";
	case CAIRN_KEEP_WEEKLY:
		return "weekly snapshot";
	case CAIRN_KEEP_MONTHLY:
		return "monthly snapshot";
	case CAIRN_KEEP_YEARLY:
		return "yearly snapshot";
	case CAIRN_KEEP_WITHIN:
		return "within the duration";
	case CAIRN_KEEP_TAG:
		return "has a kept tag";
	default:
		return NULL;
	}
}

static int has_tag(const char *const *tags, size_t n_tags, const char *tag, size_t len)
{
	for (size_t i = 0; i < n_tags; i++)
		if (strlen(tags[i]) == len && memcmp(tags[i], tag, len) == 0)
			return 1;
	return 0;
}

int cairn_tags_contain_all(const char *const *tags, size_t n_tags, const char *want)
{
	const char *p = want;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len && !has_tag(tags, n_tags, p, len))
			return 0;
		p += len;
		if (*p == ',')
			p++;
	}
	return 1;
}

int cairn_duration_parse(const char *s, int64_t *ns_out)
{
	int64_t hours = 0;
	const char *p = s;
	if (!s || !*s)
		return cairn_error_set(CAIRN_EINVAL, "an empty duration");
	while (*p) {
		if (*p < '0' || *p > '9')
			goto bad;
		int64_t v = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p++ - '0');
			if (v > MAX_HOURS)
				goto bad;
		}
		switch (*p++) {
		case 'y':
			hours += v * 365 * 24;
			break;
		case 'm':
			hours += v * 30 * 24;
			break;
		case 'd':
			hours += v * 24;
			break;
		case 'h':
			hours += v;
			break;
		default:
			goto bad;
		}
		if (hours > MAX_HOURS)
			goto bad;
	}
	*ns_out = hours * NS_PER_HOUR;
	return 0;
bad:
	return cairn_error_set(
	    CAIRN_EINVAL, "bad duration \"%s\": use numbers with y, m, d or h, as in 1y6m or 7d12h",
	    s);
}

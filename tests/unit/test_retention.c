/* Retention policies: which snapshots forget keeps, and why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/retention.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR (3600LL * 1000000000LL)
#define DAY (24 * HOUR)

/* nanoseconds of a UTC date and hour (the tests run with TZ=UTC) */
static int64_t at(int y, int mon, int d, int h)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d, .tm_hour = h};
	return (int64_t)timegm(&tm) * 1000000000LL;
}

static void apply(const cairn_retention_policy *p, const cairn_retention_item *items, size_t n,
                  unsigned *reasons)
{
	memset(reasons, 0xff, n * sizeof(*reasons));
	assert_int_equal(cairn_retention_apply(p, items, n, reasons), 0);
}

static void test_retention__keep_last_keeps_the_newest(void **state)
{
	cairn_retention_item it[5];
	unsigned why[5];
	/* given oldest first, decided newest first */
	for (int i = 0; i < 5; i++)
		it[i] = (cairn_retention_item){.time_ns = at(2026, 1, 1 + i, 0)};
	cairn_retention_policy p = {.last = 3};
	apply(&p, it, 5, why);
	assert_int_equal(why[0], 0);
	assert_int_equal(why[1], 0);
	assert_int_equal(why[2], CAIRN_KEEP_LAST);
	assert_int_equal(why[3], CAIRN_KEEP_LAST);
	assert_int_equal(why[4], CAIRN_KEEP_LAST);
}

static void test_retention__daily_keeps_each_days_newest(void **state)
{
	/* three a day over four days, in shuffled order */
	int days[12] = {3, 1, 4, 2, 4, 1, 3, 2, 4, 1, 2, 3};
	int hours[12] = {5, 1, 23, 8, 2, 22, 18, 9, 12, 7, 20, 1};
	cairn_retention_item it[12];
	unsigned why[12];
	for (int i = 0; i < 12; i++)
		it[i] = (cairn_retention_item){.time_ns = at(2026, 3, days[i], hours[i])};
	cairn_retention_policy p = {.daily = 2};
	apply(&p, it, 12, why);
	for (int i = 0; i < 12; i++) {
		int kept = (days[i] == 4 && hours[i] == 23) || (days[i] == 3 && hours[i] == 18);
		assert_int_equal(why[i], kept ? CAIRN_KEEP_DAILY : 0);
	}
}

static void test_retention__unlimited_keeps_one_per_bucket_forever(void **state)
{
	cairn_retention_item it[6];
	unsigned why[6];
	for (int i = 0; i < 6; i++)
		it[i] = (cairn_retention_item){.time_ns = at(2020 + i / 2, 6, 1, i % 2)};
	cairn_retention_policy p = {.yearly = -1};
	apply(&p, it, 6, why);
	for (int i = 0; i < 6; i++)
		assert_int_equal(why[i], i % 2 ? CAIRN_KEEP_YEARLY : 0);
}

static void test_retention__weeks_are_iso_weeks_across_new_year(void **state)
{
	/* Thu 2020-12-31 and Sun 2021-01-03 are both in week 53 of 2020;
	 * Mon 2021-01-04 starts week 1 of 2021; Mon 2024-12-30 is in week 1
	 * of 2025, with Wed 2025-01-01. */
	cairn_retention_item it[] = {
	    {.time_ns = at(2020, 12, 31, 12)}, {.time_ns = at(2021, 1, 3, 12)},
	    {.time_ns = at(2021, 1, 4, 12)},   {.time_ns = at(2024, 12, 30, 12)},
	    {.time_ns = at(2025, 1, 1, 12)},
	};
	unsigned why[5];
	cairn_retention_policy p = {.weekly = -1};
	apply(&p, it, 5, why);
	assert_int_equal(why[0], 0);
	assert_int_equal(why[1], CAIRN_KEEP_WEEKLY);
	assert_int_equal(why[2], CAIRN_KEEP_WEEKLY);
	assert_int_equal(why[3], 0);
	assert_int_equal(why[4], CAIRN_KEEP_WEEKLY);
}

static void test_retention__hourly_and_monthly_combine(void **state)
{
	cairn_retention_item it[] = {
	    {.time_ns = at(2026, 5, 31, 10) + HOUR / 2}, /* newest: hourly and monthly */
	    {.time_ns = at(2026, 5, 31, 10) + HOUR / 4}, /* the same hour */
	    {.time_ns = at(2026, 5, 31, 9)},             /* hourly */
	    {.time_ns = at(2026, 4, 2, 9)},              /* monthly */
	    {.time_ns = at(2026, 3, 2, 9)},              /* out of monthly's two */
	};
	unsigned why[5];
	cairn_retention_policy p = {.hourly = 2, .monthly = 2};
	apply(&p, it, 5, why);
	assert_int_equal(why[0], CAIRN_KEEP_HOURLY | CAIRN_KEEP_MONTHLY);
	assert_int_equal(why[1], 0);
	assert_int_equal(why[2], CAIRN_KEEP_HOURLY);
	assert_int_equal(why[3], CAIRN_KEEP_MONTHLY);
	assert_int_equal(why[4], 0);
}

static void test_retention__within_counts_from_the_newest_snapshot(void **state)
{
	int64_t newest = at(2026, 2, 10, 0);
	cairn_retention_item it[] = {
	    {.time_ns = newest - 8 * DAY},
	    {.time_ns = newest - 7 * DAY},
	    {.time_ns = newest},
	    {.time_ns = newest - 6 * DAY},
	};
	unsigned why[4];
	cairn_retention_policy p = {.within_ns = 7 * DAY};
	apply(&p, it, 4, why);
	assert_int_equal(why[0], 0);
	assert_int_equal(why[1], CAIRN_KEEP_WITHIN);
	assert_int_equal(why[2], CAIRN_KEEP_WITHIN);
	assert_int_equal(why[3], CAIRN_KEEP_WITHIN);
}

static void test_retention__keep_tag_needs_every_tag_of_a_list(void **state)
{
	const char *ab[] = {"a", "b"}, *a[] = {"a"}, *cb[] = {"c", "b"};
	cairn_retention_item it[] = {
	    {.time_ns = at(2026, 1, 1, 0), .tags = ab, .n_tags = 2},
	    {.time_ns = at(2026, 1, 2, 0), .tags = a, .n_tags = 1},
	    {.time_ns = at(2026, 1, 3, 0), .tags = cb, .n_tags = 2},
	    {.time_ns = at(2026, 1, 4, 0)},
	};
	unsigned why[4];
	const char *keep[] = {"a,b", "c"};
	cairn_retention_policy p = {.keep_tags = keep, .n_keep_tags = 2};
	apply(&p, it, 4, why);
	assert_int_equal(why[0], CAIRN_KEEP_TAG);
	assert_int_equal(why[1], 0);
	assert_int_equal(why[2], CAIRN_KEEP_TAG);
	assert_int_equal(why[3], 0);
}

static void test_retention__equal_times_keep_one_of_them(void **state)
{
	cairn_retention_item it[] = {{.time_ns = at(2026, 1, 1, 0)},
	                             {.time_ns = at(2026, 1, 1, 0)}};
	unsigned why[2];
	cairn_retention_policy p = {.last = 1};
	apply(&p, it, 2, why);
	assert_int_equal(why[0] | why[1], CAIRN_KEEP_LAST);
	assert_int_equal(why[0] & why[1], 0);
}

static void test_retention__a_count_below_minus_one_is_refused(void **state)
{
	cairn_retention_item it[] = {{.time_ns = 1}};
	unsigned why[1];
	cairn_retention_policy p = {.daily = -2};
	assert_int_equal(cairn_retention_apply(&p, it, 1, why), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "-2"));
}

static void test_retention__a_policy_without_rules_is_empty(void **state)
{
	cairn_retention_policy p = {0};
	assert_true(cairn_retention_policy_empty(&p));
	p.within_ns = 1;
	assert_false(cairn_retention_policy_empty(&p));
	p = (cairn_retention_policy){.yearly = -1};
	assert_false(cairn_retention_policy_empty(&p));
	/* nothing to decide is no failure */
	assert_int_equal(cairn_retention_apply(&p, NULL, 0, NULL), 0);
}

static void test_retention__every_reason_has_words(void **state)
{
	for (unsigned bit = CAIRN_KEEP_LAST; bit <= CAIRN_KEEP_TAG; bit <<= 1)
		assert_non_null(cairn_retention_reason_name(bit));
	assert_string_equal(cairn_retention_reason_name(CAIRN_KEEP_DAILY), "daily snapshot");
	assert_null(cairn_retention_reason_name(0));
	assert_null(cairn_retention_reason_name(CAIRN_KEEP_TAG << 1));
}

static void test_retention__tags_contain_all(void **state)
{
	const char *t[] = {"nightly", "db"};
	assert_true(cairn_tags_contain_all(t, 2, "db"));
	assert_true(cairn_tags_contain_all(t, 2, "db,nightly"));
	assert_false(cairn_tags_contain_all(t, 2, "db,weekly"));
	assert_false(cairn_tags_contain_all(t, 2, "nigh"));
	assert_true(cairn_tags_contain_all(t, 2, ""));
	assert_false(cairn_tags_contain_all(NULL, 0, "db"));
}

static void test_duration__units_add_up(void **state)
{
	int64_t ns = 0;
	assert_int_equal(cairn_duration_parse("7d12h", &ns), 0);
	assert_int_equal(ns, 7 * DAY + 12 * HOUR);
	assert_int_equal(cairn_duration_parse("1y6m", &ns), 0);
	assert_int_equal(ns, (365 + 180) * DAY);
	assert_int_equal(cairn_duration_parse("0h", &ns), 0);
	assert_int_equal(ns, 0);
}

static void test_duration__anything_else_is_refused(void **state)
{
	const char *bad[] = {"", "7", "d", "7w", "1d2", "-1d", "1.5d", "99999999999999y", "300y"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ns = 42;
		assert_int_equal(cairn_duration_parse(bad[i], &ns), CAIRN_EINVAL);
		assert_int_equal(ns, 42);
	}
	assert_int_equal(cairn_duration_parse(NULL, &(int64_t){0}), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "duration"));
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retention__keep_last_keeps_the_newest),
	    cmocka_unit_test(test_retention__daily_keeps_each_days_newest),
	    cmocka_unit_test(test_retention__unlimited_keeps_one_per_bucket_forever),
	    cmocka_unit_test(test_retention__weeks_are_iso_weeks_across_new_year),
	    cmocka_unit_test(test_retention__hourly_and_monthly_combine),
	    cmocka_unit_test(test_retention__within_counts_from_the_newest_snapshot),
	    cmocka_unit_test(test_retention__keep_tag_needs_every_tag_of_a_list),
	    cmocka_unit_test(test_retention__equal_times_keep_one_of_them),
	    cmocka_unit_test(test_retention__a_count_below_minus_one_is_refused),
	    cmocka_unit_test(test_retention__a_policy_without_rules_is_empty),
	    cmocka_unit_test(test_retention__every_reason_has_words),
	    cmocka_unit_test(test_retention__tags_contain_all),
	    cmocka_unit_test(test_duration__units_add_up),
	    cmocka_unit_test(test_duration__anything_else_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Choosing snapshots and planning what forget removes: filters, groups,
 * and a policy applied group by group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/forget.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY (24 * 3600LL * 1000000000LL)

/* A snapshot with the given host, paths and tags ("" for none; lists are
 * comma-separated), on day `day`. */
static void make(cairn_snapshot *s, uint8_t id, const char *host, const char *paths,
                 const char *tags, int day)
{
	memset(s, 0, sizeof(*s));
	s->id[0] = id;
	s->time_ns = 1700000000LL * 1000000000LL + day * DAY;
	s->host = strdup(host);
	const char *lists[2] = {paths, tags};
	for (int k = 0; k < 2; k++) {
		char **v = calloc(8, sizeof(*v));
		size_t n = 0;
		char *copy = strdup(lists[k]), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			v[n++] = strdup(t);
		free(copy);
		if (k == 0) {
			s->paths = v;
			s->n_paths = n;
		} else {
			s->tags = v;
			s->n_tags = n;
		}
	}
}

static void clear_all(cairn_snapshot *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cairn_snapshot_clear(&s[i]);
}

static void test_select__an_empty_filter_passes_everything(void **state)
{
	cairn_snapshot s;
	make(&s, 1, "a", "/x", "", 0);
	cairn_snapshot_filter f = {0};
	assert_true(cairn_snapshot_filter_match(&f, &s));
	cairn_snapshot_clear(&s);
}

static void test_select__hosts_are_alternatives_tags_lists_need_all_paths_need_each(void **state)
{
	cairn_snapshot s;
	make(&s, 1, "web", "/etc,/srv", "nightly,db", 0);
	const char *hosts[] = {"db", "web"}, *other[] = {"db"};
	const char *both[] = {"db,nightly"}, *alt[] = {"weekly", "db"}, *miss[] = {"db,weekly"};
	const char *paths[] = {"/srv", "/etc"}, *too_many[] = {"/srv", "/home"};
	assert_true(cairn_snapshot_filter_match(
	    &(cairn_snapshot_filter){.hosts = hosts, .n_hosts = 2}, &s));
	assert_false(cairn_snapshot_filter_match(
	    &(cairn_snapshot_filter){.hosts = other, .n_hosts = 1}, &s));
	assert_true(
	    cairn_snapshot_filter_match(&(cairn_snapshot_filter){.tags = both, .n_tags = 1}, &s));
	assert_true(
	    cairn_snapshot_filter_match(&(cairn_snapshot_filter){.tags = alt, .n_tags = 2}, &s));
	assert_false(
	    cairn_snapshot_filter_match(&(cairn_snapshot_filter){.tags = miss, .n_tags = 1}, &s));
	assert_true(cairn_snapshot_filter_match(
	    &(cairn_snapshot_filter){.paths = paths, .n_paths = 2}, &s));
	assert_false(cairn_snapshot_filter_match(
	    &(cairn_snapshot_filter){.paths = too_many, .n_paths = 2}, &s));
	cairn_snapshot_clear(&s);
}

static void test_select__group_by_parses_words_and_refuses_others(void **state)
{
	unsigned g = 99;
	assert_int_equal(cairn_group_by_parse("host,paths", &g), 0);
	assert_int_equal(g, CAIRN_GROUP_BY_HOST | CAIRN_GROUP_BY_PATHS);
	assert_int_equal(cairn_group_by_parse("tags", &g), 0);
	assert_int_equal(g, CAIRN_GROUP_BY_TAGS);
	assert_int_equal(cairn_group_by_parse("", &g), 0);
	assert_int_equal(g, 0);
	assert_int_equal(cairn_group_by_parse("host,user", &g), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "\"user\""));
}

static void test_select__group_keys_treat_paths_and_tags_as_sets(void **state)
{
	cairn_snapshot s[3];
	cairn_buf k0 = CAIRN_BUF_INIT, k1 = CAIRN_BUF_INIT, k2 = CAIRN_BUF_INIT;
	make(&s[0], 1, "h", "/a,/b", "x,y", 0);
	make(&s[1], 2, "h", "/b,/a", "y,x", 1);
	make(&s[2], 3, "h", "/a/b", "", 2); /* not "/a" + "/b" */
	unsigned all = CAIRN_GROUP_BY_HOST | CAIRN_GROUP_BY_PATHS | CAIRN_GROUP_BY_TAGS;
	assert_int_equal(cairn_snapshot_group_key(&k0, &s[0], all), 0);
	assert_int_equal(cairn_snapshot_group_key(&k1, &s[1], all), 0);
	assert_int_equal(cairn_snapshot_group_key(&k2, &s[2], all), 0);
	assert_int_equal(k0.len, k1.len);
	assert_memory_equal(k0.data, k1.data, k0.len);
	assert_true(k0.len != k2.len || memcmp(k0.data, k2.data, k0.len) != 0);
	cairn_buf_free(&k0);
	cairn_buf_free(&k1);
	cairn_buf_free(&k2);
	clear_all(s, 3);
}

static unsigned reasons_of(const cairn_forget_plan *plan, uint8_t id)
{
	for (size_t g = 0; g < plan->n_groups; g++)
		for (size_t i = 0; i < plan->groups[g].n; i++)
			if (plan->groups[g].entries[i].snap->id[0] == id)
				return plan->groups[g].entries[i].reasons;
	fail_msg("snapshot %u is in no group", id);
	return 0;
}

static void test_forget__the_policy_applies_to_each_host_and_paths_group(void **state)
{
	/* oldest first, as cairn_snapshot_list gives them */
	cairn_snapshot s[6];
	make(&s[0], 1, "a", "/x", "", 0);
	make(&s[1], 2, "b", "/x", "", 1);
	make(&s[2], 3, "a", "/x", "", 2);
	make(&s[3], 4, "a", "/y", "", 3);
	make(&s[4], 5, "b", "/x", "", 4);
	make(&s[5], 6, "a", "/x", "", 5);
	cairn_snapshot_filter f = {0};
	cairn_retention_policy p = {.last = 1};
	cairn_forget_plan plan;
	assert_int_equal(cairn_forget_plan_make(&plan, s, 6, &f, CAIRN_GROUP_BY_DEFAULT, &p), 0);
	assert_int_equal(plan.n_groups, 3);
	/* groups in the order of their newest snapshots: a:/x, b:/x, a:/y */
	assert_int_equal(plan.groups[0].entries[0].snap->id[0], 6);
	assert_int_equal(plan.groups[1].entries[0].snap->id[0], 5);
	assert_int_equal(plan.groups[2].entries[0].snap->id[0], 4);
	assert_int_equal(plan.groups[0].n, 3);
	assert_int_equal(reasons_of(&plan, 6), CAIRN_KEEP_LAST);
	assert_int_equal(reasons_of(&plan, 3), 0);
	assert_int_equal(reasons_of(&plan, 1), 0);
	assert_int_equal(reasons_of(&plan, 5), CAIRN_KEEP_LAST);
	assert_int_equal(reasons_of(&plan, 2), 0);
	assert_int_equal(reasons_of(&plan, 4), CAIRN_KEEP_LAST);
	assert_int_equal(plan.n_keep, 3);
	assert_int_equal(plan.n_remove, 3);
	cairn_forget_plan_free(&plan);

	/* one group of everything */
	assert_int_equal(cairn_forget_plan_make(&plan, s, 6, &f, 0, &p), 0);
	assert_int_equal(plan.n_groups, 1);
	assert_int_equal(plan.n_keep, 1);
	assert_int_equal(reasons_of(&plan, 6), CAIRN_KEEP_LAST);
	cairn_forget_plan_free(&plan);
	clear_all(s, 6);
}

static void test_forget__snapshots_outside_the_filter_are_untouched(void **state)
{
	cairn_snapshot s[3];
	make(&s[0], 1, "a", "/x", "", 0);
	make(&s[1], 2, "b", "/x", "", 1);
	make(&s[2], 3, "a", "/x", "", 2);
	const char *host[] = {"a"};
	cairn_snapshot_filter f = {.hosts = host, .n_hosts = 1};
	cairn_retention_policy p = {.last = 1};
	cairn_forget_plan plan;
	assert_int_equal(cairn_forget_plan_make(&plan, s, 3, &f, CAIRN_GROUP_BY_DEFAULT, &p), 0);
	assert_int_equal(plan.n_groups, 1);
	assert_int_equal(plan.groups[0].n, 2);
	assert_int_equal(plan.n_remove, 1);
	assert_int_equal(reasons_of(&plan, 1), 0);
	cairn_forget_plan_free(&plan);
	clear_all(s, 3);
}

static void test_forget__keep_tag_and_last_together(void **state)
{
	cairn_snapshot s[4];
	make(&s[0], 1, "a", "/x", "keep", 0);
	make(&s[1], 2, "a", "/x", "", 1);
	make(&s[2], 3, "a", "/x", "", 2);
	make(&s[3], 4, "a", "/x", "", 3);
	const char *keep[] = {"keep"};
	cairn_snapshot_filter f = {0};
	cairn_retention_policy p = {.last = 2, .keep_tags = keep, .n_keep_tags = 1};
	cairn_forget_plan plan;
	assert_int_equal(cairn_forget_plan_make(&plan, s, 4, &f, CAIRN_GROUP_BY_DEFAULT, &p), 0);
	assert_int_equal(reasons_of(&plan, 1), CAIRN_KEEP_TAG);
	assert_int_equal(reasons_of(&plan, 2), 0);
	assert_int_equal(reasons_of(&plan, 3), CAIRN_KEEP_LAST);
	assert_int_equal(reasons_of(&plan, 4), CAIRN_KEEP_LAST);
	cairn_forget_plan_free(&plan);
	clear_all(s, 4);
}

static void test_forget__a_policy_without_rules_is_refused(void **state)
{
	cairn_snapshot s[1];
	make(&s[0], 1, "a", "/x", "", 0);
	cairn_snapshot_filter f = {0};
	cairn_retention_policy p = {0};
	cairn_forget_plan plan;
	assert_int_equal(cairn_forget_plan_make(&plan, s, 1, &f, CAIRN_GROUP_BY_DEFAULT, &p),
	                 CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "no policy"));
	assert_int_equal(plan.n_groups, 0);
	clear_all(s, 1);
}

static void test_forget__no_snapshots_make_an_empty_plan(void **state)
{
	cairn_snapshot_filter f = {0};
	cairn_retention_policy p = {.daily = 7};
	cairn_forget_plan plan;
	assert_int_equal(cairn_forget_plan_make(&plan, NULL, 0, &f, CAIRN_GROUP_BY_DEFAULT, &p), 0);
	assert_int_equal(plan.n_groups, 0);
	assert_int_equal(plan.n_keep + plan.n_remove, 0);
	cairn_forget_plan_free(&plan);
}

static void test_select__describe_names_every_part(void **state)
{
	const char *hosts[] = {"a", "b"}, *tags[] = {"x,y", "z"}, *paths[] = {"/p", "/q"};
	cairn_snapshot_filter f = {hosts, 2, tags, 2, paths, 2};
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_snapshot_filter_describe(&b, &f), 0);
	assert_string_equal((const char *)b.data,
	                    "of host a or b tagged x,y or z with paths /p and /q");
	cairn_buf_clear(&b);
	assert_int_equal(cairn_buf_append_str(&b, "no snapshot "), 0);
	cairn_snapshot_filter one = {.paths = paths, .n_paths = 1};
	assert_int_equal(cairn_snapshot_filter_describe(&b, &one), 0);
	assert_string_equal((const char *)b.data, "no snapshot with path /p");
	cairn_buf_clear(&b);
	cairn_snapshot_filter tagged = {.tags = tags + 1, .n_tags = 1};
	assert_int_equal(cairn_snapshot_filter_describe(&b, &tagged), 0);
	assert_string_equal((const char *)b.data, "tagged z");
	cairn_buf_clear(&b);
	assert_int_equal(cairn_snapshot_filter_describe(&b, &(cairn_snapshot_filter){0}), 0);
	assert_int_equal(b.len, 0);
	cairn_buf_free(&b);
}

static void test_select__empty_means_no_part(void **state)
{
	const char *tags[] = {"x"};
	assert_true(cairn_snapshot_filter_empty(NULL));
	assert_true(cairn_snapshot_filter_empty(&(cairn_snapshot_filter){0}));
	assert_false(
	    cairn_snapshot_filter_empty(&(cairn_snapshot_filter){.tags = tags, .n_tags = 1}));
}

static void test_select__latest_is_the_newest_that_passes(void **state)
{
	cairn_snapshot s[3];
	make(&s[0], 1, "h1", "/a", "x,y", 0);
	make(&s[1], 2, "h2", "/a", "x", 1);
	make(&s[2], 3, "h1", "/b", "z", 2);
	const char *h2[] = {"h2"}, *nope[] = {"nope"}, *both[] = {"y,x"}, *a[] = {"/a"};
	assert_int_equal(cairn_snapshot_filter_latest(s, 3, NULL), 2);
	assert_int_equal(cairn_snapshot_filter_latest(s, 3, &(cairn_snapshot_filter){0}), 2);
	assert_int_equal(
	    cairn_snapshot_filter_latest(s, 3, &(cairn_snapshot_filter){.hosts = h2, .n_hosts = 1}),
	    1);
	assert_int_equal(
	    cairn_snapshot_filter_latest(s, 3, &(cairn_snapshot_filter){.tags = both, .n_tags = 1}),
	    0);
	assert_int_equal(
	    cairn_snapshot_filter_latest(s, 3, &(cairn_snapshot_filter){.paths = a, .n_paths = 1}),
	    1);
	assert_int_equal(cairn_snapshot_filter_latest(
	                     s, 3, &(cairn_snapshot_filter){.hosts = nope, .n_hosts = 1}),
	                 3);
	assert_int_equal(cairn_snapshot_filter_latest(s, 0, NULL), 0);
	clear_all(s, 3);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_select__an_empty_filter_passes_everything),
	    cmocka_unit_test(
	        test_select__hosts_are_alternatives_tags_lists_need_all_paths_need_each),
	    cmocka_unit_test(test_select__group_by_parses_words_and_refuses_others),
	    cmocka_unit_test(test_select__group_keys_treat_paths_and_tags_as_sets),
	    cmocka_unit_test(test_select__describe_names_every_part),
	    cmocka_unit_test(test_select__empty_means_no_part),
	    cmocka_unit_test(test_select__latest_is_the_newest_that_passes),
	    cmocka_unit_test(test_forget__the_policy_applies_to_each_host_and_paths_group),
	    cmocka_unit_test(test_forget__snapshots_outside_the_filter_are_untouched),
	    cmocka_unit_test(test_forget__keep_tag_and_last_together),
	    cmocka_unit_test(test_forget__a_policy_without_rules_is_refused),
	    cmocka_unit_test(test_forget__no_snapshots_make_an_empty_plan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

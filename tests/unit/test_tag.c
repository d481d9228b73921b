/* The tags of a snapshot after `cairn tag` (cairn_tags_apply). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/tag.h"

#include <stdio.h>
#include <string.h>

/* Applies c to the tags in `have` (comma-separated, "" none) and checks
 * the result (comma-separated) and whether it changed. */
static void expect(const cairn_tag_change *c, const char *have, const char *want, int changed)
{
	char buf[256], *tags[16], **out = NULL, got[256] = "";
	size_t n = 0, n_out = 0;
	int ch = -1;
	snprintf(buf, sizeof(buf), "%s", have);
	for (char *t = strtok(buf, ","); t; t = strtok(NULL, ","))
		tags[n++] = t;
	assert_int_equal(cairn_tags_apply(c, tags, n, &out, &n_out, &ch), 0);
	for (size_t i = 0; i < n_out; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "," : "",
		         out[i]);
	assert_string_equal(got, want);
	assert_int_equal(ch, changed);
	cairn_tags_free(out, n_out);
}

static void test_tag__add_and_remove(void **state)
{
	(void)state;
	const char *add[] = {"x", "a"}, *remove[] = {"b", "nothere"};
	cairn_tag_change c = {.add = add, .n_add = 2};
	expect(&c, "a,b", "a,b,x", 1);
	expect(&c, "", "x,a", 1);
	expect(&c, "x,a", "x,a", 0);
	cairn_tag_change r = {.remove = remove, .n_remove = 2};
	expect(&r, "a,b,c", "a,c", 1);
	expect(&r, "a", "a", 0);
	expect(&r, "b", "", 1);
	/* Both: removing first, then adding, so a tag both removed and
	 * added stays. */
	const char *both_add[] = {"b"};
	cairn_tag_change both = {.add = both_add, .n_add = 1, .remove = remove, .n_remove = 1};
	expect(&both, "a,b", "a,b", 0);
}

static void test_tag__set(void **state)
{
	(void)state;
	const char *set[] = {"y", "z", "y"};
	cairn_tag_change c = {.set = set, .n_set = 3, .has_set = 1};
	expect(&c, "a,b", "y,z", 1);
	expect(&c, "z,y", "y,z", 0); /* the same set in another order */
	cairn_tag_change none = {.has_set = 1};
	expect(&none, "a,b", "", 1);
	expect(&none, "", "", 0);
}

static void test_tag__bad_changes(void **state)
{
	(void)state;
	const char *set[] = {"y"}, *add[] = {"x"}, *empty[] = {""};
	char *tags[] = {"a"}, **out = (char **)1;
	size_t n = 7;
	int ch = 1;
	cairn_tag_change c = {.set = set, .n_set = 1, .has_set = 1, .add = add, .n_add = 1};
	assert_int_equal(cairn_tags_apply(&c, tags, 1, &out, &n, &ch), CAIRN_EINVAL);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_int_equal(ch, 0);
	cairn_tag_change e = {.add = empty, .n_add = 1};
	assert_int_equal(cairn_tags_apply(&e, tags, 1, &out, &n, &ch), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "empty tag"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tag__add_and_remove),
	    cmocka_unit_test(test_tag__set),
	    cmocka_unit_test(test_tag__bad_changes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

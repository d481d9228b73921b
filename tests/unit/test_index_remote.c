/* The remote index backend's checks of its arguments, which need no
 * server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/sys/index.h"

#include <string.h>

static void test_index_remote__open_checks_url_and_token_without_connecting(void **state)
{
	uint8_t id[32] = {1};
	cairn_index *ix = (cairn_index *)1;
	assert_int_equal(cairn_index_remote_open(&ix, "ftp://host:1", "t", id, NULL), CAIRN_EINVAL);
	assert_null(ix);
	assert_int_equal(cairn_index_remote_open(&ix, "http://", "t", id, NULL), CAIRN_EINVAL);
	assert_int_equal(cairn_index_remote_open(&ix, "http://h:1/a b", "t", id, NULL),
	                 CAIRN_EINVAL);
	assert_int_equal(cairn_index_remote_open(&ix, "http://h:1?x=1", "t", id, NULL),
	                 CAIRN_EINVAL);
	assert_int_equal(cairn_index_remote_open(&ix, NULL, "t", id, NULL), CAIRN_EINVAL);
	assert_int_equal(cairn_index_remote_open(&ix, "http://h:1", NULL, id, NULL), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_error_last(), "needs a token"));
	assert_int_equal(cairn_index_remote_open(&ix, "http://h:1", "", id, NULL), CAIRN_EINVAL);
	/* A token with a line break could forge a header. */
	assert_int_equal(cairn_index_remote_open(&ix, "http://h:1", "abc\r\nX: y", id, NULL),
	                 CAIRN_EINVAL);
	assert_null(ix);

	/* Nothing listens on port 1: opening must still succeed. */
	assert_int_equal(
	    cairn_index_remote_open(&ix, "http://127.0.0.1:1/prefix/", "tok", id, "/nonexistent"),
	    0);
	assert_non_null(ix);
	assert_string_equal(ix->ops->name, "remote");
	assert_non_null(ix->ops->snapshot_add);
	assert_non_null(ix->ops->snapshot_list);
	assert_non_null(ix->ops->snapshot_remove);
	cairn_index_free(ix);
	assert_int_equal(cairn_index_remote_open(&ix, "https://[::1]:8420", "tok", id, NULL), 0);
	cairn_index_free(ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_index_remote__open_checks_url_and_token_without_connecting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

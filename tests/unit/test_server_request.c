/* What cairn-server reads from a request before it touches a socket or a
 * database: the route, the bearer token, the Content-Length, and the
 * shape of ids and tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server.h"

#include "cairn/wire.h"

#include <string.h>

#define REPO "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define OBJ "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static enum srv_match match(const char *method, const char *url, const srv_route_spec **r,
                            char *repo, char *arg, char *allow)
{
	return srv_route_match(method, url, r, repo, arg, allow, 64);
}

static void test_server_request__matches_each_route_with_its_method(void **state)
{
	static const struct {
		const char *method, *suffix;
		int route;
	} cases[] = {
	    {"POST", "/lookup", SRV_ROUTE_LOOKUP},
	    {"POST", "/register", SRV_ROUTE_REGISTER},
	    {"GET", "/bloom", SRV_ROUTE_BLOOM},
	    {"GET", "/snapshots", SRV_ROUTE_SNAPSHOTS_LIST},
	    {"POST", "/snapshots", SRV_ROUTE_SNAPSHOTS_ADD},
	    {"DELETE", "/snapshots/" OBJ, SRV_ROUTE_SNAPSHOT_DELETE},
	    {"GET", "/objects/" OBJ, SRV_ROUTE_OBJECT_GET},
	    {"PUT", "/objects/" OBJ, SRV_ROUTE_OBJECT_PUT},
	    {"GET", "/stats", SRV_ROUTE_STATS},
	    {"DELETE", "/index", SRV_ROUTE_INDEX_CLEAR},
	    {"POST", "/scan", SRV_ROUTE_SCAN},
	    {"POST", "/drop-packs", SRV_ROUTE_DROP_PACKS},
	    {"POST", "/rows", SRV_ROUTE_ROWS},
	    {"POST", "/reject", SRV_ROUTE_REJECT},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char url[256], repo[65], arg[65] = "", allow[64];
		const srv_route_spec *r = NULL;
		snprintf(url, sizeof(url), "/v2/repos/" REPO "%s", cases[i].suffix);
		assert_int_equal(match(cases[i].method, url, &r, repo, arg, allow), SRV_MATCH_OK);
		assert_non_null(r);
		assert_int_equal(r->id, cases[i].route);
		assert_string_equal(repo, REPO);
		if (r->has_arg)
			assert_string_equal(arg, OBJ);
	}
}

static void test_server_request__routes_need_the_scope_of_what_they_change(void **state)
{
	static const struct {
		const char *method, *suffix;
		int scope;
	} cases[] = {
	    {"POST", "/lookup", SRV_SCOPE_READ},
	    {"POST", "/register", SRV_SCOPE_APPEND},
	    {"DELETE", "/index", SRV_SCOPE_ADMIN},
	    /* Reading the whole index is prune's, like dropping from it. */
	    {"POST", "/scan", SRV_SCOPE_ADMIN},
	    {"POST", "/drop-packs", SRV_SCOPE_ADMIN},
	    {"POST", "/rows", SRV_SCOPE_READ},
	    /* It changes which row lookups offer: a writer's word. */
	    {"POST", "/reject", SRV_SCOPE_APPEND},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char url[256], repo[65], arg[65], allow[64];
		const srv_route_spec *r = NULL;
		snprintf(url, sizeof(url), "/v2/repos/" REPO "%s", cases[i].suffix);
		assert_int_equal(match(cases[i].method, url, &r, repo, arg, allow), SRV_MATCH_OK);
		assert_int_equal(r->scope, cases[i].scope);
	}
}

static void test_server_request__only_drop_packs_takes_a_body_over_1_mib(void **state)
{
	char repo[65], arg[65], allow[64];
	const srv_route_spec *r;
	assert_int_equal(match("POST", "/v2/repos/" REPO "/drop-packs", &r, repo, arg, allow),
	                 SRV_MATCH_OK);
	assert_int_equal(srv_route_body_max(r), CAIRN_WIRE_DROP_MAX * 32);
	static const char *others[] = {"/lookup", "/register", "/scan", "/snapshots"};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		char url[256];
		snprintf(url, sizeof(url), "/v2/repos/" REPO "%s", others[i]);
		assert_int_equal(match("POST", url, &r, repo, arg, allow), SRV_MATCH_OK);
		assert_int_equal(srv_route_body_max(r), CAIRN_WIRE_BODY_MAX);
	}
	assert_int_equal(srv_route_body_max(NULL), CAIRN_WIRE_BODY_MAX);
}

static void test_server_request__a_known_path_with_another_method_lists_the_allowed(void **state)
{
	char repo[65], arg[65], allow[64];
	const srv_route_spec *r = NULL;
	assert_int_equal(match("GET", "/v2/repos/" REPO "/lookup", &r, repo, arg, allow),
	                 SRV_MATCH_METHOD);
	assert_string_equal(allow, "POST");
	assert_int_equal(match("PUT", "/v2/repos/" REPO "/snapshots", &r, repo, arg, allow),
	                 SRV_MATCH_METHOD);
	assert_string_equal(allow, "GET, POST");
}

static void test_server_request__malformed_ids_are_told_apart(void **state)
{
	char repo[65], arg[65], allow[64];
	const srv_route_spec *r = NULL;
	/* upper case, short, and an object id that is not hex */
	assert_int_equal(match("POST",
	                       "/v2/repos/0123456789ABCDEF0123456789abcdef0123456789abcdef012345"
	                       "6789abcdef/lookup",
	                       &r, repo, arg, allow),
	                 SRV_MATCH_BAD_ID);
	assert_int_equal(match("POST", "/v2/repos/0123/lookup", &r, repo, arg, allow),
	                 SRV_MATCH_BAD_ID);
	assert_int_equal(match("GET", "/v2/repos/" REPO "/objects/xyz", &r, repo, arg, allow),
	                 SRV_MATCH_BAD_ID);
}

static void test_server_request__unknown_paths_match_nothing(void **state)
{
	char repo[65], arg[65], allow[64];
	const srv_route_spec *r = NULL;
	static const char *urls[] = {
	    "/",
	    "/v2/repos/",
	    "/v2/repos/" REPO,
	    "/v2/repos/" REPO "/nothing",
	    "/v2/repos/" REPO "/lookup/extra",
	    "/v1/repos/" REPO "/lookup",
	    "/v2/repos/" REPO "/objects",
	};
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		assert_int_equal(match("POST", urls[i], &r, repo, arg, allow), SRV_MATCH_NONE);
}

static void test_server_request__takes_the_bearer_token_of_the_header(void **state)
{
	assert_string_equal(srv_bearer_token("Bearer abc"), "abc");
	assert_string_equal(srv_bearer_token("bearer   abc"), "abc");
	assert_null(srv_bearer_token(NULL));
	assert_null(srv_bearer_token("Basic abc"));
	assert_null(srv_bearer_token("Bearer "));
	assert_null(srv_bearer_token("Bearer    "));
	assert_null(srv_bearer_token("Bearerabc"));
}

static void test_server_request__parses_only_a_plain_decimal_content_length(void **state)
{
	unsigned long long n = 7;
	assert_int_equal(srv_content_length_parse("0", &n), 0);
	assert_true(n == 0);
	assert_int_equal(srv_content_length_parse("1048576", &n), 0);
	assert_true(n == 1048576);
	assert_int_equal(srv_content_length_parse("", &n), -1);
	assert_int_equal(srv_content_length_parse("12a", &n), -1);
	assert_int_equal(srv_content_length_parse("99999999999999999999999", &n), -1);
}

static void test_server_request__recognises_well_formed_tokens_only(void **state)
{
	char token[SRV_TOKEN_LEN + 2], id[SRV_TOKEN_ID_HEX + 1];
	snprintf(token, sizeof(token), "cairn_%s_%s", "0011223344556677", REPO);
	assert_int_equal(srv_token_id(token, id), 0);
	assert_string_equal(id, "0011223344556677");
	token[6] = 'G';
	assert_int_equal(srv_token_id(token, id), -1);
	snprintf(token, sizeof(token), "cairn_%s-%s", "0011223344556677", REPO);
	assert_int_equal(srv_token_id(token, id), -1);
	snprintf(token, sizeof(token), "nairc_%s_%s", "0011223344556677", REPO);
	assert_int_equal(srv_token_id(token, id), -1);
	assert_int_equal(srv_token_id("cairn_0011223344556677_00", id), -1);
	assert_int_equal(srv_repo_id_valid(REPO), 1);
	assert_int_equal(srv_repo_id_valid(REPO "0"), 0);
	assert_int_equal(srv_repo_id_valid(""), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_server_request__matches_each_route_with_its_method),
	    cmocka_unit_test(test_server_request__routes_need_the_scope_of_what_they_change),
	    cmocka_unit_test(test_server_request__only_drop_packs_takes_a_body_over_1_mib),
	    cmocka_unit_test(
	        test_server_request__a_known_path_with_another_method_lists_the_allowed),
	    cmocka_unit_test(test_server_request__malformed_ids_are_told_apart),
	    cmocka_unit_test(test_server_request__unknown_paths_match_nothing),
	    cmocka_unit_test(test_server_request__takes_the_bearer_token_of_the_header),
	    cmocka_unit_test(test_server_request__parses_only_a_plain_decimal_content_length),
	    cmocka_unit_test(test_server_request__recognises_well_formed_tokens_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

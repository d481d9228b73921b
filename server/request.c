/* What a request says, decided without a socket: which route a method and
 * URL name, the bearer token of an Authorization header, a Content-Length,
 * and the shape of ids and tokens. http.c feeds it what libmicrohttpd
 * reads; the unit tests feed it strings. */
#include "server.h"

#include "cairn/wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const srv_route_spec routes[] = {
    {SRV_ROUTE_LOOKUP, "POST", "/lookup", 0, SRV_SCOPE_READ},
    {SRV_ROUTE_REGISTER, "POST", "/register", 0, SRV_SCOPE_APPEND},
    {SRV_ROUTE_BLOOM, "GET", "/bloom", 0, SRV_SCOPE_READ},
    {SRV_ROUTE_SNAPSHOTS_LIST, "GET", "/snapshots", 0, SRV_SCOPE_READ},
    {SRV_ROUTE_SNAPSHOTS_ADD, "POST", "/snapshots", 0, SRV_SCOPE_APPEND},
    {SRV_ROUTE_SNAPSHOT_DELETE, "DELETE", "/snapshots", 1, SRV_SCOPE_ADMIN},
    {SRV_ROUTE_OBJECT_GET, "GET", "/objects", 1, SRV_SCOPE_READ},
    {SRV_ROUTE_OBJECT_PUT, "PUT", "/objects", 1, SRV_SCOPE_APPEND},
    {SRV_ROUTE_STATS, "GET", "/stats", 0, SRV_SCOPE_READ},
    {SRV_ROUTE_INDEX_CLEAR, "DELETE", "/index", 0, SRV_SCOPE_ADMIN},
    {SRV_ROUTE_SCAN, "POST", "/scan", 0, SRV_SCOPE_ADMIN},
    {SRV_ROUTE_DROP_PACKS, "POST", "/drop-packs", 0, SRV_SCOPE_ADMIN, CAIRN_WIRE_DROP_BODY_MAX},
    {SRV_ROUTE_ROWS, "POST", "/rows", 0, SRV_SCOPE_READ,
     CAIRN_WIRE_ROWS_FPS_MAX *CAIRN_WIRE_FP_SIZE},
    {SRV_ROUTE_REJECT, "POST", "/reject", 0, SRV_SCOPE_APPEND},
    {SRV_ROUTE_PRESENCE, "POST", "/presence", 0, SRV_SCOPE_READ},
    {SRV_ROUTE_SNAPSHOT_ADD_HOST, "POST", "/snapshots", 1, SRV_SCOPE_APPEND, CAIRN_WIRE_HOST_MAX},
    {SRV_ROUTE_FRESHNESS, "GET", "/freshness", 0, SRV_SCOPE_READ},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

size_t srv_route_body_max(const srv_route_spec *r)
{
	return r && r->body_max ? r->body_max : CAIRN_WIRE_BODY_MAX;
}

int srv_is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int srv_id_valid(const char *s, size_t n)
{
	return n == SRV_REPO_HEX && srv_is_lower_hex(s, n);
}

int srv_repo_id_valid(const char *s)
{
	return srv_id_valid(s, strlen(s));
}

int srv_token_id(const char *token, char id[SRV_TOKEN_ID_HEX + 1])
{
	size_t pl = sizeof(SRV_TOKEN_PREFIX) - 1;
	if (strlen(token) != SRV_TOKEN_LEN || strncmp(token, SRV_TOKEN_PREFIX, pl) != 0 ||
	    token[pl + SRV_TOKEN_ID_HEX] != '_' ||
	    !srv_is_lower_hex(token + pl, SRV_TOKEN_ID_HEX) ||
	    !srv_is_lower_hex(token + pl + SRV_TOKEN_ID_HEX + 1, 2 * SRV_TOKEN_SECRET_BYTES))
		return -1;
	memcpy(id, token + pl, SRV_TOKEN_ID_HEX);
	id[SRV_TOKEN_ID_HEX] = '\0';
	return 0;
}

enum srv_match srv_route_match(const char *method, const char *url, const srv_route_spec **out,
                               char repo[SRV_REPO_HEX + 1], char arg[SRV_REPO_HEX + 1], char *allow,
                               size_t allow_size)
{
	static const char prefix[] = CAIRN_WIRE_REPOS;
	size_t pl = sizeof(prefix) - 1;
	if (strncmp(url, prefix, pl) != 0)
		return SRV_MATCH_NONE;
	const char *id = url + pl;
	const char *slash = strchr(id, '/');
	if (!slash)
		return SRV_MATCH_NONE;
	const char *rest = slash;
	int path_found = 0, bad_id = !srv_id_valid(id, (size_t)(slash - id));
	allow[0] = '\0';
	for (size_t i = 0; i < N_ROUTES; i++) {
		const srv_route_spec *r = &routes[i];
		size_t sl = strlen(r->suffix);
		if (strncmp(rest, r->suffix, sl) != 0)
			continue;
		const char *tail = rest + sl;
		if (r->has_arg) {
			if (tail[0] != '/')
				continue;
			if (!srv_id_valid(tail + 1, strlen(tail + 1)))
				bad_id = 1;
		} else if (tail[0] != '\0') {
			continue;
		}
		path_found = 1;
		if (strcmp(method, r->method) != 0) {
			size_t n = strlen(allow);
			snprintf(allow + n, allow_size - n, "%s%s", n ? ", " : "", r->method);
			continue;
		}
		if (bad_id)
			return SRV_MATCH_BAD_ID;
		memcpy(repo, id, SRV_REPO_HEX);
		repo[SRV_REPO_HEX] = '\0';
		if (r->has_arg) {
			memcpy(arg, tail + 1, SRV_REPO_HEX);
			arg[SRV_REPO_HEX] = '\0';
		}
		*out = r;
		return SRV_MATCH_OK;
	}
	if (path_found && bad_id)
		return SRV_MATCH_BAD_ID;
	return path_found ? SRV_MATCH_METHOD : SRV_MATCH_NONE;
}

const char *srv_bearer_token(const char *authorization)
{
	const char *h = authorization;
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

int srv_content_length_parse(const char *s, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = n;
	return 0;
}

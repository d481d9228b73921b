/* What cairn-server reads of a request before any handler runs
 * (server/request.c): the method and URL matched against the routes, the
 * bearer token of an Authorization header and its id, and a
 * Content-Length. The input is those four strings, NUL-separated
 * (missing ones are empty). The bodies are fuzz_wire's. */
#include "server.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *buf = malloc(len + 1), *field[4];
	if (!buf)
		abort();
	memcpy(buf, data, len);
	buf[len] = '\0';
	char *p = buf, *end = buf + len;
	for (int i = 0; i < 4; i++) {
		field[i] = p;
		p += strlen(p);
		if (p < end)
			p++;
	}

	const srv_route_spec *r = NULL;
	char repo[SRV_REPO_HEX + 1], arg[SRV_REPO_HEX + 1], allow[64];
	if (srv_route_match(field[0], field[1], &r, repo, arg, allow, sizeof(allow)) ==
	    SRV_MATCH_OK) {
		if (!r || !srv_repo_id_valid(repo) || (r->has_arg && !srv_repo_id_valid(arg)) ||
		    srv_route_body_max(r) == 0)
			abort();
	}
	(void)srv_repo_id_valid(field[1]);

	const char *token = srv_bearer_token(field[2]);
	char id[SRV_TOKEN_ID_HEX + 1];
	if (token && srv_token_id(token, id) == 0 && strlen(id) != SRV_TOKEN_ID_HEX)
		abort();

	unsigned long long n;
	(void)srv_content_length_parse(field[3], &n);
	free(buf);
	return 0;
}

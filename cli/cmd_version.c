#include "cmd.h"
#include "common.h"
#include "output.h"

#include "cairn/errors.h"
#include "cairn/version.h"
#include "util/json.h"

#include <stdio.h>

static const struct option options[] = {
    {NULL, 0, NULL, 0},
};

/* The libraries as `cairn version` lists them: name, then JSON key. */
static const struct {
	enum cairn_dependency dep;
	const char *name;
	const char *key;
} dependencies[] = {
    {CAIRN_DEP_LIBSODIUM, "libsodium", "libsodium"}, {CAIRN_DEP_ZSTD, "zstd", "zstd"},
    {CAIRN_DEP_SQLITE, "SQLite", "sqlite"},          {CAIRN_DEP_LIBCRYPTO, "OpenSSL", "openssl"},
    {CAIRN_DEP_LIBCURL, "libcurl", "libcurl"},
};
#define N_DEPENDENCIES (sizeof(dependencies) / sizeof(dependencies[0]))

int cmd_version(cli_ctx *ctx, int argc, char **argv)
{
	int c;
	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		if (c == CLI_OPT_EXIT)
			return ctx->exit_code;
		return cli_usage_error(ctx, "unexpected option");
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	return cli_version_print(ctx);
}

int cli_version_print(cli_ctx *ctx)
{
	const char *versions[N_DEPENDENCIES];
	char missing[N_DEPENDENCIES][1100]; /* "not available: " and a message */
	int rc;

	/* libcrypto and libcurl are loaded only now, as by the commands that
	 * use them. */
	for (size_t i = 0; i < N_DEPENDENCIES; i++) {
		if (cairn_version_dependency(&versions[i], dependencies[i].dep) == 0)
			continue;
		snprintf(missing[i], sizeof(missing[i]), "not available: %s", cairn_error_last());
		versions[i] = missing[i];
	}
	if (!ctx->json) {
		printf("cairn %s\n", CAIRN_VERSION);
		for (size_t i = 0; i < N_DEPENDENCIES; i++)
			printf("  %-10s %s\n", dependencies[i].name, versions[i]);
		return CLI_EXIT_OK;
	}
	cairn_buf b = CAIRN_BUF_INIT;
	int first = 1;
	if ((rc = cairn_buf_append_u8(&b, '{')) || (rc = cairn_json_key(&b, &first, "version")) ||
	    (rc = cairn_json_string(&b, CAIRN_VERSION)))
		goto out;
	for (size_t i = 0; i < N_DEPENDENCIES && !rc; i++)
		if (!(rc = cairn_json_key(&b, &first, dependencies[i].key)))
			rc = cairn_json_string(&b, versions[i]);
	if (rc || (rc = cairn_buf_append_u8(&b, '}')))
		goto out;
	rc = cli_json_emit(&b);
out:
	cairn_buf_free(&b);
	return rc ? cli_fail(rc) : CLI_EXIT_OK;
}

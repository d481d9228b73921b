#include "cmd.h"
#include "common.h"
#include "output.h"

#include "cairn/cairn.h"
#include "net/curl_api.h"
#include "util/json.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <zstd.h>

static const struct option options[] = {
	{NULL, 0, NULL, 0},
};

int cmd_version(cli_ctx *ctx, int argc, char **argv)
{
	const char *names[] = {"libsodium", "zstd", "SQLite", "OpenSSL", "libcurl"};
	const char *keys[] = {"libsodium", "zstd", "sqlite", "openssl", "libcurl"};
	const char *versions[] = {
		sodium_version_string(),
		ZSTD_versionString(),
		sqlite3_libversion(),
		NULL, /* libcrypto's and libcurl's, loaded once the arguments are read */
		NULL,
	};
	size_t n = sizeof(names) / sizeof(names[0]);
	char missing[2][1100]; /* "not available: " and a message */
	int c, rc;

	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		if (c == CLI_OPT_EXIT)
			return ctx->exit_code;
		return cli_usage_error(ctx, "unexpected option");
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	/* Both are loaded only now, as by the commands that use them. */
	int (*const loaded_version[2])(const char **) = {cairn_fingerprint_libcrypto_version,
	                                                 cairn_curl_version};
	for (int i = 0; i < 2; i++) {
		const char **v = &versions[n - 2 + i];
		if (loaded_version[i](v) == 0)
			continue;
		snprintf(missing[i], sizeof(missing[i]), "not available: %s", cairn_error_last());
		*v = missing[i];
	}
	if (!ctx->json) {
		printf("cairn %s\n", CAIRN_VERSION);
		for (size_t i = 0; i < n; i++)
			printf("  %-10s %s\n", names[i], versions[i]);
		return CLI_EXIT_OK;
	}
	cairn_buf b = CAIRN_BUF_INIT;
	int first = 1;
	if ((rc = cairn_buf_append_u8(&b, '{')) || (rc = cairn_json_key(&b, &first, "version")) ||
	    (rc = cairn_json_string(&b, CAIRN_VERSION)))
		goto out;
	for (size_t i = 0; i < n && !rc; i++)
		if (!(rc = cairn_json_key(&b, &first, keys[i])))
			rc = cairn_json_string(&b, versions[i]);
	if (rc || (rc = cairn_buf_append_u8(&b, '}')))
		goto out;
	rc = cli_json_emit(&b);
out:
	cairn_buf_free(&b);
	return rc ? cli_fail(rc) : CLI_EXIT_OK;
}

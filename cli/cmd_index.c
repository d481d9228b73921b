#include "cmd.h"
#include "common.h"
#include "output.h"

#include "util/json.h"

#include <stdio.h>
#include <string.h>

static const struct option options[] = {
    {NULL, 0, NULL, 0},
};

static int rebuild(cli_ctx *ctx)
{
	cairn_repo *repo = NULL;
	uint64_t n = 0, snapshots = 0;
	int rc, status;

	if ((status = cli_repo_open(ctx, &repo)) != 0)
		return status;
	rc = cairn_repo_sync_index(repo, 1, &n);
	if (!rc)
		rc = cairn_snapshot_catalog_sync(repo, &snapshots);
	if (rc) {
		status = cli_fail(rc);
	} else if (ctx->json) {
		cairn_buf b = CAIRN_BUF_INIT;
		int first = 1;
		if ((rc = cairn_buf_append_u8(&b, '{')) ||
		    (rc = cairn_json_key(&b, &first, "imported")) ||
		    (rc = cairn_json_uint(&b, n)) ||
		    (rc = cairn_json_key(&b, &first, "snapshots_registered")) ||
		    (rc = cairn_json_uint(&b, snapshots)) || (rc = cairn_buf_append_u8(&b, '}')) ||
		    (rc = cli_json_emit(&b)))
			status = cli_fail(rc);
		cairn_buf_free(&b);
	} else if (!ctx->quiet) {
		printf("imported %llu index object%s\n", (unsigned long long)n, n == 1 ? "" : "s");
		if (snapshots)
			printf("registered %llu snapshot%s with the index server\n",
			       (unsigned long long)snapshots, snapshots == 1 ? "" : "s");
	}
	cairn_repo_free(repo);
	return status;
}

int cmd_index(cli_ctx *ctx, int argc, char **argv)
{
	int c;
	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		if (c == CLI_OPT_EXIT)
			return ctx->exit_code;
		return cli_usage_error(ctx, "unexpected option");
	}
	if (optind >= argc)
		return cli_usage_error(ctx, "which index command? (rebuild)");
	if (strcmp(argv[optind], "rebuild") != 0)
		return cli_usage_error(ctx, "unknown index command '%s'", argv[optind]);
	if (argc - optind > 1)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind + 1]);
	return rebuild(ctx);
}

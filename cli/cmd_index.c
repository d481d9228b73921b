#include "cmd.h"
#include "common.h"
#include "output.h"

#include "util/json.h"

#include <stdio.h>
#include <string.h>

static const struct option options[] = {
    {NULL, 0, NULL, 0},
};

static int print_json(const cairn_index_rebuild *res, uint64_t snapshots)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int first = 1, rc;
	if ((rc = cairn_buf_append_u8(&b, '{')) || (rc = cairn_json_key(&b, &first, "imported")) ||
	    (rc = cairn_json_uint(&b, res->objects)) ||
	    (rc = cairn_json_key(&b, &first, "objects_damaged")) ||
	    (rc = cairn_json_uint(&b, res->objects_damaged)) ||
	    (rc = cairn_json_key(&b, &first, "packs_from_trailers")) ||
	    (rc = cairn_json_uint(&b, res->packs_recovered)) ||
	    (rc = cairn_json_key(&b, &first, "blobs_from_trailers")) ||
	    (rc = cairn_json_uint(&b, res->blobs_recovered)) ||
	    (rc = cairn_json_key(&b, &first, "objects_written")) ||
	    (rc = cairn_json_uint(&b, res->objects_written)) ||
	    (rc = cairn_json_key(&b, &first, "packs_damaged")) ||
	    (rc = cairn_json_uint(&b, res->packs_damaged)) ||
	    (rc = cairn_json_key(&b, &first, "snapshots_registered")) ||
	    (rc = cairn_json_uint(&b, snapshots)) || (rc = cairn_buf_append_u8(&b, '}')))
		goto out;
	rc = cli_json_emit(&b);
out:
	cairn_buf_free(&b);
	return rc;
}

static void print_text(const cairn_index_rebuild *res, uint64_t snapshots)
{
	printf("imported %llu index object%s\n", (unsigned long long)res->objects,
	       res->objects == 1 ? "" : "s");
	printf("imported %llu pack%s by %s trailer%s", (unsigned long long)res->packs_recovered,
	       res->packs_recovered == 1 ? "" : "s", res->packs_recovered == 1 ? "its" : "their",
	       res->packs_recovered == 1 ? "" : "s");
	if (res->packs_recovered)
		printf(
		    " (%llu blob%s, now listed in %llu new index object%s)",
		    (unsigned long long)res->blobs_recovered, res->blobs_recovered == 1 ? "" : "s",
		    (unsigned long long)res->objects_written, res->objects_written == 1 ? "" : "s");
	putchar('\n');
	if (snapshots)
		printf("registered %llu snapshot%s with the index server\n",
		       (unsigned long long)snapshots, snapshots == 1 ? "" : "s");
}

static int rebuild(cli_ctx *ctx)
{
	cairn_repo *repo = NULL;
	cairn_index_rebuild res;
	uint64_t snapshots = 0;
	int rc, status;

	if ((status = cli_repo_open(ctx, &repo)) != 0)
		return status;
	rc = cairn_repo_rebuild_index(repo, cli_warn_cb, NULL, &res);
	if (!rc)
		rc = cairn_snapshot_catalog_sync(repo, &snapshots);
	if (!rc && ctx->json)
		rc = print_json(&res, snapshots);
	else if (!rc && !ctx->quiet)
		print_text(&res, snapshots);
	if (rc) {
		status = cli_fail(rc);
	} else if (res.packs_damaged) {
		/* Each was named above; the blobs only they hold stay unknown. */
		cli_error("%llu pack%s could not be read by %s trailer%s: %s blobs are not in the "
		          "index",
		          (unsigned long long)res.packs_damaged, res.packs_damaged == 1 ? "" : "s",
		          res.packs_damaged == 1 ? "its" : "their",
		          res.packs_damaged == 1 ? "" : "s",
		          res.packs_damaged == 1 ? "its" : "their");
		status = CLI_EXIT_PARTIAL;
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

#include "cmd.h"
#include "common.h"
#include "output.h"
#include "progress.h"

#include "cairn/errors.h"
#include "cairn/prune.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_MAX_UNUSED = CLI_OPT_OWN,
	OPT_DRY_RUN,
};

static const struct option options[] = {
    {"max-unused", required_argument, NULL, OPT_MAX_UNUSED},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {NULL, 0, NULL, 0},
};

#define PLURAL(n) ((n) == 1 ? "" : "s")

int cli_parse_max_unused(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end != s && *end == '%')
		end++;
	if (end == s || *end || !(v >= 0 && v <= 100))
		return -1;
	*out = v;
	return 0;
}

static void print_packs(const char *what, uint64_t packs, uint64_t bytes)
{
	char size[32];
	cli_size_format(size, sizeof(size), bytes);
	printf("%s %llu pack%s (%s)\n", what, (unsigned long long)packs, PLURAL(packs), size);
}

void cli_prune_print(const cairn_prune_result *res, int dry_run)
{
	char size[32];
	printf("%llu snapshot%s read, %llu pack%s in the repository\n",
	       (unsigned long long)res->snapshots, PLURAL(res->snapshots),
	       (unsigned long long)res->packs_total, PLURAL(res->packs_total));
	if (res->packs_repacked) {
		cli_size_format(size, sizeof(size), res->bytes_copied);
		printf("repacked %llu pack%s: %llu blob%s (%s) copied into new packs\n",
		       (unsigned long long)res->packs_repacked, PLURAL(res->packs_repacked),
		       (unsigned long long)res->blobs_copied, PLURAL(res->blobs_copied), size);
	}
	print_packs(dry_run ? "would condemn" : "condemned", res->packs_condemned,
	            res->bytes_condemned);
	print_packs(dry_run ? "would delete" : "deleted", res->packs_deleted, res->bytes_deleted);
	print_packs("kept", res->packs_kept, res->bytes_kept);
	if (res->bytes_unused_kept) {
		cli_size_format(size, sizeof(size), res->bytes_unused_kept);
		printf("about %s unused left in kept packs (under --max-unused)\n", size);
	}
	if (res->packs_reprieved)
		printf("%llu condemned pack%s kept: a new snapshot needs %s\n",
		       (unsigned long long)res->packs_reprieved, PLURAL(res->packs_reprieved),
		       res->packs_reprieved == 1 ? "it" : "them");
	if (res->temp_deleted)
		printf("removed %llu leftover%s of interrupted writes\n",
		       (unsigned long long)res->temp_deleted, PLURAL(res->temp_deleted));
	if (res->waiting_generation)
		printf("plan %llu waits for %llu backup%s that %s running when it was made: "
		       "its space returns when prune runs after they end\n",
		       (unsigned long long)res->waiting_generation,
		       (unsigned long long)res->backups_waited, PLURAL(res->backups_waited),
		       res->backups_waited == 1 ? "was" : "were");
}

int cli_prune_json(cairn_buf *b, const cairn_prune_result *res, int dry_run)
{
	int first = 1, rc;
	if ((rc = cairn_buf_append_u8(b, '{')) || (rc = cairn_json_key(b, &first, "dry_run")) ||
	    (rc = cli_json_bool(b, dry_run)) ||
	    (rc = cli_json_count(b, &first, "snapshots", res->snapshots)) ||
	    (rc = cli_json_count(b, &first, "packs_total", res->packs_total)) ||
	    (rc = cli_json_count(b, &first, "bytes_total", res->bytes_total)) ||
	    (rc = cli_json_count(b, &first, "packs_deleted", res->packs_deleted)) ||
	    (rc = cli_json_count(b, &first, "bytes_deleted", res->bytes_deleted)) ||
	    (rc = cli_json_count(b, &first, "packs_repacked", res->packs_repacked)) ||
	    (rc = cli_json_count(b, &first, "bytes_repacked", res->bytes_repacked)) ||
	    (rc = cli_json_count(b, &first, "blobs_copied", res->blobs_copied)) ||
	    (rc = cli_json_count(b, &first, "bytes_copied", res->bytes_copied)) ||
	    (rc = cli_json_count(b, &first, "packs_condemned", res->packs_condemned)) ||
	    (rc = cli_json_count(b, &first, "bytes_condemned", res->bytes_condemned)) ||
	    (rc = cli_json_count(b, &first, "packs_reprieved", res->packs_reprieved)) ||
	    (rc = cli_json_count(b, &first, "packs_kept", res->packs_kept)) ||
	    (rc = cli_json_count(b, &first, "bytes_kept", res->bytes_kept)) ||
	    (rc = cli_json_count(b, &first, "bytes_unused_kept", res->bytes_unused_kept)) ||
	    (rc = cli_json_count(b, &first, "packs_unindexed", res->packs_unindexed)) ||
	    (rc = cli_json_count(b, &first, "temp_deleted", res->temp_deleted)) ||
	    (rc = cli_json_count(b, &first, "generation", res->generation)) ||
	    (rc = cli_json_count(b, &first, "waiting_generation", res->waiting_generation)) ||
	    (rc = cli_json_count(b, &first, "backups_waited", res->backups_waited)))
		return rc;
	return cairn_buf_append_u8(b, '}');
}

int cli_prune(cli_ctx *ctx, cairn_repo *repo, double max_unused, int dry_run,
              cairn_prune_result *res)
{
	cairn_prune_opts opts = {
	    .max_unused = max_unused,
	    .dry_run = dry_run,
	    .warn = cli_warn_cb,
	    .progress = cli_progress_cb,
	};
	cli_progress_start(cli_progress_wanted(ctx));
	int rc = cairn_prune(repo, &opts, res);
	cli_progress_end();
	return rc ? cli_fail(rc) : CLI_EXIT_OK;
}

int cmd_prune(cli_ctx *ctx, int argc, char **argv)
{
	double max_unused = CAIRN_PRUNE_MAX_UNUSED_DEFAULT;
	int dry_run = 0, c, status;
	cairn_prune_result res;
	cairn_repo *repo = NULL;
	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		switch (c) {
		case OPT_MAX_UNUSED:
			if (cli_parse_max_unused(optarg, &max_unused))
				return cli_usage_error(ctx,
				                       "--max-unused takes a percentage from 0 to "
				                       "100, not '%s'",
				                       optarg);
			break;
		case OPT_DRY_RUN:
			dry_run = 1;
			break;
		case CLI_OPT_EXIT:
			return ctx->exit_code;
		default:
			return cli_usage_error(ctx, "unexpected option");
		}
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	if ((status = cli_repo_open(ctx, &repo)) != 0)
		return status;
	cairn_error_clear();
	status = cli_prune(ctx, repo, max_unused, dry_run, &res);
	if (status == CLI_EXIT_OK) {
		if (ctx->json) {
			cairn_buf b = CAIRN_BUF_INIT;
			int rc = cli_prune_json(&b, &res, dry_run);
			if (!rc)
				rc = cli_json_emit(&b);
			cairn_buf_free(&b);
			if (rc)
				status = cli_fail(rc);
		} else if (!ctx->quiet) {
			cli_prune_print(&res, dry_run);
		}
	}
	cairn_repo_free(repo);
	return status;
}

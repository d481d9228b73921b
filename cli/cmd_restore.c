#include "cmd.h"
#include "common.h"
#include "output.h"
#include "progress.h"
#include "select.h"

#include "cairn/errors.h"
#include "cairn/restore.h"
#include "util/json.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum {
	OPT_TARGET = CLI_OPT_OWN,
	OPT_INCLUDE,
	OPT_EXCLUDE,
	OPT_VERIFY,
	OPT_DRY_RUN,
};

static const struct option options[] = {
    {"target", required_argument, NULL, OPT_TARGET},
    {"include", required_argument, NULL, OPT_INCLUDE},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"verify", no_argument, NULL, OPT_VERIFY},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    CLI_FILTER_HOST,
    CLI_FILTER_TAG,
    CLI_FILTER_PATH,
    {NULL, 0, NULL, 0},
};

static int print_json(const cairn_restore_result *res, const cairn_snapshot *snap,
                      const cairn_restore_opts *o, uint64_t duration_ns)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int first = 1, rc;
	if ((rc = cairn_buf_append_u8(&b, '{')) ||
	    (rc = cairn_json_key(&b, &first, "message_type")) ||
	    (rc = cairn_json_string(&b, "summary")) ||
	    (rc = cairn_json_key(&b, &first, "snapshot")) || (rc = cli_snapshot_json(&b, snap)))
		goto out;
	if (o->target && ((rc = cairn_json_key(&b, &first, "target")) ||
	                  (rc = cairn_json_string(&b, o->target))))
		goto out;
	if (o->dry_run &&
	    ((rc = cairn_json_key(&b, &first, "dry_run")) || (rc = cli_json_bool(&b, 1))))
		goto out;
	if ((rc = cairn_json_key(&b, &first, "files")) || (rc = cairn_json_uint(&b, res->files)) ||
	    (rc = cairn_json_key(&b, &first, "dirs")) || (rc = cairn_json_uint(&b, res->dirs)) ||
	    (rc = cairn_json_key(&b, &first, "others")) ||
	    (rc = cairn_json_uint(&b, res->others)) || (rc = cairn_json_key(&b, &first, "bytes")) ||
	    (rc = cairn_json_uint(&b, res->bytes)) || (rc = cairn_json_key(&b, &first, "errors")) ||
	    (rc = cairn_json_uint(&b, res->errors)) ||
	    (rc = cairn_json_key(&b, &first, "duration_ns")) ||
	    (rc = cairn_json_uint(&b, duration_ns)) || (rc = cairn_buf_append_u8(&b, '}')))
		goto out;
	rc = cli_json_emit(&b);
out:
	cairn_buf_free(&b);
	return rc;
}

/* "restored 1 file, 2 dirs, 3 others, 1.5 KiB to DIR"; a dry run's
 * "would restore ..." */
static void print_text(const cairn_restore_result *res, const cairn_restore_opts *o)
{
	char size[32];
	cli_size_format(size, sizeof(size), res->bytes);
	printf("%s %llu %s, %llu %s", o->dry_run ? "would restore" : "restored",
	       (unsigned long long)res->files, cli_plural(res->files, "file", "files"),
	       (unsigned long long)res->dirs, cli_plural(res->dirs, "dir", "dirs"));
	if (res->others)
		printf(", %llu %s", (unsigned long long)res->others,
		       cli_plural(res->others, "other", "others"));
	printf(", %s", size);
	if (!o->target) {
		putchar('\n');
		return;
	}
	fputs(" to ", stdout);
	cli_put_name(o->target, '\n');
}

/* A dry run's list, one path a line (-v). */
static void list_path(void *ud, const char *path)
{
	(void)ud;
	cli_put_name(path, '\n');
}

/* Frees the strings of v and v. */
static void free_patterns(cli_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free((char *)v->v[i]);
	cli_strv_free(v);
}

int cmd_restore(cli_ctx *ctx, int argc, char **argv)
{
	cli_strv includes = CLI_STRV_INIT, excludes = CLI_STRV_INIT;
	cairn_restore_opts opts = {0};
	cairn_restore_result res = {0};
	cairn_snapshot snap = {0};
	cairn_snapshot_skips skips = {cli_warn_cb, NULL, 0};
	cairn_repo *repo = NULL;
	cli_filter filter = CLI_FILTER_INIT;
	uint64_t start;
	int c, rc, status = CLI_EXIT_FATAL;

	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		switch (c) {
		case OPT_TARGET:
			opts.target = optarg;
			break;
		case OPT_INCLUDE:
		case OPT_EXCLUDE:
			/* Patterns; "./x" and "../x" are taken from here. */
			if ((rc = cli_pattern_add(c == OPT_INCLUDE ? &includes : &excludes,
			                          optarg))) {
				status = cli_fail(rc);
				goto out;
			}
			break;
		case OPT_DRY_RUN:
			opts.dry_run = 1;
			break;
		case OPT_VERIFY:
			opts.verify = 1;
			break;
		case CLI_OPT_EXIT:
			status = ctx->exit_code;
			goto out;
		default:
			if ((status = cli_filter_option(ctx, &filter, c, optarg)))
				goto out;
		}
	}
	if ((status = cli_snapshot_operands(ctx, argc, argv, 0)))
		goto out;
	if (opts.target && !opts.target[0])
		opts.target = NULL;
	if (!opts.target && !opts.dry_run) {
		status = cli_usage_error(ctx, "where to? give --target DIR");
		goto out;
	}
	if ((status = cli_repo_open(ctx, &repo)) != 0)
		goto out;
	cairn_error_clear();
	if ((rc = cli_snapshot_load(ctx, repo, argv[optind], &filter, &snap, &skips))) {
		status = cli_fail(rc);
		goto out;
	}
	opts.includes = includes.v;
	opts.n_includes = includes.n;
	opts.excludes = excludes.v;
	opts.n_excludes = excludes.n;
	if (opts.dry_run && ctx->verbose && !ctx->json)
		opts.dry_list = list_path;
	if (!opts.dry_run)
		opts.progress = cli_progress_cb;
	opts.warn = cli_warn_cb;
	start = cairn_now_ns(CLOCK_MONOTONIC);
	cli_progress_start(cli_progress_wanted(ctx));
	rc = cairn_restore(repo, &snap, &opts, &res);
	cli_progress_end();
	if (rc && rc != CAIRN_EPARTIAL) {
		status = cli_fail(rc);
		goto out;
	}
	if (ctx->json) {
		int prc = print_json(&res, &snap, &opts, cairn_now_ns(CLOCK_MONOTONIC) - start);
		if (prc) {
			status = cli_fail(prc);
			goto out;
		}
	} else if (!ctx->quiet) {
		print_text(&res, &opts);
	}
	status = CLI_EXIT_OK;
	if (rc == CAIRN_EPARTIAL) {
		cli_error("restore incomplete: %llu %s could not be restored",
		          (unsigned long long)res.errors, res.errors == 1 ? "entry" : "entries");
		status = CLI_EXIT_PARTIAL;
	}
	if (skips.count) {
		cli_error("restore complete, but %zu snapshot record%s could not be read",
		          skips.count, skips.count == 1 ? "" : "s");
		status = CLI_EXIT_PARTIAL;
	}
out:
	cairn_snapshot_clear(&snap);
	cairn_repo_free(repo);
	cli_filter_free(&filter);
	free_patterns(&includes);
	free_patterns(&excludes);
	return status;
}

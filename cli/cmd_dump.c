#include "cmd.h"
#include "common.h"
#include "output.h"
#include "select.h"

#include "cairn/dump.h"
#include "cairn/errors.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int write_stdout(void *ud, const void *data, size_t len)
{
	(void)ud;
	if (fwrite(data, 1, len, stdout) != len)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot write to standard output");
	return 0;
}

int cmd_dump(cli_ctx *ctx, int argc, char **argv)
{
	cairn_repo *repo = NULL;
	cairn_snapshot snap = {0};
	cairn_snapshot_skips skips = {cli_warn_cb, NULL, 0};
	cli_filter filter = CLI_FILTER_INIT;
	cairn_dump_opts o = {write_stdout, NULL, cli_warn_cb, NULL};
	cairn_dump_result res;
	int rc, status;

	if ((status = cli_filter_getopt(ctx, argc, argv, &filter)) >= 0)
		goto out;
	if ((status =
	         cli_snapshot_operands_two(ctx, argc, argv, "which path? give the PATH to dump")))
		goto out;
	/* As restic: bytes of a file or a tar stream would reach the
	 * terminal raw, escape sequences and all. */
	if (isatty(STDOUT_FILENO)) {
		cli_error("standard output is a terminal: send dump's output to a file or a pipe");
		status = CLI_EXIT_FATAL;
		goto out;
	}
	if ((status = cli_repo_open(ctx, &repo)) != 0)
		goto out;
	cairn_error_clear();
	if ((rc = cli_snapshot_load(ctx, repo, argv[optind], &filter, &snap, &skips)) ||
	    (rc = cairn_dump(repo, &snap, argv[optind + 1], &o, &res)))
		goto fail;
	if (fflush(stdout) != 0) {
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot write to standard output");
		goto fail;
	}
	if (res.damaged)
		cli_error("%llu %s damaged: the bytes that could not be read are zeros",
		          (unsigned long long)res.damaged,
		          cli_plural(res.damaged, "file is", "files are"));
	status = res.damaged || skips.count ? CLI_EXIT_PARTIAL : CLI_EXIT_OK;
	goto out;
fail:
	status = cli_fail_data(rc);
out:
	cairn_snapshot_clear(&snap);
	cairn_repo_free(repo);
	cli_filter_free(&filter);
	return status;
}

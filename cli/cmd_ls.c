#include "cmd.h"
#include "common.h"
#include "output.h"
#include "select.h"

#include "cairn/errors.h"
#include "cairn/pattern.h"
#include "cairn/tree.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>

static const struct option options[] = {
    CLI_FILTER_HOST,
    CLI_FILTER_TAG,
    CLI_FILTER_PATH,
    {NULL, 0, NULL, 0},
};

/* The first line of --json: which snapshot is listed. */
static int print_json_snapshot(cairn_buf *b, const cairn_snapshot *s)
{
	int first = 1, rc;
	if ((rc = cairn_buf_append_u8(b, '{')) ||
	    (rc = cairn_json_key(b, &first, "message_type")) ||
	    (rc = cairn_json_string(b, "snapshot")) ||
	    (rc = cairn_json_key(b, &first, "snapshot")) || (rc = cli_snapshot_json(b, s)) ||
	    (rc = cairn_buf_append_u8(b, '}')))
		return rc;
	return cli_json_emit(b);
}

static int print_json(cairn_buf *b, const cairn_entry *e)
{
	char time[64];
	int first = 1, rc;

	cairn_time_format(time, sizeof(time), e->mtime_ns);
	if ((rc = cairn_buf_append_u8(b, '{')) || (rc = cairn_json_key(b, &first, "path")) ||
	    (rc = cairn_json_string(b, e->path)) || (rc = cairn_json_key(b, &first, "type")) ||
	    (rc = cairn_json_string(b, cli_entry_type_name(e->type))) ||
	    (rc = cairn_json_key(b, &first, "mode")) || (rc = cairn_json_uint(b, e->mode)) ||
	    (rc = cairn_json_key(b, &first, "uid")) || (rc = cairn_json_uint(b, e->uid)) ||
	    (rc = cairn_json_key(b, &first, "gid")) || (rc = cairn_json_uint(b, e->gid)) ||
	    (rc = cairn_json_key(b, &first, "size")) || (rc = cairn_json_uint(b, e->size)) ||
	    (rc = cairn_json_key(b, &first, "mtime")) || (rc = cairn_json_string(b, time)))
		return rc;
	if (e->link_target && ((rc = cairn_json_key(b, &first, "link_target")) ||
	                       (rc = cairn_json_string(b, e->link_target))))
		return rc;
	if ((rc = cairn_buf_append_u8(b, '}')))
		return rc;
	return cli_json_emit(b);
}

static void print_long(const cairn_entry *e)
{
	char mode[11], time[32];
	cli_mode_format(mode, e->type, e->mode);
	cli_time_local(time, sizeof(time), e->mtime_ns);
	printf("%s %5u %5u %12llu %s ", mode, e->uid, e->gid, (unsigned long long)e->size, time);
	cli_put_name(e->path, '\0');
	if (e->type == CAIRN_ENTRY_SYMLINK && e->link_target) {
		fputs(" -> ", stdout);
		cli_put_name(e->link_target, '\0');
	} else if (e->type == CAIRN_ENTRY_HARDLINK && e->link_target) {
		fputs(" => ", stdout);
		cli_put_name(e->link_target, '\0');
	}
	putchar('\n');
}

/* Warns of each pattern that named nothing. */
static void warn_unmatched(const cairn_patterns *p)
{
	char msg[1200];
	for (size_t i = 0; i < cairn_patterns_count(p); i++) {
		if (cairn_patterns_hits(p, i))
			continue;
		snprintf(msg, sizeof(msg), "pattern matched nothing: %s",
		         cairn_patterns_text(p, i));
		cli_warning(NULL, msg);
	}
}

/* Compiles the patterns after SNAPSHOT into *out (NULL: none given). */
static int ls_patterns(int argc, char **argv, cairn_patterns **out)
{
	cli_strv v = CLI_STRV_INIT;
	int rc = 0;
	*out = NULL;
	for (int i = optind + 1; i < argc && !rc; i++)
		rc = cli_pattern_add(&v, argv[i]);
	if (!rc && v.n)
		rc = cairn_patterns_new(out, v.v, v.n);
	for (size_t i = 0; i < v.n; i++)
		free((char *)v.v[i]);
	cli_strv_free(&v);
	return rc;
}

static int print_entry(cli_ctx *ctx, cairn_buf *b, const cairn_entry *e)
{
	if (ctx->json)
		return print_json(b, e);
	if (ctx->verbose)
		print_long(e);
	else
		cli_put_name(e->path, '\n');
	return 0;
}

int cmd_ls(cli_ctx *ctx, int argc, char **argv)
{
	cairn_repo *repo = NULL;
	cairn_snapshot snap = {0};
	cairn_snapshot_skips skips = {cli_warn_cb, NULL, 0};
	cairn_tree_reader *tree = NULL;
	cairn_entry e = {0};
	cairn_buf b = CAIRN_BUF_INIT;
	cli_filter filter = CLI_FILTER_INIT;
	cairn_patterns *pats = NULL;
	int c, rc, status = CLI_EXIT_FATAL;

	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		if (c == CLI_OPT_EXIT) {
			status = ctx->exit_code;
			goto out;
		}
		if ((status = cli_filter_option(ctx, &filter, c, optarg)))
			goto out;
	}
	if ((status = cli_snapshot_operands(ctx, argc, argv, argc)))
		goto out;
	/* Patterns; "./x" and "../x" are taken from here. */
	if ((rc = ls_patterns(argc, argv, &pats))) {
		status = cli_fail(rc);
		goto out;
	}
	if ((status = cli_repo_open(ctx, &repo)) != 0)
		goto out;
	cairn_error_clear();
	if ((rc = cli_snapshot_load(ctx, repo, argv[optind], &filter, &snap, &skips)) ||
	    (rc = cairn_tree_reader_open(&tree, repo, &snap)))
		goto fail;
	if (ctx->json && (rc = print_json_snapshot(&b, &snap)))
		goto fail;
	while ((rc = cairn_tree_reader_next(tree, &e)) == 1) {
		if (!pats || cairn_patterns_match(pats, e.path, e.type == CAIRN_ENTRY_DIR)) {
			if ((rc = print_entry(ctx, &b, &e)))
				goto fail;
		} else if (cairn_patterns_passed(pats, e.path)) {
			break;
		}
		cairn_entry_clear(&e);
	}
	if (rc < 0)
		goto fail;
	warn_unmatched(pats);
	/* The listing is whole, but a snapshot record was passed over. */
	status = skips.count ? CLI_EXIT_PARTIAL : CLI_EXIT_OK;
	goto out;
fail:
	status = cli_fail(rc);
out:
	cairn_entry_clear(&e);
	cairn_buf_free(&b);
	cairn_tree_reader_free(tree);
	cairn_snapshot_clear(&snap);
	cairn_repo_free(repo);
	cli_filter_free(&filter);
	cairn_patterns_free(pats);
	return status;
}

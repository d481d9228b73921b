#include "cmd.h"
#include "common.h"
#include "output.h"
#include "select.h"

#include "cairn/errors.h"
#include "util/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct option options[] = {
    CLI_FILTER_HOST,
    CLI_FILTER_TAG,
    CLI_FILTER_PATH,
    {NULL, 0, NULL, 0},
};

static int print_json(const cairn_snapshot *list, const size_t *sel, size_t n)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int rc = cairn_buf_append_u8(&b, '[');
	for (size_t i = 0; !rc && i < n; i++) {
		if (i)
			rc = cairn_buf_append_u8(&b, ',');
		if (!rc)
			rc = cairn_snapshot_to_json(&b, &list[sel[i]], 1);
	}
	if (!rc)
		rc = cairn_buf_append_u8(&b, ']');
	if (!rc)
		rc = cli_json_emit(&b);
	cairn_buf_free(&b);
	return rc;
}

/* Tags joined with ',', escaped (cli_escape); *out is the caller's to
 * free. */
static int join_tags(const cairn_snapshot *s, char **out)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int rc = cairn_buf_append_str(&b, "");
	for (size_t i = 0; !rc && i < s->n_tags; i++)
		rc = cairn_buf_printf(&b, "%s%s", i ? "," : "", s->tags[i]);
	if (!rc)
		rc = cli_escape_dup((const char *)b.data, out);
	cairn_buf_free(&b);
	return rc;
}

/* A snapshot's other paths, on lines of their own under the first. */
static void print_more_paths(const cairn_snapshot *s, int host_w, int tags_w)
{
	for (size_t p = 1; p < s->n_paths; p++) {
		printf("%-8s  %-19s  %-*s  %-*s  ", "", "", host_w, "", tags_w, "");
		cli_put_name(s->paths[p], '\n');
	}
}

static int print_table(const cli_ctx *ctx, const cairn_snapshot *list, const size_t *sel, size_t n)
{
	char **tags = calloc(n ? n : 1, sizeof(*tags)), **hosts = calloc(n ? n : 1, sizeof(*hosts));
	char hex[2 * CAIRN_ID_SIZE + 1], time[64];
	int host_w = 4, tags_w = 4, rc = 0;

	if (!tags || !hosts) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const cairn_snapshot *s = &list[sel[i]];
		if ((rc = join_tags(s, &tags[i])) || (rc = cli_escape_dup(s->host, &hosts[i])))
			goto out;
		if ((int)strlen(hosts[i]) > host_w)
			host_w = (int)strlen(hosts[i]);
		if ((int)strlen(tags[i]) > tags_w)
			tags_w = (int)strlen(tags[i]);
	}
	printf("%-8s  %-19s  %-*s  %-*s  %s\n", "ID", "Time", host_w, "Host", tags_w, "Tags",
	       "Paths");
	for (size_t i = 0; i < n; i++) {
		const cairn_snapshot *s = &list[sel[i]];
		cairn_hex_encode(hex, s->id, CAIRN_ID_SIZE);
		cli_time_local(time, sizeof(time), s->time_ns);
		printf("%.8s  %-19s  %-*s  %-*s  ", hex, time, host_w, hosts[i], tags_w, tags[i]);
		cli_put_name(s->n_paths ? s->paths[0] : "", '\n');
		print_more_paths(s, host_w, tags_w);
	}
	if (!ctx->quiet)
		printf("%zu snapshot%s\n", n, n == 1 ? "" : "s");
out:
	for (size_t i = 0; tags && hosts && i < n; i++) {
		free(tags[i]);
		free(hosts[i]);
	}
	free(tags);
	free(hosts);
	return rc;
}

int cmd_snapshots(cli_ctx *ctx, int argc, char **argv)
{
	cli_filter filter = CLI_FILTER_INIT;
	cairn_repo *repo = NULL;
	cairn_snapshot *list = NULL;
	cairn_snapshot_skips skips = {cli_warn_cb, NULL, 0};
	size_t count = 0, n = 0, *sel = NULL;
	int c, rc, status = CLI_EXIT_FATAL;

	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		if (c == CLI_OPT_EXIT) {
			status = ctx->exit_code;
			goto out;
		}
		if ((status = cli_filter_option(ctx, &filter, c, optarg)))
			goto out;
	}
	if (optind < argc) {
		status = cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if ((status = cli_repo_open(ctx, &repo)) != 0)
		goto out;
	if ((rc = cairn_snapshot_list_readable(repo, &list, &count, &skips))) {
		status = cli_fail(rc);
		goto out;
	}
	sel = malloc((count ? count : 1) * sizeof(*sel));
	if (!sel) {
		status = cli_fail(cairn_error_set(CAIRN_ENOMEM, "out of memory"));
		goto out;
	}
	for (size_t i = 0; i < count; i++)
		if (cairn_snapshot_filter_match(cli_filter_get(&filter), &list[i]))
			sel[n++] = i;
	rc = ctx->json ? print_json(list, sel, n) : print_table(ctx, list, sel, n);
	status = rc ? cli_fail(rc) : CLI_EXIT_OK;
	if (!rc && skips.count) {
		cli_error("%zu snapshot record%s could not be read and %s not listed", skips.count,
		          skips.count == 1 ? "" : "s", skips.count == 1 ? "is" : "are");
		status = CLI_EXIT_PARTIAL;
	}
out:
	free(sel);
	cairn_snapshot_list_free(list, count);
	cairn_repo_free(repo);
	cli_filter_free(&filter);
	return status;
}

#include "cmd.h"
#include "common.h"
#include "output.h"

#include "cairn/errors.h"
#include "util/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_TAG = CLI_OPT_OWN,
	OPT_HOST,
};

static const struct option options[] = {
    {"tag", required_argument, NULL, OPT_TAG},
    {"host", required_argument, NULL, OPT_HOST},
    {NULL, 0, NULL, 0},
};

static int has_tag(const cairn_snapshot *s, const char *tag)
{
	for (size_t i = 0; i < s->n_tags; i++)
		if (strcmp(s->tags[i], tag) == 0)
			return 1;
	return 0;
}

static int selected(const cairn_snapshot *s, const cli_strv *tags, const char *host)
{
	if (host && strcmp(s->host, host) != 0)
		return 0;
	for (size_t i = 0; i < tags->n; i++)
		if (!has_tag(s, tags->v[i]))
			return 0;
	return 1;
}

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
	cli_strv tags = CLI_STRV_INIT;
	const char *host = NULL;
	cairn_repo *repo = NULL;
	cairn_snapshot *list = NULL;
	cairn_snapshot_skips skips = {cli_warn_cb, NULL, 0};
	size_t count = 0, n = 0, *sel = NULL;
	int c, rc, status = CLI_EXIT_FATAL;

	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		switch (c) {
		case OPT_TAG:
			if ((rc = cli_strv_push(&tags, optarg))) {
				status = cli_fail(rc);
				goto out;
			}
			break;
		case OPT_HOST:
			host = optarg;
			break;
		case CLI_OPT_EXIT:
			status = ctx->exit_code;
			goto out;
		default:
			status = cli_usage_error(ctx, "unexpected option");
			goto out;
		}
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
		if (selected(&list[i], &tags, host))
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
	cli_strv_free(&tags);
	return status;
}

#include "select.h"

#include "output.h"

#include "cairn/errors.h"
#include "util/hex.h"
#include "util/json.h"
#include "util/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* --path as backup stores paths: absolute (relative ones are taken from
 * here) and normalised. *out is the caller's. */
static int path_arg(const char *arg, char **out)
{
	char *cwd = NULL;
	int rc;
	if (arg[0] != '/' && !(cwd = getcwd(NULL, 0)))
		return cairn_error_set(CAIRN_EINVAL,
		                       "--path %s: the current directory is unknown: give "
		                       "an absolute path",
		                       arg);
	rc = cairn_path_normalize(out, cwd ? cwd : "/", arg);
	free(cwd);
	return rc;
}

int cli_filter_take(cli_filter *f, int c, const char *arg)
{
	char *path;
	int rc;
	switch (c) {
	case CLI_OPT_HOST:
		rc = cli_strv_push(&f->hosts, arg);
		break;
	case CLI_OPT_TAG:
		rc = cli_strv_push(&f->tags, arg);
		break;
	case CLI_OPT_PATH:
		if ((rc = path_arg(arg, &path)))
			return rc;
		if ((rc = cli_strv_push(&f->paths, path)))
			free(path);
		break;
	default:
		return 0;
	}
	return rc ? rc : 1;
}

int cli_filter_option(cli_ctx *ctx, cli_filter *f, int c, const char *arg)
{
	int rc = cli_filter_take(f, c, arg);
	if (rc < 0)
		return cli_fail(rc);
	return rc ? 0 : cli_usage_error(ctx, "unexpected option");
}

int cli_filter_getopt(cli_ctx *ctx, int argc, char **argv, cli_filter *f)
{
	static const struct option options[] = {
	    CLI_FILTER_HOST,
	    CLI_FILTER_TAG,
	    CLI_FILTER_PATH,
	    {NULL, 0, NULL, 0},
	};
	int c, status;
	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		if (c == CLI_OPT_EXIT)
			return ctx->exit_code;
		if ((status = cli_filter_option(ctx, f, c, optarg)))
			return status;
	}
	return -1;
}

const cairn_snapshot_filter *cli_filter_get(cli_filter *f)
{
	f->f.hosts = f->hosts.v;
	f->f.n_hosts = f->hosts.n;
	f->f.tags = f->tags.v;
	f->f.n_tags = f->tags.n;
	f->f.paths = f->paths.v;
	f->f.n_paths = f->paths.n;
	return &f->f;
}

void cli_filter_free(cli_filter *f)
{
	for (size_t i = 0; i < f->paths.n; i++)
		free((char *)f->paths.v[i]);
	cli_strv_free(&f->hosts);
	cli_strv_free(&f->tags);
	cli_strv_free(&f->paths);
}

int cli_snapshot_operands(cli_ctx *ctx, int argc, char **argv, int more)
{
	if (optind >= argc)
		return cli_usage_error(ctx,
		                       "which snapshot? give an id, a prefix of one, or latest");
	if (argc - optind > 1 + more)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind + 1 + more]);
	return 0;
}

int cli_snapshot_operands_two(cli_ctx *ctx, int argc, char **argv, const char *missing)
{
	int status = cli_snapshot_operands(ctx, argc, argv, 1);
	if (!status && argc - optind < 2)
		status = cli_usage_error(ctx, "%s", missing);
	return status;
}

/* "using snapshot 1a2b3c4d of 2026-01-02 03:04:05, host h, paths /a, /b"
 * on stderr. */
static void say_used(const cairn_snapshot *s)
{
	char hex[CAIRN_ID_HEX + 1], time[64];
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_hex_encode(hex, s->id, CAIRN_ID_SIZE);
	cli_time_local(time, sizeof(time), s->time_ns);
	int rc = cairn_buf_printf(&b, "using snapshot %.8s of %s, host %s, %s", hex, time,
	                          s->host ? s->host : "", s->n_paths == 1 ? "path" : "paths");
	for (size_t i = 0; !rc && i < s->n_paths; i++)
		rc = cairn_buf_printf(&b, "%s%s", i ? ", " : " ", s->paths[i]);
	for (size_t i = 0; !rc && i < s->n_tags; i++)
		rc = cairn_buf_printf(&b, "%s%s", i ? "," : ", tags ", s->tags[i]);
	if (!rc)
		cli_note("%s", (const char *)b.data);
	cairn_buf_free(&b);
}

int cli_snapshot_load(cli_ctx *ctx, cairn_repo *r, const char *name, cli_filter *f,
                      cairn_snapshot *out, cairn_snapshot_skips *skips)
{
	char hex[CAIRN_ID_HEX + 1], time[64];
	size_t before = skips->count;
	int rc = cairn_snapshot_select(r, name, f ? cli_filter_get(f) : NULL, out, skips);
	if (rc)
		return rc;
	if (skips->count > before) {
		cairn_hex_encode(hex, out->id, CAIRN_ID_SIZE);
		cli_time_local(time, sizeof(time), out->time_ns);
		cli_error("%s: using snapshot %.8s of %s, the newest whose record can be read",
		          name, hex, time);
	}
	if (!ctx->quiet)
		say_used(out);
	return 0;
}

int cli_snapshot_json(cairn_buf *b, const cairn_snapshot *s)
{
	char hex[CAIRN_ID_HEX + 1], time[64];
	int first = 1, rc;
	cairn_hex_encode(hex, s->id, CAIRN_ID_SIZE);
	cairn_time_format(time, sizeof(time), s->time_ns);
	if ((rc = cairn_buf_append_u8(b, '{')) || (rc = cairn_json_key(b, &first, "id")) ||
	    (rc = cairn_json_string(b, hex)) || (rc = cairn_json_key(b, &first, "short_id")))
		return rc;
	hex[8] = '\0';
	if ((rc = cairn_json_string(b, hex)) || (rc = cairn_json_key(b, &first, "time")) ||
	    (rc = cairn_json_string(b, time)) || (rc = cairn_json_key(b, &first, "host")) ||
	    (rc = cairn_json_string(b, s->host ? s->host : "")) ||
	    (rc = cairn_json_key(b, &first, "paths")) ||
	    (rc = cairn_json_strings(b, s->paths, s->n_paths)) ||
	    (rc = cairn_json_key(b, &first, "tags")) ||
	    (rc = cairn_json_strings(b, s->tags, s->n_tags)))
		return rc;
	return cairn_buf_append_u8(b, '}');
}

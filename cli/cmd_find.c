#include "cmd.h"
#include "common.h"
#include "output.h"
#include "select.h"

#include "cairn/errors.h"
#include "cairn/find.h"
#include "cairn/tree.h"
#include "util/hex.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct find_run {
	cli_ctx *ctx;
	cairn_repo *repo;
	cairn_finder *finder;
	cairn_buf b;
	uint64_t found;
	uint64_t damaged; /* snapshots whose manifest could not be read */
} find_run;

static int print_json(find_run *f, const cairn_snapshot *s, const cairn_entry *e)
{
	char hex[CAIRN_ID_HEX + 1], time[64];
	cairn_buf *b = &f->b;
	int first = 1, rc;
	cairn_hex_encode(hex, s->id, CAIRN_ID_SIZE);
	cairn_time_format(time, sizeof(time), e->mtime_ns);
	if ((rc = cairn_buf_append_u8(b, '{')) || (rc = cairn_json_key(b, &first, "snapshot")) ||
	    (rc = cairn_json_string(b, hex)) || (rc = cairn_json_key(b, &first, "path")) ||
	    (rc = cairn_json_string(b, e->path)) || (rc = cairn_json_key(b, &first, "type")) ||
	    (rc = cairn_json_string(b, cli_entry_type_name(e->type))) ||
	    (rc = cli_json_count(b, &first, "mode", e->mode)) ||
	    (rc = cli_json_count(b, &first, "size", e->size)) ||
	    (rc = cairn_json_key(b, &first, "mtime")) || (rc = cairn_json_string(b, time)) ||
	    (rc = cairn_buf_append_u8(b, '}')))
		return rc;
	return cli_json_emit(b);
}

/* "1a2b3c4d  2026-01-02 03:04:05  12345  /path", a directory with '/'. */
static int print_entry(find_run *f, const cairn_snapshot *s, const cairn_entry *e)
{
	char hex[CAIRN_ID_HEX + 1], time[32];
	if (f->ctx->json)
		return print_json(f, s, e);
	cairn_hex_encode(hex, s->id, CAIRN_ID_SIZE);
	cli_time_local(time, sizeof(time), e->mtime_ns);
	printf("%.8s  %s  %12llu  ", hex, time, (unsigned long long)e->size);
	cli_put_path_line(e->path, e->type == CAIRN_ENTRY_DIR);
	return 0;
}

/* One snapshot's manifest. A manifest that cannot be read is reported
 * and passed over (the others are still searched). */
static int search(find_run *f, const cairn_snapshot *s)
{
	cairn_tree_reader *t = NULL;
	cairn_entry e = {0};
	char hex[CAIRN_ID_HEX + 1];
	int rc;
	cairn_finder_reset(f->finder);
	if (!(rc = cairn_tree_reader_open(&t, f->repo, s))) {
		while ((rc = cairn_tree_reader_next(t, &e)) == 1) {
			int m = cairn_finder_match(f->finder, &e);
			if (m < 0 || (m && (rc = print_entry(f, s, &e)))) {
				rc = m < 0 ? m : rc;
				break;
			}
			f->found += m;
			if (cairn_finder_passed(f->finder, &e)) {
				rc = 0;
				break;
			}
			cairn_entry_clear(&e);
		}
	}
	cairn_entry_clear(&e);
	cairn_tree_reader_free(t);
	if (rc == CAIRN_ECORRUPT || rc == CAIRN_ENOTFOUND) {
		cairn_hex_encode(hex, s->id, CAIRN_ID_SIZE);
		cli_error("snapshot %.8s: %s", hex, cairn_error_last());
		f->damaged++;
		return 0;
	}
	return rc < 0 ? rc : 0;
}

/* The patterns of the operands; "./x" and "../x" are taken from here. */
static int find_patterns(int argc, char **argv, cairn_patterns **out)
{
	cli_strv v = CLI_STRV_INIT;
	int rc = 0;
	*out = NULL;
	for (int i = optind; i < argc && !rc; i++)
		rc = cli_pattern_add(&v, argv[i]);
	if (!rc)
		rc = cairn_patterns_new(out, v.v, v.n);
	for (size_t i = 0; i < v.n; i++)
		free((char *)v.v[i]);
	cli_strv_free(&v);
	return rc;
}

int cmd_find(cli_ctx *ctx, int argc, char **argv)
{
	find_run f = {ctx, NULL, NULL, CAIRN_BUF_INIT, 0, 0};
	cairn_snapshot *list = NULL;
	size_t n = 0;
	cairn_snapshot_skips skips = {cli_warn_cb, NULL, 0};
	cli_filter filter = CLI_FILTER_INIT;
	cairn_patterns *pats = NULL;
	int rc, status;

	if ((status = cli_filter_getopt(ctx, argc, argv, &filter)) >= 0)
		goto out;
	if (optind >= argc) {
		status = cli_usage_error(ctx, "what to find? give a PATTERN");
		goto out;
	}
	if ((rc = find_patterns(argc, argv, &pats)) || (rc = cairn_finder_new(&f.finder, pats))) {
		status = cli_fail(rc);
		goto out;
	}
	if ((status = cli_repo_open(ctx, &f.repo)) != 0)
		goto out;
	cairn_error_clear();
	if ((rc = cairn_snapshot_list_readable(f.repo, &list, &n, &skips)))
		goto fail;
	for (size_t i = 0; i < n && !rc; i++)
		if (cairn_snapshot_filter_match(cli_filter_get(&filter), &list[i]))
			rc = search(&f, &list[i]);
	if (rc)
		goto fail;
	if (!f.found && !ctx->quiet && !ctx->json)
		cli_note("no entry matches");
	status = skips.count || f.damaged ? CLI_EXIT_PARTIAL : CLI_EXIT_OK;
	goto out;
fail:
	status = cli_fail(rc);
out:
	cairn_buf_free(&f.b);
	cairn_finder_free(f.finder);
	cairn_snapshot_list_free(list, n);
	cairn_repo_free(f.repo);
	cli_filter_free(&filter);
	cairn_patterns_free(pats);
	return status;
}

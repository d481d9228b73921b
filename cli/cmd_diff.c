#include "cmd.h"
#include "common.h"
#include "output.h"
#include "select.h"

#include "cairn/diff.h"
#include "cairn/errors.h"
#include "util/hex.h"
#include "util/json.h"

#include <stdio.h>
#include <string.h>

typedef struct diff_out {
	cli_ctx *ctx;
	cairn_buf b;
} diff_out;

/* restic's letters: + added, - removed, M content, T type, U metadata. */
static char modifier(enum cairn_diff_kind k)
{
	switch (k) {
	case CAIRN_DIFF_ADDED:
		return '+';
	case CAIRN_DIFF_REMOVED:
		return '-';
	case CAIRN_DIFF_CONTENT:
		return 'M';
	case CAIRN_DIFF_TYPE:
		return 'T';
	default:
		return 'U';
	}
}

static const char *kind_name(enum cairn_diff_kind k)
{
	static const char *names[] = {"same", "added", "removed", "content", "type", "metadata"};
	return names[k];
}

static int json_meta(cairn_buf *b, unsigned meta)
{
	static const char *names[] = {"mode", "owner", "mtime", "xattrs", "flags"};
	char *v[5];
	size_t n = 0;
	for (size_t i = 0; i < 5; i++)
		if (meta & (1u << i))
			v[n++] = (char *)names[i];
	return cairn_json_strings(b, v, n);
}

static int print_json(diff_out *d, const cairn_diff_change *c, const cairn_entry *e)
{
	char mod[2] = {modifier(c->kind), '\0'};
	cairn_buf *b = &d->b;
	int first = 1, rc;
	if ((rc = cairn_buf_append_u8(b, '{')) ||
	    (rc = cairn_json_key(b, &first, "message_type")) ||
	    (rc = cairn_json_string(b, "change")) || (rc = cairn_json_key(b, &first, "path")) ||
	    (rc = cairn_json_string(b, e->path)) || (rc = cairn_json_key(b, &first, "modifier")) ||
	    (rc = cairn_json_string(b, mod)) || (rc = cairn_json_key(b, &first, "change")) ||
	    (rc = cairn_json_string(b, kind_name(c->kind))) ||
	    (rc = cairn_json_key(b, &first, "type")) ||
	    (rc = cairn_json_string(b, cli_entry_type_name(e->type))))
		return rc;
	if (c->before && (rc = cli_json_count(b, &first, "size_before", c->before->size)))
		return rc;
	if (c->after && (rc = cli_json_count(b, &first, "size_after", c->after->size)))
		return rc;
	if ((rc = cli_json_count(b, &first, "bytes_added", c->bytes_added)) ||
	    (rc = cli_json_count(b, &first, "bytes_removed", c->bytes_removed)) ||
	    (rc = cairn_json_key(b, &first, "metadata")) || (rc = json_meta(b, c->meta)) ||
	    (rc = cairn_buf_append_u8(b, '}')))
		return rc;
	return cli_json_emit(b);
}

static int print_change(void *ud, const cairn_diff_change *c)
{
	diff_out *d = ud;
	const cairn_entry *e = c->after ? c->after : c->before;
	if (d->ctx->json)
		return print_json(d, c, e);
	printf("%c    ", modifier(c->kind));
	cli_put_path_line(e->path, e->type == CAIRN_ENTRY_DIR);
	return 0;
}

static int json_side(cairn_buf *b, int *first, const char *key, uint64_t files, uint64_t dirs,
                     uint64_t others, uint64_t bytes)
{
	int f = 1, rc;
	if ((rc = cairn_json_key(b, first, key)) || (rc = cairn_buf_append_u8(b, '{')) ||
	    (rc = cli_json_count(b, &f, "files", files)) ||
	    (rc = cli_json_count(b, &f, "dirs", dirs)) ||
	    (rc = cli_json_count(b, &f, "others", others)) ||
	    (rc = cli_json_count(b, &f, "bytes", bytes)))
		return rc;
	return cairn_buf_append_u8(b, '}');
}

static int print_totals_json(diff_out *d, const cairn_snapshot *a, const cairn_snapshot *b2,
                             const cairn_diff_totals *t)
{
	char ha[CAIRN_ID_HEX + 1], hb[CAIRN_ID_HEX + 1];
	cairn_buf *b = &d->b;
	int first = 1, rc;
	cairn_hex_encode(ha, a->id, CAIRN_ID_SIZE);
	cairn_hex_encode(hb, b2->id, CAIRN_ID_SIZE);
	if ((rc = cairn_buf_append_u8(b, '{')) ||
	    (rc = cairn_json_key(b, &first, "message_type")) ||
	    (rc = cairn_json_string(b, "statistics")) ||
	    (rc = cairn_json_key(b, &first, "source_snapshot")) ||
	    (rc = cairn_json_string(b, ha)) ||
	    (rc = cairn_json_key(b, &first, "target_snapshot")) ||
	    (rc = cairn_json_string(b, hb)) ||
	    (rc = cli_json_count(b, &first, "changed_files", t->changed_content)) ||
	    (rc = cli_json_count(b, &first, "changed_type", t->changed_type)) ||
	    (rc = cli_json_count(b, &first, "changed_metadata", t->changed_metadata)) ||
	    (rc = json_side(b, &first, "added", t->files_added, t->dirs_added, t->others_added,
	                    t->bytes_added)) ||
	    (rc = json_side(b, &first, "removed", t->files_removed, t->dirs_removed,
	                    t->others_removed, t->bytes_removed)) ||
	    (rc = cairn_buf_append_u8(b, '}')))
		return rc;
	return cli_json_emit(b);
}

static void print_totals(const cairn_diff_totals *t)
{
	char added[32], removed[32];
	cli_size_format(added, sizeof(added), t->bytes_added);
	cli_size_format(removed, sizeof(removed), t->bytes_removed);
	printf("%llu added, %llu removed, %llu changed, %llu with other metadata, %llu of another "
	       "type; content: %s added, %s removed\n",
	       (unsigned long long)(t->files_added + t->dirs_added + t->others_added),
	       (unsigned long long)(t->files_removed + t->dirs_removed + t->others_removed),
	       (unsigned long long)t->changed_content, (unsigned long long)t->changed_metadata,
	       (unsigned long long)t->changed_type, added, removed);
}

int cmd_diff(cli_ctx *ctx, int argc, char **argv)
{
	cairn_repo *repo = NULL;
	cairn_snapshot a = {0}, b = {0};
	cairn_snapshot_skips skips = {cli_warn_cb, NULL, 0};
	cli_filter filter = CLI_FILTER_INIT;
	diff_out d = {ctx, CAIRN_BUF_INIT};
	cairn_diff_totals totals;
	int rc, status;

	if ((status = cli_filter_getopt(ctx, argc, argv, &filter)) >= 0)
		goto out;
	if ((status = cli_snapshot_operands_two(ctx, argc, argv, "diff needs two snapshots")))
		goto out;
	if ((status = cli_repo_open(ctx, &repo)) != 0)
		goto out;
	cairn_error_clear();
	if ((rc = cli_snapshot_load(ctx, repo, argv[optind], &filter, &a, &skips)) ||
	    (rc = cli_snapshot_load(ctx, repo, argv[optind + 1], &filter, &b, &skips)) ||
	    (rc = cairn_diff_snapshots(repo, &a, &b, print_change, &d, &totals)))
		goto fail;
	if (ctx->json)
		rc = print_totals_json(&d, &a, &b, &totals);
	else if (!ctx->quiet)
		print_totals(&totals);
	if (rc)
		goto fail;
	status = skips.count ? CLI_EXIT_PARTIAL : CLI_EXIT_OK;
	goto out;
fail:
	status = cli_fail_data(rc);
out:
	cairn_buf_free(&d.b);
	cairn_snapshot_clear(&a);
	cairn_snapshot_clear(&b);
	cairn_repo_free(repo);
	cli_filter_free(&filter);
	return status;
}

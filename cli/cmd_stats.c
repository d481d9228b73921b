#include "cmd.h"
#include "common.h"
#include "output.h"
#include "select.h"

#include "cairn/errors.h"
#include "cairn/stats.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static int print_json(const cairn_stats *s, const cairn_snapshot *one)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int first = 1, rc;
	if ((rc = cairn_buf_append_u8(&b, '{')))
		goto out;
	if (one &&
	    ((rc = cairn_json_key(&b, &first, "snapshot")) || (rc = cli_snapshot_json(&b, one))))
		goto out;
	if ((rc = cli_json_count(&b, &first, "snapshots", s->snapshots)) ||
	    (rc = cli_json_count(&b, &first, "files", s->files)) ||
	    (rc = cli_json_count(&b, &first, "restore_bytes", s->restore_bytes)) ||
	    (rc = cli_json_count(&b, &first, "chunks", s->chunks)) ||
	    (rc = cli_json_count(&b, &first, "unique_bytes", s->unique_bytes)) ||
	    (rc = cli_json_count(&b, &first, "stored_bytes", s->stored_bytes)) ||
	    (rc = cli_json_count(&b, &first, "manifest_chunks", s->tree_chunks)) ||
	    (rc = cli_json_count(&b, &first, "manifest_stored_bytes", s->tree_stored_bytes)) ||
	    (rc = cli_json_count(&b, &first, "missing_chunks", s->missing)) ||
	    (rc = cairn_json_key(&b, &first, "dedup_ratio")) ||
	    (rc = cairn_buf_printf(&b, "%.4f", ratio(s->restore_bytes, s->unique_bytes))) ||
	    (rc = cairn_json_key(&b, &first, "compression_ratio")) ||
	    (rc = cairn_buf_printf(&b, "%.4f", ratio(s->unique_bytes, s->stored_bytes))) ||
	    (rc = cairn_buf_append_u8(&b, '}')))
		goto out;
	rc = cli_json_emit(&b);
out:
	cairn_buf_free(&b);
	return rc;
}

/* "12.0 MiB (12582912 bytes)" */
static const char *size_both(char *out, size_t n, uint64_t bytes)
{
	char h[32];
	cli_size_format(h, sizeof(h), bytes);
	snprintf(out, n, "%s (%llu bytes)", h, (unsigned long long)bytes);
	return out;
}

static void print_text(const cairn_stats *s)
{
	char b1[64];
	printf("Snapshots:        %llu\n", (unsigned long long)s->snapshots);
	printf("Files:            %llu\n", (unsigned long long)s->files);
	printf("Restore size:     %s\n", size_both(b1, sizeof(b1), s->restore_bytes));
	printf("Unique content:   %s in %llu %s\n", size_both(b1, sizeof(b1), s->unique_bytes),
	       (unsigned long long)s->chunks, cli_plural(s->chunks, "chunk", "chunks"));
	printf("Stored:           %s after compression and encryption\n",
	       size_both(b1, sizeof(b1), s->stored_bytes));
	printf("Manifests stored: %s in %llu %s\n", size_both(b1, sizeof(b1), s->tree_stored_bytes),
	       (unsigned long long)s->tree_chunks, cli_plural(s->tree_chunks, "chunk", "chunks"));
	printf("Dedup ratio:      %.2fx (restore size / unique content)\n",
	       ratio(s->restore_bytes, s->unique_bytes));
	printf("Compression:      %.2fx (unique content / stored)\n",
	       ratio(s->unique_bytes, s->stored_bytes));
	if (s->missing)
		printf("Missing chunks:   %llu (the index knows no place of them)\n",
		       (unsigned long long)s->missing);
}

/* Every readable snapshot that the filter lets through. */
static int load_all(cairn_repo *repo, cli_filter *filter, cairn_snapshot **list, size_t *n,
                    cairn_snapshot_skips *skips)
{
	const cairn_snapshot_filter *f = cli_filter_get(filter);
	size_t k = 0;
	int rc = cairn_snapshot_list_readable(repo, list, n, skips);
	if (rc)
		return rc;
	for (size_t i = 0; i < *n; i++) {
		if (cairn_snapshot_filter_match(f, &(*list)[i])) {
			cairn_snapshot tmp = (*list)[k];
			(*list)[k++] = (*list)[i];
			(*list)[i] = tmp;
		}
	}
	for (size_t i = k; i < *n; i++)
		cairn_snapshot_clear(&(*list)[i]);
	*n = k;
	return 0;
}

int cmd_stats(cli_ctx *ctx, int argc, char **argv)
{
	cairn_repo *repo = NULL;
	cairn_snapshot one = {0}, *list = NULL;
	size_t n = 0;
	cairn_snapshot_skips skips = {cli_warn_cb, NULL, 0};
	cli_filter filter = CLI_FILTER_INIT;
	cairn_stats st;
	int rc, status;

	if ((status = cli_filter_getopt(ctx, argc, argv, &filter)) >= 0)
		goto out;
	if (argc - optind > 1) {
		status = cli_usage_error(ctx, "unexpected argument '%s'", argv[optind + 1]);
		goto out;
	}
	if ((status = cli_repo_open(ctx, &repo)) != 0)
		goto out;
	cairn_error_clear();
	if (optind < argc)
		rc = cli_snapshot_load(ctx, repo, argv[optind], &filter, &one, &skips);
	else
		rc = load_all(repo, &filter, &list, &n, &skips);
	if (rc || (rc = cairn_stats_compute(repo, optind < argc ? &one : list,
	                                    optind < argc ? 1 : n, &st)))
		goto fail;
	if (ctx->json)
		rc = print_json(&st, optind < argc ? &one : NULL);
	else
		print_text(&st);
	if (rc)
		goto fail;
	/* Missing data, or a record passed over: the figures are short. */
	status = st.missing || skips.count ? CLI_EXIT_PARTIAL : CLI_EXIT_OK;
	if (st.missing)
		cli_error("%llu %s that the snapshots reference %s no place in the index",
		          (unsigned long long)st.missing, cli_plural(st.missing, "chunk", "chunks"),
		          cli_plural(st.missing, "has", "have"));
	goto out;
fail:
	status = cli_fail_data(rc);
out:
	cairn_snapshot_clear(&one);
	cairn_snapshot_list_free(list, n);
	cairn_repo_free(repo);
	cli_filter_free(&filter);
	return status;
}

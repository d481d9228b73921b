#include "cmd.h"
#include "common.h"
#include "output.h"
#include "progress.h"

#include "cairn/check.h"
#include "cairn/errors.h"
#include "util/hex.h"
#include "util/json.h"

#include <stdio.h>
#include <string.h>

enum {
	OPT_READ_DATA = CLI_OPT_OWN,
	OPT_READ_DATA_SUBSET,
};

static const struct option options[] = {
    {"read-data", no_argument, NULL, OPT_READ_DATA},
    {"read-data-subset", required_argument, NULL, OPT_READ_DATA_SUBSET},
    {NULL, 0, NULL, 0},
};

#define PLURAL(n) ((n) == 1 ? "" : "s")

/* Snapshots named in a problem's text; JSON has them all. */
#define SNAPSHOTS_SHOWN 8

/* ---- text ---- */

/* What a problem's count counts, or NULL where its detail says it. */
static const char *count_noun(enum cairn_check_kind kind)
{
	switch (kind) {
	case CAIRN_CHECK_CHUNK_UNKNOWN:
	case CAIRN_CHECK_PACK_MISSING:
	case CAIRN_CHECK_PACK_SHORT:
	case CAIRN_CHECK_BLOB:
		return "chunks";
	case CAIRN_CHECK_INDEX_ENTRY:
		return "entries";
	default:
		return NULL;
	}
}

static void print_needs(const cairn_check_problem *p)
{
	char hex[CAIRN_ID_HEX + 1];
	if (p->n_snapshots) {
		printf("  needed by %zu snapshot%s:", p->n_snapshots,
		       p->n_snapshots == 1 ? "" : "s");
		for (size_t i = 0; i < p->n_snapshots && i < SNAPSHOTS_SHOWN; i++) {
			cairn_hex_encode(hex, p->snapshots[i], CAIRN_ID_SIZE);
			printf(" %.8s", hex);
		}
		if (p->n_snapshots > SNAPSHOTS_SHOWN)
			printf(" and %zu more", p->n_snapshots - SNAPSHOTS_SHOWN);
		putchar('\n');
	}
	if (p->files_total) {
		printf("  needed by %llu file%s (a file counts once in each snapshot), such as:\n",
		       (unsigned long long)p->files_total, PLURAL(p->files_total));
		for (size_t i = 0; i < p->n_files; i++) {
			fputs("    ", stdout);
			cli_put_name(p->files[i], '\n');
		}
	}
}

static void print_problem(const cairn_check_problem *p)
{
	const char *noun = count_noun(p->kind);
	printf("%s ", cairn_check_kind_name(p->kind));
	cli_put_name(p->object, '\0');
	if (p->kind == CAIRN_CHECK_BLOB)
		printf(" at offset %llu", (unsigned long long)p->offset);
	putchar('\n');
	fputs("  ", stdout);
	cli_put_name(p->detail, '\0');
	if (noun && p->count > 1)
		printf(" (%llu %s)", (unsigned long long)p->count, noun);
	putchar('\n');
	print_needs(p);
}

static void print_text(const cairn_check_result *res, int read_data, int quiet)
{
	char size[32];
	for (size_t i = 0; i < res->n_problems; i++)
		print_problem(&res->problems[i]);
	if (quiet)
		return;
	cli_size_format(size, sizeof(size), res->pack_bytes);
	printf("checked %llu snapshot%s, %llu index object%s, %llu pack%s (%s), %llu chunk%s\n",
	       (unsigned long long)res->snapshots, PLURAL(res->snapshots),
	       (unsigned long long)res->index_objects, PLURAL(res->index_objects),
	       (unsigned long long)res->packs, PLURAL(res->packs), size,
	       (unsigned long long)res->chunks, PLURAL(res->chunks));
	if (read_data) {
		cli_size_format(size, sizeof(size), res->bytes_read);
		printf("read %llu pack%s (%s), %llu blob%s\n", (unsigned long long)res->packs_read,
		       PLURAL(res->packs_read), size, (unsigned long long)res->blobs_read,
		       PLURAL(res->blobs_read));
	}
	if (res->packs_unreferenced) {
		cli_size_format(size, sizeof(size), res->bytes_unreferenced);
		printf("%llu pack%s (%s) unreferenced: no snapshot needs %s\n",
		       (unsigned long long)res->packs_unreferenced, PLURAL(res->packs_unreferenced),
		       size, res->packs_unreferenced == 1 ? "it" : "them");
	}
	if (res->packs_forgotten)
		printf("the index no longer places chunks in the %llu missing pack%s\n",
		       (unsigned long long)res->packs_forgotten, PLURAL(res->packs_forgotten));
	if (res->lost_chunks && !res->heal_error[0])
		printf("%llu chunk%s that snapshots need %s lost: the next backup of the files "
		       "that held %s stores %s again\n",
		       (unsigned long long)res->lost_chunks, PLURAL(res->lost_chunks),
		       res->lost_chunks == 1 ? "is" : "are", res->lost_chunks == 1 ? "it" : "them",
		       res->lost_chunks == 1 ? "it" : "them");
	if (res->lost_retired)
		printf("%llu earlier loss%s healed: the chunks are back\n",
		       (unsigned long long)res->lost_retired, res->lost_retired == 1 ? "" : "es");
	if (!res->n_problems)
		printf("no problems found\n");
}

/* ---- JSON ---- */

static int json_problem(cairn_buf *b, const cairn_check_problem *p)
{
	int first = 1, rc;
	if ((rc = cairn_buf_append_u8(b, '{')) || (rc = cairn_json_key(b, &first, "kind")) ||
	    (rc = cairn_json_string(b, cairn_check_kind_name(p->kind))) ||
	    (rc = cairn_json_key(b, &first, "object")) || (rc = cairn_json_string(b, p->object)))
		return rc;
	if (p->kind == CAIRN_CHECK_BLOB &&
	    ((rc = cairn_json_key(b, &first, "offset")) || (rc = cairn_json_uint(b, p->offset))))
		return rc;
	if ((rc = cairn_json_key(b, &first, "detail")) || (rc = cairn_json_string(b, p->detail)) ||
	    (rc = cairn_json_key(b, &first, "count")) || (rc = cairn_json_uint(b, p->count)) ||
	    (rc = cairn_json_key(b, &first, "snapshots")) || (rc = cairn_buf_append_u8(b, '[')))
		return rc;
	for (size_t i = 0; i < p->n_snapshots; i++)
		if ((i && (rc = cairn_buf_append_u8(b, ','))) ||
		    (rc = cli_json_hex(b, p->snapshots[i], CAIRN_ID_SIZE)))
			return rc;
	if ((rc = cairn_buf_append_u8(b, ']')) || (rc = cairn_json_key(b, &first, "files")) ||
	    (rc = cairn_json_strings(b, p->files, p->n_files)) ||
	    (rc = cairn_json_key(b, &first, "files_total")) ||
	    (rc = cairn_json_uint(b, p->files_total)))
		return rc;
	return cairn_buf_append_u8(b, '}');
}

static int print_json(const cairn_check_result *res, int read_data)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int first = 1, rc;
	if ((rc = cairn_buf_append_u8(&b, '{')) || (rc = cairn_json_key(&b, &first, "ok")) ||
	    (rc = cli_json_bool(&b, res->n_problems == 0)) ||
	    (rc = cli_json_count(&b, &first, "snapshots", res->snapshots)) ||
	    (rc = cli_json_count(&b, &first, "index_objects", res->index_objects)) ||
	    (rc = cli_json_count(&b, &first, "packs", res->packs)) ||
	    (rc = cli_json_count(&b, &first, "pack_bytes", res->pack_bytes)) ||
	    (rc = cli_json_count(&b, &first, "chunks", res->chunks)) ||
	    (rc = cli_json_count(&b, &first, "packs_unreferenced", res->packs_unreferenced)) ||
	    (rc = cli_json_count(&b, &first, "bytes_unreferenced", res->bytes_unreferenced)) ||
	    (rc = cairn_json_key(&b, &first, "read_data")) || (rc = cli_json_bool(&b, read_data)) ||
	    (rc = cli_json_count(&b, &first, "packs_read", res->packs_read)) ||
	    (rc = cli_json_count(&b, &first, "bytes_read", res->bytes_read)) ||
	    (rc = cli_json_count(&b, &first, "blobs_read", res->blobs_read)) ||
	    (rc = cli_json_count(&b, &first, "lost_chunks", res->lost_chunks)) ||
	    (rc = cli_json_count(&b, &first, "packs_forgotten", res->packs_forgotten)) ||
	    (rc = cli_json_count(&b, &first, "lost_retired", res->lost_retired)) ||
	    (rc = cairn_json_key(&b, &first, "heal_error")) ||
	    (rc = cairn_json_string(&b, res->heal_error)) ||
	    (rc = cairn_json_key(&b, &first, "problems")) || (rc = cairn_buf_append_u8(&b, '[')))
		goto out;
	for (size_t i = 0; i < res->n_problems; i++)
		if ((i && (rc = cairn_buf_append_u8(&b, ','))) ||
		    (rc = json_problem(&b, &res->problems[i])))
			goto out;
	if ((rc = cairn_buf_append_u8(&b, ']')) || (rc = cairn_buf_append_u8(&b, '}')))
		goto out;
	rc = cli_json_emit(&b);
out:
	cairn_buf_free(&b);
	return rc;
}

/* ---- the command ---- */

static int parse_options(cli_ctx *ctx, int argc, char **argv, cairn_check_subset *subset)
{
	int c, read_data = 0, rc;
	memset(subset, 0, sizeof(*subset));
	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		switch (c) {
		case OPT_READ_DATA:
			read_data = 1;
			break;
		case OPT_READ_DATA_SUBSET:
			if ((rc = cairn_check_subset_parse(subset, optarg)))
				return cli_usage_error(ctx, "%s", cairn_error_last());
			break;
		case CLI_OPT_EXIT:
			return ctx->exit_code ? ctx->exit_code : -1;
		default:
			return cli_usage_error(ctx, "unexpected option");
		}
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	if (read_data && subset->read != CAIRN_CHECK_READ_NONE)
		return cli_usage_error(ctx, "give --read-data or --read-data-subset, not both");
	if (read_data)
		subset->read = CAIRN_CHECK_READ_ALL;
	return 0;
}

int cmd_check(cli_ctx *ctx, int argc, char **argv)
{
	cairn_check_opts opts = {0};
	cairn_check_result res = {0};
	cairn_repo *repo = NULL;
	int rc, status = parse_options(ctx, argc, argv, &opts.subset);
	if (status)
		return status < 0 ? CLI_EXIT_OK : status;
	if ((status = cli_repo_open(ctx, &repo)) != 0)
		return status;
	cairn_error_clear();
	opts.progress = cli_progress_cb;
	cli_progress_start(cli_progress_wanted(ctx));
	rc = cairn_check(repo, &opts, &res);
	cli_progress_end();
	int read_data = opts.subset.read != CAIRN_CHECK_READ_NONE;
	if (rc && rc != CAIRN_EPARTIAL) {
		status = cli_fail(rc);
	} else if (ctx->json && (rc = print_json(&res, read_data))) {
		status = cli_fail(rc);
	} else {
		if (!ctx->json)
			print_text(&res, read_data, ctx->quiet);
		if (res.heal_error[0])
			cli_warning("check", res.heal_error);
		status = CLI_EXIT_OK;
		if (res.n_problems) {
			fflush(stdout);
			cli_error("check found %zu problem%s", res.n_problems,
			          PLURAL(res.n_problems));
			status = CLI_EXIT_PARTIAL;
		}
	}
	cairn_check_result_free(&res);
	cairn_repo_free(repo);
	return status;
}

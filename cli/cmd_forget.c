#include "cmd.h"
#include "util/units.h"
#include "common.h"
#include "output.h"
#include "select.h"

#include "cairn/errors.h"
#include "cairn/forget.h"
#include "cairn/prune.h"
#include "util/hex.h"
#include "util/json.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_KEEP_LAST = CLI_OPT_OWN,
	OPT_KEEP_HOURLY,
	OPT_KEEP_DAILY,
	OPT_KEEP_WEEKLY,
	OPT_KEEP_MONTHLY,
	OPT_KEEP_YEARLY,
	OPT_KEEP_WITHIN,
	OPT_KEEP_TAG,
	OPT_GROUP_BY,
	OPT_DRY_RUN,
	OPT_PRUNE,
	OPT_MAX_UNUSED,
};

static const struct option options[] = {
    {"keep-last", required_argument, NULL, OPT_KEEP_LAST},
    {"keep-hourly", required_argument, NULL, OPT_KEEP_HOURLY},
    {"keep-daily", required_argument, NULL, OPT_KEEP_DAILY},
    {"keep-weekly", required_argument, NULL, OPT_KEEP_WEEKLY},
    {"keep-monthly", required_argument, NULL, OPT_KEEP_MONTHLY},
    {"keep-yearly", required_argument, NULL, OPT_KEEP_YEARLY},
    {"keep-within", required_argument, NULL, OPT_KEEP_WITHIN},
    {"keep-tag", required_argument, NULL, OPT_KEEP_TAG},
    {"group-by", required_argument, NULL, OPT_GROUP_BY},
    CLI_FILTER_HOST,
    CLI_FILTER_TAG,
    CLI_FILTER_PATH,
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"prune", no_argument, NULL, OPT_PRUNE},
    {"max-unused", required_argument, NULL, OPT_MAX_UNUSED},
    {NULL, 0, NULL, 0},
};

/* What was asked, from the command line. */
struct request {
	cairn_retention_policy policy;
	cli_strv keep_tags;
	cli_filter filter; /* --tag, --host, --path */
	unsigned group_by;
	int dry_run;
	int prune; /* --prune: prune after forgetting */
	double max_unused;
	cairn_prune_result pruned;
	int pruned_status; /* -1: no prune ran */
};

/* A keep count: a number, or -1 for all. */
static int count_parse(const char *name, const char *s, int *out)
{
	uint64_t v;
	if (strcmp(s, "-1") == 0) {
		*out = -1;
		return 0;
	}
	if (cairn_uint_parse(s, &v) || v > INT_MAX)
		return cairn_error_set(CAIRN_EINVAL,
		                       "--%s takes a count (or -1 for all), not \"%s\"", name, s);
	*out = (int)v;
	return 0;
}

/* Takes one option of the command; 0 or a library code. */
static int take_option(struct request *q, int c)
{
	int *counts[] = {&q->policy.last,   &q->policy.hourly,  &q->policy.daily,
	                 &q->policy.weekly, &q->policy.monthly, &q->policy.yearly};
	int rc = cli_filter_take(&q->filter, c, optarg);
	if (rc)
		return rc < 0 ? rc : 0;
	if (c >= OPT_KEEP_LAST && c <= OPT_KEEP_YEARLY)
		return count_parse(options[c - OPT_KEEP_LAST].name, optarg,
		                   counts[c - OPT_KEEP_LAST]);
	switch (c) {
	case OPT_KEEP_WITHIN:
		return cairn_duration_parse(optarg, &q->policy.within_ns);
	case OPT_KEEP_TAG:
		return cli_strv_push(&q->keep_tags, optarg);
	case OPT_GROUP_BY:
		return cairn_group_by_parse(optarg, &q->group_by);
	case OPT_DRY_RUN:
		q->dry_run = 1;
		return 0;
	case OPT_PRUNE:
		q->prune = 1;
		return 0;
	case OPT_MAX_UNUSED:
		if (cli_parse_max_unused(optarg, &q->max_unused))
			return cairn_error_set(
			    CAIRN_EINVAL, "--max-unused takes a percentage from 0 to 100, not '%s'",
			    optarg);
		return 0;
	default:
		return cairn_error_set(CAIRN_EINVAL, "unexpected option");
	}
}

static void request_free(struct request *q)
{
	cli_strv_free(&q->keep_tags);
	cli_filter_free(&q->filter);
}

/* ---- output ---------------------------------------------------------- */

static int json_reasons(cairn_buf *b, unsigned reasons)
{
	int rc = cairn_buf_append_u8(b, '[');
	int first = 1;
	for (unsigned bit = CAIRN_KEEP_LAST; !rc && bit <= CAIRN_KEEP_TAG; bit <<= 1) {
		if (!(reasons & bit))
			continue;
		if (!first)
			rc = cairn_buf_append_u8(b, ',');
		first = 0;
		if (!rc)
			rc = cairn_json_string(b, cairn_retention_reason_name(bit));
	}
	return rc ? rc : cairn_buf_append_u8(b, ']');
}

static int json_entry(cairn_buf *b, const cairn_forget_entry *e)
{
	char time[64];
	int first = 1, rc;
	cairn_time_format(time, sizeof(time), e->snap->time_ns);
	if ((rc = cairn_buf_append_u8(b, '{')) || (rc = cairn_json_key(b, &first, "id")) ||
	    (rc = cli_json_hex(b, e->snap->id, CAIRN_ID_SIZE)) ||
	    (rc = cairn_json_key(b, &first, "time")) || (rc = cairn_json_string(b, time)))
		return rc;
	if (e->reasons &&
	    ((rc = cairn_json_key(b, &first, "reasons")) || (rc = json_reasons(b, e->reasons))))
		return rc;
	return cairn_buf_append_u8(b, '}');
}

/* The group's snapshots kept (keep != 0) or removed, as a JSON array. */
static int json_entries(cairn_buf *b, const cairn_forget_group *g, int keep)
{
	int rc = cairn_buf_append_u8(b, '['), first = 1;
	for (size_t i = 0; !rc && i < g->n; i++) {
		if (!g->entries[i].reasons != !keep)
			continue;
		if (!first)
			rc = cairn_buf_append_u8(b, ',');
		first = 0;
		if (!rc)
			rc = json_entry(b, &g->entries[i]);
	}
	return rc ? rc : cairn_buf_append_u8(b, ']');
}

static int json_group(cairn_buf *b, const cairn_forget_group *g, unsigned group_by)
{
	const cairn_snapshot *s = g->entries[0].snap;
	int first = 1, rc = cairn_buf_append_u8(b, '{');
	if (!rc && (group_by & CAIRN_GROUP_BY_HOST) && (!(rc = cairn_json_key(b, &first, "host"))))
		rc = cairn_json_string(b, s->host);
	if (!rc && (group_by & CAIRN_GROUP_BY_PATHS) && !(rc = cairn_json_key(b, &first, "paths")))
		rc = cairn_json_strings(b, s->paths, s->n_paths);
	if (!rc && (group_by & CAIRN_GROUP_BY_TAGS) && !(rc = cairn_json_key(b, &first, "tags")))
		rc = cairn_json_strings(b, s->tags, s->n_tags);
	if (rc || (rc = cairn_json_key(b, &first, "keep")) || (rc = json_entries(b, g, 1)) ||
	    (rc = cairn_json_key(b, &first, "remove")) || (rc = json_entries(b, g, 0)))
		return rc;
	return cairn_buf_append_u8(b, '}');
}

static int print_json(const cairn_forget_plan *plan, const struct request *q, size_t removed)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int first = 1, rc;
	if (!(rc = cairn_buf_append_u8(&b, '{')) && !(rc = cairn_json_key(&b, &first, "dry_run")) &&
	    !(rc = cli_json_bool(&b, q->dry_run)) && !(rc = cairn_json_key(&b, &first, "groups")))
		rc = cairn_buf_append_u8(&b, '[');
	for (size_t g = 0; !rc && g < plan->n_groups; g++) {
		if (g && (rc = cairn_buf_append_u8(&b, ',')))
			break;
		rc = json_group(&b, &plan->groups[g], q->group_by);
	}
	if (!rc && !(rc = cairn_buf_append_u8(&b, ']')) &&
	    !(rc = cairn_json_key(&b, &first, "kept")) &&
	    !(rc = cairn_json_uint(&b, plan->n_keep)) &&
	    !(rc = cairn_json_key(&b, &first, "removed")))
		rc = cairn_json_uint(&b, removed);
	if (!rc && q->pruned_status == CLI_EXIT_OK && !(rc = cairn_json_key(&b, &first, "prune")))
		rc = cli_prune_json(&b, &q->pruned, 0);
	if (!rc && !(rc = cairn_buf_append_u8(&b, '}')))
		rc = cli_json_emit(&b);
	cairn_buf_free(&b);
	return rc;
}

static void print_group_title(const cairn_forget_group *g, unsigned group_by)
{
	const cairn_snapshot *s = g->entries[0].snap;
	fputs("snapshots", stdout);
	if (group_by & CAIRN_GROUP_BY_HOST) {
		fputs(" of host ", stdout);
		cli_put_name(s->host, '\0');
	}
	if (group_by & CAIRN_GROUP_BY_PATHS)
		for (size_t i = 0; i < s->n_paths; i++) {
			fputs(i ? ", " : " of ", stdout);
			cli_put_name(s->paths[i], '\0');
		}
	if (group_by & CAIRN_GROUP_BY_TAGS) {
		fputs(s->n_tags ? " tagged " : " without tags", stdout);
		for (size_t i = 0; i < s->n_tags; i++) {
			fputs(i ? "," : "", stdout);
			cli_put_name(s->tags[i], '\0');
		}
	}
	puts(":");
}

static void print_text(const cairn_forget_plan *plan, const struct request *q)
{
	for (size_t g = 0; g < plan->n_groups; g++) {
		const cairn_forget_group *grp = &plan->groups[g];
		if (g)
			putchar('\n');
		print_group_title(grp, q->group_by);
		for (size_t i = 0; i < grp->n; i++) {
			const cairn_forget_entry *e = &grp->entries[i];
			char hex[CAIRN_ID_HEX + 1], time[32];
			cairn_hex_encode(hex, e->snap->id, CAIRN_ID_SIZE);
			cli_time_local(time, sizeof(time), e->snap->time_ns);
			printf("  %-6s %.8s  %s", e->reasons ? "keep" : "remove", hex, time);
			for (unsigned bit = CAIRN_KEEP_LAST, n = 0; bit <= CAIRN_KEEP_TAG;
			     bit <<= 1)
				if (e->reasons & bit)
					printf("%s%s", n++ ? ", " : "  (",
					       cairn_retention_reason_name(bit));
			puts(e->reasons ? ")" : "");
		}
	}
}

static void print_summary(size_t removed, size_t kept, int dry_run)
{
	printf("\n%s %zu snapshot%s, %s %zu", dry_run ? "would remove" : "removed", removed,
	       removed == 1 ? "" : "s", dry_run ? "keep" : "kept", kept);
	if (!dry_run && removed)
		fputs("; the space that only they used returns when the repository is pruned",
		      stdout);
	putchar('\n');
}

/* ---- the two ways of forgetting -------------------------------------- */

/* Removes what the plan removes; the count removed. A failure is reported
 * and the rest goes on; *failed counts them. */
static size_t remove_planned(cairn_repo *repo, const cairn_forget_plan *plan, size_t *failed)
{
	size_t removed = 0;
	for (size_t g = 0; g < plan->n_groups; g++)
		for (size_t i = 0; i < plan->groups[g].n; i++) {
			const cairn_forget_entry *e = &plan->groups[g].entries[i];
			if (e->reasons)
				continue;
			if (cairn_snapshot_forget(repo, e->snap->id) == 0)
				removed++;
			else {
				cli_error("%s", cairn_error_last());
				(*failed)++;
			}
		}
	return removed;
}

static int forget_by_policy(cli_ctx *ctx, cairn_repo *repo, struct request *q)
{
	cairn_snapshot *list = NULL;
	size_t count = 0, removed = 0, failed = 0;
	cairn_forget_plan plan = {0};
	cairn_snapshot_skips skips = {cli_warn_cb};
	const cairn_snapshot_filter *f = cli_filter_get(&q->filter);
	int rc;
	q->policy.keep_tags = (const char *const *)q->keep_tags.v;
	q->policy.n_keep_tags = q->keep_tags.n;
	if ((rc = cairn_snapshot_list_readable(repo, &list, &count, &skips)) ||
	    (rc = cairn_forget_plan_make(&plan, list, count, f, q->group_by, &q->policy)))
		goto out;
	if (!ctx->json && !ctx->quiet)
		print_text(&plan, q);
	if (!q->dry_run)
		removed = remove_planned(repo, &plan, &failed);
	if (q->prune && !q->dry_run && !failed)
		q->pruned_status = cli_prune(ctx, repo, q->max_unused, 0, &q->pruned);
	if (ctx->json)
		rc = print_json(&plan, q, q->dry_run ? plan.n_remove : removed);
	else if (!ctx->quiet)
		print_summary(q->dry_run ? plan.n_remove : removed, plan.n_keep, q->dry_run);
	if (!ctx->json && !ctx->quiet && q->pruned_status == CLI_EXIT_OK)
		cli_prune_print(&q->pruned, 0);
out:
	cairn_forget_plan_free(&plan);
	cairn_snapshot_list_free(list, count);
	if (rc)
		return cli_fail(rc);
	if (failed)
		return CLI_EXIT_FATAL;
	if (q->pruned_status > 0)
		return q->pruned_status;
	/* a record passed over is neither kept nor removed: say so */
	return skips.count ? CLI_EXIT_PARTIAL : CLI_EXIT_OK;
}

/* The snapshot name chooses, narrowed by f. A damaged record can still
 * be named and forgotten: it is read only to check it against a filter. */
static int resolve_named(cairn_repo *repo, const char *name, const cairn_snapshot_filter *f,
                         uint8_t id[CAIRN_ID_SIZE])
{
	cairn_snapshot snap;
	if (cairn_snapshot_filter_empty(f) && strcmp(name, "latest") != 0)
		return cairn_snapshot_resolve(repo, name, id);
	int rc = cairn_snapshot_select(repo, name, f, &snap, NULL);
	if (!rc)
		memcpy(id, snap.id, CAIRN_ID_SIZE);
	cairn_snapshot_clear(&snap);
	return rc;
}

/* `cairn forget ID...`: the named snapshots, each once. */
static int forget_named(cli_ctx *ctx, cairn_repo *repo, char **names, size_t n, struct request *q)
{
	int dry_run = q->dry_run;
	uint8_t(*ids)[CAIRN_ID_SIZE] = calloc(n, sizeof(*ids));
	size_t n_ids = 0, failed = 0;
	if (!ids)
		return cli_fail(cairn_error_set(CAIRN_ENOMEM, "out of memory"));
	for (size_t i = 0; i < n; i++) {
		int rc = resolve_named(repo, names[i], cli_filter_get(&q->filter), ids[n_ids]);
		if (rc) {
			cli_error("%s", cairn_error_last());
			failed++;
			continue;
		}
		int seen = 0;
		for (size_t j = 0; j < n_ids && !seen; j++)
			seen = memcmp(ids[j], ids[n_ids], CAIRN_ID_SIZE) == 0;
		n_ids += !seen;
	}
	for (size_t i = 0; i < n_ids; i++) {
		char hex[CAIRN_ID_HEX + 1];
		cairn_hex_encode(hex, ids[i], CAIRN_ID_SIZE);
		if (!dry_run && cairn_snapshot_forget(repo, ids[i])) {
			cli_error("%s", cairn_error_last());
			failed++;
			continue;
		}
		if (ctx->json)
			printf("{\"id\":\"%s\",\"removed\":%s}\n", hex, dry_run ? "false" : "true");
		else if (!ctx->quiet)
			printf("%s snapshot %.8s\n", dry_run ? "would remove" : "removed", hex);
	}
	free(ids);
	if (failed)
		return CLI_EXIT_FATAL;
	if (!q->prune || dry_run)
		return CLI_EXIT_OK;
	int status = cli_prune(ctx, repo, q->max_unused, 0, &q->pruned);
	if (status == CLI_EXIT_OK && ctx->json) {
		cairn_buf b = CAIRN_BUF_INIT;
		int rc = cairn_buf_append(&b, "{\"prune\":", 9);
		if (!rc)
			rc = cli_prune_json(&b, &q->pruned, 0);
		if (!rc)
			rc = cairn_buf_append_u8(&b, '}');
		if (!rc)
			rc = cli_json_emit(&b);
		cairn_buf_free(&b);
		if (rc)
			status = cli_fail(rc);
	} else if (status == CLI_EXIT_OK && !ctx->quiet) {
		cli_prune_print(&q->pruned, 0);
	}
	return status;
}

int cmd_forget(cli_ctx *ctx, int argc, char **argv)
{
	struct request q = {.filter = CLI_FILTER_INIT,
	                    .group_by = CAIRN_GROUP_BY_DEFAULT,
	                    .max_unused = CAIRN_PRUNE_MAX_UNUSED_DEFAULT,
	                    .pruned_status = -1};
	cairn_repo *repo = NULL;
	int c, rc, status = CLI_EXIT_FATAL;

	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		if (c == CLI_OPT_EXIT) {
			status = ctx->exit_code;
			goto out;
		}
		if ((rc = take_option(&q, c))) {
			status = cli_usage_error(ctx, "%s", cairn_error_last());
			goto out;
		}
	}
	q.policy.n_keep_tags = q.keep_tags.n;
	int by_policy = !cairn_retention_policy_empty(&q.policy);
	if (optind < argc && by_policy) {
		status = cli_usage_error(ctx, "name snapshots or give a policy, not both");
		goto out;
	}
	if (optind == argc && !by_policy) {
		status = cli_usage_error(ctx, "no policy given: say which snapshots to keep "
		                              "(--keep-last N, --keep-daily N, ...) or name the "
		                              "snapshots to forget");
		goto out;
	}
	if ((status = cli_repo_open(ctx, &repo)) != 0)
		goto out;
	status = optind < argc ? forget_named(ctx, repo, argv + optind, (size_t)(argc - optind), &q)
	                       : forget_by_policy(ctx, repo, &q);
out:
	cairn_repo_free(repo);
	request_free(&q);
	return status;
}

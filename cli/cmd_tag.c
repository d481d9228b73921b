/* cairn tag: changing the tags of snapshots (cairn/tag.h). */
#include "cmd.h"
#include "common.h"
#include "output.h"
#include "select.h"

#include "cairn/errors.h"
#include "cairn/tag.h"
#include "util/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_ADD = CLI_OPT_OWN,
	OPT_REMOVE,
	OPT_SET,
};

static const struct option options[] = {
    {"add", required_argument, NULL, OPT_ADD},
    {"remove", required_argument, NULL, OPT_REMOVE},
    {"set", required_argument, NULL, OPT_SET},
    CLI_FILTER_HOST,
    CLI_FILTER_TAG,
    CLI_FILTER_PATH,
    {NULL, 0, NULL, 0},
};

struct request {
	cli_strv add, remove, set; /* strings owned */
	int has_set;
	cli_filter filter;
};

static void strings_free(cli_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free((char *)sv->v[i]);
	cli_strv_free(sv);
}

/* Takes one of the three options: 0, or a library code with a message. */
static int take_option(struct request *q, int c, const char *arg)
{
	if (c == OPT_SET) {
		q->has_set = 1;
		if (!arg[0]) /* --set "": no tags */
			return 0;
	}
	cli_strv *to = c == OPT_ADD ? &q->add : c == OPT_REMOVE ? &q->remove : &q->set;
	int rc = cli_tags_add(to, arg);
	if (rc == CAIRN_EINVAL)
		cairn_error_set(rc, "--%s: empty tag in \"%s\"",
		                c == OPT_ADD      ? "add"
		                : c == OPT_REMOVE ? "remove"
		                                  : "set",
		                arg);
	return rc;
}

static int report(cli_ctx *ctx, const uint8_t old[CAIRN_ID_SIZE], const uint8_t now[CAIRN_ID_SIZE],
                  int changed)
{
	char a[CAIRN_ID_HEX + 1], b[CAIRN_ID_HEX + 1];
	cairn_hex_encode(a, old, CAIRN_ID_SIZE);
	cairn_hex_encode(b, now, CAIRN_ID_SIZE);
	if (ctx->json)
		printf("{\"id\":\"%s\",\"old\":\"%s\",\"changed\":%s}\n", b, a,
		       changed ? "true" : "false");
	else if (!ctx->quiet && changed)
		printf("snapshot %.8s is now %.8s\n", a, b);
	else if (!ctx->quiet)
		printf("snapshot %.8s: tags unchanged\n", a);
	return 0;
}

/* The snapshots the names choose, each once (*out, count *n_out). */
static int load_named(cli_ctx *ctx, cairn_repo *repo, char **names, size_t n, struct request *q,
                      cairn_snapshot **out, size_t *n_out)
{
	cairn_snapshot *list = calloc(n, sizeof(*list));
	cairn_snapshot_skips skips = {cli_warn_cb, NULL, 0};
	size_t k = 0;
	int rc = list ? 0 : cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < n; i++) {
		if ((rc = cli_snapshot_load(ctx, repo, names[i], &q->filter, &list[k], &skips)))
			break;
		int seen = 0;
		for (size_t j = 0; j < k && !seen; j++)
			seen = memcmp(list[j].id, list[k].id, CAIRN_ID_SIZE) == 0;
		if (seen)
			cairn_snapshot_clear(&list[k]);
		else
			k++;
	}
	if (rc) {
		cairn_snapshot_list_free(list, k);
		list = NULL;
		k = 0;
	}
	*out = list;
	*n_out = k;
	return rc;
}

static int retag(cli_ctx *ctx, cairn_repo *repo, char **names, size_t n, struct request *q)
{
	cairn_tag_change c = {q->add.v, q->add.n, q->remove.v, q->remove.n,
	                      q->set.v, q->set.n, q->has_set};
	cairn_snapshot *list = NULL;
	size_t k = 0, failed = 0;
	int rc = load_named(ctx, repo, names, n, q, &list, &k);
	if (rc)
		return cli_fail(rc);
	for (size_t i = 0; i < k; i++) {
		uint8_t now[CAIRN_ID_SIZE];
		int changed = 0;
		rc = cairn_snapshot_retag(repo, &list[i], &c, now, &changed);
		if (rc) {
			cli_error("%s", cairn_error_last());
			failed++;
		}
		/* Written, even if the old record could not be removed. */
		if (!rc || memcmp(now, list[i].id, CAIRN_ID_SIZE) != 0)
			report(ctx, list[i].id, now, changed);
	}
	cairn_snapshot_list_free(list, k);
	return failed ? CLI_EXIT_FATAL : CLI_EXIT_OK;
}

int cmd_tag(cli_ctx *ctx, int argc, char **argv)
{
	struct request q = {CLI_STRV_INIT, CLI_STRV_INIT, CLI_STRV_INIT, 0, CLI_FILTER_INIT};
	cairn_repo *repo = NULL;
	int c, status = CLI_EXIT_FATAL;

	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		if (c == CLI_OPT_EXIT) {
			status = ctx->exit_code;
			goto out;
		}
		if (c == OPT_ADD || c == OPT_REMOVE || c == OPT_SET) {
			if (take_option(&q, c, optarg)) {
				status = cli_usage_error(ctx, "%s", cairn_error_last());
				goto out;
			}
		} else if ((status = cli_filter_option(ctx, &q.filter, c, optarg))) {
			goto out;
		}
	}
	if (!q.has_set && !q.add.n && !q.remove.n) {
		status = cli_usage_error(ctx, "say what to change: --add T, --remove T or --set T");
		goto out;
	}
	if (q.has_set && (q.add.n || q.remove.n)) {
		status = cli_usage_error(ctx, "--set replaces every tag: use it without --add and "
		                              "--remove");
		goto out;
	}
	if (optind == argc) {
		status = cli_usage_error(ctx, "name the snapshots to tag (an id, a prefix, or "
		                              "latest)");
		goto out;
	}
	if ((status = cli_repo_open(ctx, &repo)) != 0)
		goto out;
	status = retag(ctx, repo, argv + optind, (size_t)(argc - optind), &q);
out:
	cairn_repo_free(repo);
	strings_free(&q.add);
	strings_free(&q.remove);
	strings_free(&q.set);
	cli_filter_free(&q.filter);
	return status;
}

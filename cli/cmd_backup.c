#include "cmd.h"
#include "common.h"
#include "output.h"
#include "progress.h"

#include "cairn/backup.h"
#include "cairn/errors.h"
#include "util/buf.h"
#include "util/hex.h"
#include "util/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An exclude file is a short list of globs; the cap bounds a mistake. */
#define EXCLUDE_FILE_MAX (16u * 1024 * 1024)
/* A --files-from list may name every file of a large tree. */
#define FILES_FROM_MAX (1024u * 1024 * 1024)

enum {
	OPT_TAG = CLI_OPT_OWN,
	OPT_HOST,
	OPT_EXCLUDE,
	OPT_EXCLUDE_FILE,
	OPT_ONE_FILE_SYSTEM,
	OPT_DRY_RUN,
	OPT_EXCLUDE_CACHES,
	OPT_EXCLUDE_IF_PRESENT,
	OPT_FILES_FROM,
	OPT_FILES_FROM_RAW,
	OPT_STDIN,
	OPT_STDIN_FILENAME,
};

static const struct option options[] = {
    {"tag", required_argument, NULL, OPT_TAG},
    {"host", required_argument, NULL, OPT_HOST},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"exclude-file", required_argument, NULL, OPT_EXCLUDE_FILE},
    {"one-file-system", no_argument, NULL, OPT_ONE_FILE_SYSTEM},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"exclude-caches", no_argument, NULL, OPT_EXCLUDE_CACHES},
    {"exclude-if-present", required_argument, NULL, OPT_EXCLUDE_IF_PRESENT},
    {"files-from", required_argument, NULL, OPT_FILES_FROM},
    {"files-from-raw", required_argument, NULL, OPT_FILES_FROM_RAW},
    {"stdin", no_argument, NULL, OPT_STDIN},
    {"stdin-filename", required_argument, NULL, OPT_STDIN_FILENAME},
    {NULL, 0, NULL, 0},
};

/* Reads a list file (what, at most max bytes) and keeps its text in
 * texts: what is parsed out of it points into it, and lives as long. */
static int read_kept_file(const char *path, const char *what, size_t max, cli_strv *texts,
                          char **text_out, size_t *len_out)
{
	int rc = cli_read_small_file(path, what, max, text_out, len_out);
	if (!rc && (rc = cli_strv_push(texts, *text_out)))
		free(*text_out);
	return rc;
}

static int add_exclude_file(const char *path, cli_strv *excludes, cli_strv *texts)
{
	char *text = NULL;
	size_t len = 0;
	int rc = read_kept_file(path, "exclude file", EXCLUDE_FILE_MAX, texts, &text, &len);
	if (rc)
		return rc;
	rc = cli_lines_split(text, len, excludes);
	if (rc)
		cairn_error_prefix(rc, "exclude file %s", path);
	return rc;
}

static int push_path(void *ud, const char *path)
{
	return cli_strv_push(ud, path);
}

/* The paths a --files-from(-raw) file names, appended to paths. */
static int add_files_from(const char *path, int raw, cli_strv *paths, cli_strv *texts)
{
	char *text = NULL;
	size_t len = 0;
	int rc = read_kept_file(path, "files-from file", FILES_FROM_MAX, texts, &text, &len);
	if (rc)
		return rc;
	rc = cairn_backup_files_from_parse(text, len, raw, push_path, paths);
	if (rc)
		cairn_error_prefix(rc, "files-from file %s", path);
	return rc;
}

/* What to back up: the paths, or standard input, and the tags that
 * leave a directory's content out. */
struct inputs {
	cli_strv paths, present;
	const char *stdin_name;
	int from_stdin, from_files, exclude_caches;
};

static int input_option(int c, const char *arg, struct inputs *in, cli_strv *texts)
{
	switch (c) {
	case OPT_EXCLUDE_CACHES:
		in->exclude_caches = 1;
		return 0;
	case OPT_EXCLUDE_IF_PRESENT:
		return cli_strv_push(&in->present, arg);
	case OPT_FILES_FROM:
	case OPT_FILES_FROM_RAW:
		in->from_files = 1;
		return add_files_from(arg, c == OPT_FILES_FROM_RAW, &in->paths, texts);
	case OPT_STDIN:
		in->from_stdin = 1;
		return 0;
	default:
		in->stdin_name = arg;
		return 0;
	}
}

/* Adds the PATH arguments; the exit status of a usage error, or 0. */
static int inputs_check(cli_ctx *ctx, int argc, char **argv, struct inputs *in)
{
	int rc;
	for (int i = optind; i < argc; i++)
		if ((rc = cli_strv_push(&in->paths, argv[i])))
			return cli_fail(rc);
	if (in->from_stdin && (in->paths.n || in->from_files))
		return cli_usage_error(ctx, "--stdin takes no paths and no --files-from");
	if (!in->from_stdin && !in->paths.n)
		return cli_usage_error(ctx, in->from_files ? "nothing to back up: the files-from "
		                                             "files name no paths"
		                                           : "nothing to back up: give one or "
		                                             "more paths");
	return 0;
}

/* Paths the summary names of those that could not be read: the first
 * ones, and a count of the rest. */
#define FAILURES_KEPT 1000

/* What the backup tells of each entry: the verbose lines, and the paths
 * that failed, for the summary. */
struct items {
	cli_ctx *ctx;
	struct failure {
		char *path, *error;
	} * failed;
	size_t n_failed, cap_failed;
	uint64_t failed_total;
	cairn_buf line; /* a JSON line being written */
};

static const char *const change_words[] = {"new", "changed", "unchanged", "failed"};
static const char *const change_actions[] = {"new", "modified", "unchanged", "failed"};

static void keep_failure(struct items *it, const cairn_backup_item *item)
{
	it->failed_total++;
	if (it->n_failed >= FAILURES_KEPT ||
	    cairn_array_grow((void **)&it->failed, &it->cap_failed, it->n_failed + 1,
	                     sizeof(*it->failed)))
		return;
	struct failure *f = &it->failed[it->n_failed];
	f->path = strdup(item->path);
	f->error = strdup(item->error ? item->error : "");
	if (f->path && f->error) {
		it->n_failed++;
		return;
	}
	free(f->path);
	free(f->error);
}

/* {"message_type":"verbose_status",...}, as restic's. */
static int verbose_json(struct items *it, const cairn_backup_item *item)
{
	cairn_buf *b = &it->line;
	int first = 1, rc;
	if ((rc = cairn_buf_append_u8(b, '{')) ||
	    (rc = cairn_json_key(b, &first, "message_type")) ||
	    (rc = cairn_json_string(b, "verbose_status")) ||
	    (rc = cairn_json_key(b, &first, "action")) ||
	    (rc = cairn_json_string(b, change_actions[item->change])) ||
	    (rc = cairn_json_key(b, &first, "item")) || (rc = cairn_json_string(b, item->path)) ||
	    (rc = cairn_json_key(b, &first, "type")) ||
	    (rc = cairn_json_string(b, cli_entry_type_name(item->type))) ||
	    (rc = cli_json_count(b, &first, "data_size", item->size)) ||
	    (rc = cairn_buf_append_u8(b, '}')))
		return rc;
	return cli_json_emit(b);
}

/* "new       /path (12 B)": the word, the name escaped, a directory's
 * with a '/' after it, a file's size. */
static void verbose_text(const cairn_backup_item *item)
{
	char size[32];
	cli_progress_lock();
	printf("%-9s ", change_words[item->change]);
	cli_put_name(item->path,
	             item->type == CAIRN_ENTRY_DIR && strcmp(item->path, "/") ? '/' : 0);
	if (item->type == CAIRN_ENTRY_FILE || item->type == CAIRN_ENTRY_HARDLINK) {
		cli_size_format(size, sizeof(size), item->size);
		printf(" (%s)", size);
	}
	putchar('\n');
	fflush(stdout);
	cli_progress_unlock();
}

/* -v: files new or changed; -vv: every entry. */
static void item_cb(void *ud, const cairn_backup_item *item)
{
	struct items *it = ud;
	if (item->change == CAIRN_BACKUP_FAILED) {
		keep_failure(it, item);
		return;
	}
	int file = item->type == CAIRN_ENTRY_FILE;
	if (it->ctx->quiet || it->ctx->verbose < 1 ||
	    (it->ctx->verbose < 2 && !(file && item->change != CAIRN_BACKUP_UNCHANGED)))
		return;
	if (it->ctx->json) {
		if (verbose_json(it, item))
			cairn_buf_clear(&it->line);
	} else {
		verbose_text(item);
	}
}

static void items_free(struct items *it)
{
	for (size_t i = 0; i < it->n_failed; i++) {
		free(it->failed[i].path);
		free(it->failed[i].error);
	}
	free(it->failed);
	cairn_buf_free(&it->line);
}

/* The paths that could not be read, after the summary's count. */
static void print_failures(const struct items *it)
{
	for (size_t i = 0; i < it->n_failed; i++) {
		fputs("  ", stdout);
		cli_put_name(it->failed[i].path, 0);
		fputs(": ", stdout);
		cli_put_name(it->failed[i].error, '\n');
	}
	if (it->failed_total > it->n_failed)
		printf("  (and %llu more)\n",
		       (unsigned long long)(it->failed_total - it->n_failed));
}

static void print_text(const cairn_snapshot *snap, int dry_run, const struct items *it)
{
	const cairn_summary *s = &snap->summary;
	char read[32], added[32], duration[32], hex[2 * CAIRN_ID_SIZE + 1];

	cli_size_format(read, sizeof(read), s->bytes_read);
	cli_size_format(added, sizeof(added), s->bytes_added);
	cli_duration_format(duration, sizeof(duration), s->duration_ns);
	printf("Files:     %llu new, %llu changed, %llu unchanged\n",
	       (unsigned long long)s->files_new, (unsigned long long)s->files_changed,
	       (unsigned long long)s->files_unchanged);
	printf("Dirs:      %llu\n", (unsigned long long)s->dirs);
	if (s->others)
		printf("Others:    %llu\n", (unsigned long long)s->others);
	if (s->errors) {
		printf("Errors:    %llu\n", (unsigned long long)s->errors);
		print_failures(it);
	}
	printf("Read:      %s\n", read);
	printf("Added:     %s (after dedup and compression)\n", added);
	printf("Duration:  %s\n", duration);
	if (dry_run) {
		printf("dry run: nothing was stored\n");
	} else {
		cairn_hex_encode(hex, snap->id, CAIRN_ID_SIZE);
		printf("snapshot %.8s saved\n", hex);
	}
}

static int put_u64(cairn_buf *b, int *first, const char *key, uint64_t v)
{
	int rc = cairn_json_key(b, first, key);
	return rc ? rc : cairn_json_uint(b, v);
}

/* "errors":[{"path":...,"error":...},...],"errors_total":N,
 * "errors_not_listed":M */
static int put_failures(cairn_buf *b, int *first, const struct items *it)
{
	int rc;
	if ((rc = cairn_json_key(b, first, "errors")) || (rc = cairn_buf_append_u8(b, '[')))
		return rc;
	for (size_t i = 0; i < it->n_failed; i++) {
		int f = 1;
		if ((i && (rc = cairn_buf_append_u8(b, ','))) ||
		    (rc = cairn_buf_append_u8(b, '{')) || (rc = cairn_json_key(b, &f, "path")) ||
		    (rc = cairn_json_string(b, it->failed[i].path)) ||
		    (rc = cairn_json_key(b, &f, "error")) ||
		    (rc = cairn_json_string(b, it->failed[i].error)) ||
		    (rc = cairn_buf_append_u8(b, '}')))
			return rc;
	}
	if ((rc = cairn_buf_append_u8(b, ']')) ||
	    (rc = put_u64(b, first, "errors_total", it->failed_total)))
		return rc;
	return put_u64(b, first, "errors_not_listed", it->failed_total - it->n_failed);
}

static int print_json(const cairn_snapshot *snap, int dry_run, int index_offline,
                      const struct items *it)
{
	const cairn_summary *s = &snap->summary;
	cairn_buf b = CAIRN_BUF_INIT;
	int first = 1, rc;

	if ((rc = cairn_buf_append_u8(&b, '{')) ||
	    (rc = cairn_json_key(&b, &first, "message_type")) ||
	    (rc = cairn_json_string(&b, "summary")) ||
	    (rc = cairn_json_key(&b, &first, "snapshot_id")))
		goto out;
	rc = dry_run ? cairn_buf_append(&b, "null", 4) : cli_json_hex(&b, snap->id, CAIRN_ID_SIZE);
	if (rc || (rc = put_u64(&b, &first, "files_new", s->files_new)) ||
	    (rc = put_u64(&b, &first, "files_changed", s->files_changed)) ||
	    (rc = put_u64(&b, &first, "files_unchanged", s->files_unchanged)) ||
	    (rc = put_u64(&b, &first, "dirs", s->dirs)) ||
	    (rc = put_u64(&b, &first, "others", s->others)) ||
	    (rc = put_u64(&b, &first, "bytes_read", s->bytes_read)) ||
	    (rc = put_u64(&b, &first, "bytes_total", s->bytes_total)) ||
	    (rc = put_u64(&b, &first, "bytes_added", s->bytes_added)) ||
	    (rc = put_u64(&b, &first, "blobs_added", s->blobs_added)) ||
	    (rc = put_u64(&b, &first, "tree_blobs_added", s->tree_blobs_added)) ||
	    (rc = put_failures(&b, &first, it)) ||
	    (rc = put_u64(&b, &first, "duration_ns", s->duration_ns)) ||
	    (rc = cairn_json_key(&b, &first, "dry_run")) || (rc = cli_json_bool(&b, dry_run)) ||
	    (rc = cairn_json_key(&b, &first, "index_offline")) ||
	    (rc = cli_json_bool(&b, index_offline)) || (rc = cairn_buf_append_u8(&b, '}')))
		goto out;
	rc = cli_json_emit(&b);
out:
	cairn_buf_free(&b);
	return rc;
}

/* The end of a backup that wrote its snapshot (rc 0 or CAIRN_EPARTIAL,
 * why its message): a word if the index server was out of reach, the
 * summary, and the exit status. */
static int report(cli_ctx *ctx, cairn_repo *repo, const cairn_snapshot *snap, int dry_run, int rc,
                  const char *why, const struct items *it)
{
	/* A cron backup goes on without its index server (docs/SERVER.md). */
	char offline_why[512], msg[700];
	int offline = cairn_repo_index_offline(repo, offline_why, sizeof(offline_why));
	if (offline) {
		snprintf(msg, sizeof(msg),
		         "out of reach (%s): the backup went on without it, storing what it "
		         "could not ask about; the server is told the rest next time",
		         offline_why);
		cli_warning("index server", msg);
	}
	if (ctx->json) {
		int prc = print_json(snap, dry_run, offline, it);
		if (prc)
			return cli_fail(prc);
	} else if (!ctx->quiet) {
		print_text(snap, dry_run, it);
	}
	const char *done = dry_run ? "finished" : "snapshot saved";
	if (rc == CAIRN_EPARTIAL && snap->summary.errors) {
		cli_error("%s, but %llu %s could not be read", done,
		          (unsigned long long)snap->summary.errors,
		          snap->summary.errors == 1 ? "entry" : "entries");
		return CLI_EXIT_PARTIAL;
	}
	if (rc == CAIRN_EPARTIAL) {
		/* Snapshot records were passed over (named above as warnings). */
		cli_error("%s, but %s", done, why);
		return CLI_EXIT_PARTIAL;
	}
	return CLI_EXIT_OK;
}

int cmd_backup(cli_ctx *ctx, int argc, char **argv)
{
	cli_strv tags = CLI_STRV_INIT, excludes = CLI_STRV_INIT, texts = CLI_STRV_INIT;
	struct inputs in = {CLI_STRV_INIT, CLI_STRV_INIT, "stdin", 0, 0, 0};
	cairn_backup_opts opts = {0};
	cairn_snapshot snap = {0};
	struct items items = {ctx, NULL, 0, 0, 0, CAIRN_BUF_INIT};
	cairn_repo *repo = NULL;
	char why[256] = "";
	int c, rc, status = CLI_EXIT_FATAL;

	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		rc = 0;
		switch (c) {
		case OPT_TAG:
			if ((rc = cli_tags_add(&tags, optarg)) == CAIRN_EINVAL) {
				status = cli_usage_error(ctx, "%s", cairn_error_last());
				goto out;
			}
			break;
		case OPT_HOST:
			opts.host = optarg;
			break;
		case OPT_EXCLUDE:
			rc = cli_strv_push(&excludes, optarg);
			break;
		case OPT_EXCLUDE_FILE:
			rc = add_exclude_file(optarg, &excludes, &texts);
			break;
		case OPT_ONE_FILE_SYSTEM:
			opts.one_file_system = 1;
			break;
		case OPT_DRY_RUN:
			opts.dry_run = 1;
			break;
		case OPT_EXCLUDE_CACHES:
		case OPT_EXCLUDE_IF_PRESENT:
		case OPT_FILES_FROM:
		case OPT_FILES_FROM_RAW:
		case OPT_STDIN:
		case OPT_STDIN_FILENAME:
			rc = input_option(c, optarg, &in, &texts);
			break;
		case CLI_OPT_EXIT:
			status = ctx->exit_code;
			goto out;
		default:
			status = cli_usage_error(ctx, "unexpected option");
			goto out;
		}
		if (rc) {
			status = cli_fail(rc);
			goto out;
		}
	}
	if ((status = inputs_check(ctx, argc, argv, &in)) != 0)
		goto out;
	if ((status = cli_repo_open(ctx, &repo)) != 0)
		goto out;

	opts.paths = in.paths.v;
	opts.n_paths = in.paths.n;
	opts.exclude_caches = in.exclude_caches;
	opts.exclude_if_present = in.present.v;
	opts.n_exclude_if_present = in.present.n;
	opts.stdin_name = in.from_stdin ? in.stdin_name : NULL;
	opts.tags = tags.v;
	opts.n_tags = tags.n;
	opts.excludes = excludes.v;
	opts.n_excludes = excludes.n;
	cli_progress_start(cli_progress_wanted(ctx));
	/* Without a line to show them, the totals are not counted. */
	opts.progress = cli_progress_active() ? cli_progress_cb : NULL;
	opts.warn = cli_warn_cb;
	opts.item = item_cb;
	opts.ud = &items;
	cairn_error_clear();
	rc = cairn_backup(repo, &opts, &snap);
	cli_progress_end();
	if (rc == CAIRN_EPARTIAL)
		snprintf(why, sizeof(why), "%s", cairn_error_last());
	if (rc && rc != CAIRN_EPARTIAL) {
		status = cli_fail(rc);
		goto out;
	}
	status = report(ctx, repo, &snap, opts.dry_run, rc, why, &items);
out:
	items_free(&items);
	cairn_snapshot_clear(&snap);
	cairn_repo_free(repo);
	for (size_t i = 0; i < texts.n; i++)
		free((char *)texts.v[i]);
	cli_strv_free(&texts);
	cli_strv_free(&excludes);
	cli_strv_free(&in.paths);
	cli_strv_free(&in.present);
	for (size_t i = 0; i < tags.n; i++)
		free((char *)tags.v[i]);
	cli_strv_free(&tags);
	return status;
}

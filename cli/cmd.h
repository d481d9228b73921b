/* The commands of cairn: one cmd_<name>.c each, listed in main.c. */
#ifndef CAIRN_CLI_CMD_H
#define CAIRN_CLI_CMD_H

#include "cairn/repo.h"
#include "cairn/snapshot.h"

#include <getopt.h>

typedef struct cli_ctx cli_ctx;

typedef struct cli_cmd {
	const char *name;
	int (*run)(cli_ctx *ctx, int argc, char **argv); /* returns the exit status */
	const char *summary;
	const char *usage; /* synopsis and the command's own options */
} cli_cmd;

/* Global options and the state of one run. */
struct cli_ctx {
	const char *repo;
	const char *password_file;
	const char *cache_dir;
	const char *index;
	const char *index_token_file;
	int json, quiet, verbose; /* verbose: how many -v */
	const cli_cmd *cmd;
	int exit_code; /* when cli_getopt returns CLI_OPT_EXIT */
	struct option *merged;
	const struct option *merged_from;
	char *default_repo;
};

/* Values of a command's own options start here; lower ones are global. */
#define CLI_OPT_OWN 0x100
#define CLI_OPT_EXIT (-2)

/* getopt_long over argv (argv[0] is the command name) with the command's
 * own options merged with the global ones, which it stores in ctx. Returns
 * an own option's value (optarg holds its argument), -1 when the options
 * are done (the operands are argv[optind..argc)), or CLI_OPT_EXIT after
 * printing help (exit_code 0) or a usage error (exit_code 1). */
int cli_getopt(cli_ctx *ctx, int argc, char **argv, const struct option *own);
/* Prints "cairn: <message>" and a hint to --help; returns 1. */
int cli_usage_error(cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The repository location from --repo, CAIRN_REPO or the default; NULL
 * after reporting an error. */
const char *cli_repo_location(cli_ctx *ctx);
/* --cache-dir, CAIRN_CACHE_DIR, or NULL for the library's default. */
const char *cli_cache_dir(cli_ctx *ctx);
/* Opens the repository, asking for a password only if it is encrypted.
 * Returns 0, or the exit status after reporting the error. */
int cli_repo_open(cli_ctx *ctx, cairn_repo **out);
/* As cli_repo_open, with a master key export (text, len bytes) instead
 * of a password: `cairn key import`. */
int cli_repo_open_export(cli_ctx *ctx, cairn_repo **out, const char *text, size_t len);
/* Whether progress lines may be shown (not with --json or --quiet). */
int cli_progress_wanted(const cli_ctx *ctx);

int cmd_init(cli_ctx *ctx, int argc, char **argv);
int cmd_backup(cli_ctx *ctx, int argc, char **argv);
int cmd_snapshots(cli_ctx *ctx, int argc, char **argv);
int cmd_ls(cli_ctx *ctx, int argc, char **argv);
int cmd_restore(cli_ctx *ctx, int argc, char **argv);
int cmd_forget(cli_ctx *ctx, int argc, char **argv);
int cmd_index(cli_ctx *ctx, int argc, char **argv);
int cmd_check(cli_ctx *ctx, int argc, char **argv);
int cmd_prune(cli_ctx *ctx, int argc, char **argv);
int cmd_diff(cli_ctx *ctx, int argc, char **argv);
int cmd_stats(cli_ctx *ctx, int argc, char **argv);
int cmd_find(cli_ctx *ctx, int argc, char **argv);
int cmd_dump(cli_ctx *ctx, int argc, char **argv);
int cmd_mount(cli_ctx *ctx, int argc, char **argv);

/* cmd_prune.c, for forget --prune too: runs a prune with a progress
 * line and warnings; the exit status (0 or after reporting the error). */
struct cairn_prune_result;
int cli_prune(cli_ctx *ctx, cairn_repo *repo, double max_unused, int dry_run,
              struct cairn_prune_result *res);
void cli_prune_print(const struct cairn_prune_result *res, int dry_run);
int cli_prune_json(cairn_buf *b, const struct cairn_prune_result *res, int dry_run);
/* "10", "10%", "2.5": 0 and *out, or -1 unless within 0..100. */
int cli_parse_max_unused(const char *s, double *out);
int cmd_key(cli_ctx *ctx, int argc, char **argv);
int cmd_tag(cli_ctx *ctx, int argc, char **argv);
int cmd_version(cli_ctx *ctx, int argc, char **argv);
/* cmd_version.c, for --version too: prints the versions (JSON with
 * --json); the exit status. */
int cli_version_print(cli_ctx *ctx);

#endif

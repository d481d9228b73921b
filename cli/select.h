/* Choosing snapshots on the command line: --host, --tag and --path as
 * every command that takes a SNAPSHOT (or lists snapshots) takes them,
 * and loading the snapshot a SNAPSHOT argument names. */
#ifndef CAIRN_CLI_SELECT_H
#define CAIRN_CLI_SELECT_H

#include "cmd.h"
#include "common.h"

#include "cairn/select.h"

/* Option values of --host, --tag and --path: below CLI_OPT_OWN, so that
 * they never meet a command's own. */
enum {
	CLI_OPT_HOST = 0x80,
	CLI_OPT_TAG,
	CLI_OPT_PATH,
};

/* The three options, for a command's table of options:
 * CLI_FILTER_HOST, CLI_FILTER_TAG, CLI_FILTER_PATH, */
#define CLI_FILTER_HOST                                                                            \
	{                                                                                          \
		"host", required_argument, NULL, CLI_OPT_HOST                                      \
	}
#define CLI_FILTER_TAG                                                                             \
	{                                                                                          \
		"tag", required_argument, NULL, CLI_OPT_TAG                                        \
	}
#define CLI_FILTER_PATH                                                                            \
	{                                                                                          \
		"path", required_argument, NULL, CLI_OPT_PATH                                      \
	}

/* What the options asked for. Repeated --host and --tag options are
 * alternatives ("--tag a,b" needs both a and b); every --path must be
 * among a snapshot's paths. */
typedef struct cli_filter {
	cli_strv hosts, tags;
	cli_strv paths; /* absolute and normalised; owned */
	cairn_snapshot_filter f;
} cli_filter;

#define CLI_FILTER_INIT                                                                            \
	{                                                                                          \
		CLI_STRV_INIT, CLI_STRV_INIT, CLI_STRV_INIT,                                       \
		{                                                                                  \
			0                                                                          \
		}                                                                                  \
	}

/* Takes option c with its argument if it is one of the three: 1 if it
 * was, 0 if it is not one of them, or a library code with a message. */
int cli_filter_take(cli_filter *f, int c, const char *arg);
/* For an option c that is none of the command's own: takes it if it is
 * one of the three (0), or reports it and returns the exit status. */
int cli_filter_option(cli_ctx *ctx, cli_filter *f, int c, const char *arg);
/* The options of a command whose own options are these three alone:
 * cli_getopt over argv, taking them into f. -1 when the operands come
 * next (argv[optind..argc)), else the exit status to return (0 after
 * --help, 1 after a usage error). */
int cli_filter_getopt(cli_ctx *ctx, int argc, char **argv, cli_filter *f);
/* The filter to pass to the library (valid until f changes). */
const cairn_snapshot_filter *cli_filter_get(cli_filter *f);
void cli_filter_free(cli_filter *f);

/* 0 if the operands argv[optind..argc) are a SNAPSHOT and at most `more`
 * others; else reports the usage error and returns the exit status. */
int cli_snapshot_operands(cli_ctx *ctx, int argc, char **argv, int more);
/* 0 if the operands are a SNAPSHOT and exactly one other; else reports
 * the usage error (missing: what to say when the other is not given)
 * and returns the exit status. */
int cli_snapshot_operands_two(cli_ctx *ctx, int argc, char **argv, const char *missing);
/* Loads the snapshot that name ("latest", an id or a prefix) chooses,
 * narrowed by f (NULL: none): cairn_snapshot_select. Records passed over
 * are told to skips; then, and unless --quiet, which snapshot is used is
 * said on stderr. 0 or a library code with a message. */
int cli_snapshot_load(cli_ctx *ctx, cairn_repo *r, const char *name, cli_filter *f,
                      cairn_snapshot *out, cairn_snapshot_skips *skips);
/* Appends s as a JSON object: id, short_id, time, host, paths, tags. */
int cli_snapshot_json(cairn_buf *b, const cairn_snapshot *s);

#endif

/* cairn: the command-line client. Parses the global options, finds the
 * command in the table below and runs it. */
#include "cmd.h"
#include "util/units.h"
#include "common.h"
#include "output.h"
#include "password.h"

#include "cairn/errors.h"
#include "cairn/sys/index.h"
#include "util/hex.h"

#include <errno.h>
#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The options that narrow SNAPSHOT, in the usage of ls and restore. */
#define SNAPSHOT_OPTIONS                                                                           \
	"\n"                                                                                       \
	"SNAPSHOT is an id, a unique prefix of one, or latest (the newest of every host\n"         \
	"unless narrowed). These narrow it; an id must name a snapshot they allow:\n"              \
	"  --host H            of host H (repeatable: any of them)\n"                              \
	"  --tag T             tagged T (\"a,b\": both a and b; repeatable: any of them)\n"        \
	"  --path P            with path P among its paths (repeatable: all of them)\n"

static const cli_cmd commands[] = {
    {"init", cmd_init, "create a repository",
     "usage: cairn init [--chunk-min S --chunk-avg S --chunk-max S] [--no-encryption]\n"
     "                  [--kdf-memory S] [--kdf-iterations N]\n"
     "\n"
     "  --chunk-min S, --chunk-avg S, --chunk-max S\n"
     "                      chunk sizes (512K, 1M, 8MiB, 4096, ...)\n"
     "  --no-encryption     store data unencrypted (no password)\n"
     "  --kdf-memory S      Argon2id memory for the password key\n"
     "  --kdf-iterations N  Argon2id passes; lower these two only for tests or\n"
     "                      very small machines\n"},
    {"backup", cmd_backup, "back up files and directories",
     "usage: cairn backup [--tag T]... [--host H] [--exclude GLOB]... [--exclude-file F]\n"
     "                    [--one-file-system] [--dry-run] [--exclude-caches]\n"
     "                    [--exclude-if-present NAME[:HEADER]]... [--files-from F]...\n"
     "                    [--files-from-raw F]... [PATH...]\n"
     "       cairn backup [--tag T]... [--host H] --stdin [--stdin-filename NAME]\n"
     "\n"
     "  --tag T             tag the snapshot with T (\"x,y\": two tags; repeatable)\n"
     "  --host H            record H as the host (default: this machine's name)\n"
     "  --exclude GLOB      skip what pattern GLOB names (*, **, [..], dir/, !not;\n"
     "                      see README; repeatable)\n"
     "  --exclude-file F    read patterns from F, one a line (# starts a comment)\n"
     "  --one-file-system   stay on the file system of each PATH\n"
     "  --dry-run           read and chunk everything, store nothing\n"
     "  --exclude-caches    skip the content of directories with a CACHEDIR.TAG\n"
     "                      (the tag itself is kept)\n"
     "  --exclude-if-present NAME[:HEADER]\n"
     "                      the same for a file NAME (that begins with HEADER)\n"
     "  --files-from F      back up the paths in F, one a line (# starts a comment)\n"
     "  --files-from-raw F  the same, NUL-separated\n"
     "  --stdin             back up standard input as one file\n"
     "  --stdin-filename NAME  its name in the snapshot (default: stdin)\n"
     "  -v                  list each file new or changed; -vv: every entry\n"},
    {"snapshots", cmd_snapshots, "list snapshots",
     "usage: cairn snapshots [--host H]... [--tag T]... [--path P]...\n"
     "\n"
     "  --host H            only snapshots of host H (repeatable: any of them)\n"
     "  --tag T             only snapshots tagged T (\"a,b\": both a and b;\n"
     "                      repeatable: any of them)\n"
     "  --path P            only snapshots of path P (repeatable: all of them)\n"},
    {"ls", cmd_ls, "list the files of a snapshot",
     "usage: cairn ls [--host H]... [--tag T]... [--path P]... SNAPSHOT [PATTERN]...\n"
     "\n"
     "Lists the entries of SNAPSHOT (an id, a unique prefix of one, or latest)\n"
     "that a PATTERN names (a path: it and what is below it; \"*.txt\": at any\n"
     "depth; \"./x\": from here; see README). --verbose shows mode, owner, size\n"
     "and time.\n" SNAPSHOT_OPTIONS},
    {"restore", cmd_restore, "restore a snapshot",
     "usage: cairn restore SNAPSHOT --target DIR [--include PAT]... [--exclude PAT]...\n"
     "                     [--dry-run] [--verify] [--host H]... [--tag T]...\n"
     "                     [--path P]...\n"
     "\n"
     "  --target DIR        restore under DIR (each path as DIR/<absolute path>)\n"
     "  --include PAT       restore only what pattern PAT names: a path and what lies\n"
     "                      below it, or *, **, [..], dir/, !not (see README;\n"
     "                      repeatable); one that matches nothing is a warning,\n"
     "                      all of them matching nothing an error\n"
     "  --exclude PAT       do not restore what PAT names (repeatable)\n"
     "  --dry-run           count what would be restored (-v: list it), create\n"
     "                      nothing; --target may be left out\n"
     "  --verify            read the restored files back and compare\n" SNAPSHOT_OPTIONS},
    {"diff", cmd_diff, "show what changed between two snapshots",
     "usage: cairn diff [--host H]... [--tag T]... [--path P]... SNAPSHOT SNAPSHOT\n"
     "\n"
     "Lists each entry added (+), removed (-), with other content (M), of another\n"
     "type (T) or with other metadata only (U: mode, owner, mtime, xattrs, flags)\n"
     "from the first snapshot to the second, then a summary with the content bytes\n"
     "added and removed. Compares chunk lists; reads no file data. --json: one\n"
     "object per change, then one with the totals.\n" SNAPSHOT_OPTIONS},
    {"stats", cmd_stats, "show how much the snapshots take",
     "usage: cairn stats [--host H]... [--tag T]... [--path P]... [SNAPSHOT]\n"
     "\n"
     "The restore size (files and their bytes), the unique content (each distinct\n"
     "chunk once), what that takes stored after compression and encryption, and\n"
     "the ratios, for SNAPSHOT or, without one, for every snapshot (those the\n"
     "options let through). Exits 3 if a chunk has no place in the index.\n" SNAPSHOT_OPTIONS},
    {"find", cmd_find, "find files in every snapshot",
     "usage: cairn find [--host H]... [--tag T]... [--path P]... PATTERN...\n"
     "\n"
     "Prints snapshot id, mtime, size and path of every entry that a PATTERN names\n"
     "(\"*.c\": at any depth; \"/home/u/**/x\"; \"dir/\": directories; see README), in\n"
     "every snapshot the options let through, oldest first. A directory found stands\n"
     "for what is below it.\n"
     "\n"
     "  --host H            only snapshots of host H (repeatable: any of them)\n"
     "  --tag T             only snapshots tagged T (\"a,b\": both; repeatable)\n"
     "  --path P            only snapshots with path P (repeatable: all of them)\n"},
    {"dump", cmd_dump, "write a file, or a directory as tar, to stdout",
     "usage: cairn dump [--host H]... [--tag T]... [--path P]... SNAPSHOT PATH\n"
     "\n"
     "Writes the regular file PATH of SNAPSHOT to stdout, or, for a directory, it\n"
     "and everything below it as a POSIX (pax) tar stream: `cairn dump latest /etc\n"
     "| tar -x` gives what restore gives. Exits 1 if PATH is not in the snapshot, 3\n"
     "if data is damaged (the file is named; its unreadable bytes are zeros).\n" SNAPSHOT_OPTIONS},
    {"mount", cmd_mount, "browse the snapshots as a read-only file system",
     "usage: cairn mount [--cache-size S] [--allow-other] [--host H]... [--tag T]...\n"
     "                   [--path P]... DIR\n"
     "\n"
     "Shows the snapshots under DIR (FUSE), until unmounted (fusermount3 -u DIR,\n"
     "or Ctrl-C): ids/<id>/ holds a snapshot's paths, snapshots/<time>/ and\n"
     "hosts/<host>/<time>/ the same by time, latest is a link to the newest.\n"
     "\n"
     "  --cache-size S      memory for file content read (default 64M)\n"
     "  --allow-other       let other users in (the kernel checks permissions)\n"
     "  --host H, --tag T, --path P\n"
     "                      show only the snapshots these choose (see ls)\n"},
    {"forget", cmd_forget, "remove snapshots by a retention policy, or by id",
     "usage: cairn forget [--host H]... [--tag T]... [--path P]... SNAPSHOT...\n"
     "       cairn forget [--keep-last N] [--keep-hourly N] [--keep-daily N]\n"
     "                    [--keep-weekly N] [--keep-monthly N] [--keep-yearly N]\n"
     "                    [--keep-within DURATION] [--keep-tag T]... [--group-by G]\n"
     "                    [--tag T]... [--host H]... [--path P]... [--dry-run]\n"
     "                    [--prune [--max-unused PERCENT]]\n"
     "\n"
     "  --keep-last N       keep the N newest snapshots (-1: all)\n"
     "  --keep-hourly N     keep the newest snapshot of each of the last N hours that\n"
     "                      have one; likewise --keep-daily, --keep-weekly (ISO weeks),\n"
     "                      --keep-monthly and --keep-yearly (local time)\n"
     "  --keep-within D     keep every snapshot within D (1y2m3d4h) of the newest\n"
     "  --keep-tag T        keep every snapshot tagged T (\"a,b\": both; repeatable)\n"
     "  --group-by G        apply the policy to each group of host, paths, tags\n"
     "                      (default host,paths; \"\" for one group)\n"
     "  --tag T, --host H, --path P\n"
     "                      consider only snapshots with tags T (\"a,b\": both), of\n"
     "                      host H, with path P (each repeatable: T and H any, P all);\n"
     "                      with SNAPSHOT..., each must be one of them, and latest is\n"
     "                      the newest of them\n"
     "  --dry-run           show what would be removed, remove nothing\n"
     "  --prune             prune afterwards (see cairn prune --help)\n"
     "\n"
     "Forgetting removes snapshot records only: the data that the removed snapshots\n"
     "alone used stays in the repository until it is pruned.\n"},
    {"tag", cmd_tag, "change the tags of snapshots",
     "usage: cairn tag --add T | --remove T | --set T [--host H]... [--tag T]...\n"
     "                 [--path P]... SNAPSHOT...\n"
     "\n"
     "  --add T             add tags T (\"a,b\": a and b; repeatable)\n"
     "  --remove T          remove tags T (repeatable; with --add)\n"
     "  --set T             replace the tags by T (repeatable; \"\" for none)\n"
     "\n"
     "Each snapshot whose tags change is written again with the new tags, under a\n"
     "new id that records the old one (\"original\"), and the old record is removed.\n"
     "Interrupted in between, both are left, never neither.\n" SNAPSHOT_OPTIONS},
    {"prune", cmd_prune, "remove the data no snapshot needs",
     "usage: cairn prune [--max-unused PERCENT] [--dry-run]\n"
     "\n"
     "Deletes the packs no snapshot needs, and copies the used part of the most\n"
     "unused other packs into new packs until the unused bytes left are at most\n"
     "PERCENT of the used ones (default 10). Takes no lock: backups\n"
     "may run meanwhile, from any machine. What a backup running at the time may\n"
     "still need is condemned first and deleted by a later prune, once that backup\n"
     "has ended (see docs/MAINTENANCE.md). With an index server, needs an admin\n"
     "token.\n"
     "\n"
     "  --max-unused P      leave at most P% unused bytes (0..100; 0: none)\n"
     "  --dry-run           decide and report; change nothing\n"},
    {"check", cmd_check, "check the repository for damage",
     "usage: cairn check [--read-data | --read-data-subset N/M | --read-data-subset P%]\n"
     "\n"
     "Checks that every snapshot and its manifest read, that every chunk they\n"
     "reference has a place in a pack that holds it, and that the index objects\n"
     "and the packs agree. Exits 3 if anything is damaged or missing.\n"
     "\n"
     "  --read-data         also read every pack and check every blob in it\n"
     "  --read-data-subset N/M\n"
     "                      read only part N of M of the packs (1/7 .. 7/7 read\n"
     "                      each pack once)\n"
     "  --read-data-subset P%\n"
     "                      read a random P% of the packs\n"},
    {"index", cmd_index, "maintain the index",
     "usage: cairn index rebuild\n"
     "\n"
     "  rebuild             recreate the index from the repository's index objects;\n"
     "                      with --index, register them and every snapshot with the\n"
     "                      index server again\n"},
    {"key", cmd_key, "manage the repository's keys",
     "usage: cairn key list\n"
     "       cairn key add --new-password-file F\n"
     "       cairn key remove ID\n"
     "       cairn key passwd --new-password-file F\n"
     "       cairn key export\n"
     "       cairn key import --export-file F --new-password-file F2\n"
     "\n"
     "  list                the key files: id, when, host and user that made them;\n"
     "                      * marks the one this command opened with\n"
     "  add                 a new key file sealing the same master key under the\n"
     "                      password in F (its first line)\n"
     "  remove ID           remove a key file (ID: a unique prefix); never the last\n"
     "  passwd              change the password of the key in use: writes the new\n"
     "                      key file, then removes the old one\n"
     "  export              print the master key for safekeeping on paper: whoever\n"
     "                      holds it can read the repository, whatever the passwords\n"
     "  import              make a key file from an export, when no password is left;\n"
     "                      needs no password. An export of another repository is\n"
     "                      refused\n"
     "\n"
     "CAIRN_KEY_HINT=ID tries that key file first when opening.\n"},
    {"version", cmd_version, "print the versions of cairn and its libraries",
     "usage: cairn version\n"},
};

enum {
	OPT_REPO = 0x10,
	OPT_PASSWORD_FILE,
	OPT_CACHE_DIR,
	OPT_INDEX,
	OPT_INDEX_TOKEN_FILE,
	OPT_JSON,
	OPT_CONNECTIONS,
	OPT_LIMIT_UPLOAD,
	OPT_LIMIT_DOWNLOAD,
	OPT_VERSION,
};

static const struct option global_options[] = {
    {"repo", required_argument, NULL, OPT_REPO},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
    {"index", required_argument, NULL, OPT_INDEX},
    {"index-token-file", required_argument, NULL, OPT_INDEX_TOKEN_FILE},
    {"json", no_argument, NULL, OPT_JSON},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"limit-upload", required_argument, NULL, OPT_LIMIT_UPLOAD},
    {"limit-download", required_argument, NULL, OPT_LIMIT_DOWNLOAD},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};
#define N_GLOBAL (sizeof(global_options) / sizeof(global_options[0]) - 1)

static const char global_usage[] =
    "Global options (before or after the command):\n"
    "  --repo LOCATION       repository (or CAIRN_REPO; default\n"
    "                        ${XDG_DATA_HOME:-~/.local/share}/cairn/repo)\n"
    "  --password-file F     read the password from the first line of F\n"
    "                        (or CAIRN_PASSWORD_FILE, or CAIRN_PASSWORD)\n"
    "  --cache-dir D         cache and index directory (or CAIRN_CACHE_DIR)\n"
    "  --index URL           use the index server at URL (or CAIRN_INDEX)\n"
    "  --index-token-file F  read its token from the first line of F\n"
    "                        (or CAIRN_INDEX_TOKEN)\n"
    "  --connections N       S3 requests in flight at once (or CAIRN_CONNECTIONS;\n"
    "                        default 8)\n"
    "  --limit-upload K      write to the repository at most K KiB/s, all\n"
    "                        transfers together (or CAIRN_LIMIT_UPLOAD; 0: no limit)\n"
    "  --limit-download K    read from it at most K KiB/s (or CAIRN_LIMIT_DOWNLOAD)\n"
    "  --json                machine-readable output on stdout\n"
    "  -q, --quiet           print only errors, warnings and requested data\n"
    "  -v, --verbose         print more detail (twice: still more)\n"
    "  -h, --help            show help\n"
    "  --version             show the versions of cairn and its libraries\n";

static void main_usage(FILE *f)
{
	fputs("usage: cairn [options] COMMAND [options] [ARGS]\n\nCommands:\n", f);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s  %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n%s\nRun 'cairn COMMAND --help' for a command's options.\n", global_usage);
}

static void command_usage(const cli_cmd *cmd, FILE *f)
{
	fprintf(f, "%s\n%s", cmd->usage, global_usage);
}

static const cli_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* --connections, kept here rather than in ctx; checked when a repository
 * is opened. */
static const char *connections_arg;
#define LIMIT_KIB_MAX (UINT64_C(1) << 32) /* 4 TiB/s */

static int connections_get(int *out)
{
	const char *v = connections_arg ? connections_arg : getenv("CAIRN_CONNECTIONS");
	uint64_t n;
	*out = 0;
	if (!v || !v[0])
		return 0;
	if (cairn_uint_parse(v, &n) || n < 1 || n > 256)
		return cairn_error_set(CAIRN_EINVAL,
		                       "--connections: '%s' is not a number from "
		                       "1 to 256",
		                       v);
	*out = (int)n;
	return 0;
}

/* --limit-upload and --limit-download, kept as --connections is. */
static const char *limit_upload_arg, *limit_download_arg;

/* A limit in KiB/s from the option or the environment, in bytes/s. */
static int limit_get(const char *arg, const char *option, const char *var, uint64_t *out)
{
	const char *v = arg ? arg : getenv(var);
	uint64_t n;
	*out = 0;
	if (!v || !v[0])
		return 0;
	if (cairn_uint_parse(v, &n) || n > LIMIT_KIB_MAX)
		return cairn_error_set(
		    CAIRN_EINVAL, "%s: '%s' is not a number of KiB/s from 0 (no limit) to %llu",
		    arg ? option : var, v, (unsigned long long)LIMIT_KIB_MAX);
	*out = n * 1024;
	return 0;
}

/* 1 if c was a global option (stored in ctx), else 0. */
static int take_global(cli_ctx *ctx, int c, const char *arg)
{
	switch (c) {
	case OPT_REPO:
		ctx->repo = arg;
		return 1;
	case OPT_PASSWORD_FILE:
		ctx->password_file = arg;
		return 1;
	case OPT_CACHE_DIR:
		ctx->cache_dir = arg;
		return 1;
	case OPT_CONNECTIONS:
		connections_arg = arg;
		return 1;
	case OPT_LIMIT_UPLOAD:
		limit_upload_arg = arg;
		return 1;
	case OPT_LIMIT_DOWNLOAD:
		limit_download_arg = arg;
		return 1;
	case OPT_INDEX:
		ctx->index = arg;
		return 1;
	case OPT_INDEX_TOKEN_FILE:
		ctx->index_token_file = arg;
		return 1;
	case OPT_JSON:
		ctx->json = 1;
		return 1;
	case 'q':
		ctx->quiet = 1;
		return 1;
	case 'v':
		ctx->verbose++;
		return 1;
	default:
		return 0;
	}
}

/* The message for a '?' or ':' from getopt_long (opterr is off). */
static void report_bad_option(int c, char **argv)
{
	const char *arg = argv[optind - 1];
	if (c == ':')
		cli_error("option '%s' needs a value", arg);
	else if (optopt && strncmp(arg, "--", 2) != 0)
		cli_error("unknown option '-%c'", optopt);
	else
		cli_error("unknown option '%s'", arg);
}

int cli_usage_error(cli_ctx *ctx, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_error("%s", msg);
	if (ctx->cmd)
		fprintf(stderr, "Try 'cairn %s --help'.\n", ctx->cmd->name);
	else
		fputs("Try 'cairn --help'.\n", stderr);
	return CLI_EXIT_FATAL;
}

int cli_getopt(cli_ctx *ctx, int argc, char **argv, const struct option *own)
{
	if (ctx->merged_from != own) {
		size_t n = 0;
		while (own[n].name)
			n++;
		free(ctx->merged);
		ctx->merged = calloc(n + N_GLOBAL + 1, sizeof(*ctx->merged));
		if (!ctx->merged) {
			cli_error("out of memory");
			ctx->exit_code = CLI_EXIT_FATAL;
			return CLI_OPT_EXIT;
		}
		memcpy(ctx->merged, own, n * sizeof(*own));
		memcpy(ctx->merged + n, global_options, (N_GLOBAL + 1) * sizeof(*own));
		ctx->merged_from = own;
		optind = 0; /* glibc: start afresh on this argv */
	}
	for (;;) {
		int c = getopt_long(argc, argv, ":hqv", ctx->merged, NULL);
		if (c == -1)
			return -1;
		if (take_global(ctx, c, optarg))
			continue;
		if (c == 'h') {
			command_usage(ctx->cmd, stdout);
			ctx->exit_code = CLI_EXIT_OK;
			return CLI_OPT_EXIT;
		}
		if (c == OPT_VERSION) {
			ctx->exit_code = cli_version_print(ctx);
			return CLI_OPT_EXIT;
		}
		if (c == '?' || c == ':') {
			report_bad_option(c, argv);
			fprintf(stderr, "Try 'cairn %s --help'.\n", ctx->cmd->name);
			ctx->exit_code = CLI_EXIT_FATAL;
			return CLI_OPT_EXIT;
		}
		return c;
	}
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && v[0] ? v : NULL;
}

const char *cli_repo_location(cli_ctx *ctx)
{
	const char *base, *home;
	cairn_buf b = CAIRN_BUF_INIT;

	if (ctx->repo)
		return ctx->repo;
	if (env("CAIRN_REPO"))
		return env("CAIRN_REPO");
	if (ctx->default_repo)
		return ctx->default_repo;
	/* XDG: a relative XDG_DATA_HOME is invalid and must be ignored. */
	base = env("XDG_DATA_HOME");
	if (base && base[0] == '/') {
		if (cairn_buf_printf(&b, "%s/cairn/repo", base))
			goto nomem;
	} else {
		home = env("HOME");
		if (!home) {
			struct passwd *pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : NULL;
		}
		if (!home) {
			cli_error(
			    "no repository given and no home directory: use --repo or CAIRN_REPO");
			return NULL;
		}
		if (cairn_buf_printf(&b, "%s/.local/share/cairn/repo", home))
			goto nomem;
	}
	ctx->default_repo = (char *)cairn_buf_detach(&b, NULL);
	return ctx->default_repo;
nomem:
	cairn_buf_free(&b);
	cli_error("out of memory");
	return NULL;
}

const char *cli_cache_dir(cli_ctx *ctx)
{
	return ctx->cache_dir ? ctx->cache_dir : env("CAIRN_CACHE_DIR");
}

int cli_progress_wanted(const cli_ctx *ctx)
{
	return !ctx->json && !ctx->quiet;
}

/* The index server's token: the first line of --index-token-file, or
 * CAIRN_INDEX_TOKEN. *out (the caller frees it) is NULL if neither is set. */
static int index_token(const cli_ctx *ctx, char **out)
{
	*out = NULL;
	if (!ctx->index_token_file) {
		const char *t = env("CAIRN_INDEX_TOKEN");
		if (t && !(*out = strdup(t)))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		return 0;
	}
	FILE *f = fopen(ctx->index_token_file, "r");
	char line[4098];
	if (!f)
		return cairn_error_set_errno(CAIRN_EINVAL, errno, "cannot open %s",
		                             ctx->index_token_file);
	size_t n = fread(line, 1, sizeof(line) - 1, f);
	int bad = ferror(f);
	fclose(f);
	if (bad)
		return cairn_error_set(CAIRN_EINVAL, "cannot read %s", ctx->index_token_file);
	line[cli_first_line(line, n)] = '\0';
	if (!line[0])
		return cairn_error_set(CAIRN_EINVAL, "%s holds no token", ctx->index_token_file);
	*out = strdup(line);
	sodium_memzero(line, sizeof(line));
	return *out ? 0 : cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

/* Opens the repository with a password, or with an export (text not
 * NULL) instead. */
static int repo_open(cli_ctx *ctx, cairn_repo **out, const char *text, size_t len)
{
	cli_password pw = {NULL, 0};
	cairn_open_opts opts = {0};
	char *token = NULL;
	const char *location = cli_repo_location(ctx);
	int rc;

	*out = NULL;
	if (!location)
		return CLI_EXIT_FATAL;
	cairn_error_clear();
	if ((rc = connections_get(&opts.connections)) ||
	    (rc = limit_get(limit_upload_arg, "--limit-upload", "CAIRN_LIMIT_UPLOAD",
	                    &opts.limit_upload)) ||
	    (rc = limit_get(limit_download_arg, "--limit-download", "CAIRN_LIMIT_DOWNLOAD",
	                    &opts.limit_download)))
		goto out;
	rc = text ? 0 : cairn_repo_needs_password(location);
	/* A password given for a repository that says it needs none is
	 * passed on all the same: the library refuses a repository that
	 * claims to be unencrypted to a client that never saw it so. */
	if (rc == 1 || (rc == 0 && !text && cli_password_given(ctx->password_file)))
		rc = cli_password_get(&pw, ctx->password_file, 0);
	if (rc < 0)
		goto out;
	opts.warn = cli_warn_cb;
	opts.password = pw.data;
	opts.password_len = pw.len;
	opts.key_export = text;
	opts.key_export_len = len;
	opts.key_hint = env("CAIRN_KEY_HINT");
	opts.cache_dir = cli_cache_dir(ctx);
	opts.index_url = ctx->index ? ctx->index : env("CAIRN_INDEX");
	if (opts.index_url && (rc = index_token(ctx, &token)))
		goto out;
	opts.index_token = token;
	rc = cairn_repo_open(out, location, &opts);
out:
	if (token) {
		sodium_memzero(token, strlen(token));
		free(token);
	}
	cli_password_wipe(&pw);
	if (rc == CAIRN_ENOREPO && !cairn_error_last()[0])
		cairn_error_set(rc, "no repository at %s", location);
	return rc < 0 ? cli_fail(rc) : 0;
}

int cli_repo_open(cli_ctx *ctx, cairn_repo **out)
{
	return repo_open(ctx, out, NULL, 0);
}

int cli_repo_open_export(cli_ctx *ctx, cairn_repo **out, const char *text, size_t len)
{
	return repo_open(ctx, out, text, len);
}

int main(int argc, char **argv)
{
	cli_ctx ctx = {0};
	int c, status, help = 0, version = 0;

	if (sodium_init() < 0) {
		cli_error("libsodium could not be initialised");
		return CLI_EXIT_FATAL;
	}
	/* Before any thread, and before SQLite's first use. */
	(void)cairn_index_sqlite_tune_process();
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hqv", global_options, NULL)) != -1) {
		if (take_global(&ctx, c, optarg))
			continue;
		if (c == 'h') {
			help = 1;
			continue;
		}
		if (c == OPT_VERSION) {
			version = 1;
			continue;
		}
		report_bad_option(c, argv);
		fputs("Try 'cairn --help'.\n", stderr);
		return CLI_EXIT_FATAL;
	}
	if (version && !help) {
		/* "cairn --version", whatever follows */
		status = cli_version_print(&ctx);
		return cli_output_finish() && status == CLI_EXIT_OK ? CLI_EXIT_FATAL : status;
	}
	if (optind >= argc && !help) {
		main_usage(stderr);
		return CLI_EXIT_FATAL;
	}
	if (help || strcmp(argv[optind], "help") == 0) {
		/* "cairn --help [COMMAND]" and "cairn help [COMMAND]" */
		if (!help)
			optind++;
		const cli_cmd *cmd = optind < argc ? find_command(argv[optind]) : NULL;
		if (optind < argc && !cmd)
			return cli_usage_error(&ctx, "unknown command '%s'", argv[optind]);
		if (cmd)
			command_usage(cmd, stdout);
		else
			main_usage(stdout);
		return cli_output_finish();
	}
	ctx.cmd = find_command(argv[optind]);
	if (!ctx.cmd)
		return cli_usage_error(&ctx, "unknown command '%s'", argv[optind]);

	status = ctx.cmd->run(&ctx, argc - optind, argv + optind);
	if (cli_output_finish() && status == CLI_EXIT_OK)
		status = CLI_EXIT_FATAL;
	free(ctx.merged);
	free(ctx.default_repo);
	return status;
}

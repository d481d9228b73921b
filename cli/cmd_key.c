/* cairn key: the repository's key files (cairn/keyring.h). */
#include "cmd.h"
#include "common.h"
#include "output.h"
#include "password.h"

#include "cairn/errors.h"
#include "cairn/keyring.h"
#include "util/hex.h"
#include "util/json.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_NEW_PASSWORD_FILE = CLI_OPT_OWN,
	OPT_EXPORT_FILE,
};

static const struct option options[] = {
    {"new-password-file", required_argument, NULL, OPT_NEW_PASSWORD_FILE},
    {"export-file", required_argument, NULL, OPT_EXPORT_FILE},
    {NULL, 0, NULL, 0},
};

/* What the command line asked for. */
struct key_args {
	const char *verb;
	const char *id;                /* remove */
	const char *new_password_file; /* add, passwd, import */
	const char *export_file;       /* import */
};

static int entry_json(cairn_buf *b, const cairn_key_entry *e)
{
	char hex[CAIRN_ID_HEX + 1], when[48];
	int first = 1, rc;
	cairn_hex_encode(hex, e->id, CAIRN_ID_SIZE);
	cairn_time_format(when, sizeof(when), e->meta.created * 1000000000);
	if ((rc = cairn_buf_printf(b, "{\"id\":\"%s\",\"short_id\":\"%.8s\"", hex, hex)))
		return rc;
	first = 0;
	if ((rc = cairn_json_key(b, &first, "current")) || (rc = cli_json_bool(b, e->in_use)) ||
	    (rc = cairn_json_key(b, &first, "valid")) || (rc = cli_json_bool(b, e->valid)))
		return rc;
	if (e->valid && e->meta.created &&
	    ((rc = cairn_json_key(b, &first, "created")) || (rc = cairn_json_string(b, when))))
		return rc;
	if (e->valid && e->meta.version >= 2 &&
	    ((rc = cairn_json_key(b, &first, "host")) ||
	     (rc = cairn_json_string(b, e->meta.host)) ||
	     (rc = cairn_json_key(b, &first, "user")) || (rc = cairn_json_string(b, e->meta.user))))
		return rc;
	if (e->valid && ((rc = cli_json_count(b, &first, "kdf_memory", e->meta.kdf.memlimit)) ||
	                 (rc = cli_json_count(b, &first, "kdf_iterations", e->meta.kdf.opslimit))))
		return rc;
	return cairn_buf_append_u8(b, '}');
}

static int list_json(const cairn_key_entry *list, size_t n)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int rc = cairn_buf_append_u8(&b, '[');
	for (size_t i = 0; !rc && i < n; i++)
		if (!(rc = i ? cairn_buf_append_u8(&b, ',') : 0))
			rc = entry_json(&b, &list[i]);
	if (!rc && !(rc = cairn_buf_append_u8(&b, ']')))
		rc = cli_json_emit(&b);
	cairn_buf_free(&b);
	return rc;
}

static void list_text(const cairn_key_entry *list, size_t n)
{
	char hex[CAIRN_ID_HEX + 1], when[64];
	printf("  %-8s  %-19s  %s\n", "ID", "Created", "Host and user");
	for (size_t i = 0; i < n; i++) {
		const cairn_key_entry *e = &list[i];
		cairn_hex_encode(hex, e->id, CAIRN_ID_SIZE);
		if (e->valid && e->meta.created)
			cli_time_local(when, sizeof(when), e->meta.created * 1000000000);
		else
			snprintf(when, sizeof(when), "-");
		printf("%c %.8s  %-19s  ", e->in_use ? '*' : ' ', hex, when);
		if (!e->valid) {
			printf("(not a key file: passed over)\n");
		} else if (e->meta.version < 2) {
			printf("(not recorded)\n");
		} else {
			cli_put_name(e->meta.user[0] ? e->meta.user : "?", '@');
			cli_put_name(e->meta.host[0] ? e->meta.host : "?", '\n');
		}
	}
}

static int key_list(cli_ctx *ctx, cairn_repo *repo)
{
	cairn_key_entry *list = NULL;
	size_t n = 0;
	int rc = cairn_repo_key_list(repo, &list, &n);
	if (!rc && ctx->json)
		rc = list_json(list, n);
	else if (!rc)
		list_text(list, n);
	free(list);
	return rc;
}

static int say_id(cli_ctx *ctx, const char *what, const uint8_t id[CAIRN_ID_SIZE])
{
	char hex[CAIRN_ID_HEX + 1];
	cairn_buf b = CAIRN_BUF_INIT;
	int rc = 0;
	cairn_hex_encode(hex, id, CAIRN_ID_SIZE);
	if (ctx->json) {
		if (!(rc = cairn_buf_printf(&b, "{\"%s\":\"%s\"}", what, hex)))
			rc = cli_json_emit(&b);
	} else if (!ctx->quiet) {
		printf("%s key %s\n", what, hex);
	}
	cairn_buf_free(&b);
	return rc;
}

/* The new password from --new-password-file (needed). */
static int new_password(const struct key_args *a, cli_password *pw)
{
	if (!a->new_password_file)
		return cairn_error_set(CAIRN_EINVAL, "key %s needs --new-password-file F", a->verb);
	return cli_password_get(pw, a->new_password_file, 1);
}

static int key_add(cli_ctx *ctx, cairn_repo *repo, const struct key_args *a, int passwd)
{
	cli_password pw = {NULL, 0};
	uint8_t id[CAIRN_ID_SIZE], old[CAIRN_ID_SIZE];
	const uint8_t *in_use = cairn_repo_key_in_use(repo);
	int rc = new_password(a, &pw);
	if (in_use)
		memcpy(old, in_use, CAIRN_ID_SIZE);
	if (!rc && passwd)
		rc = cairn_repo_key_passwd(repo, pw.data, pw.len, id);
	else if (!rc)
		rc = cairn_repo_key_add(repo, pw.data, pw.len, id);
	cli_password_wipe(&pw);
	if (!rc && passwd)
		rc = say_id(ctx, "removed", old);
	return rc ? rc : say_id(ctx, "added", id);
}

static int key_remove(cli_ctx *ctx, cairn_repo *repo, const struct key_args *a)
{
	uint8_t id[CAIRN_ID_SIZE];
	int in_use = 0;
	int rc = cairn_repo_key_remove(repo, a->id, id, &in_use);
	if (!rc && in_use && !ctx->quiet)
		cli_note("the key this command opened with is removed: its password no longer "
		         "opens the repository; the other keys do");
	return rc ? rc : say_id(ctx, "removed", id);
}

static int key_export(cairn_repo *repo)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int rc = cairn_repo_key_export(repo, &b);
	if (!rc && fwrite(b.data, 1, b.len, stdout) != b.len)
		rc = cairn_error_set(CAIRN_EIO, "cannot write the export");
	sodium_memzero(b.data, b.cap);
	cairn_buf_free(&b);
	return rc;
}

/* Opens the repository with the export in a->export_file instead of a
 * password. Returns the exit status. */
static int open_by_export(cli_ctx *ctx, const struct key_args *a, cairn_repo **repo)
{
	char *text = NULL;
	size_t len = 0;
	int rc, status;
	if (!a->export_file)
		return cli_fail(cairn_error_set(CAIRN_EINVAL, "key import needs --export-file F"));
	if ((rc = cli_read_small_file(a->export_file, "export file", 64 * 1024, &text, &len)))
		return cli_fail(rc);
	status = cli_repo_open_export(ctx, repo, text, len);
	sodium_memzero(text, len);
	free(text);
	return status;
}

static int run(cli_ctx *ctx, const struct key_args *a)
{
	cairn_repo *repo = NULL;
	int rc = 0, status;
	int import = strcmp(a->verb, "import") == 0;
	status = import ? open_by_export(ctx, a, &repo) : cli_repo_open(ctx, &repo);
	if (status)
		return status;
	if (strcmp(a->verb, "list") == 0)
		rc = key_list(ctx, repo);
	else if (strcmp(a->verb, "add") == 0 || import)
		rc = key_add(ctx, repo, a, 0);
	else if (strcmp(a->verb, "passwd") == 0)
		rc = key_add(ctx, repo, a, 1);
	else if (strcmp(a->verb, "remove") == 0)
		rc = key_remove(ctx, repo, a);
	else
		rc = key_export(repo);
	cairn_repo_free(repo);
	return rc ? cli_fail(rc) : CLI_EXIT_OK;
}

int cmd_key(cli_ctx *ctx, int argc, char **argv)
{
	static const char *const verbs[] = {"list", "add", "remove", "passwd", "export", "import"};
	struct key_args a = {0};
	int c;
	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		if (c == CLI_OPT_EXIT)
			return ctx->exit_code;
		if (c == OPT_NEW_PASSWORD_FILE)
			a.new_password_file = optarg;
		else if (c == OPT_EXPORT_FILE)
			a.export_file = optarg;
		else
			return cli_usage_error(ctx, "unexpected option");
	}
	if (optind >= argc)
		return cli_usage_error(ctx, "which key command? (list, add, remove, passwd, "
		                            "export, import)");
	a.verb = argv[optind++];
	size_t v = 0;
	while (v < sizeof(verbs) / sizeof(verbs[0]) && strcmp(verbs[v], a.verb) != 0)
		v++;
	if (v == sizeof(verbs) / sizeof(verbs[0]))
		return cli_usage_error(ctx, "unknown key command '%s'", a.verb);
	if (strcmp(a.verb, "remove") == 0) {
		if (optind >= argc)
			return cli_usage_error(ctx, "key remove needs the ID of a key");
		a.id = argv[optind++];
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	int import = strcmp(a.verb, "import") == 0;
	int takes_password = import || strcmp(a.verb, "add") == 0 || strcmp(a.verb, "passwd") == 0;
	if (a.new_password_file && !takes_password)
		return cli_usage_error(ctx, "key %s takes no --new-password-file", a.verb);
	if (a.export_file && !import)
		return cli_usage_error(ctx, "key %s takes no --export-file", a.verb);
	return run(ctx, &a);
}

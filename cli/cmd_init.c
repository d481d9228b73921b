#include "cmd.h"
#include "util/units.h"
#include "common.h"
#include "output.h"
#include "password.h"

#include "cairn/errors.h"
#include "util/hex.h"
#include "util/json.h"

#include <stdio.h>
#include <string.h>

enum {
	OPT_CHUNK_MIN = CLI_OPT_OWN,
	OPT_CHUNK_AVG,
	OPT_CHUNK_MAX,
	OPT_NO_ENCRYPTION,
	OPT_KDF_MEMORY,
	OPT_KDF_ITERATIONS,
};

static const struct option options[] = {
    {"chunk-min", required_argument, NULL, OPT_CHUNK_MIN},
    {"chunk-avg", required_argument, NULL, OPT_CHUNK_AVG},
    {"chunk-max", required_argument, NULL, OPT_CHUNK_MAX},
    {"no-encryption", no_argument, NULL, OPT_NO_ENCRYPTION},
    {"kdf-memory", required_argument, NULL, OPT_KDF_MEMORY},
    {"kdf-iterations", required_argument, NULL, OPT_KDF_ITERATIONS},
    {NULL, 0, NULL, 0},
};

static int chunk_size(cli_ctx *ctx, const char *name, const char *arg, uint32_t *out)
{
	uint64_t v;
	if (cairn_size_parse(arg, &v) || v == 0 || v > UINT32_MAX)
		return cli_usage_error(ctx, "--%s: '%s' is not a chunk size", name, arg);
	*out = (uint32_t)v;
	return 0;
}

static int print_created(cli_ctx *ctx, const char *location, const uint8_t id[CAIRN_ID_SIZE])
{
	char hex[2 * CAIRN_ID_SIZE + 1];
	cairn_buf b = CAIRN_BUF_INIT;
	int first = 1, rc = 0;

	if (!ctx->json) {
		cairn_hex_encode(hex, id, CAIRN_ID_SIZE);
		if (!ctx->quiet)
			printf("created repository %s at %s\n", hex, location);
		return 0;
	}
	if ((rc = cairn_buf_append_u8(&b, '{')) || (rc = cairn_json_key(&b, &first, "id")) ||
	    (rc = cli_json_hex(&b, id, CAIRN_ID_SIZE)) ||
	    (rc = cairn_json_key(&b, &first, "location")) ||
	    (rc = cairn_json_string(&b, location)) || (rc = cairn_buf_append_u8(&b, '}')))
		goto out;
	rc = cli_json_emit(&b);
out:
	cairn_buf_free(&b);
	return rc;
}

int cmd_init(cli_ctx *ctx, int argc, char **argv)
{
	cairn_init_opts opts = {0};
	cli_password pw = {NULL, 0};
	uint8_t id[CAIRN_ID_SIZE];
	const char *location;
	uint64_t v;
	int c, rc, status = CLI_EXIT_FATAL;

	opts.encrypted = 1;
	cairn_kdf_params_default(&opts.kdf);
	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		switch (c) {
		case OPT_CHUNK_MIN:
			if (chunk_size(ctx, "chunk-min", optarg, &opts.chunk_min))
				return CLI_EXIT_FATAL;
			break;
		case OPT_CHUNK_AVG:
			if (chunk_size(ctx, "chunk-avg", optarg, &opts.chunk_avg))
				return CLI_EXIT_FATAL;
			break;
		case OPT_CHUNK_MAX:
			if (chunk_size(ctx, "chunk-max", optarg, &opts.chunk_max))
				return CLI_EXIT_FATAL;
			break;
		case OPT_NO_ENCRYPTION:
			opts.encrypted = 0;
			break;
		case OPT_KDF_MEMORY:
			if (cairn_size_parse(optarg, &v) || v == 0)
				return cli_usage_error(ctx, "--kdf-memory: '%s' is not a size",
				                       optarg);
			opts.kdf.memlimit = v;
			break;
		case OPT_KDF_ITERATIONS:
			if (cairn_uint_parse(optarg, &v) || v == 0)
				return cli_usage_error(
				    ctx, "--kdf-iterations: '%s' is not a positive number", optarg);
			opts.kdf.opslimit = v;
			break;
		case CLI_OPT_EXIT:
			return ctx->exit_code;
		default:
			return cli_usage_error(ctx, "unexpected option");
		}
	}
	if (optind < argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	location = cli_repo_location(ctx);
	if (!location)
		return CLI_EXIT_FATAL;
	if (opts.encrypted && (rc = cairn_kdf_params_check(&opts.kdf)) != 0)
		return cli_fail(rc);

	/* Refuse before asking for a password that would not be used: a
	 * repository is there, another tool's, or other files. */
	cairn_error_clear();
	if ((rc = cairn_repo_init_check(location))) {
		cli_error("%s", cairn_error_last());
		return CLI_EXIT_FATAL;
	}
	if (opts.encrypted) {
		rc = cli_password_get(&pw, ctx->password_file, 1);
		if (rc)
			return cli_fail(rc);
		opts.password = pw.data;
		opts.password_len = pw.len;
	}
	opts.cache_dir = cli_cache_dir(ctx);
	cairn_error_clear();
	rc = cairn_repo_init(location, &opts, id);
	cli_password_wipe(&pw);
	if (rc) {
		status = cli_fail(rc);
		goto out;
	}
	rc = print_created(ctx, location, id);
	status = rc ? cli_fail(rc) : CLI_EXIT_OK;
out:
	return status;
}

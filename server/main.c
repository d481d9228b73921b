/* cairn-server: commands, options and signals. */
#include "server.h"

#include "cairn/cairn.h"
#include "cairn/errors.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#define GRACE_SECONDS 30

static const char usage_text[] =
    "usage: cairn-server serve --data DIR [--listen HOST:PORT] [--shards N]\n"
    "                          [--tls-cert F --tls-key F] [--threads N]\n"
    "                          [--rate-limit N] [--rate-burst N] [--idle-timeout S]\n"
    "                          [--header-timeout S] [--body-timeout S]\n"
    "                          [--max-connections N] [--max-per-address N]\n"
    "                          [--register-rate N] [--max-fingerprints N]\n"
    "                          [--max-snapshots N]\n"
    "       cairn-server token create --data DIR --repo REPO-ID --scope read|append|admin\n"
    "                                 [--name TEXT]\n"
    "       cairn-server token list --data DIR [--repo REPO-ID]\n"
    "       cairn-server token revoke --data DIR TOKEN-ID|TOKEN\n"
    "       cairn-server check --data DIR\n"
    "       cairn-server version (or --version)\n"
    "\n"
    "serve options:\n"
    "  --listen HOST:PORT  address to listen on (default 127.0.0.1:8420; port 0 picks one)\n"
    "  --data DIR          where tokens and index shards live\n"
    "  --shards N          shard files per new repository, a power of two (default 16)\n"
    "  --tls-cert F        PEM certificate (chain) for https; needs --tls-key\n"
    "  --tls-key F         PEM private key for https\n"
    "  --threads N         request threads (default twice the CPUs, at least 4)\n"
    "  --rate-limit N      requests per second per token (default 1000; 0: no limit)\n"
    "  --rate-burst N      requests a token may make at once (default twice the rate)\n"
    "  --idle-timeout S    close connections idle for S seconds (default 60)\n"
    "  --header-timeout S  a request's headers must come within S seconds (default 10)\n"
    "  --body-timeout S    and its body within S seconds more (default 30)\n"
    "  --max-connections N connections at once (default 1000)\n"
    "  --max-per-address N connections from one address, IPv6 one /64 (default 128;\n"
    "                      0: no cap)\n"
    "  --register-rate N   entries a repository may register per second (default\n"
    "                      100000, ten seconds' worth at once; 0: no limit)\n"
    "  --max-fingerprints N index rows a repository may hold (default 100000000;\n"
    "                      0: no quota)\n"
    "  --max-snapshots N   snapshot ids a repository's catalogue may hold (default\n"
    "                      1000000; 0: no quota)\n"
    "\n"
    "See docs/SERVER.md for the API, tokens and running it under systemd.\n";

enum {
	OPT_LISTEN = 0x100,
	OPT_DATA,
	OPT_SHARDS,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_THREADS,
	OPT_RATE,
	OPT_BURST,
	OPT_IDLE,
	OPT_HEADER_TIMEOUT,
	OPT_BODY_TIMEOUT,
	OPT_MAX_CONNS,
	OPT_PER_ADDR,
	OPT_REGISTER_RATE,
	OPT_MAX_FPS,
	OPT_MAX_SNAPSHOTS,
	OPT_REPO,
	OPT_SCOPE,
	OPT_NAME,
};

static const struct option long_options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"data", required_argument, NULL, OPT_DATA},
    {"shards", required_argument, NULL, OPT_SHARDS},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"rate-limit", required_argument, NULL, OPT_RATE},
    {"rate-burst", required_argument, NULL, OPT_BURST},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
    {"body-timeout", required_argument, NULL, OPT_BODY_TIMEOUT},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNS},
    {"max-per-address", required_argument, NULL, OPT_PER_ADDR},
    {"register-rate", required_argument, NULL, OPT_REGISTER_RATE},
    {"max-fingerprints", required_argument, NULL, OPT_MAX_FPS},
    {"max-snapshots", required_argument, NULL, OPT_MAX_SNAPSHOTS},
    {"repo", required_argument, NULL, OPT_REPO},
    {"scope", required_argument, NULL, OPT_SCOPE},
    {"name", required_argument, NULL, OPT_NAME},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct args {
	srv_options opt;
	const char *repo, *scope, *name;
	int burst_set, per_addr_set;
} args;

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err(const char *fmt, ...)
{
	va_list ap;
	fputs("cairn-server: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int fail(void)
{
	err("%s", cairn_error_last()[0] ? cairn_error_last() : "failed");
	return 1;
}

/* The repositories are open (or failed to open: then the server stops,
 * exit status 1). */
static void repos_done(void *ud, const char *failure)
{
	srv *s = ud;
	if (failure) {
		atomic_store(&s->load_failed, 1);
		kill(getpid(), SIGTERM);
		return;
	}
	err("indexes open after %.1f s: ready", srv_now() - s->metrics.started);
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("cairn-server: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'cairn-server --help'.\n", stderr);
	return 1;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	if (!*s || *s == '-')
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The limits of serve: numbers within bounds. */
typedef struct limit_opt {
	int opt;
	const char *error; /* with the value */
	unsigned long min, max;
} limit_opt;

static const limit_opt limit_opts[] = {
    {OPT_HEADER_TIMEOUT, "--header-timeout %s: seconds, 1 to 3600", 1, 3600},
    {OPT_BODY_TIMEOUT, "--body-timeout %s: seconds, 1 to 3600", 1, 3600},
    {OPT_MAX_CONNS, "--max-connections %s: a number from 1 to 1000000", 1, 1000000},
    {OPT_PER_ADDR, "--max-per-address %s: a number of connections", 0, 1000000},
    {OPT_REGISTER_RATE, "--register-rate %s: a number of entries", 0, 1000000000},
    {OPT_MAX_FPS, "--max-fingerprints %s: a number of rows", 0, ULONG_MAX},
    {OPT_MAX_SNAPSHOTS, "--max-snapshots %s: a number of snapshots", 0, ULONG_MAX},
};

static int parse_limit(int c, const char *arg, args *a)
{
	unsigned long v = 0;
	const limit_opt *l = NULL;
	for (size_t i = 0; i < sizeof(limit_opts) / sizeof(limit_opts[0]); i++)
		if (limit_opts[i].opt == c)
			l = &limit_opts[i];
	if (!l || parse_uint(arg, l->max, &v) || v < l->min)
		return usage_error(l ? l->error : "bad value '%s'", arg);
	switch (c) {
	case OPT_HEADER_TIMEOUT:
		a->opt.header_timeout_s = (unsigned)v;
		break;
	case OPT_BODY_TIMEOUT:
		a->opt.body_timeout_s = (unsigned)v;
		break;
	case OPT_MAX_CONNS:
		a->opt.max_conns = (unsigned)v;
		break;
	case OPT_PER_ADDR:
		a->opt.per_addr = (unsigned)v;
		a->per_addr_set = 1;
		break;
	case OPT_REGISTER_RATE:
		a->opt.register_rate = (double)v;
		break;
	case OPT_MAX_FPS:
		a->opt.max_fingerprints = v;
		break;
	case OPT_MAX_SNAPSHOTS:
		a->opt.max_snapshots = v;
		break;
	}
	return 0;
}

/* Parses argv[optind..]; operands are left for the caller. */
static int parse(int argc, char **argv, args *a)
{
	int c;
	unsigned long v;
	while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			a->opt.listen = optarg;
			break;
		case OPT_DATA:
			a->opt.data_dir = optarg;
			break;
		case OPT_TLS_CERT:
			a->opt.tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			a->opt.tls_key = optarg;
			break;
		case OPT_REPO:
			a->repo = optarg;
			break;
		case OPT_SCOPE:
			a->scope = optarg;
			break;
		case OPT_NAME:
			a->name = optarg;
			break;
		case OPT_SHARDS:
			if (parse_uint(optarg, 256, &v) || v == 0 || (v & (v - 1)))
				return usage_error("--shards %s: a power of two from 1 to 256",
				                   optarg);
			a->opt.shards = (unsigned)v;
			break;
		case OPT_THREADS:
			if (parse_uint(optarg, 1024, &v) || v == 0)
				return usage_error("--threads %s: a number from 1 to 1024", optarg);
			a->opt.threads = (unsigned)v;
			break;
		case OPT_RATE:
			if (parse_uint(optarg, 100000000, &v))
				return usage_error("--rate-limit %s: a number of requests", optarg);
			a->opt.rate = (double)v;
			break;
		case OPT_BURST:
			if (parse_uint(optarg, 100000000, &v) || v == 0)
				return usage_error("--rate-burst %s: a positive number", optarg);
			a->opt.burst = (double)v;
			a->burst_set = 1;
			break;
		case OPT_IDLE:
			if (parse_uint(optarg, 86400, &v) || v == 0)
				return usage_error("--idle-timeout %s: seconds, 1 to 86400",
				                   optarg);
			a->opt.timeout_s = (unsigned)v;
			break;
		case OPT_HEADER_TIMEOUT:
		case OPT_BODY_TIMEOUT:
		case OPT_MAX_CONNS:
		case OPT_PER_ADDR:
		case OPT_REGISTER_RATE:
		case OPT_MAX_FPS:
		case OPT_MAX_SNAPSHOTS:
			if (parse_limit(c, optarg, a))
				return 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	return 0;
}

static int need_data(const args *a)
{
	if (!a->opt.data_dir)
		return usage_error("%s", "--data DIR is needed");
	return 0;
}

static int cmd_serve(args *a)
{
	srv *s = calloc(1, sizeof(*s));
	sigset_t set;
	int sig, status = 1;
	if (!s) {
		err("out of memory");
		return 1;
	}
	s->opt = a->opt;
	if (!s->opt.listen)
		s->opt.listen = "127.0.0.1:8420";
	if (!s->opt.shards)
		s->opt.shards = SRV_DEFAULT_SHARDS;
	if (!s->opt.threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		s->opt.threads = n > 2 ? (unsigned)(2 * n) : 4;
		if (s->opt.threads > 64)
			s->opt.threads = 64;
	}
	if (!s->opt.timeout_s)
		s->opt.timeout_s = 60;
	if (!s->opt.header_timeout_s)
		s->opt.header_timeout_s = 10;
	if (!s->opt.body_timeout_s)
		s->opt.body_timeout_s = 30;
	if (!s->opt.max_conns)
		s->opt.max_conns = 1000;
	if (!a->per_addr_set)
		s->opt.per_addr = 128;
	s->opt.register_burst = 10 * s->opt.register_rate;
	if (!a->burst_set)
		s->opt.burst = 2 * s->opt.rate;
	s->metrics.started = srv_now();

	/* Signals are taken by sigwait below: every thread started from here
	 * on inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (srv_auth_open(&s->auth, s->opt.data_dir, 1) &&
	    (mkdir(s->opt.data_dir, 0700) != 0 || srv_auth_open(&s->auth, s->opt.data_dir, 1)))
		goto fail;
	if (srv_limiter_new(&s->limiter, s->opt.rate, s->opt.burst) ||
	    srv_limiter_new(&s->register_limiter, s->opt.register_rate, s->opt.register_burst))
		goto fail;
	if (srv_repos_open(&s->repos, s->opt.data_dir, s->opt.shards, s->opt.max_fingerprints,
	                   s->opt.max_snapshots, repos_done, s))
		goto fail;
	if (srv_http_start(s))
		goto fail;
	err("listening on %s (data %s, %u threads, rate limit %s)", s->bound, s->opt.data_dir,
	    s->opt.threads, s->opt.rate > 0 ? "on" : "off");

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			continue; /* tokens are read per request: nothing to reload */
		break;
	}
	const char *why;
	if (!srv_repos_ready(s->repos, &why) && atomic_load(&s->load_failed)) {
		srv_http_stop(s, 0);
		err("cannot open the indexes: %s", why);
		goto out;
	}
	err("stopping (signal %d): finishing requests in flight", sig);
	srv_http_stop(s, GRACE_SECONDS);
	status = 0;
	err("stopped");
	goto out;
fail:
	status = fail();
out:
	srv_http_stop(s, 0);
	srv_repos_free(s->repos);
	srv_limiter_free(s->limiter);
	srv_limiter_free(s->register_limiter);
	srv_auth_free(s->auth);
	free(s);
	return status;
}

static int cmd_token(args *a, int argc, char **argv)
{
	srv_auth *auth = NULL;
	int status = 1;
	const char *sub = argc > 2 ? argv[2] : "";
	if (strcmp(sub, "create") == 0) {
		char token[256];
		int scope;
		if (need_data(a))
			return 1;
		if (!a->repo || !a->scope)
			return usage_error("%s", "token create needs --repo and --scope");
		if ((scope = srv_scope_parse(a->scope)) == SRV_SCOPE_NONE)
			return usage_error("--scope %s: read, append or admin", a->scope);
		if (optind < argc)
			return usage_error("unexpected argument '%s'", argv[optind]);
		mkdir(a->opt.data_dir, 0700);
		if (srv_auth_open(&auth, a->opt.data_dir, 1) ||
		    srv_auth_create(auth, a->repo, scope, a->name, token, sizeof(token))) {
			status = fail();
			goto out;
		}
		printf("%s\n", token);
		sodium_memzero(token, sizeof(token));
		status = fflush(stdout) == 0 ? 0 : 1;
	} else if (strcmp(sub, "list") == 0) {
		if (need_data(a))
			return 1;
		if (optind < argc)
			return usage_error("unexpected argument '%s'", argv[optind]);
		if (srv_auth_open(&auth, a->opt.data_dir, 0) ||
		    srv_auth_list(auth, a->repo, stdout))
			status = fail();
		else
			status = 0;
	} else if (strcmp(sub, "revoke") == 0) {
		if (need_data(a))
			return 1;
		if (optind + 1 != argc)
			return usage_error("%s", "token revoke takes one token id");
		if (srv_auth_open(&auth, a->opt.data_dir, 0) ||
		    srv_auth_revoke(auth, argv[optind])) {
			status = fail();
		} else {
			err("revoked");
			status = 0;
		}
	} else {
		return usage_error("unknown token command '%s'", sub);
	}
out:
	srv_auth_free(auth);
	return status;
}

int main(int argc, char **argv)
{
	args a = {0};
	a.opt.rate = 1000;
	a.opt.register_rate = 100000;
	a.opt.max_fingerprints = 100000000;
	a.opt.max_snapshots = 1000000;
	if (sodium_init() < 0) {
		err("libsodium could not be initialised");
		return 1;
	}
	/* Before any thread, and before SQLite's first use. */
	(void)cairn_index_sqlite_tune_process();
	/* Token hashes are SHA-256: without libcrypto nothing can be checked. */
	if (cairn_fingerprint_init() != 0) {
		err("%s", cairn_error_last());
		return 1;
	}
	opterr = 0;
	if (argc < 2) {
		fputs(usage_text, stderr);
		return 1;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("cairn-server %s (libmicrohttpd %s, SQLite %s, TLS %s)\n", CAIRN_VERSION,
		       MHD_get_version(), sqlite3_libversion(),
		       MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES ? "yes" : "no");
		return 0;
	}
	/* "token" has a subcommand of its own before the options. */
	int is_token = strcmp(cmd, "token") == 0;
	if (is_token && argc >= 3 &&
	    (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0 ||
	     strcmp(argv[2], "help") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (is_token && (argc < 3 || argv[2][0] == '-'))
		return usage_error("%s", "which token command? (create, list, revoke)");
	optind = is_token ? 3 : 2;
	if (parse(argc, argv, &a))
		return 1;
	if (strcmp(cmd, "serve") == 0) {
		if (need_data(&a))
			return 1;
		if (optind < argc)
			return usage_error("unexpected argument '%s'", argv[optind]);
		return cmd_serve(&a);
	}
	if (is_token)
		return cmd_token(&a, argc, argv);
	if (strcmp(cmd, "check") == 0) {
		if (need_data(&a))
			return 1;
		if (srv_check_data(a.opt.data_dir, stdout))
			return fail();
		return 0;
	}
	return usage_error("unknown command '%s'", cmd);
}

/* libmicrohttpd glue: one daemon with a pool of polling threads, each
 * handling its keep-alive connections. For every request the access
 * handler is called once with the headers (routing, token, scope, rate
 * limit and declared length are checked then, before any body is read),
 * then with each piece of the body, then once more to answer.
 *
 * Every connection is also tracked in conns.c from its start to its
 * close, with the state of its request (the request line seen, the
 * headers, the body, the answer): a thread of its own drops those past
 * their deadlines, and a new connection may have a stalled one dropped to
 * make room. Dropping shuts the socket down; libmicrohttpd then sees the
 * end of the stream and closes the connection (it tells us before it
 * closes the descriptor, so a descriptor is never shut down once reused). */
#include "server.h"

#include "cairn/errors.h"
#include "cairn/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

typedef int (*handler_fn)(srv_call *c, srv_reply *r);

static const handler_fn handlers[SRV_ROUTE_COUNT] = {
    [SRV_ROUTE_LOOKUP] = srv_route_lookup,
    [SRV_ROUTE_REGISTER] = srv_route_register,
    [SRV_ROUTE_BLOOM] = srv_route_bloom,
    [SRV_ROUTE_SNAPSHOTS_LIST] = srv_route_snapshots_list,
    [SRV_ROUTE_SNAPSHOTS_ADD] = srv_route_snapshots_add,
    [SRV_ROUTE_SNAPSHOT_DELETE] = srv_route_snapshot_delete,
    [SRV_ROUTE_OBJECT_GET] = srv_route_object_get,
    [SRV_ROUTE_OBJECT_PUT] = srv_route_object_put,
    [SRV_ROUTE_STATS] = srv_route_stats,
    [SRV_ROUTE_INDEX_CLEAR] = srv_route_index_clear,
    [SRV_ROUTE_SCAN] = srv_route_scan,
    [SRV_ROUTE_DROP_PACKS] = srv_route_drop_packs,
    [SRV_ROUTE_ROWS] = srv_route_rows,
    [SRV_ROUTE_REJECT] = srv_route_reject,
    [SRV_ROUTE_PRESENCE] = srv_route_presence,
    [SRV_ROUTE_SNAPSHOT_ADD_HOST] = srv_route_snapshot_add_host,
    [SRV_ROUTE_FRESHNESS] = srv_route_freshness,
};

typedef struct request {
	int route;
	const srv_route_spec *r;
	srv_repo *repo;
	char arg[SRV_REPO_HEX + 1];
	cairn_buf body;
	size_t body_max; /* the route's */
	int too_large;
	unsigned status;
	double start;
} request;

/* ---- replies ---- */

int srv_reply_text(srv_reply *r, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg) - 1)
		n = (int)sizeof(msg) - 2;
	msg[n++] = '\n';
	r->status = status;
	r->content_type = "text/plain; charset=utf-8";
	free(r->body);
	r->body = malloc((size_t)n);
	r->len = r->body ? (size_t)n : 0;
	if (r->body)
		memcpy(r->body, msg, (size_t)n);
	return 0;
}

int srv_reply_buf(srv_reply *r, unsigned status, const char *content_type, cairn_buf *b)
{
	r->status = status;
	r->content_type = content_type;
	free(r->body);
	r->len = b->len;
	r->body = cairn_buf_detach(b, NULL);
	return 0;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, request *q, srv_reply *r)
{
	struct MHD_Response *resp;
	if (r->body && r->len)
		resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r->body);
		r->body = NULL;
		return MHD_NO;
	}
	if (!(r->body && r->len))
		free(r->body);
	r->body = NULL;
	if (r->content_type && r->status != 204 && r->status != 304)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	if (r->header_name)
		MHD_add_response_header(resp, r->header_name, r->header_value);
	if (r->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        "Bearer realm=\"cairn\"");
	if (q)
		q->status = r->status;
	enum MHD_Result ok = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, request *q, unsigned status,
                                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result send_text(struct MHD_Connection *conn, request *q, unsigned status,
                                 const char *fmt, ...)
{
	char msg[512];
	srv_reply r = {0};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	srv_reply_text(&r, status, "%s", msg);
	return send_reply(conn, q, &r);
}

/* ---- routing ---- */

/* The token of an "Authorization: Bearer TOKEN" header, or NULL. */
static const char *bearer(struct MHD_Connection *conn)
{
	return srv_bearer_token(
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION));
}

static enum MHD_Result healthz(srv *s, struct MHD_Connection *conn, request *q)
{
	const char *why;
	if (atomic_load(&s->stopping))
		return send_text(conn, q, 503, "stopping");
	if (!srv_repos_ready(s->repos, &why))
		return send_text(conn, q, 503, "%s", why);
	return send_text(conn, q, 200, "ok");
}

static enum MHD_Result metrics(srv *s, struct MHD_Connection *conn, request *q)
{
	cairn_buf b = CAIRN_BUF_INIT;
	srv_reply r = {0};
	if (srv_metrics_render(&s->metrics, s->repos, s->conns, &b)) {
		cairn_buf_free(&b);
		return send_text(conn, q, 500, "cannot render metrics: %s", cairn_error_last());
	}
	srv_reply_buf(&r, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
	return send_reply(conn, q, &r);
}

/* The first call of a request: everything that can be decided from the
 * request line and headers. Returns MHD_YES with nothing queued to go on
 * reading the body. */
static enum MHD_Result begin(srv *s, struct MHD_Connection *conn, request *q, const char *url,
                             const char *method)
{
	char repo[SRV_REPO_HEX + 1], allow[64];
	srv_token tok;

	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0) {
		q->route = url[1] == 'h' ? SRV_ROUTE_HEALTHZ : SRV_ROUTE_METRICS;
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
			srv_reply r = {.header_name = MHD_HTTP_HEADER_ALLOW};
			snprintf(r.header_value, sizeof(r.header_value), "GET");
			srv_reply_text(&r, 405, "method %s is not allowed here", method);
			return send_reply(conn, q, &r);
		}
		/* No token is asked here, so no body is taken: a client
		 * without one never has the server wait for its bytes. */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		if ((cl && strcmp(cl, "0") != 0) ||
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                MHD_HTTP_HEADER_TRANSFER_ENCODING))
			return send_text(conn, q, 400, "%s takes no body", url);
		/* Answered once the request is complete, which keeps the
		 * connection alive. */
		return MHD_YES;
	}
	switch (srv_route_match(method, url, &q->r, repo, q->arg, allow, sizeof(allow))) {
	case SRV_MATCH_NONE:
		if (strncmp(url, CAIRN_WIRE_REPOS_V1, sizeof(CAIRN_WIRE_REPOS_V1) - 1) == 0)
			return send_text(conn, q, 404,
			                 "this server speaks version %d of the index protocol "
			                 "(%s...), the client version 1: upgrade the client",
			                 CAIRN_WIRE_VERSION, CAIRN_WIRE_REPOS);
		return send_text(conn, q, 404, "no such route: %s %s", method, url);
	case SRV_MATCH_BAD_ID:
		return send_text(conn, q, 400,
		                 "a repository or object id is 64 lowercase hex "
		                 "digits");
	case SRV_MATCH_METHOD: {
		srv_reply r = {.header_name = MHD_HTTP_HEADER_ALLOW};
		snprintf(r.header_value, sizeof(r.header_value), "%s", allow);
		srv_reply_text(&r, 405, "method %s is not allowed here", method);
		return send_reply(conn, q, &r);
	}
	case SRV_MATCH_OK:
		break;
	}
	q->route = q->r->id;
	q->body_max = srv_route_body_max(q->r);

	const char *token = bearer(conn);
	if (!token)
		return send_text(conn, q, 401, "an Authorization: Bearer token is needed");
	int ok = srv_auth_check(s->auth, token, &tok);
	if (ok < 0)
		return send_text(conn, q, 500, "%s", cairn_error_last());
	if (!ok)
		return send_text(conn, q, 401, "the token is not valid");
	if (strcmp(tok.repo, repo) != 0)
		return send_text(conn, q, 403, "the token is for another repository");
	if (tok.scope < q->r->scope)
		return send_text(conn, q, 403, "the token's scope %s does not allow %s (needs %s)",
		                 srv_scope_name(tok.scope), srv_route_name(q->route),
		                 srv_scope_name(q->r->scope));

	unsigned retry_after = 0;
	if (!srv_limiter_take(s->limiter, tok.id, srv_now(), &retry_after)) {
		srv_reply r = {.header_name = MHD_HTTP_HEADER_RETRY_AFTER};
		atomic_fetch_add(&s->metrics.rate_limited, 1);
		snprintf(r.header_value, sizeof(r.header_value), "%u", retry_after);
		srv_reply_text(&r, 429, "too many requests for this token: retry in %u s",
		               retry_after);
		return send_reply(conn, q, &r);
	}

	const char *cl =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		unsigned long long n;
		if (srv_content_length_parse(cl, &n))
			return send_text(conn, q, 400, "bad Content-Length");
		if (n > q->body_max)
			return send_text(conn, q, 400,
			                 "body of %llu bytes is larger than the limit "
			                 "of %zu bytes",
			                 n, q->body_max);
	}
	int got = srv_repos_get(s->repos, repo, &q->repo);
	if (got > 0) {
		srv_reply r = {.header_name = MHD_HTTP_HEADER_RETRY_AFTER};
		snprintf(r.header_value, sizeof(r.header_value), "1");
		srv_reply_text(&r, 503, "the server is still opening its indexes: retry in 1 s");
		return send_reply(conn, q, &r);
	}
	if (got)
		return send_text(conn, q, 500, "%s", cairn_error_last());
	return MHD_YES;
}

static enum MHD_Result finish(srv *s, struct MHD_Connection *conn, request *q)
{
	if (q->route == SRV_ROUTE_HEALTHZ)
		return healthz(s, conn, q);
	if (q->route == SRV_ROUTE_METRICS)
		return metrics(s, conn, q);
	if (q->too_large)
		return send_text(conn, q, 400, "body larger than the limit of %zu bytes",
		                 q->body_max);
	srv_call c = {
	    .s = s,
	    .repo = q->repo,
	    .arg = q->r->has_arg ? q->arg : NULL,
	    .body = q->body.data,
	    .len = q->body.len,
	    .if_none_match =
	        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
	};
	srv_reply r = {0};
	cairn_error_clear();
	handlers[q->route](&c, &r);
	if (!r.status)
		srv_reply_text(&r, 500, "internal error");
	/* Failures of the server's own are for its operator to see. */
	if (r.status >= 500)
		fprintf(stderr, "cairn-server: %s: %u %.*s", srv_route_name(q->route), r.status,
		        (int)r.len, r.body ? (char *)r.body : "\n");
	cairn_buf_free(&q->body);
	return send_reply(conn, q, &r);
}

/* ---- connections ---- */

static srv_conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return info ? info->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	srv *s = cls;
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		srv_conns_close(s->conns, *socket_context);
		*socket_context = NULL;
		return;
	}
	const union MHD_ConnectionInfo *fd =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *addr =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	uint8_t key[SRV_CONN_KEY];
	srv_conn_key(addr ? addr->client_addr : NULL, key);
	if (fd)
		*socket_context = srv_conns_open(s->conns, fd->connect_fd, key, srv_now());
}

/* A request line came: the headers are due. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	srv *s = cls;
	(void)uri;
	srv_conns_set(s->conns, conn_of(conn), SRV_CONN_HEADERS, srv_now());
	return NULL;
}

static void drop_fd(int fd, void *ud)
{
	(void)ud;
	shutdown(fd, SHUT_RDWR);
}

/* Whether a whole request head waits in the socket, unread: plain HTTP
 * only (TLS records cannot be read here). */
static int pending_fd(int fd, void *ud)
{
	char b[4096];
	(void)ud;
	ssize_t n = recv(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	return n >= 4 && memmem(b, (size_t)n, "\r\n\r\n", 4) != NULL;
}

/* Five times a second: a deadline is kept to within 0.2 s. */
static void *reaper(void *arg)
{
	srv *s = arg;
	while (!atomic_load(&s->reaper_quit)) {
		usleep(200 * 1000);
		srv_conns_expire(s->conns, srv_now());
	}
	return NULL;
}

/* Each connection is a descriptor: with the soft limit on them below what
 * the connection limit needs, raise it as far as the hard limit allows. */
static void raise_fd_limit(const srv *s)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)s->opt.max_conns + s->opt.max_conns / 4 + 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		fprintf(stderr,
		        "cairn-server: the open-file limit (%llu) is below what %u connections "
		        "need (%llu): raise it (ulimit -n, LimitNOFILE=) or lower "
		        "--max-connections\n",
		        (unsigned long long)rl.rlim_cur, s->opt.max_conns,
		        (unsigned long long)want);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	srv *s = cls;
	request *q = *con_cls;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		q->start = srv_now();
		q->body_max = CAIRN_WIRE_BODY_MAX;
		*con_cls = q;
		atomic_fetch_add(&s->metrics.in_flight, 1);
		enum MHD_Result ok = begin(s, conn, q, url, method);
		/* A request refused at its headers (no token, a bad one, too
		 * large...) gets nothing more from the server: its connection
		 * counts as stalled, with the header deadline to take its
		 * answer, rather than as a body the server waits for. */
		srv_conns_set(s->conns, conn_of(conn), q->status ? SRV_CONN_HEADERS : SRV_CONN_BODY,
		              q->start);
		return ok;
	}
	if (*upload_data_size) {
		if (!q->too_large) {
			if (*upload_data_size > q->body_max - q->body.len) {
				q->too_large = 1;
				cairn_buf_free(&q->body);
			} else if (cairn_buf_append(&q->body, upload_data, *upload_data_size)) {
				return MHD_NO;
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	srv_conns_set(s->conns, conn_of(conn), SRV_CONN_BUSY, srv_now());
	return finish(s, conn, q);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	srv *s = cls;
	request *q = *con_cls;
	srv_conns_set(s->conns, conn_of(conn), SRV_CONN_IDLE, srv_now());
	if (!q)
		return;
	srv_metrics_request(&s->metrics, q->route, q->status, srv_now() - q->start);
	atomic_fetch_sub(&s->metrics.in_flight, 1);
	cairn_buf_free(&q->body);
	free(q);
	*con_cls = NULL;
}

/* libmicrohttpd's messages, one write each. Those about connections that
 * ended before their request did say nothing the metrics do not count
 * (cairn_connections_dropped_total), and a client could flood the log
 * with them: they are left out. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
	static const char *const quiet[] = {
	    "Connection socket is closed",
	    "Connection was closed by remote side",
	};
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
		if (strncmp(msg, quiet[i], strlen(quiet[i])) == 0)
			return;
	size_t n = strlen(msg);
	fprintf(stderr, "cairn-server: %s%s", msg, n && msg[n - 1] == '\n' ? "" : "\n");
}

/* ---- the daemon ---- */

static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	cairn_buf b = CAIRN_BUF_INIT;
	char chunk[4096];
	size_t n;
	if (!f)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot open %s", path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (b.len + n > (1u << 20) || cairn_buf_append(&b, chunk, n)) {
			fclose(f);
			cairn_buf_free(&b);
			return cairn_error_set(CAIRN_EINVAL, "%s is too large", path);
		}
	int bad = ferror(f);
	fclose(f);
	if (bad || cairn_buf_append_u8(&b, 0)) {
		cairn_buf_free(&b);
		return cairn_error_set(CAIRN_EIO, "cannot read %s", path);
	}
	*out = (char *)cairn_buf_detach(&b, NULL);
	return 0;
}

/* HOST:PORT, [V6]:PORT or :PORT (all addresses). */
static int resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	if (!colon || !colon[1])
		return cairn_error_set(CAIRN_EINVAL, "--listen %s: expected HOST:PORT", listen);
	size_t hl = (size_t)(colon - listen);
	const char *h = listen;
	if (hl >= 2 && listen[0] == '[' && listen[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return cairn_error_set(CAIRN_EINVAL, "--listen %s: host too long", listen);
	memcpy(host, h, hl);
	host[hl] = '\0';
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res;
	int e = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &res);
	if (e)
		return cairn_error_set(CAIRN_EINVAL, "--listen %s: %s", listen, gai_strerror(e));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* The connection table and the thread that enforces its deadlines. */
static int start_guard(srv *s)
{
	srv_conn_limits lim = {
	    .max = s->opt.max_conns,
	    .per_addr = s->opt.per_addr,
	    .header_s = s->opt.header_timeout_s,
	    .body_s = s->opt.body_timeout_s,
	    .idle_s = s->opt.timeout_s,
	};
	int rc = srv_conns_new(&s->conns, &lim, drop_fd, pending_fd, s);
	if (rc)
		return rc;
	raise_fd_limit(s);
	atomic_store(&s->reaper_quit, 0);
	if (pthread_create(&s->reaper, NULL, reaper, s) != 0)
		return cairn_error_set(CAIRN_ERROR, "cannot start a thread");
	s->reaper_started = 1;
	return 0;
}

static void stop_guard(srv *s)
{
	if (s->reaper_started) {
		atomic_store(&s->reaper_quit, 1);
		pthread_join(s->reaper, NULL);
		s->reaper_started = 0;
	}
	srv_conns_free(s->conns);
	s->conns = NULL;
}

int srv_http_start(srv *s)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	char *cert = NULL, *key = NULL;
	int rc;
	if ((rc = resolve(s->opt.listen, &ss, &sslen)))
		return rc;
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	int tls = s->opt.tls_cert || s->opt.tls_key;
	if (tls) {
		if (!s->opt.tls_cert || !s->opt.tls_key)
			return cairn_error_set(CAIRN_EINVAL,
			                       "--tls-cert and --tls-key go together");
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return cairn_error_set(CAIRN_ERROR,
			                       "this libmicrohttpd was built without TLS");
		if ((rc = read_file(s->opt.tls_cert, &cert)) ||
		    (rc = read_file(s->opt.tls_key, &key)))
			goto out;
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem tls_opts[] = {
	    {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, key},
	    {MHD_OPTION_END, 0, NULL},
	};
	if ((rc = start_guard(s)))
		goto out;
	/* libmicrohttpd's own limit is a backstop above ours: ours drops a
	 * stalled connection to make room, and the dropped ones take a moment
	 * to close. Its idle timeout covers answers a client does not read. */
	unsigned hard_limit = s->opt.max_conns + s->opt.max_conns / 4 + 64;
	struct MHD_Daemon *d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_log, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
	    s->opt.threads, MHD_OPTION_CONNECTION_TIMEOUT, s->opt.timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)128 * 1024, MHD_OPTION_CONNECTION_LIMIT,
	    hard_limit, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
	if (!d) {
		rc = cairn_error_set(CAIRN_EIO, "cannot listen on %s%s", s->opt.listen,
		                     tls ? " (check the certificate and key)" : "");
		stop_guard(s);
		goto out;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = info ? info->port : 0;
	char host[INET6_ADDRSTRLEN] = "?";
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
		snprintf(s->bound, sizeof(s->bound), "%s://[%s]:%u", tls ? "https" : "http", host,
		         port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
		snprintf(s->bound, sizeof(s->bound), "%s://%s:%u", tls ? "https" : "http", host,
		         port);
	}
	s->daemon = d;
out:
	free(cert);
	if (key) {
		sodium_memzero(key, strlen(key));
		free(key);
	}
	return rc;
}

void srv_http_stop(srv *s, unsigned grace_s)
{
	struct MHD_Daemon *d = s->daemon;
	if (!d) {
		stop_guard(s);
		return;
	}
	atomic_store(&s->stopping, 1);
	MHD_socket fd = MHD_quiesce_daemon(d);
	double until = srv_now() + grace_s;
	while (atomic_load(&s->metrics.in_flight) > 0 && srv_now() < until)
		usleep(20000);
	MHD_stop_daemon(d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	s->daemon = NULL;
	stop_guard(s); /* after the daemon: closing its connections tells the table */
}

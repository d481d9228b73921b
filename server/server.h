/* cairn-server: the shared fingerprint index over HTTP.
 *
 *   main.c     commands (serve, token, check), options, signals
 *   http.c     libmicrohttpd glue: requests, bodies, auth, limits, routing
 *   routes.c   the API's handlers
 *   repos.c    per-repository state: index shards, Bloom filter, catalogue
 *   auth.c     tokens (stored as SHA-256 hashes)
 *   request.c  what a request says: its route, token, body size (no sockets)
 *   limits.c   the rate limits (requests per token, registrations per
 *              repository)
 *   conns.c    connections: deadlines, caps, which to drop
 *   metrics.c  counters and the Prometheus text
 */
#ifndef CAIRN_SERVER_H
#define CAIRN_SERVER_H

#include "cairn/index.h"
#include "util/buf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SRV_REPO_HEX 64
#define SRV_TOKEN_ID_HEX 16
#define SRV_DEFAULT_SHARDS 16

/* A token is "cairn_<id>_<secret>": a public id of 16 hex digits and 64
 * hex digits of secret. */
#define SRV_TOKEN_PREFIX "cairn_"
#define SRV_TOKEN_SECRET_BYTES 32
#define SRV_TOKEN_LEN                                                                              \
	(sizeof(SRV_TOKEN_PREFIX) - 1 + SRV_TOKEN_ID_HEX + 1 + 2 * SRV_TOKEN_SECRET_BYTES)

/* ---- tokens ---- */

enum srv_scope {
	SRV_SCOPE_NONE = 0,
	SRV_SCOPE_READ = 1,
	SRV_SCOPE_APPEND = 2,
	SRV_SCOPE_ADMIN = 3
};

typedef struct srv_token {
	char id[SRV_TOKEN_ID_HEX + 1];
	char repo[SRV_REPO_HEX + 1];
	int scope;
} srv_token;

typedef struct srv_auth srv_auth;

/* Opens (creating if asked) DIR/tokens.db. */
int srv_auth_open(srv_auth **out, const char *data_dir, int create);
void srv_auth_free(srv_auth *a);
/* 1 and *out filled if token is a valid, unrevoked token; 0 if not; or an
 * error code when the database fails. */
int srv_auth_check(srv_auth *a, const char *token, srv_token *out);
/* A new token for repo with scope; token_out gets it (NUL-terminated). */
int srv_auth_create(srv_auth *a, const char *repo, int scope, const char *name, char *token_out,
                    size_t size);
/* Prints the tokens (of repo, if not NULL) to f. */
int srv_auth_list(srv_auth *a, const char *repo, FILE *f);
/* Revokes a token by its id or the token itself; CAIRN_ENOTFOUND if none. */
int srv_auth_revoke(srv_auth *a, const char *id_or_token);
const char *srv_scope_name(int scope);
int srv_scope_parse(const char *s);

/* ---- what a request says (request.c) ---- */

/* 1 if the n bytes of s are lowercase hex digits. */
int srv_is_lower_hex(const char *s, size_t n);
/* 1 if the n bytes of s are a repository or object id (64 lowercase hex
 * digits). */
int srv_id_valid(const char *s, size_t n);
/* 1 if s is a repository id. */
int srv_repo_id_valid(const char *s);
/* The id of a well-formed token into id: 0, or -1 if token is not one. */
int srv_token_id(const char *token, char id[SRV_TOKEN_ID_HEX + 1]);

/* A route of the API under /v2/repos/<id>: method and suffix, whether an
 * id follows the suffix ("/<64 hex>"), the scope it needs, and the largest
 * body it takes (0: CAIRN_WIRE_BODY_MAX). */
typedef struct srv_route_spec {
	int id; /* enum srv_route */
	const char *method;
	const char *suffix;
	int has_arg;
	int scope;
	size_t body_max;
} srv_route_spec;

/* The largest body the route takes. */
size_t srv_route_body_max(const srv_route_spec *r);

enum srv_match {
	SRV_MATCH_NONE,   /* no such path */
	SRV_MATCH_METHOD, /* the path exists for other methods */
	SRV_MATCH_BAD_ID, /* a repository or object id is malformed */
	SRV_MATCH_OK,
};

/* Matches method and url against the repository routes: SRV_MATCH_OK with
 * *out, repo and arg (if the route has one) filled; for SRV_MATCH_METHOD
 * allow lists the methods the path takes ("GET, POST"). */
enum srv_match srv_route_match(const char *method, const char *url, const srv_route_spec **out,
                               char repo[SRV_REPO_HEX + 1], char arg[SRV_REPO_HEX + 1], char *allow,
                               size_t allow_size);
/* The token of an Authorization header's value "Bearer TOKEN", or NULL
 * (also for a NULL header). */
const char *srv_bearer_token(const char *authorization);
/* A Content-Length header's value: 0 with *out, or -1 if it is not a
 * decimal number that fits. */
int srv_content_length_parse(const char *s, unsigned long long *out);

/* ---- the rate limit (limits.c) ---- */

/* A token bucket per id (a token's id, a repository's): rate units per
 * second, up to burst at once. rate 0 turns the limit off. */
typedef struct srv_limiter srv_limiter;
int srv_limiter_new(srv_limiter **out, double rate, double burst);
void srv_limiter_free(srv_limiter *l);
/* 1 if the request may go ahead; 0 with *retry_after_s set if not. */
int srv_limiter_take(srv_limiter *l, const char *id, double now, unsigned *retry_after_s);
/* The same for a request that costs n units: it goes ahead when the
 * bucket holds n (or is full, for n over the burst) and may leave it in
 * debt, which later requests wait out. */
int srv_limiter_take_n(srv_limiter *l, const char *id, double n, double now,
                       unsigned *retry_after_s);

/* ---- connections (conns.c) ---- */

enum srv_conn_state {
	SRV_CONN_NEW,     /* accepted, no request line yet */
	SRV_CONN_HEADERS, /* a request line came, not all its headers */
	SRV_CONN_BODY,    /* the headers came, the body is coming */
	SRV_CONN_BUSY,    /* being answered: no deadline */
	SRV_CONN_IDLE,    /* kept alive between two requests */
};

typedef struct srv_conn_limits {
	unsigned max;      /* connections at once (0: no limit) */
	unsigned per_addr; /* from one address, IPv6 one /64 (0: no cap) */
	double header_s;   /* NEW, HEADERS: the headers complete within */
	double body_s;     /* BODY: the body complete within */
	double idle_s;     /* IDLE: the next request line within */
} srv_conn_limits;

typedef struct srv_conn_stats {
	uint64_t opened;
	uint64_t late;    /* dropped past a deadline */
	uint64_t crowded; /* stalled, dropped to make room for a new one */
	uint64_t refused; /* new, dropped: no stalled one to drop instead */
	uint64_t open;    /* held now */
} srv_conn_stats;

#define SRV_CONN_KEY 16

typedef struct srv_conn srv_conn;
typedef struct srv_conns srv_conns;
/* Drops a connection (shuts its socket down). */
typedef void (*srv_conn_drop_fn)(int fd, void *ud);
/* 1 if the socket holds a whole request head (up to the blank line) the
 * server has not read yet. */
typedef int (*srv_conn_pending_fn)(int fd, void *ud);

/* pending may be NULL: no connection is then passed over. A connection
 * pending said 1 for is never dropped to make room until its state
 * changes. */
int srv_conns_new(srv_conns **out, const srv_conn_limits *lim, srv_conn_drop_fn drop,
                  srv_conn_pending_fn pending, void *ud);
void srv_conns_free(srv_conns *cs);
struct sockaddr;
/* The address a connection is counted under (IPv4 as IPv4-mapped IPv6;
 * IPv6 by its /64). */
void srv_conn_key(const struct sockaddr *sa, uint8_t key[SRV_CONN_KEY]);
/* A new connection (state NEW): drops another, or this one, if it puts
 * its address over the cap or the server over its limit. NULL (and fd
 * dropped) when out of memory. */
srv_conn *srv_conns_open(srv_conns *cs, int fd, const uint8_t key[SRV_CONN_KEY], double now);
/* Moves c to state as of now (NEW to HEADERS keeps the time it was
 * opened). */
void srv_conns_set(srv_conns *cs, srv_conn *c, enum srv_conn_state state, double now);
/* Forgets a connection once it is closed (never drops it again). */
void srv_conns_close(srv_conns *cs, srv_conn *c);
/* Drops every connection past its state's deadline; how many. */
size_t srv_conns_expire(srv_conns *cs, double now);
void srv_conns_stats_get(srv_conns *cs, srv_conn_stats *out);

/* ---- repositories ---- */

typedef struct srv_repo srv_repo;
typedef struct srv_repos srv_repos;

/* Starts opening every repository already under DIR/repos (loading their
 * indexes, building their Bloom filters) on a thread of its own, which
 * calls on_done(ud, failure) when it is done (failure: NULL, or what went
 * wrong). New shards get
 * nshards files; each repository may hold max_rows rows and max_snapshots
 * snapshot ids (0: no quota). */
int srv_repos_open(srv_repos **out, const char *data_dir, unsigned nshards, uint64_t max_rows,
                   uint64_t max_snapshots, void (*on_done)(void *ud, const char *failure),
                   void *ud);
/* 1 once every repository is open; else 0 and *why says what goes on
 * (still opening, or the failure). */
int srv_repos_ready(srv_repos *rs, const char **why);
void srv_repos_free(srv_repos *rs);
/* The repository with this id, opened or created on first use; 1 (and
 * nothing in *out) while the repositories are still being opened. */
int srv_repos_get(srv_repos *rs, const char *id, srv_repo **out);

/* Lookup through the server's own filter first; *asked_out counts the
 * fingerprints that reached the shards. */
int srv_repo_lookup(srv_repo *r, const uint8_t (*fps)[32], size_t n, cairn_index_entry *out,
                    uint8_t *found, size_t *asked_out);
/* Lookup for deduplication, from the core's table: compact entries
 * (fp, pack, offset; length 0). */
int srv_repo_presence(srv_repo *r, const uint8_t (*fps)[32], size_t n, cairn_index_entry *out,
                      uint8_t *found);
const char *srv_repo_id(const srv_repo *r);
/* Registers entries; over the quota, nothing is registered and an error
 * comes with *over_quota set. */
int srv_repo_register(srv_repo *r, const cairn_index_entry *entries, size_t n, int *over_quota);
/* The current ETag (quoted) of the filter, and, if out is not NULL, the
 * filter serialised. */
int srv_repo_bloom(srv_repo *r, char etag[48], cairn_buf *out);
int srv_repo_object_known(srv_repo *r, const uint8_t id[32], int *known);
int srv_repo_object_add(srv_repo *r, const uint8_t id[32]);
/* Adds ids to the catalogue, made by host (NULL: unknown); over the
 * quota, none, and an error with *over_quota set. */
int srv_repo_snapshot_add(srv_repo *r, const uint8_t *ids, size_t n, const char *host,
                          int *over_quota);
int srv_repo_snapshot_list(srv_repo *r, cairn_buf *out);
/* 1 if removed, 0 if it was not there. */
int srv_repo_snapshot_remove(srv_repo *r, const uint8_t id[32]);
int srv_repo_stats(srv_repo *r, cairn_buf *json);
int srv_repo_clear(srv_repo *r);
/* For prune: rows in (fp, pack) order after a cursor, and deleting every
 * row of some packs (the Bloom filter keeps their fingerprints). */
int srv_repo_scan(srv_repo *r, const cairn_index_entry *after, cairn_index_entry *out, size_t max,
                  size_t *n_out);
int srv_repo_drop_packs(srv_repo *r, const uint8_t (*packs)[32], size_t n);
/* Every row of each fingerprint (up to CAIRN_INDEX_ROWS_MAX), and marking
 * rows a client found false so that lookups offer them last. */
int srv_repo_rows(srv_repo *r, const uint8_t (*fps)[32], size_t n, cairn_index_entry *out,
                  uint8_t *counts);
int srv_repo_reject(srv_repo *r, const cairn_index_entry *rows, size_t n);

/* Appends per-repository gauges (shard sizes, filter state). */
int srv_repos_metrics(srv_repos *rs, cairn_buf *out);
/* Appends, per repository that has had one, when the server last learned
 * of a new snapshot (unix seconds); no host names. */
int srv_repos_freshness_metrics(srv_repos *rs, cairn_buf *out);
/* The JSON of when the server last learned of a new snapshot of the
 * repository, and of each host's (the most recent SRV_FRESHNESS_HOSTS_MAX). */
int srv_repo_freshness(srv_repo *r, cairn_buf *json);
#define SRV_FRESHNESS_HOSTS_MAX 10000

/* ---- the catalogue's freshness (freshness.c), on a repository's
 * catalogue database (path: for errors), under its lock ---- */

struct sqlite3;
/* Brings an older catalogue's schema up to date; refuses a newer one. */
int srv_catalog_upgrade(struct sqlite3 *db, const char *path);
/* Within the transaction that added a snapshot id new to the catalogue:
 * host (NULL: not told) made it, at now (unix seconds). */
int srv_freshness_note(struct sqlite3 *db, const char *path, const char *host, int64_t now);
/* The gauge's HELP and TYPE lines, and one repository's sample (none if
 * no new snapshot was ever learned). */
int srv_freshness_metrics_head(cairn_buf *out);
int srv_freshness_metric(struct sqlite3 *db, const char *path, const char *repo_id, cairn_buf *out);
int srv_freshness_json(struct sqlite3 *db, const char *path, const char *repo_id, cairn_buf *json);

/* Runs PRAGMA integrity_check on every database under DIR; prints one line
 * per file to f. 0 if all are ok, CAIRN_ECORRUPT if one is not. */
int srv_check_data(const char *data_dir, FILE *f);

/* ---- metrics ---- */

enum srv_route {
	SRV_ROUTE_UNKNOWN,
	SRV_ROUTE_HEALTHZ,
	SRV_ROUTE_METRICS,
	SRV_ROUTE_LOOKUP,
	SRV_ROUTE_REGISTER,
	SRV_ROUTE_BLOOM,
	SRV_ROUTE_SNAPSHOTS_LIST,
	SRV_ROUTE_SNAPSHOTS_ADD,
	SRV_ROUTE_SNAPSHOT_DELETE,
	SRV_ROUTE_OBJECT_GET,
	SRV_ROUTE_OBJECT_PUT,
	SRV_ROUTE_STATS,
	SRV_ROUTE_INDEX_CLEAR,
	SRV_ROUTE_SCAN,
	SRV_ROUTE_DROP_PACKS,
	SRV_ROUTE_ROWS,
	SRV_ROUTE_REJECT,
	SRV_ROUTE_PRESENCE,
	SRV_ROUTE_SNAPSHOT_ADD_HOST,
	SRV_ROUTE_FRESHNESS,
	SRV_ROUTE_COUNT,
};

#define SRV_STATUS_SLOTS 16
#define SRV_LATENCY_BUCKETS 14

typedef struct srv_metrics {
	_Atomic uint64_t requests[SRV_ROUTE_COUNT][SRV_STATUS_SLOTS];
	_Atomic uint64_t latency[SRV_ROUTE_COUNT][SRV_LATENCY_BUCKETS + 1]; /* last: +Inf */
	_Atomic uint64_t latency_sum_us[SRV_ROUTE_COUNT];
	_Atomic uint64_t lookups;        /* fingerprints asked about */
	_Atomic uint64_t lookups_found;  /* of those, present */
	_Atomic uint64_t lookups_shard;  /* of those, looked up in the shards */
	_Atomic uint64_t registrations;  /* entries registered */
	_Atomic uint64_t scan_rows;      /* rows sent in scan answers */
	_Atomic uint64_t packs_dropped;  /* pack ids named in drop requests */
	_Atomic uint64_t rows_rejected;  /* rows named in reject requests */
	_Atomic uint64_t rate_limited;   /* 429, for a token's requests or a repository's entries */
	_Atomic uint64_t quota_exceeded; /* 507 */
	_Atomic uint64_t bloom_downloads;
	_Atomic uint64_t bloom_not_modified;
	_Atomic int in_flight;
	double started;
} srv_metrics;

const char *srv_route_name(int route);
void srv_metrics_request(srv_metrics *m, int route, unsigned status, double seconds);
int srv_metrics_render(srv_metrics *m, srv_repos *rs, srv_conns *cs, cairn_buf *out);

/* ---- the HTTP server ---- */

/* SQLite tuning of each repository's shards. */
#define SRV_CACHE_MIB 256
#define SRV_WAL_PAGES 10000

typedef struct srv_options {
	const char *listen;
	const char *data_dir;
	unsigned shards;
	const char *tls_cert;
	const char *tls_key;
	unsigned threads;
	double rate;
	double burst;
	unsigned timeout_s;
	/* connections */
	unsigned max_conns;
	unsigned per_addr;
	unsigned header_timeout_s;
	unsigned body_timeout_s;
	/* per repository */
	double register_rate;
	double register_burst;
	uint64_t max_fingerprints;
	uint64_t max_snapshots;
} srv_options;

typedef struct srv srv;

struct srv {
	srv_options opt;
	srv_repos *repos;
	srv_auth *auth;
	srv_limiter *limiter;
	srv_limiter *register_limiter; /* entries per repository */
	srv_conns *conns;
	srv_metrics metrics;
	atomic_int stopping;
	atomic_int load_failed; /* the repositories could not be opened */
	void *daemon;
	/* the thread that drops connections past their deadlines */
	pthread_t reaper;
	int reaper_started;
	atomic_int reaper_quit;
	char bound[96]; /* "http://HOST:PORT" once listening */
};

/* Starts listening (the daemon runs on its own threads). */
int srv_http_start(srv *s);
/* Stops accepting, lets requests in flight finish (up to grace_s), and
 * stops. */
void srv_http_stop(srv *s, unsigned grace_s);

/* A handler's answer: status, content type, body (owned, freed with
 * free()), and optional extra header. */
typedef struct srv_reply {
	unsigned status;
	const char *content_type;
	uint8_t *body;
	size_t len;
	const char *header_name;
	char header_value[64];
} srv_reply;

typedef struct srv_call {
	srv *s;
	srv_repo *repo;
	const char *arg; /* the id after /snapshots/ or /objects/, or NULL */
	const uint8_t *body;
	size_t len;
	const char *if_none_match;
} srv_call;

/* Text replies ("reason\n"); return 0 so handlers can `return`. */
int srv_reply_text(srv_reply *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int srv_reply_buf(srv_reply *r, unsigned status, const char *content_type, cairn_buf *b);

int srv_route_lookup(srv_call *c, srv_reply *r);
int srv_route_presence(srv_call *c, srv_reply *r);
int srv_route_register(srv_call *c, srv_reply *r);
int srv_route_bloom(srv_call *c, srv_reply *r);
int srv_route_snapshots_list(srv_call *c, srv_reply *r);
int srv_route_snapshots_add(srv_call *c, srv_reply *r);
int srv_route_snapshot_delete(srv_call *c, srv_reply *r);
int srv_route_object_get(srv_call *c, srv_reply *r);
int srv_route_object_put(srv_call *c, srv_reply *r);
int srv_route_stats(srv_call *c, srv_reply *r);
int srv_route_index_clear(srv_call *c, srv_reply *r);
int srv_route_scan(srv_call *c, srv_reply *r);
int srv_route_drop_packs(srv_call *c, srv_reply *r);
int srv_route_rows(srv_call *c, srv_reply *r);
int srv_route_reject(srv_call *c, srv_reply *r);
int srv_route_snapshot_add_host(srv_call *c, srv_reply *r);
int srv_route_freshness(srv_call *c, srv_reply *r);

double srv_now(void); /* monotonic seconds */

#endif

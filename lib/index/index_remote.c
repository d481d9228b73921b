/* The remote fingerprint index: cairn-server over HTTP (libcurl).
 *
 * Requests go through a small pool of curl handles, so that threads never
 * share one and each keeps its connection alive between requests. Every
 * request is retried with the one backoff policy (net/http.h) on network
 * errors, 408, 429 (after the server's Retry-After) and 5xx: all of them are
 * idempotent, registrations included (a row registered again changes
 * nothing) and drops of packs (a row deleted is not there to delete).
 *
 * A backup's lookups (lookup_dedup) ask the server's Bloom filter first.
 * It is fetched on the first such lookup (conditionally, with the ETag of
 * the copy cached on disk) and again after REFRESH_SECONDS; fingerprints
 * it calls absent are reported missing without a request. Readers'
 * lookups ask the server about every fingerprint: one another client
 * registered since the filter was fetched must be found. Registrations made through this handle are
 * added to the local copy, so that they are found at once.
 *
 * A filter larger than BLOOM_MAX_DEFAULT (or CAIRN_INDEX_BLOOM_MAX bytes)
 * is refused, before its body is read when the server states its length:
 * the client says so once (the open's warn callback) and goes on without a filter, asking
 * the server about every fingerprint. A server cannot make it hold more
 * than that in memory.
 *
 * A server that cannot be reached, or answers 5xx, once a request's
 * retries are spent, opens the circuit: for CIRCUIT_SECONDS no request
 * is sent (then one tries again). Meanwhile lookups answer "missing" (a
 * backup stores the chunk, a reader looks in the store's own record),
 * rejections are dropped, and everything else fails at once; the
 * repository keeps what it could not register for the next run
 * (lib/repo/journal.c). offline() tells whether the circuit ever opened. */
#include "cairn/sys/index.h"

#include "cairn/bloom.h"
#include "cairn/errors.h"
#include "cairn/pack.h"
#include "cairn/wire.h"
#include "index/remote_check.h"
#include "util/buf.h"
#include "net/curl_api.h"
#include "net/http.h"
#include "net/retry.h"
#include "util/units.h"
#include "util/hex.h"
#include "util/json.h"

#include "cairn/chunker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* connections: one per thread that may ask (64 workers and the main thread) */
#define POOL_MAX 65
#define LOOKUP_BATCH 8192
#define REGISTER_BATCH 8192
#define REFRESH_SECONDS 300
#define CONNECT_TIMEOUT_MS 10000L
/* A transfer slower than 1 byte/s for this long has stalled. */
#define STALL_SECONDS 60L
#define ETAG_MAX 128
#define SMALL_BODY_MAX (4u * 1024 * 1024)
/* The largest filter taken: what the server's default quota of 100
 * million fingerprints makes (at most about 200 MB), with room. */
#define BLOOM_MAX_DEFAULT ((size_t)256 << 20)
#define CACHE_MAGIC "cairn bloom cache 1\n"
#define CIRCUIT_SECONDS 60

typedef struct remote_index {
	cairn_index base;
	char *base_url; /* ".../v2/repos/<id>" (CAIRN_WIRE_REPOS) */
	char *auth;     /* "Authorization: Bearer ..." */
	char *ca_file;
	char *cache_path; /* NULL: the filter is not kept on disk */

	cairn_http_client http;

	pthread_mutex_t fetch_lock; /* one filter download at a time */
	pthread_rwlock_t bloom_lock;
	cairn_bloom *bloom; /* NULL until fetched */
	char etag[ETAG_MAX];
	time_t fetched_at;
	size_t bloom_max;
	int bloom_refused;  /* said so once */
	cairn_warn_cb warn; /* where that is said (NULL: nowhere) */
	void *warn_ud;

	pthread_mutex_t circuit_lock;
	time_t circuit_until; /* 0: never opened */
	char circuit_why[512];
	/* The server has no /presence route (an older one): lookups for
	 * deduplication use /lookup. */
	_Atomic int no_presence;

	atomic_int no_host_route; /* the server registers snapshots without hosts */
} remote_index;

/* ---- HTTP ---- */

typedef struct response {
	long status;
	cairn_buf body;
	size_t max;
	int too_large;
	char etag[ETAG_MAX];
} response;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	response *r = ud;
	size_t n = size * nmemb;
	if (n > r->max - r->body.len) {
		r->too_large = 1;
		return 0;
	}
	if (cairn_buf_append(&r->body, data, n))
		return 0;
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	response *r = ud;
	size_t n = size * nmemb;
	/* A body that will not fit is not read at all. */
	if (n > 15 && strncasecmp(data, "content-length:", 15) == 0) {
		char num[32];
		size_t len = n - 15 < sizeof(num) - 1 ? n - 15 : sizeof(num) - 1;
		memcpy(num, data + 15, len);
		num[len] = '\0';
		unsigned long long declared = strtoull(num, NULL, 10);
		if (declared > r->max) {
			r->too_large = 1;
			return 0;
		}
	}
	if (n > 5 && strncasecmp(data, "etag:", 5) == 0) {
		size_t i = 5, end = n;
		while (i < end && (data[i] == ' ' || data[i] == '\t'))
			i++;
		while (end > i &&
		       (data[end - 1] == '\r' || data[end - 1] == '\n' || data[end - 1] == ' '))
			end--;
		if (end - i < sizeof(r->etag)) {
			memcpy(r->etag, data + i, end - i);
			r->etag[end - i] = '\0';
		}
	}
	return n;
}

static void restart(void *ud)
{
	response *r = ud;
	cairn_buf_clear(&r->body);
	r->too_large = 0;
	r->etag[0] = '\0';
}

/* 507: the repository's quota on the server is reached, which another
 * try will not change. */
static int retry_answer(long status, void *ud)
{
	(void)ud;
	return status != 507 && cairn_retry_http_status(status);
}

/* 1 while the circuit is open (no request is sent). */
static int circuit_open(remote_index *ix)
{
	pthread_mutex_lock(&ix->circuit_lock);
	int open = ix->circuit_until && time(NULL) < ix->circuit_until;
	pthread_mutex_unlock(&ix->circuit_lock);
	return open;
}

/* 1 if the circuit ever opened: the server was out of reach. */
static int went_offline(remote_index *ix)
{
	pthread_mutex_lock(&ix->circuit_lock);
	int was = ix->circuit_until != 0;
	pthread_mutex_unlock(&ix->circuit_lock);
	return was;
}

/* 1 if a failure rc is the circuit's: an answer of "missing" (or, for a
 * rejection, nothing kept) stands in for the server's, never wrong, only
 * costly. */
static int out_of_reach(remote_index *ix, int rc)
{
	return rc && rc != CAIRN_ENOMEM && circuit_open(ix);
}

/* Opens the circuit after a request failed whole; why: this thread's
 * error. */
static void trip(remote_index *ix)
{
	pthread_mutex_lock(&ix->circuit_lock);
	ix->circuit_until = time(NULL) + CIRCUIT_SECONDS;
	snprintf(ix->circuit_why, sizeof(ix->circuit_why), "%s", cairn_error_last());
	pthread_mutex_unlock(&ix->circuit_lock);
}

/* One request with retries. On 0, resp holds the final answer, whatever
 * its status; an error means no answer came. A server out of reach, or
 * failing (5xx), opens the circuit; while it is open, requests fail at
 * once. */
static int request(remote_index *ix, const char *method, const char *path, const void *body,
                   size_t len, const char *if_none_match, size_t max_body, response *resp)
{
	cairn_buf url = CAIRN_BUF_INIT, inm = CAIRN_BUF_INIT;
	struct curl_slist *headers = NULL;
	int rc = 0;

	memset(resp, 0, sizeof(*resp));
	resp->max = max_body;
	if (circuit_open(ix)) {
		pthread_mutex_lock(&ix->circuit_lock);
		rc = cairn_error_set(CAIRN_EIO, "index server %s: out of reach, not asked: %s",
		                     ix->base_url, ix->circuit_why);
		pthread_mutex_unlock(&ix->circuit_lock);
		return rc;
	}
	if ((rc = cairn_buf_printf(&url, "%s%s", ix->base_url, path)))
		goto out;
	if (if_none_match && (rc = cairn_buf_printf(&inm, "If-None-Match: %s", if_none_match)))
		goto out;
	if ((rc = cairn_http_header_add(&headers, ix->auth)) ||
	    (rc = cairn_http_header_add(&headers, "Content-Type: application/octet-stream")) ||
	    (rc = cairn_http_header_add(&headers, "Expect:")) ||
	    (if_none_match && (rc = cairn_http_header_add(&headers, (const char *)inm.data))))
		goto out;

	cairn_http_request r = {.method = method,
	                        .url = (const char *)url.data,
	                        .headers = headers,
	                        .body = body,
	                        .body_len = len,
	                        .on_body = on_body,
	                        .on_header = on_header,
	                        .restart = restart,
	                        .retry_answer = retry_answer,
	                        .ud = resp};
	rc = cairn_http_perform(&ix->http, &r);
	resp->status = r.status;
	if (rc && resp->too_large)
		rc = cairn_error_set(CAIRN_EIO, "index server %s%s: answer larger than %zu bytes",
		                     ix->base_url, path, max_body);
	else if (rc)
		cairn_error_prefix(rc, "index server %s%s", ix->base_url, path);
	/* Out of reach: a network error another try might have cured, or a
	 * failing server. Not an answer it should not have given, nor a
	 * certificate not trusted: those are for the user to see. */
	if ((rc == CAIRN_EIO && !resp->too_large && cairn_retry_curl_error(r.curl_code)) ||
	    (!rc && resp->status >= 500 && resp->status != 507)) {
		if (!rc)
			cairn_error_set(CAIRN_EIO, "index server %s%s: HTTP %ld", ix->base_url,
			                path, resp->status);
		trip(ix);
	}
out:
	cairn_curl.slist_free_all(headers);
	cairn_buf_free(&url);
	cairn_buf_free(&inm);
	if (rc)
		cairn_buf_free(&resp->body);
	return rc;
}

/* The error for an answer the caller did not expect, with the server's
 * reason (its body, made printable and short). */
static int status_error(remote_index *ix, const char *path, response *r)
{
	char reason[201];
	size_t n = 0;
	for (size_t i = 0; i < r->body.len && n < sizeof(reason) - 1; i++) {
		uint8_t c = r->body.data[i];
		if (c == '\n' || c == '\r')
			c = ' ';
		reason[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	while (n > 0 && reason[n - 1] == ' ')
		n--;
	reason[n] = '\0';
	const char *sep = n ? ": " : "";
	int rc;
	switch (r->status) {
	case 401:
		rc = cairn_error_set(CAIRN_ERROR, "index server %s refused the token (401)%s%s",
		                     ix->base_url, sep, reason);
		break;
	case 403:
		rc = cairn_error_set(CAIRN_ERROR,
		                     "index server %s: the token does not allow %s (403)%s%s",
		                     ix->base_url, path, sep, reason);
		break;
	case 400:
		rc = cairn_error_set(CAIRN_EINVAL, "index server %s%s rejected the request%s%s",
		                     ix->base_url, path, sep, reason);
		break;
	case 404:
		/* what a server older than the protocol says to every route */
		rc =
		    cairn_error_set(CAIRN_EIO,
		                    "index server %s%s: HTTP 404%s%s (a cairn-server that does not "
		                    "speak version %d of the index protocol must be upgraded)",
		                    ix->base_url, path, sep, reason, CAIRN_WIRE_VERSION);
		break;
	default:
		rc = cairn_error_set(CAIRN_EIO, "index server %s%s: HTTP %ld%s%s", ix->base_url,
		                     path, r->status, sep, reason);
	}
	cairn_buf_free(&r->body);
	return rc;
}

/* ---- the Bloom filter ---- */

static void cache_load(remote_index *ix)
{
	cairn_buf b = CAIRN_BUF_INIT;
	FILE *f = fopen(ix->cache_path, "rb");
	if (!f)
		return;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (b.len + n > ix->bloom_max + ETAG_MAX + 64 || cairn_buf_append(&b, chunk, n))
			goto out;
	if (ferror(f))
		goto out;
	size_t ml = strlen(CACHE_MAGIC);
	if (b.len < ml || memcmp(b.data, CACHE_MAGIC, ml) != 0)
		goto out;
	const uint8_t *etag = b.data + ml;
	const uint8_t *nl = memchr(etag, '\n', b.len - ml);
	if (!nl || nl == etag || (size_t)(nl - etag) >= ETAG_MAX)
		goto out;
	for (const uint8_t *p = etag; p < nl; p++)
		if (*p < 0x20 || *p >= 0x7f)
			goto out;
	cairn_bloom *bloom;
	size_t off = (size_t)(nl + 1 - b.data);
	if (cairn_bloom_parse(&bloom, b.data + off, b.len - off)) {
		cairn_error_clear();
		goto out;
	}
	ix->bloom = bloom;
	memcpy(ix->etag, etag, (size_t)(nl - etag));
	ix->etag[nl - etag] = '\0';
out:
	fclose(f);
	cairn_buf_free(&b);
}

/* The cache is an optimisation: failing to write it is not an error. */
static void cache_save(remote_index *ix, const char *etag, const void *filter, size_t len)
{
	cairn_buf tmp = CAIRN_BUF_INIT;
	if (cairn_buf_printf(&tmp, "%s.%ld.tmp", ix->cache_path, (long)getpid()))
		goto out;
	FILE *f = fopen((const char *)tmp.data, "wb");
	if (!f)
		goto out;
	int ok = fputs(CACHE_MAGIC, f) >= 0 && fputs(etag, f) >= 0 && fputc('\n', f) != EOF &&
	         fwrite(filter, 1, len, f) == len;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename((const char *)tmp.data, ix->cache_path) != 0)
		unlink((const char *)tmp.data);
out:
	cairn_buf_free(&tmp);
}

/* A filter over the cap: none, until the next refresh. */
static void bloom_refuse(remote_index *ix)
{
	if (!ix->bloom_refused) {
		ix->bloom_refused = 1;
		/* A backup goes on; the user learns why it asks the server more. */
		if (ix->warn) {
			char why[512];
			snprintf(why, sizeof(why),
			         "%s (the most a client takes, CAIRN_INDEX_BLOOM_MAX): going on "
			         "without the Bloom filter, asking the server about every chunk",
			         cairn_error_last());
			ix->warn(ix->warn_ud, NULL, why);
		}
	}
	cairn_error_clear();
	pthread_rwlock_wrlock(&ix->bloom_lock);
	cairn_bloom_free(ix->bloom);
	ix->bloom = NULL;
	ix->etag[0] = '\0';
	pthread_rwlock_unlock(&ix->bloom_lock);
	ix->fetched_at = time(NULL);
}

/* Makes sure a current enough filter is loaded. */
static int bloom_refresh(remote_index *ix)
{
	response resp;
	int rc = 0;
	time_t now = time(NULL);
	pthread_mutex_lock(&ix->fetch_lock);
	if (ix->fetched_at && now - ix->fetched_at < REFRESH_SECONDS)
		goto out;
	if (!ix->bloom && ix->cache_path) {
		pthread_rwlock_wrlock(&ix->bloom_lock);
		cache_load(ix);
		pthread_rwlock_unlock(&ix->bloom_lock);
	}
	rc = request(ix, "GET", "/bloom", NULL, 0, ix->bloom && ix->etag[0] ? ix->etag : NULL,
	             ix->bloom_max, &resp);
	if (rc && resp.too_large) {
		bloom_refuse(ix);
		rc = 0;
	}
	if (rc || resp.too_large)
		goto out;
	if (resp.status == 304 && ix->bloom) {
		cairn_buf_free(&resp.body);
	} else if (resp.status == 200) {
		cairn_bloom *fresh;
		rc = cairn_bloom_parse(&fresh, resp.body.data, resp.body.len);
		if (rc) {
			cairn_error_prefix(rc, "index server %s/bloom", ix->base_url);
			cairn_buf_free(&resp.body);
			goto out;
		}
		pthread_rwlock_wrlock(&ix->bloom_lock);
		cairn_bloom_free(ix->bloom);
		ix->bloom = fresh;
		snprintf(ix->etag, sizeof(ix->etag), "%s", resp.etag);
		pthread_rwlock_unlock(&ix->bloom_lock);
		if (ix->cache_path && resp.etag[0])
			cache_save(ix, resp.etag, resp.body.data, resp.body.len);
		cairn_buf_free(&resp.body);
	} else {
		rc = status_error(ix, "/bloom", &resp);
		goto out;
	}
	ix->fetched_at = now ? now : 1;
out:
	pthread_mutex_unlock(&ix->fetch_lock);
	return rc;
}

/* ---- the backend ---- */

/* Asks the server about the m fingerprints in body: /presence (compact
 * answers) for deduplication, /lookup (full rows) otherwise or when the
 * server has no /presence. */
static int ask_batch(remote_index *ix, int dedup, const cairn_buf *body, size_t m,
                     cairn_index_entry *got, uint8_t *got_found)
{
	const uint8_t(*fps)[32] = (const uint8_t(*)[32])body->data;
	response resp;
	int presence = dedup && !atomic_load(&ix->no_presence), rc;
	const char *path = presence ? "/presence" : "/lookup";
	size_t most =
	    presence ? 2 + m * (32 + CAIRN_WIRE_PRESENT_SIZE) : m * CAIRN_WIRE_ANSWER_SIZE;
	if ((rc = request(ix, "POST", path, body->data, body->len, NULL, most, &resp)))
		return rc;
	if (presence && resp.status == 404) {
		cairn_buf_free(&resp.body);
		atomic_store(&ix->no_presence, 1);
		return ask_batch(ix, 0, body, m, got, got_found);
	}
	if (resp.status != 200)
		return status_error(ix, path, &resp);
	rc = presence
	         ? cairn_wire_presence_decode(resp.body.data, resp.body.len, fps, m, got, got_found)
	         : cairn_wire_answers_decode(resp.body.data, resp.body.len, fps, m, got, got_found);
	cairn_buf_free(&resp.body);
	if (rc)
		cairn_error_prefix(rc, "index server %s%s", ix->base_url, path);
	return rc;
}

/* With use_bloom, the fingerprints the filter calls absent are not
 * asked: right for deduplication, which may miss a chunk registered
 * since the filter was fetched (a backup stores it again), wrong for a
 * reader, which must find every registered chunk. */
static int lookup_batches(cairn_index *base, const uint8_t (*fps)[32], size_t n,
                          cairn_index_entry *out, uint8_t *found, int use_bloom)
{
	remote_index *ix = (remote_index *)base;
	size_t *ask = NULL, n_ask = 0;
	cairn_buf body = CAIRN_BUF_INIT;
	cairn_index_entry *got = NULL;
	uint8_t *got_found = NULL;
	int rc;
	if (n == 0)
		return 0;
	memset(found, 0, n);
	if (use_bloom && (rc = bloom_refresh(ix)))
		goto out;
	if (!(ask = malloc(n * sizeof(*ask)))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	pthread_rwlock_rdlock(&ix->bloom_lock);
	for (size_t i = 0; i < n; i++)
		if (!use_bloom || !ix->bloom || cairn_bloom_has(ix->bloom, fps[i]))
			ask[n_ask++] = i;
	pthread_rwlock_unlock(&ix->bloom_lock);
	if (n_ask == 0)
		goto out;

	size_t batch = n_ask < LOOKUP_BATCH ? n_ask : LOOKUP_BATCH;
	got = malloc(batch * sizeof(*got));
	got_found = malloc(batch);
	if (!got || !got_found) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t from = 0; from < n_ask; from += batch) {
		size_t m = n_ask - from < batch ? n_ask - from : batch;
		cairn_buf_clear(&body);
		if ((rc = cairn_buf_reserve(&body, m * 32)))
			goto out;
		for (size_t k = 0; k < m; k++)
			cairn_buf_append(&body, fps[ask[from + k]], 32);
		if ((rc = ask_batch(ix, use_bloom, &body, m, got, got_found)))
			goto out;
		for (size_t k = 0; k < m; k++) {
			size_t i = ask[from + k];
			found[i] = got_found[k];
			if (got_found[k])
				out[i] = got[k];
		}
	}
out:
	free(ask);
	free(got);
	free(got_found);
	cairn_buf_free(&body);
	if (out_of_reach(ix, rc)) {
		memset(found, 0, n);
		rc = 0;
	}
	return rc;
}

static int remote_insert(cairn_index *base, const cairn_index_entry *entries, size_t n)
{
	remote_index *ix = (remote_index *)base;
	cairn_buf body = CAIRN_BUF_INIT;
	int rc = 0;
	for (size_t from = 0; from < n; from += REGISTER_BATCH) {
		size_t m = n - from < REGISTER_BATCH ? n - from : REGISTER_BATCH;
		response resp;
		cairn_buf_clear(&body);
		if ((rc = cairn_wire_entries_encode(&body, entries + from, m)))
			goto out;
		if ((rc = request(ix, "POST", "/register", body.data, body.len, NULL,
		                  SMALL_BODY_MAX, &resp)))
			goto out;
		if (resp.status != 200 && resp.status != 204) {
			rc = status_error(ix, "/register", &resp);
			goto out;
		}
		cairn_buf_free(&resp.body);
		pthread_rwlock_wrlock(&ix->bloom_lock);
		if (ix->bloom)
			for (size_t k = 0; k < m; k++)
				cairn_bloom_add(ix->bloom, entries[from + k].fp);
		pthread_rwlock_unlock(&ix->bloom_lock);
	}
out:
	cairn_buf_free(&body);
	return rc;
}

static void id_path(char *out, size_t size, const char *prefix, const uint8_t id[32])
{
	char hex[65];
	cairn_hex_encode(hex, id, 32);
	snprintf(out, size, "%s/%s", prefix, hex);
}

/* A request whose answer is only a status: ok (and maybe also_ok) is
 * success; 404 gives CAIRN_ENOTFOUND when not_found is set. */
static int simple(remote_index *ix, const char *method, const char *path, const void *body,
                  size_t len, long ok, long also_ok, int *not_found)
{
	response resp;
	int rc = request(ix, method, path, body, len, NULL, SMALL_BODY_MAX, &resp);
	if (rc)
		return rc;
	if (resp.status == ok || resp.status == also_ok) {
		cairn_buf_free(&resp.body);
		return 0;
	}
	if (resp.status == 404 && not_found) {
		*not_found = 1;
		cairn_buf_free(&resp.body);
		return 0;
	}
	return status_error(ix, path, &resp);
}

static int remote_object_known(cairn_index *base, const uint8_t id[32], int *known_out)
{
	char path[96];
	int missing = 0;
	id_path(path, sizeof(path), "/objects", id);
	int rc = simple((remote_index *)base, "GET", path, NULL, 0, 200, 204, &missing);
	if (!rc)
		*known_out = !missing;
	return rc;
}

static int remote_object_add(cairn_index *base, const uint8_t id[32])
{
	char path[96];
	id_path(path, sizeof(path), "/objects", id);
	return simple((remote_index *)base, "PUT", path, NULL, 0, 204, 200, NULL);
}

static int remote_count(cairn_index *base, uint64_t *count_out)
{
	remote_index *ix = (remote_index *)base;
	response resp;
	cairn_json *doc = NULL;
	int rc = request(ix, "GET", "/stats", NULL, 0, NULL, SMALL_BODY_MAX, &resp);
	if (rc)
		return rc;
	if (resp.status != 200)
		return status_error(ix, "/stats", &resp);
	rc = cairn_json_parse(&doc, (const char *)resp.body.data, resp.body.len);
	if (!rc)
		rc = cairn_json_get_uint(doc, "fingerprints", count_out);
	if (rc)
		rc = cairn_error_prefix(CAIRN_ECORRUPT, "index server %s/stats", ix->base_url);
	cairn_json_free(doc);
	cairn_buf_free(&resp.body);
	return rc;
}

static int remote_clear(cairn_index *base)
{
	remote_index *ix = (remote_index *)base;
	int rc = simple(ix, "DELETE", "/index", NULL, 0, 204, 200, NULL);
	if (rc)
		return rc;
	/* Whatever this handle knew is gone: fetch the filter again. */
	pthread_mutex_lock(&ix->fetch_lock);
	pthread_rwlock_wrlock(&ix->bloom_lock);
	cairn_bloom_free(ix->bloom);
	ix->bloom = NULL;
	ix->etag[0] = '\0';
	ix->fetched_at = 0;
	pthread_rwlock_unlock(&ix->bloom_lock);
	pthread_mutex_unlock(&ix->fetch_lock);
	return 0;
}

static int remote_snapshot_add(cairn_index *base, const uint8_t id[32])
{
	return simple((remote_index *)base, "POST", "/snapshots", id, 32, 204, 200, NULL);
}

/* POST /snapshots/<id> with the host as its body; a server that has no
 * such route (405, 404) is asked the old way, now and from then on. */
static int remote_snapshot_add_host(cairn_index *base, const uint8_t id[32], const char *host)
{
	remote_index *ix = (remote_index *)base;
	size_t len = strlen(host);
	char path[96];
	response resp;
	if (atomic_load(&ix->no_host_route) || len == 0 || len > CAIRN_WIRE_HOST_MAX)
		return remote_snapshot_add(base, id);
	id_path(path, sizeof(path), "/snapshots", id);
	int rc = request(ix, "POST", path, host, len, NULL, SMALL_BODY_MAX, &resp);
	if (rc)
		return rc;
	if (resp.status == 204 || resp.status == 200) {
		cairn_buf_free(&resp.body);
		return 0;
	}
	if (resp.status == 405 || resp.status == 404) {
		cairn_buf_free(&resp.body);
		atomic_store(&ix->no_host_route, 1);
		return remote_snapshot_add(base, id);
	}
	return status_error(ix, path, &resp);
}

static int remote_snapshot_list(cairn_index *base, uint8_t (**ids_out)[32], size_t *count_out)
{
	remote_index *ix = (remote_index *)base;
	response resp;
	*ids_out = NULL;
	*count_out = 0;
	int rc = request(ix, "GET", "/snapshots", NULL, 0, NULL, (size_t)64 << 20, &resp);
	if (rc)
		return rc;
	if (resp.status != 200)
		return status_error(ix, "/snapshots", &resp);
	if (resp.body.len % 32 != 0) {
		cairn_buf_free(&resp.body);
		return cairn_error_set(CAIRN_ECORRUPT,
		                       "index server %s/snapshots: %zu bytes are not whole ids",
		                       ix->base_url, resp.body.len);
	}
	*count_out = resp.body.len / 32;
	*ids_out = (uint8_t(*)[32])cairn_buf_detach(&resp.body, NULL);
	return 0;
}

static int remote_snapshot_remove(cairn_index *base, const uint8_t id[32])
{
	char path[96];
	int missing = 0;
	id_path(path, sizeof(path), "/snapshots", id);
	int rc = simple((remote_index *)base, "DELETE", path, NULL, 0, 204, 200, &missing);
	if (!rc && missing)
		rc = cairn_error_set(CAIRN_ENOTFOUND, "the index server has no snapshot %.16s",
		                     path + strlen("/snapshots/"));
	return rc;
}

static int remote_scan(cairn_index *base, const cairn_index_entry *after, cairn_index_entry *out,
                       size_t max, size_t *n_out)
{
	remote_index *ix = (remote_index *)base;
	cairn_buf body = CAIRN_BUF_INIT;
	size_t n = 0;
	int rc = 0, end = 0;
	*n_out = 0;
	/* A page may be shorter than asked for (the server caps it): ask
	 * again after its last row until max rows or the end. */
	while (n < max && !end) {
		size_t ask = max - n < CAIRN_WIRE_SCAN_MAX ? max - n : CAIRN_WIRE_SCAN_MAX, got;
		const cairn_index_entry *cursor = n ? &out[n - 1] : after;
		response resp;
		cairn_buf_clear(&body);
		if ((rc = cairn_wire_scan_request_encode(&body, cursor, (uint32_t)ask)) ||
		    (rc = request(ix, "POST", "/scan", body.data, body.len, NULL,
		                  1 + ask * CAIRN_WIRE_ENTRY_SIZE, &resp)))
			goto out;
		if (resp.status != 200) {
			rc = status_error(ix, "/scan", &resp);
			goto out;
		}
		rc = cairn_wire_scan_answer_decode(resp.body.data, resp.body.len, cursor, ask,
		                                   out + n, &got, &end);
		cairn_buf_free(&resp.body);
		if (rc) {
			cairn_error_prefix(rc, "index server %s/scan", ix->base_url);
			goto out;
		}
		n += got;
	}
	*n_out = n;
out:
	cairn_buf_free(&body);
	return rc;
}

/* In requests of at most CAIRN_WIRE_DROP_MAX packs, each one pass over
 * the server's shards. */
static int remote_drop_packs(cairn_index *base, const uint8_t (*packs)[32], size_t n)
{
	remote_index *ix = (remote_index *)base;
	int rc = 0;
	for (size_t from = 0; from < n && !rc; from += CAIRN_WIRE_DROP_MAX) {
		size_t m = n - from < CAIRN_WIRE_DROP_MAX ? n - from : CAIRN_WIRE_DROP_MAX;
		rc = simple(ix, "POST", "/drop-packs", packs + from, m * 32, 204, 200, NULL);
	}
	return rc;
}

/* Rows of fingerprints, CAIRN_WIRE_ROWS_FPS_MAX a request. A server
 * without the route (404) gives lookup's one row instead. */
static int remote_rows(cairn_index *base, const uint8_t (*fps)[32], size_t n, size_t max,
                       cairn_index_entry *out, uint8_t *counts)
{
	remote_index *ix = (remote_index *)base;
	int rc = 0;
	if (max < 1 || max > CAIRN_INDEX_ROWS_MAX)
		return cairn_error_set(CAIRN_EINVAL, "index rows: %zu rows asked of each", max);
	for (size_t from = 0; from < n && !rc; from += CAIRN_WIRE_ROWS_FPS_MAX) {
		size_t m = n - from < CAIRN_WIRE_ROWS_FPS_MAX ? n - from : CAIRN_WIRE_ROWS_FPS_MAX;
		response resp;
		size_t most = m * (1 + CAIRN_INDEX_ROWS_MAX * (size_t)CAIRN_WIRE_ENTRY_SIZE);
		if ((rc = request(ix, "POST", "/rows", fps + from, m * 32, NULL, most, &resp)))
			break;
		if (resp.status == 404) {
			cairn_buf_free(&resp.body);
			for (size_t k = from; k < from + m && !rc; k++)
				rc = lookup_batches(base, fps + k, 1, out + k * max, counts + k, 0);
			continue;
		}
		if (resp.status != 200) {
			rc = status_error(ix, "/rows", &resp);
			break;
		}
		rc = cairn_wire_rows_decode(resp.body.data, resp.body.len, fps + from, m, max,
		                            out + from * max, counts + from);
		cairn_buf_free(&resp.body);
		if (rc)
			cairn_error_prefix(rc, "index server %s/rows", ix->base_url);
	}
	if (out_of_reach(ix, rc)) {
		memset(counts, 0, n);
		rc = 0;
	}
	return rc;
}

static int remote_reject(cairn_index *base, const cairn_index_entry *rows, size_t n)
{
	remote_index *ix = (remote_index *)base;
	cairn_buf body = CAIRN_BUF_INIT;
	int rc = 0;
	for (size_t from = 0; from < n && !rc; from += CAIRN_WIRE_REJECT_MAX) {
		size_t m = n - from < CAIRN_WIRE_REJECT_MAX ? n - from : CAIRN_WIRE_REJECT_MAX;
		cairn_buf_clear(&body);
		if (!(rc = cairn_wire_rejects_encode(&body, rows + from, m)))
			rc = simple(ix, "POST", "/reject", body.data, body.len, 204, 200, NULL);
	}
	cairn_buf_free(&body);
	return out_of_reach(ix, rc) ? 0 : rc;
}

static int remote_offline(cairn_index *base, char *why, size_t n)
{
	remote_index *ix = (remote_index *)base;
	if (!went_offline(ix))
		return 0;
	pthread_mutex_lock(&ix->circuit_lock);
	if (why && n)
		snprintf(why, n, "%s", ix->circuit_why);
	pthread_mutex_unlock(&ix->circuit_lock);
	return 1;
}

static void remote_free(cairn_index *base)
{
	remote_index *ix = (remote_index *)base;
	cairn_http_client_free(&ix->http);
	cairn_bloom_free(ix->bloom);
	pthread_mutex_destroy(&ix->fetch_lock);
	pthread_mutex_destroy(&ix->circuit_lock);
	pthread_rwlock_destroy(&ix->bloom_lock);
	if (ix->auth)
		sodium_memzero(ix->auth, strlen(ix->auth));
	free(ix->auth);
	free(ix->base_url);
	free(ix->ca_file);
	free(ix->cache_path);
	free(ix);
}

static int remote_lookup(cairn_index *base, const uint8_t (*fps)[32], size_t n,
                         cairn_index_entry *out, uint8_t *found)
{
	return lookup_batches(base, fps, n, out, found, 0);
}

static int remote_lookup_dedup(cairn_index *base, const uint8_t (*fps)[32], size_t n,
                               cairn_index_entry *out, uint8_t *found)
{
	return lookup_batches(base, fps, n, out, found, 1);
}

static const struct cairn_index_ops remote_ops = {
    .version = CAIRN_INDEX_OPS_VERSION,
    .name = "remote",
    .lookup = remote_lookup,
    .lookup_dedup = remote_lookup_dedup,
    .insert = remote_insert,
    .object_known = remote_object_known,
    .object_add = remote_object_add,
    .count = remote_count,
    .clear = remote_clear,
    .free = remote_free,
    .snapshot_add = remote_snapshot_add,
    .snapshot_list = remote_snapshot_list,
    .snapshot_remove = remote_snapshot_remove,
    .scan = remote_scan,
    .drop_packs = remote_drop_packs,
    .rows = remote_rows,
    .reject = remote_reject,
    .offline = remote_offline,
    .snapshot_add_host = remote_snapshot_add_host,
};

/* CAIRN_INDEX_BLOOM_MAX: a size (util/units.h); anything else leaves
 * the default. */
static size_t bloom_max(void)
{
	const char *v = getenv("CAIRN_INDEX_BLOOM_MAX");
	uint64_t n;
	if (!v || cairn_size_parse(v, &n) || n > SIZE_MAX)
		return BLOOM_MAX_DEFAULT;
	return (size_t)n;
}

void cairn_index_remote_set_warn(cairn_index *base, cairn_warn_cb warn, void *ud)
{
	remote_index *ix = (remote_index *)base;
	ix->warn = warn;
	ix->warn_ud = ud;
}

int cairn_index_remote_open(cairn_index **out, const char *url, const char *token,
                            const uint8_t repo_id[32], const char *cache_dir)
{
	char hex[65];
	cairn_buf b = CAIRN_BUF_INIT;
	int rc;
	*out = NULL;
	if (!url || (rc = cairn_index_remote_check_url(url)))
		return url ? rc : cairn_error_set(CAIRN_EINVAL, "no index server URL");
	if ((rc = cairn_index_remote_check_token(token)))
		return rc;
	if ((rc = cairn_curl_global_init()))
		return rc;
	remote_index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = cairn_http_client_init(&ix->http, POOL_MAX))) {
		free(ix);
		return rc;
	}
	ix->http.connect_timeout_ms = CONNECT_TIMEOUT_MS;
	ix->http.honour_retry_after = 1;
	ix->http.stall_speed = 1;
	ix->http.stall_seconds = STALL_SECONDS;
	ix->base.ops = &remote_ops;
	ix->bloom_max = bloom_max();
	pthread_mutex_init(&ix->fetch_lock, NULL);
	pthread_mutex_init(&ix->circuit_lock, NULL);
	pthread_rwlock_init(&ix->bloom_lock, NULL);

	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	cairn_hex_encode(hex, repo_id, 32);
	if ((rc = cairn_buf_printf(&b, "%.*s" CAIRN_WIRE_REPOS "%s", (int)n, url, hex)))
		goto out;
	ix->base_url = (char *)cairn_buf_detach(&b, NULL);
	if ((rc = cairn_buf_printf(&b, "Authorization: Bearer %s", token)))
		goto out;
	ix->auth = (char *)cairn_buf_detach(&b, NULL);
	const char *ca = getenv("CAIRN_INDEX_CA_FILE");
	if (ca && *ca && !(ix->ca_file = strdup(ca))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	ix->http.ca_file = ix->ca_file;
	if (cache_dir && *cache_dir) {
		if ((rc = cairn_buf_printf(&b, "%s/bloom", cache_dir)))
			goto out;
		ix->cache_path = (char *)cairn_buf_detach(&b, NULL);
	}
	*out = &ix->base;
	return 0;
out:
	cairn_buf_free(&b);
	remote_free(&ix->base);
	return rc;
}

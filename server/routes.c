/* The API's handlers. Authentication, scope, rate and size limits are
 * checked before these run (http.c); bodies are validated here, and a
 * malformed one gets 400 with the reason. */
#include "server.h"

#include "cairn/errors.h"
#include "cairn/wire.h"
#include "util/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failed(srv_reply *r)
{
	return srv_reply_text(r, 500, "%s", cairn_error_last());
}

static int quota_reached(srv_call *c, srv_reply *r)
{
	atomic_fetch_add(&c->s->metrics.quota_exceeded, 1);
	return srv_reply_text(r, 507, "%s", cairn_error_last());
}

/* The number of fingerprints a body holds; 0 (answered 400) if it is not
 * whole ones. */
static int fingerprints(srv_call *c, srv_reply *r, size_t *n)
{
	*n = c->len / CAIRN_WIRE_FP_SIZE;
	if (c->len % CAIRN_WIRE_FP_SIZE == 0)
		return 1;
	srv_reply_text(r, 400, "body of %zu bytes is not a whole number of %d-byte fingerprints",
	               c->len, CAIRN_WIRE_FP_SIZE);
	return 0;
}

/* A lookup (full rows) or a presence check (compact answers from the
 * index core's table). */
static int answer_lookup(srv_call *c, srv_reply *r, int presence)
{
	cairn_buf out = CAIRN_BUF_INIT;
	cairn_index_entry *entries = NULL;
	uint8_t *found = NULL;
	size_t asked = 0;
	size_t n;
	if (!fingerprints(c, r, &n))
		return 0;
	entries = malloc((n ? n : 1) * sizeof(*entries));
	found = malloc(n ? n : 1);
	if (!entries || !found) {
		srv_reply_text(r, 500, "out of memory");
		goto out;
	}
	const uint8_t(*fps)[32] = (const uint8_t(*)[32])c->body;
	int rc = presence ? srv_repo_presence(c->repo, fps, n, entries, found)
	                  : srv_repo_lookup(c->repo, fps, n, entries, found, &asked);
	if (!rc)
		rc = presence ? cairn_wire_presence_encode(&out, entries, found, n)
		              : cairn_wire_answers_encode(&out, entries, found, n);
	if (rc) {
		failed(r);
		goto out;
	}
	size_t hits = 0;
	for (size_t i = 0; i < n; i++)
		hits += found[i];
	atomic_fetch_add(&c->s->metrics.lookups, n);
	atomic_fetch_add(&c->s->metrics.lookups_found, hits);
	atomic_fetch_add(&c->s->metrics.lookups_shard, asked);
	srv_reply_buf(r, 200, "application/octet-stream", &out);
out:
	cairn_buf_free(&out);
	free(entries);
	free(found);
	return 0;
}

int srv_route_lookup(srv_call *c, srv_reply *r)
{
	return answer_lookup(c, r, 0);
}

int srv_route_presence(srv_call *c, srv_reply *r)
{
	return answer_lookup(c, r, 1);
}

/* Registrations and rejections of a repository share its rate of rows
 * written: 1 (answered 429 with Retry-After) if n more would pass it. */
static int over_write_rate(srv_call *c, srv_reply *r, size_t n)
{
	unsigned retry_after = 0;
	if (srv_limiter_take_n(c->s->register_limiter, srv_repo_id(c->repo), (double)n, srv_now(),
	                       &retry_after))
		return 0;
	atomic_fetch_add(&c->s->metrics.rate_limited, 1);
	r->header_name = "Retry-After";
	snprintf(r->header_value, sizeof(r->header_value), "%u", retry_after);
	srv_reply_text(r, 429,
	               "too many registrations for this repository (its quota is %.0f "
	               "entries per second): retry in %u s",
	               c->s->opt.register_rate, retry_after);
	return 1;
}

int srv_route_register(srv_call *c, srv_reply *r)
{
	size_t n = c->len / CAIRN_WIRE_ENTRY_SIZE;
	int over_quota = 0;
	cairn_index_entry *entries = malloc((n ? n : 1) * sizeof(*entries));
	if (!entries)
		return srv_reply_text(r, 500, "out of memory");
	if (cairn_wire_entries_decode(c->body, c->len, entries, &n)) {
		srv_reply_text(r, 400, "%s", cairn_error_last());
	} else if (over_write_rate(c, r, n)) {
		/* answered 429 */
	} else if (srv_repo_register(c->repo, entries, n, &over_quota)) {
		if (over_quota)
			quota_reached(c, r);
		else
			failed(r);
	} else {
		atomic_fetch_add(&c->s->metrics.registrations, n);
		srv_reply_text(r, 200, "{\"registered\":%zu}", n);
		r->content_type = "application/json";
	}
	free(entries);
	return 0;
}

int srv_route_bloom(srv_call *c, srv_reply *r)
{
	char etag[48];
	cairn_buf out = CAIRN_BUF_INIT;
	if (srv_repo_bloom(c->repo, etag, NULL))
		return failed(r);
	r->header_name = "ETag";
	snprintf(r->header_value, sizeof(r->header_value), "%s", etag);
	if (c->if_none_match && strcmp(c->if_none_match, etag) == 0) {
		atomic_fetch_add(&c->s->metrics.bloom_not_modified, 1);
		r->status = 304;
		return 0;
	}
	/* The filter may have changed since: send the ETag that matches. */
	if (srv_repo_bloom(c->repo, etag, &out)) {
		cairn_buf_free(&out);
		return failed(r);
	}
	snprintf(r->header_value, sizeof(r->header_value), "%s", etag);
	atomic_fetch_add(&c->s->metrics.bloom_downloads, 1);
	return srv_reply_buf(r, 200, "application/octet-stream", &out);
}

static int parse_arg(srv_call *c, uint8_t id[32])
{
	return cairn_hex_decode(id, 32, c->arg);
}

int srv_route_snapshots_list(srv_call *c, srv_reply *r)
{
	cairn_buf out = CAIRN_BUF_INIT;
	if (srv_repo_snapshot_list(c->repo, &out)) {
		cairn_buf_free(&out);
		return failed(r);
	}
	return srv_reply_buf(r, 200, "application/octet-stream", &out);
}

int srv_route_snapshots_add(srv_call *c, srv_reply *r)
{
	if (c->len == 0 || c->len % 32 != 0)
		return srv_reply_text(
		    r, 400, "body of %zu bytes is not one or more 32-byte snapshot ids", c->len);
	int over_quota = 0;
	if (srv_repo_snapshot_add(c->repo, c->body, c->len / 32, NULL, &over_quota))
		return over_quota ? quota_reached(c, r) : failed(r);
	r->status = 204;
	return 0;
}

/* One snapshot, and the host that made it (the body). */
int srv_route_snapshot_add_host(srv_call *c, srv_reply *r)
{
	uint8_t id[32];
	char host[CAIRN_WIRE_HOST_MAX + 1];
	int over_quota = 0;
	if (parse_arg(c, id))
		return srv_reply_text(r, 400, "bad snapshot id");
	if (cairn_wire_host_check(c->body, c->len))
		return srv_reply_text(r, 400, "%s", cairn_error_last());
	memcpy(host, c->body, c->len);
	host[c->len] = '\0';
	if (srv_repo_snapshot_add(c->repo, id, 1, host, &over_quota))
		return over_quota ? quota_reached(c, r) : failed(r);
	r->status = 204;
	return 0;
}

int srv_route_freshness(srv_call *c, srv_reply *r)
{
	cairn_buf out = CAIRN_BUF_INIT;
	if (srv_repo_freshness(c->repo, &out)) {
		cairn_buf_free(&out);
		return failed(r);
	}
	return srv_reply_buf(r, 200, "application/json", &out);
}

int srv_route_snapshot_delete(srv_call *c, srv_reply *r)
{
	uint8_t id[32];
	if (parse_arg(c, id))
		return srv_reply_text(r, 400, "bad snapshot id");
	int rc = srv_repo_snapshot_remove(c->repo, id);
	if (rc < 0)
		return failed(r);
	if (rc == 0)
		return srv_reply_text(r, 404, "no snapshot %s in the catalogue", c->arg);
	r->status = 204;
	return 0;
}

int srv_route_object_get(srv_call *c, srv_reply *r)
{
	uint8_t id[32];
	int known = 0;
	if (parse_arg(c, id))
		return srv_reply_text(r, 400, "bad index object id");
	if (srv_repo_object_known(c->repo, id, &known))
		return failed(r);
	if (!known)
		return srv_reply_text(r, 404, "index object %s was not imported", c->arg);
	r->status = 204;
	return 0;
}

int srv_route_object_put(srv_call *c, srv_reply *r)
{
	uint8_t id[32];
	if (parse_arg(c, id))
		return srv_reply_text(r, 400, "bad index object id");
	if (srv_repo_object_add(c->repo, id))
		return failed(r);
	r->status = 204;
	return 0;
}

int srv_route_stats(srv_call *c, srv_reply *r)
{
	cairn_buf out = CAIRN_BUF_INIT;
	if (srv_repo_stats(c->repo, &out)) {
		cairn_buf_free(&out);
		return failed(r);
	}
	return srv_reply_buf(r, 200, "application/json", &out);
}

int srv_route_index_clear(srv_call *c, srv_reply *r)
{
	if (srv_repo_clear(c->repo))
		return failed(r);
	r->status = 204;
	return 0;
}

int srv_route_scan(srv_call *c, srv_reply *r)
{
	cairn_index_entry after, *rows = NULL;
	cairn_buf out = CAIRN_BUF_INIT;
	int has_after;
	uint32_t max;
	size_t n = 0;
	if (cairn_wire_scan_request_decode(c->body, c->len, &after, &has_after, &max))
		return srv_reply_text(r, 400, "%s", cairn_error_last());
	if (max > CAIRN_WIRE_SCAN_MAX)
		max = CAIRN_WIRE_SCAN_MAX;
	if (!(rows = malloc(max * sizeof(*rows))))
		return srv_reply_text(r, 500, "out of memory");
	/* Fewer rows than asked for only at the end (cairn/sys/index.h). */
	if (srv_repo_scan(c->repo, has_after ? &after : NULL, rows, max, &n) ||
	    cairn_wire_scan_answer_encode(&out, rows, n, n < max)) {
		failed(r);
	} else {
		atomic_fetch_add(&c->s->metrics.scan_rows, n);
		srv_reply_buf(r, 200, "application/octet-stream", &out);
	}
	cairn_buf_free(&out);
	free(rows);
	return 0;
}

int srv_route_drop_packs(srv_call *c, srv_reply *r)
{
	const uint8_t(*packs)[32];
	size_t n;
	if (cairn_wire_packs_decode(c->body, c->len, &packs, &n))
		return srv_reply_text(r, 400, "%s", cairn_error_last());
	if (srv_repo_drop_packs(c->repo, packs, n))
		return failed(r);
	atomic_fetch_add(&c->s->metrics.packs_dropped, n);
	r->status = 204;
	return 0;
}

int srv_route_rows(srv_call *c, srv_reply *r)
{
	cairn_buf out = CAIRN_BUF_INIT;
	size_t n;
	if (!fingerprints(c, r, &n))
		return 0;
	cairn_index_entry *rows = malloc((n ? n : 1) * CAIRN_INDEX_ROWS_MAX * sizeof(*rows));
	uint8_t *counts = malloc(n ? n : 1);
	if (!rows || !counts)
		srv_reply_text(r, 500, "out of memory");
	else if (srv_repo_rows(c->repo, (const uint8_t(*)[32])c->body, n, rows, counts) ||
	         cairn_wire_rows_encode(&out, rows, counts, n, CAIRN_INDEX_ROWS_MAX))
		failed(r);
	else
		srv_reply_buf(r, 200, "application/octet-stream", &out);
	cairn_buf_free(&out);
	free(rows);
	free(counts);
	return 0;
}

int srv_route_reject(srv_call *c, srv_reply *r)
{
	size_t n = c->len / CAIRN_WIRE_REJECT_SIZE;
	cairn_index_entry *rows = malloc((n ? n : 1) * sizeof(*rows));
	if (!rows)
		return srv_reply_text(r, 500, "out of memory");
	if (cairn_wire_rejects_decode(c->body, c->len, rows, &n)) {
		srv_reply_text(r, 400, "%s", cairn_error_last());
	} else if (over_write_rate(c, r, n)) {
		/* answered 429 */
	} else if (srv_repo_reject(c->repo, rows, n)) {
		failed(r);
	} else {
		atomic_fetch_add(&c->s->metrics.rows_rejected, n);
		r->status = 204;
	}
	free(rows);
	return 0;
}

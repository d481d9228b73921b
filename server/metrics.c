/* Counters, and their Prometheus text exposition for GET /metrics. */
#include "server.h"

#include "util/time.h"

#include <string.h>
#include <time.h>

static const char *const route_names[SRV_ROUTE_COUNT] = {
    [SRV_ROUTE_UNKNOWN] = "unknown",
    [SRV_ROUTE_HEALTHZ] = "healthz",
    [SRV_ROUTE_METRICS] = "metrics",
    [SRV_ROUTE_LOOKUP] = "lookup",
    [SRV_ROUTE_REGISTER] = "register",
    [SRV_ROUTE_BLOOM] = "bloom",
    [SRV_ROUTE_SNAPSHOTS_LIST] = "snapshots_list",
    [SRV_ROUTE_SNAPSHOTS_ADD] = "snapshots_add",
    [SRV_ROUTE_SNAPSHOT_DELETE] = "snapshot_delete",
    [SRV_ROUTE_OBJECT_GET] = "object_get",
    [SRV_ROUTE_OBJECT_PUT] = "object_put",
    [SRV_ROUTE_STATS] = "stats",
    [SRV_ROUTE_INDEX_CLEAR] = "index_clear",
    [SRV_ROUTE_SCAN] = "scan",
    [SRV_ROUTE_DROP_PACKS] = "drop_packs",
    [SRV_ROUTE_ROWS] = "rows",
    [SRV_ROUTE_REJECT] = "reject",
    [SRV_ROUTE_PRESENCE] = "presence",
    [SRV_ROUTE_SNAPSHOT_ADD_HOST] = "snapshot_add_host",
    [SRV_ROUTE_FRESHNESS] = "freshness",
};

/* The statuses the server answers with; anything else counts as "other". */
static const unsigned statuses[SRV_STATUS_SLOTS - 1] = {200, 204, 304, 400, 401, 403, 404, 405,
                                                        413, 429, 500, 503, 507, 0,   0};
#define N_STATUSES 13

static const double buckets[SRV_LATENCY_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10};

const char *srv_route_name(int route)
{
	return route >= 0 && route < SRV_ROUTE_COUNT ? route_names[route] : "unknown";
}

double srv_now(void)
{
	return (double)cairn_now_ns(CLOCK_MONOTONIC) / 1e9;
}

void srv_metrics_request(srv_metrics *m, int route, unsigned status, double seconds)
{
	if (route < 0 || route >= SRV_ROUTE_COUNT)
		route = SRV_ROUTE_UNKNOWN;
	size_t slot = SRV_STATUS_SLOTS - 1;
	for (size_t i = 0; i < N_STATUSES; i++)
		if (statuses[i] == status) {
			slot = i;
			break;
		}
	atomic_fetch_add_explicit(&m->requests[route][slot], 1, memory_order_relaxed);
	size_t b = 0;
	while (b < SRV_LATENCY_BUCKETS && seconds > buckets[b])
		b++;
	atomic_fetch_add_explicit(&m->latency[route][b], 1, memory_order_relaxed);
	uint64_t us = seconds > 0 ? (uint64_t)(seconds * 1e6) : 0;
	atomic_fetch_add_explicit(&m->latency_sum_us[route], us, memory_order_relaxed);
}

static uint64_t load(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static int counter(cairn_buf *out, const char *name, const char *help, uint64_t v)
{
	return cairn_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name,
	                        name, (unsigned long long)v);
}

static int connections(cairn_buf *out, srv_conns *cs)
{
	srv_conn_stats st;
	srv_conns_stats_get(cs, &st);
	return cairn_buf_printf(
	    out,
	    "# HELP cairn_connections_open Connections held.\n"
	    "# TYPE cairn_connections_open gauge\n"
	    "cairn_connections_open %llu\n"
	    "# HELP cairn_connections_total Connections accepted.\n"
	    "# TYPE cairn_connections_total counter\n"
	    "cairn_connections_total %llu\n"
	    "# HELP cairn_connections_dropped_total Connections the server dropped: past a "
	    "deadline (late), stalled to make room (crowded), or new with no room (refused).\n"
	    "# TYPE cairn_connections_dropped_total counter\n"
	    "cairn_connections_dropped_total{reason=\"late\"} %llu\n"
	    "cairn_connections_dropped_total{reason=\"crowded\"} %llu\n"
	    "cairn_connections_dropped_total{reason=\"refused\"} %llu\n",
	    (unsigned long long)st.open, (unsigned long long)st.opened, (unsigned long long)st.late,
	    (unsigned long long)st.crowded, (unsigned long long)st.refused);
}

int srv_metrics_render(srv_metrics *m, srv_repos *rs, srv_conns *cs, cairn_buf *out)
{
	int rc = cairn_buf_printf(out, "# HELP cairn_requests_total HTTP requests answered, by "
	                               "route and status.\n# TYPE cairn_requests_total counter\n");
	for (int r = 0; !rc && r < SRV_ROUTE_COUNT; r++)
		for (size_t s = 0; !rc && s < SRV_STATUS_SLOTS; s++) {
			uint64_t v = load(&m->requests[r][s]);
			if (!v)
				continue;
			char status[8];
			if (s < N_STATUSES)
				snprintf(status, sizeof(status), "%u", statuses[s]);
			else
				snprintf(status, sizeof(status), "other");
			rc = cairn_buf_printf(
			    out, "cairn_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
			    route_names[r], status, (unsigned long long)v);
		}
	if (!rc)
		rc = cairn_buf_printf(out, "# HELP cairn_request_duration_seconds Time from a "
		                           "request's headers to its answer sent, by route.\n"
		                           "# TYPE cairn_request_duration_seconds histogram\n");
	for (int r = 0; !rc && r < SRV_ROUTE_COUNT; r++) {
		uint64_t cum = 0;
		for (size_t b = 0; b <= SRV_LATENCY_BUCKETS; b++)
			cum += load(&m->latency[r][b]);
		if (!cum)
			continue;
		uint64_t total = cum;
		cum = 0;
		for (size_t b = 0; !rc && b < SRV_LATENCY_BUCKETS; b++) {
			cum += load(&m->latency[r][b]);
			rc = cairn_buf_printf(
			    out,
			    "cairn_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
			    route_names[r], buckets[b], (unsigned long long)cum);
		}
		if (!rc)
			rc = cairn_buf_printf(
			    out,
			    "cairn_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
			    "cairn_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
			    "cairn_request_duration_seconds_count{route=\"%s\"} %llu\n",
			    route_names[r], (unsigned long long)total, route_names[r],
			    (double)load(&m->latency_sum_us[r]) / 1e6, route_names[r],
			    (unsigned long long)total);
	}
	if (!rc)
		rc = counter(out, "cairn_lookup_fingerprints_total",
		             "Fingerprints asked about in lookups.", load(&m->lookups));
	if (!rc)
		rc = counter(out, "cairn_lookup_found_total",
		             "Fingerprints found present by lookups.", load(&m->lookups_found));
	if (!rc)
		rc = counter(out, "cairn_lookup_shard_reads_total",
		             "Fingerprints looked up in the shards (the server's own Bloom "
		             "filter let the others through as missing).",
		             load(&m->lookups_shard));
	if (!rc)
		rc = counter(out, "cairn_registrations_total", "Index entries registered.",
		             load(&m->registrations));
	if (!rc)
		rc = counter(out, "cairn_scan_rows_total", "Index rows sent in scan answers.",
		             load(&m->scan_rows));
	if (!rc)
		rc = counter(out, "cairn_dropped_packs_total",
		             "Pack ids named in requests to drop their rows.",
		             load(&m->packs_dropped));
	if (!rc)
		rc = counter(
		    out, "cairn_rows_rejected_total",
		    "Index rows clients named as not matching their packs (reject requests).",
		    load(&m->rows_rejected));
	if (!rc)
		rc = counter(out, "cairn_rate_limited_total", "Requests refused with 429.",
		             load(&m->rate_limited));
	if (!rc)
		rc = counter(out, "cairn_quota_exceeded_total",
		             "Requests refused with 507: a repository's quota is reached.",
		             load(&m->quota_exceeded));
	if (!rc && cs)
		rc = connections(out, cs);
	if (!rc)
		rc = counter(out, "cairn_bloom_downloads_total", "Bloom filters sent in full.",
		             load(&m->bloom_downloads));
	if (!rc)
		rc = counter(out, "cairn_bloom_not_modified_total",
		             "Bloom filter requests answered 304 Not Modified.",
		             load(&m->bloom_not_modified));
	if (!rc)
		rc = cairn_buf_printf(
		    out,
		    "# HELP cairn_requests_in_flight Requests being handled.\n"
		    "# TYPE cairn_requests_in_flight gauge\n"
		    "cairn_requests_in_flight %d\n"
		    "# HELP cairn_uptime_seconds Seconds since the server started.\n"
		    "# TYPE cairn_uptime_seconds gauge\n"
		    "cairn_uptime_seconds %.0f\n",
		    atomic_load(&m->in_flight), srv_now() - m->started);
	if (!rc)
		rc = srv_repos_metrics(rs, out);
	if (!rc)
		rc = srv_repos_freshness_metrics(rs, out);
	return rc;
}

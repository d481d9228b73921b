/* When the server last learned of a new snapshot of a repository, and of
 * one made by each host: kept in the repository's snapshot catalogue
 * (catalog.db), so that it outlives a restart, and exported as a gauge
 * for alerts on backups that stopped. The gauge names no host; the
 * per-host times are for a reader of the repository (GET .../freshness).
 *
 * The catalogue's schema is its PRAGMA user_version: 0, the first, holds
 * the snapshot ids; 2 adds hosts (host, last_new), where '' is every
 * registration that named no host (an older client's). */
#include "server.h"

#include "cairn/errors.h"
#include "util/json.h"

#include <sqlite3.h>
#include <stdio.h>

#define CATALOG_SCHEMA 2

static int db_fail(sqlite3 *db, const char *path, const char *what)
{
	return cairn_error_set(CAIRN_EIO, "%s: %s: %s", path, what, sqlite3_errmsg(db));
}

static int db_int(sqlite3 *db, const char *path, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		rc = db_fail(db, path, "cannot read");
	else
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc;
}

/* An older catalogue gets the hosts table in one transaction: what it
 * held counts as learned when its newest id was added, from a host not
 * told. */
int srv_catalog_upgrade(sqlite3 *db, const char *path)
{
	int64_t v = 0;
	int rc = db_int(db, path, "PRAGMA user_version", &v);
	if (rc || v == CATALOG_SCHEMA)
		return rc;
	if (v > CATALOG_SCHEMA)
		return cairn_error_set(CAIRN_ECORRUPT,
		                       "%s has schema version %lld, newer than this server's %d",
		                       path, (long long)v, CATALOG_SCHEMA);
	char sql[512];
	snprintf(sql, sizeof(sql),
	         "BEGIN IMMEDIATE;"
	         "CREATE TABLE IF NOT EXISTS hosts (host TEXT PRIMARY KEY,"
	         " last_new INTEGER NOT NULL) WITHOUT ROWID;"
	         "INSERT OR IGNORE INTO hosts (host, last_new)"
	         " SELECT '', max(added) FROM snapshots HAVING count(*) > 0;"
	         "PRAGMA user_version = %d; COMMIT",
	         CATALOG_SCHEMA);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_fail(db, path, "cannot upgrade the catalogue");
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc;
}

int srv_freshness_note(sqlite3 *db, const char *path, const char *host, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(
	        db,
	        "INSERT INTO hosts (host, last_new) VALUES (?1, ?2) ON CONFLICT(host)"
	        " DO UPDATE SET last_new = max(last_new, excluded.last_new)",
	        -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(db, path, "cannot prepare");
	} else {
		sqlite3_bind_text(st, 1, host ? host : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = db_fail(db, path, "cannot note a new snapshot");
	}
	sqlite3_finalize(st);
	return rc;
}

int srv_freshness_metrics_head(cairn_buf *out)
{
	return cairn_buf_printf(out, "# HELP cairn_last_snapshot_timestamp_seconds When the server "
	                             "last learned of a new snapshot of a repository (unix time).\n"
	                             "# TYPE cairn_last_snapshot_timestamp_seconds gauge\n");
}

int srv_freshness_metric(sqlite3 *db, const char *path, const char *repo_id, cairn_buf *out)
{
	int64_t last = 0;
	/* A catalogue that cannot be read leaves its repository out: an
	 * alert on the series' absence sees it. */
	if (db_int(db, path, "SELECT coalesce(max(last_new), 0) FROM hosts", &last) != 0) {
		cairn_error_clear();
		return 0;
	}
	if (last <= 0)
		return 0;
	return cairn_buf_printf(out, "cairn_last_snapshot_timestamp_seconds{repo=\"%s\"} %lld\n",
	                        repo_id, (long long)last);
}

/* Appends {"host":...,"last_snapshot":N} for each host (null: not told),
 * newest first, comma-separated. */
static int hosts_json(sqlite3 *db, const char *path, cairn_buf *json)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, s = SQLITE_DONE, first = 1;
	if (sqlite3_prepare_v2(db,
	                       "SELECT host, last_new FROM hosts ORDER BY last_new DESC, host"
	                       " LIMIT ?1",
	                       -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, path, "cannot prepare");
	sqlite3_bind_int(st, 1, SRV_FRESHNESS_HOSTS_MAX);
	while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *host = (const char *)sqlite3_column_text(st, 0);
		if ((rc = cairn_buf_printf(json, "%s{\"host\":", first ? "" : ",")))
			break;
		first = 0;
		rc = host && *host ? cairn_json_string(json, host)
		                   : cairn_buf_append(json, "null", 4);
		if (!rc)
			rc = cairn_buf_printf(json, ",\"last_snapshot\":%lld}",
			                      (long long)sqlite3_column_int64(st, 1));
	}
	if (!rc && s != SQLITE_DONE)
		rc = db_fail(db, path, "cannot list hosts");
	sqlite3_finalize(st);
	return rc;
}

int srv_freshness_json(sqlite3 *db, const char *path, const char *repo_id, cairn_buf *json)
{
	int64_t last = 0, count = 0;
	int rc;
	if ((rc = db_int(db, path, "SELECT coalesce(max(last_new), 0) FROM hosts", &last)) ||
	    (rc = db_int(db, path, "SELECT count(*) FROM hosts", &count)) ||
	    (rc = cairn_buf_printf(json, "{\"repository\":\"%s\",\"last_snapshot\":", repo_id)))
		return rc;
	rc = last > 0 ? cairn_buf_printf(json, "%lld", (long long)last)
	              : cairn_buf_append(json, "null", 4);
	if (rc || (rc = cairn_buf_printf(json, ",\"hosts\":[")) ||
	    (rc = hosts_json(db, path, json)))
		return rc;
	return cairn_buf_printf(
	    json, "],\"hosts_not_listed\":%lld}\n",
	    (long long)(count > SRV_FRESHNESS_HOSTS_MAX ? count - SRV_FRESHNESS_HOSTS_MAX : 0));
}

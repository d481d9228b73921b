/* Tokens.
 *
 * A token is "cairn_<id>_<secret>": a public id of 16 hex digits (what
 * `token list` shows and `token revoke` takes) and 64 hex digits of
 * secret. DIR/tokens.db keeps only the SHA-256 of the whole token, found
 * by id and compared in constant time. The server reads the database on
 * every request, so tokens created or revoked by `cairn-server token`
 * while it runs take effect at once. */
#include "server.h"

#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "util/hex.h"

#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct srv_auth {
	sqlite3 *db;
	sqlite3_stmt *find;
	pthread_mutex_t lock;
	char *path;
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS tokens ("
                             " id TEXT PRIMARY KEY,"
                             " hash BLOB NOT NULL,"
                             " repo TEXT NOT NULL,"
                             " scope TEXT NOT NULL,"
                             " name TEXT NOT NULL DEFAULT '',"
                             " created INTEGER NOT NULL"
                             ") WITHOUT ROWID";

static int db_fail(srv_auth *a, const char *what)
{
	return cairn_error_set(CAIRN_EIO, "%s: %s: %s", a->path, what, sqlite3_errmsg(a->db));
}

const char *srv_scope_name(int scope)
{
	switch (scope) {
	case SRV_SCOPE_READ:
		return "read";
	case SRV_SCOPE_APPEND:
		return "append";
	case SRV_SCOPE_ADMIN:
		return "admin";
	default:
		return "none";
	}
}

int srv_scope_parse(const char *s)
{
	for (int k = SRV_SCOPE_READ; k <= SRV_SCOPE_ADMIN; k++)
		if (strcmp(s, srv_scope_name(k)) == 0)
			return k;
	return SRV_SCOPE_NONE;
}

int srv_auth_open(srv_auth **out, const char *data_dir, int create)
{
	cairn_buf path = CAIRN_BUF_INIT;
	int rc;
	*out = NULL;
	srv_auth *a = calloc(1, sizeof(*a));
	if (!a)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	pthread_mutex_init(&a->lock, NULL);
	if ((rc = cairn_buf_printf(&path, "%s/tokens.db", data_dir)))
		goto out;
	a->path = (char *)cairn_buf_detach(&path, NULL);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(a->path, &a->db, flags, NULL) != SQLITE_OK) {
		rc = a->db ? db_fail(a, "cannot open")
		           : cairn_error_set(CAIRN_ENOMEM, "out of memory");
		if (!create)
			rc = cairn_error_set(CAIRN_ENOTFOUND,
			                     "no token database %s (create a "
			                     "token first)",
			                     a->path);
		goto out;
	}
	sqlite3_busy_timeout(a->db, 10000);
	if (sqlite3_exec(a->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(a->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_fail(a, "cannot set up");
		goto out;
	}
	if (sqlite3_prepare_v3(a->db, "SELECT hash, repo, scope FROM tokens WHERE id = ?1", -1,
	                       SQLITE_PREPARE_PERSISTENT, &a->find, NULL) != SQLITE_OK) {
		rc = db_fail(a, "cannot prepare");
		goto out;
	}
	*out = a;
	return 0;
out:
	srv_auth_free(a);
	return rc;
}

void srv_auth_free(srv_auth *a)
{
	if (!a)
		return;
	sqlite3_finalize(a->find);
	sqlite3_close_v2(a->db);
	pthread_mutex_destroy(&a->lock);
	free(a->path);
	free(a);
}

int srv_auth_check(srv_auth *a, const char *token, srv_token *out)
{
	uint8_t hash[32], stored[32];
	char id[SRV_TOKEN_ID_HEX + 1];
	int found = 0, rc = 0;
	if (srv_token_id(token, id) != 0)
		return 0;
	cairn_sha256(hash, token, strlen(token));
	/* Unknown ids are compared against zeros, so that they take as long. */
	memset(stored, 0, sizeof(stored));
	pthread_mutex_lock(&a->lock);
	sqlite3_bind_text(a->find, 1, id, -1, SQLITE_TRANSIENT);
	int r = sqlite3_step(a->find);
	if (r == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(a->find, 0);
		const char *repo = (const char *)sqlite3_column_text(a->find, 1);
		const char *scope = (const char *)sqlite3_column_text(a->find, 2);
		if (h && sqlite3_column_bytes(a->find, 0) == 32 && repo && scope &&
		    srv_repo_id_valid(repo)) {
			memcpy(stored, h, 32);
			memcpy(out->id, id, sizeof(out->id));
			memcpy(out->repo, repo, SRV_REPO_HEX + 1);
			out->scope = srv_scope_parse(scope);
			found = out->scope != SRV_SCOPE_NONE;
		}
	} else if (r != SQLITE_DONE) {
		rc = db_fail(a, "cannot look up a token");
	}
	sqlite3_reset(a->find);
	sqlite3_clear_bindings(a->find);
	pthread_mutex_unlock(&a->lock);
	if (rc)
		return rc;
	int equal = sodium_memcmp(hash, stored, sizeof(hash)) == 0;
	return found && equal;
}

int srv_auth_create(srv_auth *a, const char *repo, int scope, const char *name, char *token_out,
                    size_t size)
{
	uint8_t id_bytes[SRV_TOKEN_ID_HEX / 2], secret[SRV_TOKEN_SECRET_BYTES], hash[32];
	char id[SRV_TOKEN_ID_HEX + 1], secret_hex[2 * SRV_TOKEN_SECRET_BYTES + 1];
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (!srv_repo_id_valid(repo))
		return cairn_error_set(CAIRN_EINVAL,
		                       "\"%s\" is not a repository id (64 lowercase hex digits; "
		                       "`cairn init --json` prints it)",
		                       repo);
	if (scope == SRV_SCOPE_NONE)
		return cairn_error_set(CAIRN_EINVAL, "the scope must be read, append or admin");
	if (size < SRV_TOKEN_LEN + 1)
		return cairn_error_set(CAIRN_EINVAL, "token buffer too small");
	randombytes_buf(id_bytes, sizeof(id_bytes));
	randombytes_buf(secret, sizeof(secret));
	cairn_hex_encode(id, id_bytes, sizeof(id_bytes));
	cairn_hex_encode(secret_hex, secret, sizeof(secret));
	snprintf(token_out, size, "%s%s_%s", SRV_TOKEN_PREFIX, id, secret_hex);
	cairn_sha256(hash, token_out, strlen(token_out));
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(secret_hex, sizeof(secret_hex));

	if (sqlite3_prepare_v2(a->db,
	                       "INSERT INTO tokens (id, hash, repo, scope, name, created) "
	                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	                       -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(a, "cannot prepare");
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_text(st, 3, repo, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, srv_scope_name(scope), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, name ? name : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(a, "cannot store the token");
out:
	sqlite3_finalize(st);
	if (rc)
		sodium_memzero(token_out, size);
	return rc;
}

int srv_auth_list(srv_auth *a, const char *repo, FILE *f)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, r;
	if (sqlite3_prepare_v2(a->db,
	                       "SELECT id, repo, scope, created, name FROM tokens "
	                       "WHERE ?1 IS NULL OR repo = ?1 ORDER BY created, id",
	                       -1, &st, NULL) != SQLITE_OK)
		return db_fail(a, "cannot prepare");
	if (repo)
		sqlite3_bind_text(st, 1, repo, -1, SQLITE_STATIC);
	fprintf(f, "%-16s  %-64s  %-6s  %-20s  %s\n", "ID", "REPOSITORY", "SCOPE", "CREATED",
	        "NAME");
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		time_t t = (time_t)sqlite3_column_int64(st, 3);
		struct tm tm;
		char when[32] = "?";
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		const unsigned char *name = sqlite3_column_text(st, 4);
		fprintf(f, "%-16s  %-64s  %-6s  %-20s  %s\n", sqlite3_column_text(st, 0),
		        sqlite3_column_text(st, 1), sqlite3_column_text(st, 2), when,
		        name ? (const char *)name : "");
	}
	if (r != SQLITE_DONE)
		rc = db_fail(a, "cannot list tokens");
	sqlite3_finalize(st);
	return rc;
}

int srv_auth_revoke(srv_auth *a, const char *id_or_token)
{
	char id[SRV_TOKEN_ID_HEX + 1];
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (srv_token_id(id_or_token, id) != 0) {
		if (strlen(id_or_token) != SRV_TOKEN_ID_HEX ||
		    !srv_is_lower_hex(id_or_token, SRV_TOKEN_ID_HEX))
			return cairn_error_set(CAIRN_EINVAL, "\"%s\" is not a token or a token id",
			                       id_or_token);
		memcpy(id, id_or_token, sizeof(id));
	}
	if (sqlite3_prepare_v2(a->db, "DELETE FROM tokens WHERE id = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(a, "cannot prepare");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(a, "cannot revoke");
	else if (sqlite3_changes(a->db) == 0)
		rc = cairn_error_set(CAIRN_ENOTFOUND, "no token %s", id);
	sqlite3_finalize(st);
	return rc;
}

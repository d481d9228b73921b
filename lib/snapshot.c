/* Snapshot records: JSON, sealed, content-addressed under snapshots/. */
#include "cairn/snapshot.h"
#include "cairn/forget.h"
#include "cairn/index.h"

#include "cairn/errors.h"
#include "repo/repo_format.h"
#include "repo/repo_internal.h"
#include "util/hex.h"
#include "util/json.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SNAPSHOT_MAX (64u * 1024 * 1024)
#define SNAPSHOT_VERSION 1

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void cairn_snapshot_clear(cairn_snapshot *s)
{
	free(s->host);
	free(s->user);
	free_strings(s->paths, s->n_paths);
	free_strings(s->tags, s->n_tags);
	free(s->manifest);
	memset(s, 0, sizeof(*s));
}

void cairn_time_format(char *out, size_t size, int64_t time_ns)
{
	time_t secs = (time_t)(time_ns / 1000000000);
	long nsec = (long)(time_ns % 1000000000);
	if (nsec < 0) {
		nsec += 1000000000;
		secs--;
	}
	struct tm tm;
	gmtime_r(&secs, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec);
}

static int time_parse(const char *s, int64_t *out)
{
	struct tm tm = {0};
	long nsec = 0;
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return cairn_error_set(CAIRN_ECORRUPT, "bad time \"%.40s\"", s);
	s += n;
	if (*s == '.') {
		int digits = 0;
		for (s++; *s >= '0' && *s <= '9'; s++, digits++)
			if (digits < 9)
				nsec = nsec * 10 + (*s - '0');
		for (; digits < 9; digits++)
			nsec *= 10;
	}
	if (strcmp(s, "Z") != 0)
		return cairn_error_set(CAIRN_ECORRUPT, "time not in UTC");
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm) * 1000000000 + nsec;
	return 0;
}

static int summary_to_json(cairn_buf *b, const cairn_summary *m)
{
	return cairn_buf_printf(
	    b,
	    "{\"files_new\":%llu,\"files_changed\":%llu,\"files_unchanged\":%llu,"
	    "\"dirs\":%llu,\"others\":%llu,\"bytes_read\":%llu,\"bytes_total\":%llu,"
	    "\"bytes_added\":%llu,\"blobs_added\":%llu,\"tree_blobs_added\":%llu,"
	    "\"errors\":%llu,\"duration_ns\":%llu}",
	    (unsigned long long)m->files_new, (unsigned long long)m->files_changed,
	    (unsigned long long)m->files_unchanged, (unsigned long long)m->dirs,
	    (unsigned long long)m->others, (unsigned long long)m->bytes_read,
	    (unsigned long long)m->bytes_total, (unsigned long long)m->bytes_added,
	    (unsigned long long)m->blobs_added, (unsigned long long)m->tree_blobs_added,
	    (unsigned long long)m->errors, (unsigned long long)m->duration_ns);
}

int cairn_snapshot_to_json(cairn_buf *b, const cairn_snapshot *s, int with_id)
{
	char hex[CAIRN_ID_HEX + 1], when[48];
	int rc = 0;
	cairn_time_format(when, sizeof(when), s->time_ns);
	if (with_id) {
		cairn_hex_encode(hex, s->id, CAIRN_ID_SIZE);
		rc = cairn_buf_printf(b, "{\"id\":\"%s\",\"short_id\":\"%.8s\",", hex, hex);
	} else {
		rc = cairn_buf_printf(b, "{\"version\":%d,", SNAPSHOT_VERSION);
	}
	if (!rc)
		rc = cairn_buf_printf(b, "\"time\":\"%s\",\"host\":", when);
	if (!rc)
		rc = cairn_json_string(b, s->host ? s->host : "");
	if (!rc)
		rc = cairn_buf_append_str(b, ",\"user\":");
	if (!rc)
		rc = cairn_json_string(b, s->user ? s->user : "");
	if (!rc)
		rc = cairn_buf_append_str(b, ",\"paths\":");
	if (!rc)
		rc = cairn_json_strings(b, s->paths, s->n_paths);
	if (!rc)
		rc = cairn_buf_append_str(b, ",\"tags\":");
	if (!rc)
		rc = cairn_json_strings(b, s->tags, s->n_tags);
	if (!rc && s->has_parent) {
		cairn_hex_encode(hex, s->parent, CAIRN_ID_SIZE);
		rc = cairn_buf_printf(b, ",\"parent\":\"%s\"", hex);
	}
	if (!rc && s->has_original) {
		cairn_hex_encode(hex, s->original, CAIRN_ID_SIZE);
		rc = cairn_buf_printf(b, ",\"original\":\"%s\"", hex);
	}
	if (!rc && !with_id) {
		rc = cairn_buf_printf(b, ",\"manifest_size\":%llu,\"manifest\":[",
		                      (unsigned long long)s->manifest_size);
		for (size_t i = 0; !rc && i < s->n_manifest; i++) {
			cairn_hex_encode(hex, s->manifest[i].fp, CAIRN_FP_SIZE);
			rc = cairn_buf_printf(b, "%s[\"%s\",%u]", i ? "," : "", hex,
			                      s->manifest[i].length);
		}
		if (!rc)
			rc = cairn_buf_append_u8(b, ']');
	}
	if (!rc)
		rc = cairn_buf_append_str(b, ",\"summary\":");
	if (!rc)
		rc = summary_to_json(b, &s->summary);
	return rc ? rc : cairn_buf_append_str(b, "}");
}

static int strings_from_json(const cairn_json *doc, const char *key, char ***out, size_t *n)
{
	const cairn_json *a = cairn_json_get(doc, key);
	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	if (a->type != CAIRN_JSON_ARRAY)
		return cairn_error_set(CAIRN_ECORRUPT, "%s is not an array", key);
	*out = calloc(a->n_children + 1, sizeof(char *));
	if (!*out)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < a->n_children; i++) {
		if (a->children[i].type != CAIRN_JSON_STRING)
			return cairn_error_set(CAIRN_ECORRUPT, "%s holds a non-string", key);
		if (!((*out)[i] = strdup(a->children[i].string)))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		*n = i + 1;
	}
	return 0;
}

static int dup_member(const cairn_json *doc, const char *key, char **out)
{
	const char *s;
	int rc = cairn_json_get_string(doc, key, &s);
	if (rc)
		return rc;
	if (!(*out = strdup(s)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return 0;
}

static int summary_from_json(const cairn_json *m, cairn_summary *out)
{
	static const struct {
		const char *name;
		size_t offset;
	} fields[] = {
#define F(x) {#x, offsetof(cairn_summary, x)}
	    F(files_new),   F(files_changed),    F(files_unchanged), F(dirs),
	    F(others),      F(bytes_read),       F(bytes_total),     F(bytes_added),
	    F(blobs_added), F(tree_blobs_added), F(errors),          F(duration_ns),
#undef F
	};
	if (!m || m->type != CAIRN_JSON_OBJECT)
		return 0;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint64_t v;
		if (cairn_json_get(m, fields[i].name) &&
		    cairn_json_get_uint(m, fields[i].name, &v) == 0)
			memcpy((char *)out + fields[i].offset, &v, sizeof(v));
	}
	return 0;
}

int cairn_snapshot_from_json(cairn_snapshot *s, const void *json, size_t len)
{
	cairn_json *doc = NULL;
	const cairn_json *m;
	const char *str;
	int64_t version;
	int rc;
	memset(s, 0, sizeof(*s));
	if ((rc = cairn_json_parse(&doc, json, len)))
		goto out;
	if ((rc = cairn_json_get_int(doc, "version", &version)))
		goto out;
	if (version != SNAPSHOT_VERSION) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "snapshot version %lld not supported",
		                     (long long)version);
		goto out;
	}
	if ((rc = cairn_json_get_string(doc, "time", &str)) || (rc = time_parse(str, &s->time_ns)))
		goto out;
	if ((rc = dup_member(doc, "host", &s->host)) || (rc = dup_member(doc, "user", &s->user)))
		goto out;
	if ((rc = strings_from_json(doc, "paths", &s->paths, &s->n_paths)) ||
	    (rc = strings_from_json(doc, "tags", &s->tags, &s->n_tags)))
		goto out;
	if (cairn_json_get(doc, "parent")) {
		if ((rc = cairn_json_get_string(doc, "parent", &str)) ||
		    (rc = cairn_hex_decode(s->parent, CAIRN_ID_SIZE, str))) {
			rc = CAIRN_ECORRUPT;
			goto out;
		}
		s->has_parent = 1;
	}
	if (cairn_json_get(doc, "original")) {
		if ((rc = cairn_json_get_string(doc, "original", &str)) ||
		    (rc = cairn_hex_decode(s->original, CAIRN_ID_SIZE, str))) {
			rc = cairn_error_set(CAIRN_ECORRUPT, "bad original snapshot id");
			goto out;
		}
		s->has_original = 1;
	}
	if ((rc = cairn_json_get_uint(doc, "manifest_size", &s->manifest_size)))
		goto out;
	m = cairn_json_get(doc, "manifest");
	if (!m || m->type != CAIRN_JSON_ARRAY) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "snapshot has no manifest");
		goto out;
	}
	s->manifest = calloc(m->n_children + 1, sizeof(*s->manifest));
	if (!s->manifest) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < m->n_children; i++) {
		const cairn_json *ref = &m->children[i];
		if (ref->type != CAIRN_JSON_ARRAY || ref->n_children != 2 ||
		    ref->children[0].type != CAIRN_JSON_STRING ||
		    ref->children[1].type != CAIRN_JSON_NUMBER || !ref->children[1].is_integer ||
		    ref->children[1].integer <= 0 || ref->children[1].integer > UINT32_MAX ||
		    cairn_hex_decode(s->manifest[i].fp, CAIRN_FP_SIZE, ref->children[0].string)) {
			rc = cairn_error_set(CAIRN_ECORRUPT, "bad manifest reference %zu", i);
			goto out;
		}
		s->manifest[i].length = (uint32_t)ref->children[1].integer;
		total += s->manifest[i].length;
	}
	s->n_manifest = m->n_children;
	if (total != s->manifest_size) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "manifest size does not add up");
		goto out;
	}
	summary_from_json(cairn_json_get(doc, "summary"), &s->summary);
out:
	cairn_json_free(doc);
	if (rc)
		cairn_snapshot_clear(s);
	return rc;
}

static void snapshot_key(char out[96], const uint8_t id[CAIRN_ID_SIZE])
{
	char hex[CAIRN_ID_HEX + 1];
	cairn_hex_encode(hex, id, CAIRN_ID_SIZE);
	snprintf(out, 96, "%s%s", CAIRN_SNAPSHOTS_PREFIX, hex);
}

/* With an index server, the snapshot catalogue: so that listing
 * snapshots does not have to list the store. */
static int catalog_add(cairn_repo *r, const uint8_t id[CAIRN_ID_SIZE], const char *host)
{
	cairn_index *ix = cairn_repo_index(r);
	if (!cairn_index_has_snapshots(ix))
		return 0;
	int rc = cairn_index_snapshot_add_host(ix, id, host);
	/* The server out of reach: the next command tells it. */
	if (rc && rc != CAIRN_ENOMEM && cairn_index_offline(ix, NULL, 0))
		rc = cairn_repo_journal_add(r, 's', (const uint8_t(*)[CAIRN_ID_SIZE])id, 1);
	if (rc)
		cairn_error_prefix(rc,
		                   "snapshot %02x%02x%02x%02x is stored, but the index server "
		                   "did not record it (`cairn index rebuild` will)",
		                   id[0], id[1], id[2], id[3]);
	return rc;
}

int cairn_snapshot_save(cairn_repo *r, cairn_snapshot *s)
{
	cairn_buf json = CAIRN_BUF_INIT, sealed = CAIRN_BUF_INIT;
	cairn_sealer *sealer = NULL;
	char key[96];
	int rc;
	if ((rc = cairn_snapshot_to_json(&json, s, 0)))
		goto out;
	if ((rc = cairn_repo_sealer_new(r, &sealer, 0)))
		goto out;
	if ((rc = cairn_seal(sealer, &sealed, NULL, CAIRN_BLOB_SNAPSHOT, json.data, json.len)))
		goto out;
	cairn_sha256(s->id, sealed.data, sealed.len);
	snapshot_key(key, s->id);
	rc = cairn_store_put(cairn_repo_store(r), key, sealed.data, sealed.len, CAIRN_PUT_ONCE);
	if (!rc)
		rc = catalog_add(r, s->id, s->host);
out:
	cairn_sealer_free(sealer);
	cairn_buf_free(&json);
	cairn_buf_free(&sealed);
	return rc;
}

static int load_with(cairn_repo *r, cairn_sealer *sealer, const uint8_t id[CAIRN_ID_SIZE],
                     cairn_snapshot *out)
{
	cairn_buf plain = CAIRN_BUF_INIT;
	char key[96];
	int rc;
	memset(out, 0, sizeof(*out));
	snapshot_key(key, id);
	rc = cairn_repo_load_object(r, sealer, CAIRN_SNAPSHOTS_PREFIX, id, CAIRN_BLOB_SNAPSHOT,
	                            SNAPSHOT_MAX, &plain);
	if (rc == CAIRN_ENOTFOUND)
		rc = cairn_error_set(CAIRN_ENOTFOUND, "no snapshot %02x%02x%02x%02x", id[0], id[1],
		                     id[2], id[3]);
	/* Every failure of the record itself names it as the store does. */
	if (!rc && (rc = cairn_snapshot_from_json(out, plain.data, plain.len)))
		cairn_error_prefix(rc, "%s", key);
	if (!rc)
		memcpy(out->id, id, CAIRN_ID_SIZE);
	cairn_buf_free(&plain);
	return rc;
}

int cairn_snapshot_load(cairn_repo *r, const uint8_t id[CAIRN_ID_SIZE], cairn_snapshot *out)
{
	cairn_sealer *sealer = NULL;
	int rc = cairn_repo_sealer_new(r, &sealer, 0);
	if (!rc)
		rc = load_with(r, sealer, id, out);
	cairn_sealer_free(sealer);
	return rc;
}

struct id_list {
	uint8_t (*ids)[CAIRN_ID_SIZE];
	size_t count, cap;
};

static int store_ids(cairn_repo *r, struct id_list *l)
{
	memset(l, 0, sizeof(*l));
	int rc = cairn_repo_list_ids(r, CAIRN_SNAPSHOTS_PREFIX, &l->ids, &l->count);
	l->cap = l->count;
	return rc;
}

/* The ids in the index server's catalogue if there is one (*from_catalog
 * set), else in the store. */
static int list_ids_from(cairn_repo *r, struct id_list *l, int *from_catalog)
{
	cairn_index *ix = cairn_repo_index(r);
	*from_catalog = cairn_index_has_snapshots(ix);
	if (!*from_catalog)
		return store_ids(r, l);
	memset(l, 0, sizeof(*l));
	int rc = cairn_index_snapshot_list(ix, &l->ids, &l->count);
	l->cap = l->count;
	/* The server out of reach: the store has them all. */
	if (rc && rc != CAIRN_ENOMEM && cairn_index_offline(ix, NULL, 0)) {
		*from_catalog = 0;
		return store_ids(r, l);
	}
	return rc;
}

static int list_ids(cairn_repo *r, struct id_list *l)
{
	int from_catalog;
	return list_ids_from(r, l, &from_catalog);
}

static int has_id(const struct id_list *l, const uint8_t id[CAIRN_ID_SIZE])
{
	for (size_t i = 0; i < l->count; i++)
		if (memcmp(l->ids[i], id, CAIRN_ID_SIZE) == 0)
			return 1;
	return 0;
}

/* Removes from the catalogue the snapshots the store no longer has (a
 * forget whose token could not remove them there). */
static int catalog_drop_forgotten(cairn_repo *r, const struct id_list *stored)
{
	cairn_index *ix = cairn_repo_index(r);
	uint8_t(*ids)[CAIRN_ID_SIZE] = NULL;
	size_t n = 0;
	int rc;
	if (!cairn_index_has_snapshots(ix))
		return 0;
	if ((rc = cairn_index_snapshot_list(ix, &ids, &n)))
		return rc;
	for (size_t i = 0; i < n && !rc; i++)
		if (!has_id(stored, ids[i]) &&
		    (rc = cairn_index_snapshot_remove(ix, ids[i])) == CAIRN_ENOTFOUND)
			rc = 0;
	if (rc)
		cairn_error_prefix(rc, "the index server's catalogue names snapshots that were "
		                       "forgotten; removing them needs an admin token");
	free(ids);
	return rc;
}

int cairn_snapshot_catalog_sync(cairn_repo *r, uint64_t *count_out)
{
	cairn_index *ix = cairn_repo_index(r);
	struct id_list l;
	int rc = 0;
	if (count_out)
		*count_out = 0;
	if (!cairn_index_has_snapshots(ix))
		return 0;
	if ((rc = store_ids(r, &l)))
		goto out;
	for (size_t i = 0; i < l.count && !rc; i++)
		rc = cairn_index_snapshot_add(ix, l.ids[i]);
	if (!rc)
		rc = catalog_drop_forgotten(r, &l);
	if (!rc && count_out)
		*count_out = l.count;
out:
	free(l.ids);
	return rc;
}

static int by_time(const void *a, const void *b)
{
	const cairn_snapshot *x = a, *y = b;
	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return memcmp(x->id, y->id, CAIRN_ID_SIZE);
}

void cairn_snapshot_list_free(cairn_snapshot *list, size_t count)
{
	for (size_t i = 0; list && i < count; i++)
		cairn_snapshot_clear(&list[i]);
	free(list);
}

/* Tells skips (if any) about the record id that failed to load with rc
 * and this thread's message; 0, or rc if it is not a failure of the
 * record. */
static int skip_record(cairn_snapshot_skips *skips, const uint8_t id[CAIRN_ID_SIZE], int rc)
{
	char key[96];
	if (rc != CAIRN_ECORRUPT)
		return rc;
	snapshot_key(key, id);
	/* The message names the record already: give the reason alone. */
	const char *why = cairn_error_last();
	size_t n = strlen(key);
	if (strncmp(why, key, n) == 0 && strncmp(why + n, ": ", 2) == 0)
		why += n + 2;
	if (skips)
		skips->count++;
	if (skips && skips->warn)
		skips->warn(skips->ud, key, why);
	return 0;
}

/* Every snapshot; if readable, the records that fail are left out and
 * told to skips (if any), else the first fails the call. */
static int list_snapshots(cairn_repo *r, cairn_snapshot **out, size_t *count_out, int readable,
                          cairn_snapshot_skips *skips)
{
	struct id_list l;
	cairn_sealer *sealer = NULL;
	cairn_snapshot *list = NULL;
	size_t n = 0;
	int from_catalog;
	int rc = list_ids_from(r, &l, &from_catalog);
	if (rc)
		goto out;
	if ((rc = cairn_repo_sealer_new(r, &sealer, 0)))
		goto out;
	list = calloc(l.count + 1, sizeof(*list));
	if (!list) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < l.count; i++) {
		rc = load_with(r, sealer, l.ids[i], &list[n]);
		/* The catalogue may still name a snapshot forgotten without it,
		 * and a forget may have removed one since the store was listed. */
		if (rc == CAIRN_ENOTFOUND && (from_catalog || readable)) {
			rc = 0;
			continue;
		}
		if (rc && readable && (rc = skip_record(skips, l.ids[i], rc)) == 0)
			continue;
		if (rc)
			goto out;
		n++;
	}
	qsort(list, n, sizeof(*list), by_time);
out:
	if (rc) {
		cairn_snapshot_list_free(list, n);
		list = NULL;
		n = 0;
	}
	*out = list;
	*count_out = n;
	cairn_sealer_free(sealer);
	free(l.ids);
	return rc;
}

int cairn_snapshot_list(cairn_repo *r, cairn_snapshot **out, size_t *count_out)
{
	return list_snapshots(r, out, count_out, 0, NULL);
}

int cairn_snapshot_list_readable(cairn_repo *r, cairn_snapshot **out, size_t *count_out,
                                 cairn_snapshot_skips *skips)
{
	return list_snapshots(r, out, count_out, 1, skips);
}

static int resolve_latest(cairn_repo *r, uint8_t id_out[CAIRN_ID_SIZE], int readable,
                          cairn_snapshot_skips *skips)
{
	cairn_snapshot *list;
	size_t n;
	size_t before = skips ? skips->count : 0;
	int rc = list_snapshots(r, &list, &n, readable, skips);
	if (rc)
		return rc;
	if (n)
		memcpy(id_out, list[n - 1].id, CAIRN_ID_SIZE);
	cairn_snapshot_list_free(list, n);
	if (n)
		return 0;
	if (skips && skips->count > before)
		return cairn_error_set(CAIRN_ENOTFOUND, "the repository has no readable snapshots");
	return cairn_error_set(CAIRN_ENOTFOUND, "the repository has no snapshots");
}

static int resolve(cairn_repo *r, const char *name, uint8_t id_out[CAIRN_ID_SIZE], int readable,
                   cairn_snapshot_skips *skips)
{
	struct id_list l;
	char hex[CAIRN_ID_HEX + 1];
	size_t matches = 0;
	int rc;
	if (strcmp(name, "latest") == 0)
		return resolve_latest(r, id_out, readable, skips);
	if (!cairn_hex_is_prefix(name, CAIRN_ID_HEX))
		return cairn_error_set(
		    CAIRN_EINVAL, "\"%s\" is not a snapshot id, an id prefix, or \"latest\"", name);
	if ((rc = list_ids(r, &l)))
		return rc;
	for (size_t i = 0; i < l.count; i++) {
		cairn_hex_encode(hex, l.ids[i], CAIRN_ID_SIZE);
		if (strncmp(hex, name, strlen(name)) == 0) {
			if (matches++ == 0)
				memcpy(id_out, l.ids[i], CAIRN_ID_SIZE);
		}
	}
	free(l.ids);
	if (matches == 0)
		return cairn_error_set(CAIRN_ENOTFOUND, "no snapshot %s", name);
	if (matches > 1)
		return cairn_error_set(
		    CAIRN_EINVAL, "snapshot prefix %s is ambiguous (%zu matches)", name, matches);
	return 0;
}

int cairn_snapshot_resolve(cairn_repo *r, const char *name, uint8_t id_out[CAIRN_ID_SIZE])
{
	return resolve(r, name, id_out, 0, NULL);
}

int cairn_snapshot_resolve_readable(cairn_repo *r, const char *name, uint8_t id_out[CAIRN_ID_SIZE],
                                    cairn_snapshot_skips *skips)
{
	return resolve(r, name, id_out, 1, skips);
}

int cairn_snapshot_forget(cairn_repo *r, const uint8_t id[CAIRN_ID_SIZE])
{
	char key[96];
	cairn_index *ix = cairn_repo_index(r);
	snapshot_key(key, id);
	int rc = cairn_store_del(cairn_repo_store(r), key);
	if (rc)
		return cairn_error_prefix(rc, "cannot remove snapshot %02x%02x%02x%02x", id[0],
		                          id[1], id[2], id[3]);
	if (!cairn_index_has_snapshots(ix))
		return 0;
	rc = cairn_index_snapshot_remove(ix, id);
	if (rc == CAIRN_ENOTFOUND)
		return 0;
	if (rc)
		cairn_error_prefix(CAIRN_EIO,
		                   "snapshot %02x%02x%02x%02x is forgotten, but the index "
		                   "server's catalogue still names it",
		                   id[0], id[1], id[2], id[3]);
	return rc ? CAIRN_EIO : 0;
}

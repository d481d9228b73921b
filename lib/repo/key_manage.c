/* Key files of an open repository: list, add, remove, change a password,
 * export the master key and take one back from an export. New key files
 * record when, on which host and by which user they were made
 * (crypto/keys_format.h, version 2). */
#include "cairn/keyring.h"
#include "repo/repo_internal.h"

#include "cairn/errors.h"
#include "repo/repo_format.h"
#include "util/hex.h"
#include "util/hold.h"

#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cairn_repo_key_meta_now(cairn_key_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->version = 2;
	m->created = (int64_t)time(NULL);
	if (gethostname(m->host, sizeof(m->host) - 1) != 0)
		m->host[0] = '\0';
	m->host[sizeof(m->host) - 1] = '\0';
	struct passwd pw, *found = NULL;
	char buf[1024];
	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &found) == 0 && found)
		snprintf(m->user, sizeof(m->user), "%s", found->pw_name);
	cairn_kdf_params_default(&m->kdf);
}

static int need_keys(const cairn_repo *r)
{
	if (!r->config.encrypted)
		return cairn_error_set(
		    CAIRN_EINVAL, "%s is not encrypted: it has no keys or master key", r->location);
	return 0;
}

static void key_name(char out[sizeof(CAIRN_KEYS_PREFIX) + CAIRN_ID_HEX],
                     const uint8_t id[CAIRN_ID_SIZE])
{
	char hex[CAIRN_ID_HEX + 1];
	cairn_hex_encode(hex, id, CAIRN_ID_SIZE);
	snprintf(out, sizeof(CAIRN_KEYS_PREFIX) + CAIRN_ID_HEX, "%s%s", CAIRN_KEYS_PREFIX, hex);
}

/* Fills e from the key file id: valid if its content is a key file whose
 * SHA-256 is its name. A file gone since the listing is CAIRN_ENOTFOUND. */
static int read_entry(cairn_repo *r, const uint8_t id[CAIRN_ID_SIZE], cairn_buf *file,
                      cairn_key_entry *e)
{
	char key[sizeof(CAIRN_KEYS_PREFIX) + CAIRN_ID_HEX];
	uint8_t check[CAIRN_ID_SIZE];
	memset(e, 0, sizeof(*e));
	memcpy(e->id, id, CAIRN_ID_SIZE);
	e->in_use = r->key_known && memcmp(r->key_id, id, CAIRN_ID_SIZE) == 0;
	key_name(key, id);
	file->len = 0;
	int rc = cairn_store_get(r->store, key, 0, CAIRN_KEYFILE_MAX, file);
	if (rc)
		return rc;
	cairn_sha256(check, file->data, file->len);
	if (memcmp(check, id, CAIRN_ID_SIZE) == 0 &&
	    cairn_key_info(&e->meta, file->data, file->len) == 0)
		e->valid = 1;
	else
		memset(&e->meta, 0, sizeof(e->meta));
	cairn_error_clear();
	return 0;
}

int cairn_repo_key_list(cairn_repo *r, cairn_key_entry **out, size_t *n_out)
{
	uint8_t(*ids)[CAIRN_ID_SIZE] = NULL;
	cairn_buf file = CAIRN_BUF_INIT;
	cairn_key_entry *list = NULL;
	size_t n = 0, k = 0;
	int rc;
	*out = NULL;
	*n_out = 0;
	if ((rc = need_keys(r)) || (rc = cairn_repo_list_ids(r, CAIRN_KEYS_PREFIX, &ids, &n)))
		goto out;
	if (n > CAIRN_KEYS_READ_MAX) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "%s: more than %u files under keys/",
		                     r->location, CAIRN_KEYS_READ_MAX);
		goto out;
	}
	if (!(list = calloc(n + 1, sizeof(*list)))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		rc = read_entry(r, ids[i], &file, &list[k]);
		if (rc == CAIRN_ENOTFOUND)
			rc = 0; /* removed since the listing */
		else if (!rc)
			k++;
	}
out:
	if (rc) {
		free(list);
		list = NULL;
		k = 0;
	}
	*out = list;
	*n_out = k;
	free(ids);
	cairn_buf_free(&file);
	return rc;
}

/* Seals the master key under password into a new key file in the store. */
static int write_key(cairn_repo *r, const char *password, size_t password_len,
                     uint8_t id_out[CAIRN_ID_SIZE])
{
	char key[sizeof(CAIRN_KEYS_PREFIX) + CAIRN_ID_HEX];
	cairn_buf file = CAIRN_BUF_INIT;
	cairn_key_meta meta;
	cairn_repo_key_meta_now(&meta);
	int rc = cairn_key_seal_meta(&file, r->master, password, password_len, &meta.kdf, &meta);
	if (!rc) {
		cairn_sha256(id_out, file.data, file.len);
		key_name(key, id_out);
		rc = cairn_store_put(r->store, key, file.data, file.len, CAIRN_PUT_ONCE);
		if (rc)
			cairn_error_prefix(rc, "cannot write %s", key);
	}
	cairn_buf_free(&file);
	return rc;
}

int cairn_repo_key_add(cairn_repo *r, const char *password, size_t password_len,
                       uint8_t id_out[CAIRN_ID_SIZE])
{
	int rc = need_keys(r);
	return rc ? rc : write_key(r, password, password_len, id_out);
}

/* The one entry of list whose id starts with prefix: its index. */
static int find_prefix(const cairn_key_entry *list, size_t n, const char *prefix, size_t *at)
{
	char hex[CAIRN_ID_HEX + 1];
	size_t matches = 0, len = strlen(prefix);
	if (!len || !cairn_hex_is_prefix(prefix, CAIRN_ID_HEX))
		return cairn_error_set(CAIRN_EINVAL, "\"%s\" is not a key id or a prefix of one",
		                       prefix);
	for (size_t i = 0; i < n; i++) {
		cairn_hex_encode(hex, list[i].id, CAIRN_ID_SIZE);
		if (strncmp(hex, prefix, len) == 0 && matches++ == 0)
			*at = i;
	}
	if (matches == 0)
		return cairn_error_set(CAIRN_ENOTFOUND, "no key %s", prefix);
	if (matches > 1)
		return cairn_error_set(CAIRN_EINVAL, "key prefix %s is ambiguous (%zu matches)",
		                       prefix, matches);
	return 0;
}

int cairn_repo_key_remove(cairn_repo *r, const char *prefix, uint8_t id_out[CAIRN_ID_SIZE],
                          int *was_in_use)
{
	char key[sizeof(CAIRN_KEYS_PREFIX) + CAIRN_ID_HEX];
	cairn_key_entry *list = NULL;
	size_t n = 0, at = 0, valid = 0;
	int rc = cairn_repo_key_list(r, &list, &n);
	if (rc || (rc = find_prefix(list, n, prefix, &at)))
		goto out;
	for (size_t i = 0; i < n; i++)
		valid += list[i].valid;
	memcpy(id_out, list[at].id, CAIRN_ID_SIZE);
	*was_in_use = list[at].in_use;
	key_name(key, list[at].id);
	if (list[at].valid && valid == 1) {
		rc = cairn_error_set(CAIRN_EINVAL,
		                     "%s is the repository's last key: removing it would lock "
		                     "everyone out (add another first)",
		                     key);
		goto out;
	}
	if ((rc = cairn_store_del(r->store, key)))
		cairn_error_prefix(rc, "cannot remove %s", key);
out:
	free(list);
	return rc;
}

int cairn_repo_key_passwd(cairn_repo *r, const char *password, size_t password_len,
                          uint8_t id_out[CAIRN_ID_SIZE])
{
	char key[sizeof(CAIRN_KEYS_PREFIX) + CAIRN_ID_HEX];
	int rc = need_keys(r);
	if (!rc && !r->key_known)
		rc = cairn_error_set(CAIRN_EINVAL, "no key file opened the repository: add one "
		                                   "(cairn key add) instead");
	if (rc || (rc = write_key(r, password, password_len, id_out)))
		return rc;
	/* The new key first: a failure from here on leaves both. */
	cairn_hold("key-passwd-written");
	key_name(key, r->key_id);
	rc = cairn_store_del(r->store, key);
	if (rc == CAIRN_ENOTFOUND)
		rc = 0;
	if (rc)
		return cairn_error_prefix(rc,
		                          "the new key file is written, but the old one %s "
		                          "could not be removed",
		                          key);
	memcpy(r->key_id, id_out, CAIRN_ID_SIZE);
	if (r->cache_dir)
		(void)cairn_repo_last_key_record(r->cache_dir, id_out);
	cairn_error_clear();
	return 0;
}

int cairn_repo_key_export(cairn_repo *r, cairn_buf *out)
{
	int rc = need_keys(r);
	return rc ? rc : cairn_key_export_encode(out, r->config.id, r->master);
}

const uint8_t *cairn_repo_key_in_use(const cairn_repo *r)
{
	return r->key_known ? r->key_id : NULL;
}

/* For a config that does not seal the settings: the first snapshot
 * record, else the first index object, must open with the keys. */
static int check_unsealed(cairn_repo *r)
{
	static const struct {
		const char *prefix;
		uint8_t kind;
	} where[] = {{CAIRN_SNAPSHOTS_PREFIX, CAIRN_BLOB_SNAPSHOT},
	             {CAIRN_INDEX_PREFIX, CAIRN_BLOB_INDEX}};
	cairn_sealer *s = NULL;
	cairn_buf plain = CAIRN_BUF_INIT;
	int rc = cairn_fingerprint_init();
	if (!rc)
		rc = cairn_repo_sealer_new(r, &s, 0);
	for (size_t w = 0; !rc && w < 2; w++) {
		uint8_t(*ids)[CAIRN_ID_SIZE] = NULL;
		size_t n = 0;
		if ((rc = cairn_repo_list_ids(r, where[w].prefix, &ids, &n)) || n == 0) {
			free(ids);
			continue;
		}
		rc = cairn_repo_load_object(r, s, where[w].prefix, ids[0], where[w].kind, 64u << 20,
		                            &plain);
		free(ids);
		if (rc)
			cairn_error_prefix(rc, "the export does not open this repository");
		break;
	}
	cairn_buf_free(&plain);
	cairn_sealer_free(s);
	return rc;
}

int cairn_repo_unlock_export(cairn_repo *r, const cairn_open_opts *opts)
{
	uint8_t prefix[CAIRN_KEY_EXPORT_REPO_ID], master[CAIRN_KEY_SIZE];
	char want[2 * CAIRN_KEY_EXPORT_REPO_ID + 1], got[2 * CAIRN_KEY_EXPORT_REPO_ID + 1];
	int rc = cairn_key_export_decode(opts->key_export, opts->key_export_len, prefix, master);
	if (rc)
		return rc;
	if (memcmp(prefix, r->config.id, sizeof(prefix)) != 0) {
		cairn_hex_encode(got, prefix, sizeof(prefix));
		cairn_hex_encode(want, r->config.id, sizeof(prefix));
		rc = cairn_error_set(CAIRN_EINVAL,
		                     "the export is of repository %s..., not of the one at %s "
		                     "(%s...)",
		                     got, r->location, want);
		goto out;
	}
	cairn_repo_take_master(r, master);
	if (!cairn_config_is_sealed(&r->config))
		rc = check_unsealed(r);
out:
	sodium_memzero(master, sizeof(master));
	return rc;
}

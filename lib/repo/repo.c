/* Opening and creating repositories: config, keys, the index, and
 * listing and loading whole objects. config's text is config.c, finding
 * the key and what the cache remembers keyring.c. Syncing the index with the store is
 * index_sync.c, reading blobs blob_read.c, committing packs
 * pack_commit.c. */
#include "repo/repo_internal.h"
#include "repo/gc_io.h"

#include "cairn/errors.h"
#include "repo/repo_format.h"
#include "util/hex.h"
#include "util/path.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The fingerprint key of an unencrypted repository is derived from an
 * all-zero master key: there is no secret to keep. */
static const uint8_t zero_master[CAIRN_KEY_SIZE];

static int read_config(cairn_store *store, const char *location, cairn_repo_config *out,
                       cairn_buf *box)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int rc = cairn_store_get(store, CAIRN_CONFIG_KEY, 0, CAIRN_CONFIG_MAX, &b);
	if (rc == CAIRN_ENOTFOUND)
		rc = cairn_error_set(CAIRN_ENOREPO, "no repository at %s", location);
	else if (!rc && (rc = cairn_config_parse(out, box, (const char *)b.data, b.len)))
		cairn_error_prefix(rc, "%s: config", location);
	cairn_buf_free(&b);
	rc = cairn_repo_foreign_error(store, location, rc);
	return rc;
}

int cairn_repo_init(const char *location, const cairn_init_opts *opts,
                    uint8_t id_out[CAIRN_ID_SIZE])
{
	cairn_store *store = NULL;
	cairn_buf keyfile = CAIRN_BUF_INIT, config = CAIRN_BUF_INIT, dir = CAIRN_BUF_INIT;
	uint8_t master[CAIRN_KEY_SIZE] = {0}, config_key[CAIRN_KEY_SIZE] = {0};
	char key[sizeof(CAIRN_KEYS_PREFIX) + CAIRN_ID_HEX];
	int rc;

	cairn_repo_config c = {.version = CAIRN_REPO_VERSION, .encrypted = opts->encrypted};
	c.chunker.min = opts->chunk_min ? opts->chunk_min : CAIRN_CHUNK_MIN_DEFAULT;
	c.chunker.avg = opts->chunk_avg ? opts->chunk_avg : CAIRN_CHUNK_AVG_DEFAULT;
	c.chunker.max = opts->chunk_max ? opts->chunk_max : CAIRN_CHUNK_MAX_DEFAULT;
	c.chunker.poly = cairn_chunker_random_poly();
	c.pack_target = CAIRN_PACK_TARGET_DEFAULT;
	if ((rc = cairn_chunker_params_check(&c.chunker)))
		return rc;
	cairn_kdf_params kdf = opts->kdf;
	if (!kdf.opslimit && !kdf.memlimit)
		cairn_kdf_params_default(&kdf);
	if (c.encrypted && (rc = cairn_kdf_params_check(&kdf)))
		return rc;
	randombytes_buf(c.id, sizeof(c.id));

	if ((rc = cairn_store_open(&store, location, 1)))
		goto out;
	if ((rc = cairn_repo_init_place(store, location)))
		goto out;

	if (c.encrypted) {
		uint8_t kid[CAIRN_ID_SIZE];
		char hex[CAIRN_ID_HEX + 1];
		if (!opts->password) {
			rc = cairn_error_set(CAIRN_EINVAL, "a password is needed");
			goto out;
		}
		cairn_key_meta meta;
		cairn_repo_key_meta_now(&meta);
		randombytes_buf(master, sizeof(master));
		rc = cairn_key_seal_meta(&keyfile, master, opts->password, opts->password_len, &kdf,
		                         &meta);
		if (rc || (rc = cairn_fingerprint_init()))
			goto out;
		cairn_sha256(kid, keyfile.data, keyfile.len);
		cairn_hex_encode(hex, kid, sizeof(kid));
		snprintf(key, sizeof(key), "%s%s", CAIRN_KEYS_PREFIX, hex);
		if ((rc = cairn_store_put(store, key, keyfile.data, keyfile.len, CAIRN_PUT_ONCE)))
			goto out;
	}
	/* The config goes last: its presence is what makes a repository. */
	if (c.encrypted)
		cairn_keys_derive_config(master, config_key);
	rc = cairn_config_format(&config, &c, config_key);
	sodium_memzero(config_key, sizeof(config_key));
	if (rc)
		goto out;
	rc = cairn_store_put(store, CAIRN_CONFIG_KEY, config.data, config.len, CAIRN_PUT_ONCE);
	if (rc == CAIRN_EEXISTS)
		rc = cairn_error_set(CAIRN_EEXISTS, "a repository already exists at %s", location);
	if (rc)
		goto out;
	if (id_out)
		memcpy(id_out, c.id, sizeof(c.id));
	/* The client that made it has seen it as it is. The repository is
	 * made whether or not the cache takes it: the next open records it. */
	if (cairn_repo_cache_path(&dir, opts->cache_dir, c.id) == 0)
		(void)cairn_repo_seen_record((const char *)dir.data,
		                             c.encrypted ? CAIRN_SEEN_ENCRYPTED | CAIRN_SEEN_SEALED
		                                         : CAIRN_SEEN_UNENCRYPTED);
	cairn_error_clear();
out:
	sodium_memzero(master, sizeof(master));
	cairn_buf_free(&keyfile);
	cairn_buf_free(&config);
	cairn_buf_free(&dir);
	cairn_store_free(store);
	return rc;
}

int cairn_repo_needs_password(const char *location)
{
	cairn_store *store = NULL;
	cairn_repo_config c;
	cairn_buf box = CAIRN_BUF_INIT;
	int rc = cairn_store_open(&store, location, 0);
	if (rc == 0)
		rc = read_config(store, location, &c, &box);
	cairn_buf_free(&box);
	cairn_store_free(store);
	if (rc)
		return rc;
	return c.encrypted;
}

void cairn_repo_take_master(cairn_repo *r, const uint8_t master[CAIRN_KEY_SIZE])
{
	memcpy(r->master, master, CAIRN_KEY_SIZE);
	cairn_keys_derive(master, r->enc_key, r->fp_key);
	cairn_keys_derive_config(master, r->config_key);
}

static int any_key(const char *key, uint64_t size, void *ud)
{
	*(int *)ud = 1;
	return 1; /* one is enough */
}

static int unlock(cairn_repo *r, const cairn_open_opts *opts, const char *dir)
{
	uint8_t master[CAIRN_KEY_SIZE];
	int rc;
	if (!r->config.encrypted) {
		/* config is not authenticated: a repository with keys that
		 * claims to be unencrypted was tampered with, and trusting it
		 * would write the next backups in the clear. */
		int any = 0;
		rc = cairn_store_list(r->store, CAIRN_KEYS_PREFIX, any_key, &any);
		if (rc < 0 && rc != 1)
			return rc;
		if (any)
			return cairn_error_set(CAIRN_ECORRUPT,
			                       "%s: config says the repository is unencrypted, but "
			                       "it has keys: refusing to open it",
			                       r->location);
		cairn_keys_derive(zero_master, r->enc_key, r->fp_key);
		cairn_keys_derive_config(zero_master, r->config_key);
		return 0;
	}
	if (opts && opts->key_export)
		return cairn_repo_unlock_export(r, opts);
	if (!opts || !opts->password)
		return cairn_error_set(CAIRN_EINVAL,
		                       "the repository at %s is encrypted: a password "
		                       "is needed",
		                       r->location);
	if ((rc = cairn_repo_find_key(r, opts, dir, master, r->key_id)))
		return rc;
	r->key_known = 1;
	cairn_repo_take_master(r, master);
	sodium_memzero(master, sizeof(master));
	return 0;
}

static int open_index(cairn_repo *r, const cairn_open_opts *opts, const char *repo_dir)
{
	cairn_buf dir = CAIRN_BUF_INIT;
	/* A remote index keeps only its Bloom filter in the cache. */
	const char *sub = opts && opts->index_url ? "remote" : "index";
	int rc = cairn_buf_printf(&dir, "%s/%s", repo_dir, sub);
	if (!rc)
		rc = cairn_mkdir_p((const char *)dir.data, 0700);
	if (!rc && opts && opts->index_url) {
		r->index_remote = 1;
		rc = cairn_index_remote_open(&r->index, opts->index_url, opts->index_token,
		                             r->config.id, (const char *)dir.data);
		if (!rc)
			cairn_index_remote_set_warn(r->index, opts->warn, opts->warn_ud);
	} else if (!rc) {
		rc = cairn_index_sqlite_open(&r->index, (const char *)dir.data, CAIRN_INDEX_SHARDS);
	}
	cairn_buf_free(&dir);
	return rc;
}

/* Takes the settings from config's sealed part, or seals them there if
 * the repository is encrypted and older than version 3; then remembers
 * what the repository was seen as, if the cache did not know it yet
 * (known: what it remembered). */
static int settle_config(cairn_repo *r, const cairn_buf *box, const char *dir, unsigned known)
{
	unsigned seen = r->config.encrypted ? CAIRN_SEEN_ENCRYPTED : CAIRN_SEEN_UNENCRYPTED;
	int rc = 0;
	if (cairn_config_is_sealed(&r->config)) {
		if ((rc = cairn_config_unseal(&r->config, box, r->config_key))) {
			cairn_error_prefix(rc, "%s: config", r->location);
			return rc;
		}
		seen |= CAIRN_SEEN_SEALED;
	} else if (r->config.encrypted) {
		/* Sealing them fails harmlessly in a store this client may not
		 * write to: the repository is used as it is. */
		if (cairn_repo_upgrade(r, CAIRN_REPO_VERSION_SEALED) == 0)
			seen |= CAIRN_SEEN_SEALED;
		cairn_error_clear();
	}
	return (seen & ~known) ? cairn_repo_seen_record(dir, seen & ~known) : 0;
}

/* config, the keys, and what this client remembers of them. */
static int open_config(cairn_repo *r, const cairn_open_opts *opts, const char *base, cairn_buf *dir)
{
	cairn_buf box = CAIRN_BUF_INIT;
	int rc = read_config(r->store, r->location, &r->config, &box);
	if (rc || (rc = cairn_repo_cache_path(dir, base, r->config.id)))
		goto out;
	unsigned known = cairn_repo_seen_load((const char *)dir->data);
	rc = cairn_config_check_seen(&r->config, known, opts && opts->password);
	if (rc) {
		cairn_error_prefix(rc, "%s", r->location);
		goto out;
	}
	if ((rc = unlock(r, opts, (const char *)dir->data)))
		goto out;
	rc = settle_config(r, &box, (const char *)dir->data, known);
	if (rc && opts && opts->key_export)
		cairn_error_prefix(rc, "the export does not open this repository");
out:
	cairn_buf_free(&box);
	return rc;
}

int cairn_repo_open(cairn_repo **out, const char *location, const cairn_open_opts *opts)
{
	cairn_repo *r = calloc(1, sizeof(*r));
	cairn_buf dir = CAIRN_BUF_INIT;
	int rc;
	*out = NULL;
	if (!r || !(r->location = strdup(location))) {
		free(r);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&r->pending.lock, NULL);
	pthread_mutex_init(&r->refresh_lock, NULL);
	pthread_mutex_init(&r->store_ix_lock, NULL);
	pthread_rwlock_init(&r->dead.lock, NULL);
	if ((rc = cairn_verified_new(&r->verified)))
		goto out;
	cairn_store_opts so = {0};
	if (opts) {
		so.connections = opts->connections;
		so.limit_upload = opts->limit_upload;
		so.limit_download = opts->limit_download;
	}
	rc = cairn_store_open_ex(&r->store, location, 0, &so);
	if (rc == CAIRN_ENOTFOUND)
		rc = cairn_error_set(CAIRN_ENOREPO, "no repository at %s", location);
	if (rc)
		goto out;
	if ((rc = open_config(r, opts, opts ? opts->cache_dir : NULL, &dir)))
		goto out;
	/* After the key derivation, not before: see fingerprint.h. */
	if ((rc = cairn_fingerprint_init()))
		goto out;
	if ((rc = open_index(r, opts, (const char *)dir.data)))
		goto out;
	if (dir.len && !(r->cache_dir = strdup((const char *)dir.data))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	/* What an earlier command could not tell the server. Best effort:
	 * the server may be out of reach still, or this token a reader's. */
	uint64_t told;
	if (r->index_remote && (rc = cairn_repo_journal_replay(r, &told)) != CAIRN_ENOMEM)
		rc = 0;
	if (rc)
		goto out;
	/* Every client registers what it writes with a server: listing the
	 * store on each open would only cost time. */
	if (!r->index_remote && (rc = cairn_repo_sync_index(r, 0, NULL)))
		goto out;
	/* After the import: a pack a prune deleted must leave the index
	 * whichever way its rows came in. */
	if ((rc = cairn_repo_apply_done(r, NULL)))
		goto out;
	*out = r;
out:
	cairn_buf_free(&dir);
	if (rc)
		cairn_repo_free(r);
	return rc;
}

void cairn_repo_free(cairn_repo *r)
{
	if (!r)
		return;
	/* What was not registered is in the store's index/ objects, which the
	 * next open imports into an embedded index (a server's is refilled by
	 * cairn index rebuild). */
	free(r->pending.entries);
	free(r->pending.objects);
	free(r->dead.ids);
	cairn_verified_free(r->verified);
	if (r->store_ix != r->index)
		cairn_index_free(r->store_ix);
	pthread_mutex_destroy(&r->store_ix_lock);
	free(r->cache_dir);
	pthread_mutex_destroy(&r->pending.lock);
	pthread_mutex_destroy(&r->refresh_lock);
	pthread_rwlock_destroy(&r->dead.lock);
	cairn_index_free(r->index);
	cairn_store_free(r->store);
	sodium_memzero(r->enc_key, sizeof(r->enc_key));
	sodium_memzero(r->fp_key, sizeof(r->fp_key));
	sodium_memzero(r->config_key, sizeof(r->config_key));
	sodium_memzero(r->master, sizeof(r->master));
	free(r->location);
	free(r);
}

int cairn_repo_upgrade(cairn_repo *r, int version)
{
	cairn_buf json = CAIRN_BUF_INIT;
	if (r->config.version >= version)
		return 0;
	cairn_repo_config c = r->config;
	c.version = version;
	int rc = cairn_config_format(&json, &c, r->config_key);
	if (!rc)
		rc = cairn_store_put(r->store, CAIRN_CONFIG_KEY, json.data, json.len, 0);
	if (!rc)
		r->config.version = version;
	cairn_buf_free(&json);
	return rc;
}

const cairn_repo_config *cairn_repo_config_get(const cairn_repo *r)
{
	return &r->config;
}

cairn_store *cairn_repo_store(cairn_repo *r)
{
	return r->store;
}

cairn_index *cairn_repo_index(cairn_repo *r)
{
	return r->index;
}

int cairn_repo_sealer_new(const cairn_repo *r, cairn_sealer **out, int zstd_level)
{
	return cairn_sealer_new(out, r->config.encrypted ? r->enc_key : NULL, zstd_level);
}

int cairn_repo_fingerprinter_new(const cairn_repo *r, cairn_fingerprinter **out)
{
	return cairn_fingerprinter_new(out, r->fp_key);
}

void cairn_repo_pack_key(char out[80], const uint8_t pack_id[CAIRN_ID_SIZE])
{
	char hex[CAIRN_ID_HEX + 1];
	cairn_hex_encode(hex, pack_id, CAIRN_ID_SIZE);
	snprintf(out, 80, "%s%.2s/%s", CAIRN_DATA_PREFIX, hex, hex);
}

/* ---- index objects ---- */

struct id_list {
	const char *prefix;
	uint8_t (*ids)[CAIRN_ID_SIZE];
	size_t count, cap;
};

static int collect_id(const char *key, uint64_t size, void *ud)
{
	struct id_list *l = ud;
	uint8_t id[CAIRN_ID_SIZE];
	const char *hex = key + strlen(l->prefix);
	/* Only the exact lowercase form an object of ours is written under:
	 * a name that decodes but differs would be fetched under another. */
	char again[CAIRN_ID_HEX + 1];
	if (strlen(hex) != CAIRN_ID_HEX || cairn_hex_decode(id, sizeof(id), hex) != 0)
		return 0;
	cairn_hex_encode(again, id, CAIRN_ID_SIZE);
	if (strcmp(again, hex) != 0)
		return 0;
	int rc = cairn_array_grow((void **)&l->ids, &l->cap, l->count + 1, sizeof(*l->ids));
	if (rc)
		return rc;
	memcpy(l->ids[l->count++], id, CAIRN_ID_SIZE);
	return 0;
}

int cairn_repo_list_ids(cairn_repo *r, const char *prefix, uint8_t (**ids_out)[CAIRN_ID_SIZE],
                        size_t *n_out)
{
	struct id_list l = {.prefix = prefix};
	int rc = cairn_store_list(r->store, prefix, collect_id, &l);
	if (rc) {
		free(l.ids);
		l.ids = NULL;
		l.count = 0;
	}
	*ids_out = l.ids;
	*n_out = l.count;
	return rc;
}

int cairn_repo_load_object(cairn_repo *r, cairn_sealer *s, const char *prefix,
                           const uint8_t id[CAIRN_ID_SIZE], uint8_t kind, size_t max,
                           cairn_buf *plain)
{
	cairn_buf raw = CAIRN_BUF_INIT;
	uint8_t check[CAIRN_ID_SIZE];
	char key[128], hex[CAIRN_ID_HEX + 1];
	int rc;
	cairn_hex_encode(hex, id, CAIRN_ID_SIZE);
	snprintf(key, sizeof(key), "%s%s", prefix, hex);
	/* One byte over the limit tells a too-large object from one at it. */
	if ((rc = cairn_store_get(r->store, key, 0,
	                          (uint64_t)max + CAIRN_SEAL_NONCE + CAIRN_SEAL_TAG + 2, &raw)))
		goto out;
	cairn_sha256(check, raw.data, raw.len);
	if (sodium_memcmp(check, id, CAIRN_ID_SIZE) != 0) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "%s: content does not match its id", key);
		goto out;
	}
	if ((rc = cairn_unseal(s, plain, NULL, kind, raw.data, raw.len, max)))
		cairn_error_prefix(rc, "%s", key);
out:
	cairn_buf_free(&raw);
	return rc;
}

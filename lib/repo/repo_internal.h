/* What the files of lib/repo share: the repository handle and the queue
 * of registrations that pack_commit.c fills and flushes. */
#ifndef CAIRN_REPO_INTERNAL_H
#define CAIRN_REPO_INTERNAL_H

#include "cairn/repo.h"

#include <pthread.h>

/* Blobs of committed packs wait here to be registered in the index: one
 * transaction per shard for many packs rather than for each. A shard's
 * B-tree takes random fingerprints, so each transaction rewrites most of
 * its leaves whatever its size. */
struct pending {
	pthread_mutex_t lock;
	cairn_index_entry *entries;
	size_t n, cap;
	uint8_t (*objects)[CAIRN_ID_SIZE]; /* index/ objects of those entries */
	size_t n_objects, cap_objects;
};

typedef struct cairn_verified cairn_verified;

/* Packs done records name whose rows the index kept (gc_io.c). A
 * reader may add to them while a backup's threads look into them. */
struct dead_packs {
	pthread_rwlock_t lock;
	uint8_t (*ids)[CAIRN_ID_SIZE]; /* sorted */
	size_t n, cap;
};

struct cairn_repo {
	cairn_store *store;
	cairn_index *index;
	int index_remote; /* a cairn-server rather than the embedded shards */
	cairn_repo_config config;
	uint8_t enc_key[CAIRN_KEY_SIZE];
	uint8_t fp_key[CAIRN_KEY_SIZE];
	uint8_t config_key[CAIRN_KEY_SIZE]; /* seals the settings in config */
	uint8_t master[CAIRN_KEY_SIZE];     /* for key files written through this handle */
	uint8_t key_id[CAIRN_ID_SIZE];      /* the key file that opened it */
	int key_known;                      /* 0: unencrypted, or opened by an export */
	char *location;
	struct pending pending;
	struct dead_packs dead;
	pthread_mutex_t refresh_lock; /* one cairn_repo_refresh_index at a time */
	int64_t refreshed_ns;         /* CLOCK_MONOTONIC of the last one */
	cairn_verified *verified;     /* packs' trailers read to check locations (verify.c) */
	char *cache_dir;              /* this repository's cache directory; NULL: none */
	/* The store's record of where blobs are (cairn_repo_store_rows): the
	 * embedded index, or a local one beside a server's; whether this
	 * handle brought it up to the index/ objects, and read the trailers
	 * of the packs none lists. */
	pthread_mutex_t store_ix_lock;
	cairn_index *store_ix;
	int store_ix_objects, store_ix_trailers;
};

/* ---- what the index server did not hear (journal.c) ---- */

/* Writes down ids the server could not be told while out of reach: kind
 * 'o' index/ objects whose blobs were not registered, 's' snapshots not
 * added to the catalogue. */
int cairn_repo_journal_add(cairn_repo *r, char kind, const uint8_t (*ids)[CAIRN_ID_SIZE], size_t n);
/* Tells the server what the journal holds, then empties it; *told_out
 * lines. Left whole if the server cannot be told (out of reach again). */
int cairn_repo_journal_replay(cairn_repo *r, uint64_t *told_out);
/* Imports one index/ object into the repository's index (index_sync.c). */
int cairn_repo_import_object(cairn_repo *r, cairn_sealer *s, const uint8_t id[CAIRN_ID_SIZE]);

/* ---- the store's own record (index_sync.c) ---- */

/* Up to max rows of fingerprint fp from the store's own record, for a
 * reader the index failed: the index/ objects (for a server's index,
 * imported into a local copy in the cache directory, once per handle),
 * then, once per handle if that has none, the trailers of the packs no
 * index/ object lists. Writes nothing to the store. */
int cairn_repo_store_rows(cairn_repo *r, const uint8_t fp[CAIRN_FP_SIZE], size_t max,
                          cairn_index_entry *rows, uint8_t *count_out);

/* ---- locations checked against their packs (verify.c) ---- */

int cairn_verified_new(cairn_verified **out);
void cairn_verified_free(cairn_verified *v);

/* The store key of a pack: data/<first 2 hex>/<64 hex>. */
void cairn_repo_pack_key(char out[80], const uint8_t pack_id[CAIRN_ID_SIZE]);

/* ---- other tools' repositories, places init refuses (foreign.c) ---- */

/* "restic", "borg" or "kopia" if the store looks like that tool's
 * repository, else NULL. Reads a few small objects; the thread's error
 * message is left as it was. */
const char *cairn_repo_foreign(cairn_store *s);
/* rc, or if rc (CAIRN_ENOREPO: no config; CAIRN_ECORRUPT: a config that
 * is not cairn's) comes from another tool's repository, CAIRN_ENOREPO
 * with "LOCATION looks like a restic repository, not a cairn one". */
int cairn_repo_foreign_error(cairn_store *s, const char *location, int rc);
/* 0 if init may create a repository in s: it holds nothing. Else
 * CAIRN_EEXISTS with a message naming location and what is there
 * (another tool's repository, a cairn one, other files), or the
 * store's error. */
int cairn_repo_init_place(cairn_store *s, const char *location);

/* Writes an index/ object listing the n entries (pack_commit.c); id_out
 * gets its id. Registers nothing. */
int cairn_repo_put_index_object(cairn_repo *r, cairn_sealer *s, const cairn_index_entry *entries,
                                size_t n, uint8_t id_out[CAIRN_ID_SIZE]);

/* ---- config (config.c, pure) ---- */

/* What a client remembers of a repository (cairn_repo_seen_load). */
enum cairn_seen {
	CAIRN_SEEN_ENCRYPTED = 1,
	CAIRN_SEEN_UNENCRYPTED = 2,
	CAIRN_SEEN_SEALED = 4, /* its settings sealed in config (version 3) */
};

/* 1 if config keeps c's settings sealed: version 3 or more, encrypted. */
int cairn_config_is_sealed(const cairn_repo_config *c);
/* The text of config for c; key (the config subkey) seals the settings
 * when cairn_config_is_sealed(c), and is not used otherwise. */
int cairn_config_format(cairn_buf *out, const cairn_repo_config *c,
                        const uint8_t key[CAIRN_KEY_SIZE]);
/* Parses config's text. A sealed config fills version, id and encryption
 * and leaves the sealed settings' bytes in box; any other fills
 * everything (box left empty). CAIRN_ECORRUPT with a message. */
int cairn_config_parse(cairn_repo_config *c, cairn_buf *box, const char *text, size_t len);
/* Opens the sealed settings with key: checks that they are c's (version,
 * id, encryption) and takes the chunker and pack size from them.
 * CAIRN_ECORRUPT with a message if they fail or differ. */
int cairn_config_unseal(cairn_repo_config *c, const cairn_buf *box,
                        const uint8_t key[CAIRN_KEY_SIZE]);
/* 0 if a client that has seen what seen says (enum cairn_seen), given a
 * password or not, may use the repository config describes; otherwise
 * CAIRN_ECORRUPT with a message naming config. */
int cairn_config_check_seen(const cairn_repo_config *c, unsigned seen, int have_password);

/* ---- keys and the cache directory (keyring.c) ---- */

/* <base>/<repository id in hex>, base NULL: ${XDG_CACHE_HOME:-~/.cache}/cairn.
 * The base is made if need be and carries a CACHEDIR.TAG. */
int cairn_repo_cache_path(cairn_buf *out, const char *base, const uint8_t id[CAIRN_ID_SIZE]);
/* What the cache directory dir remembers (enum cairn_seen bits). */
unsigned cairn_repo_seen_load(const char *dir);
/* Adds the bits of seen to what dir remembers. */
int cairn_repo_seen_record(const char *dir, unsigned seen);
/* Opens the key file that opens with opts->password: the one
 * opts->key_hint names, else the one that did last time (remembered in
 * dir) first, then the others; a file whose name
 * is not the SHA-256 of its content, or that is not a key file, is passed
 * over with a warning (opts->warn). At most CAIRN_KEYS_TRY_MAX key files
 * are hashed and CAIRN_KEYS_READ_MAX read. Remembers the one that opened
 * and gives its id. */
int cairn_repo_find_key(cairn_repo *r, const cairn_open_opts *opts, const char *dir,
                        uint8_t master_out[CAIRN_KEY_SIZE], uint8_t id_out[CAIRN_ID_SIZE]);
/* A new key file's created time, host and user, and the default key
 * derivation (key_manage.c). */
void cairn_repo_key_meta_now(cairn_key_meta *m);
/* Keeps master in r and derives its subkeys (repo.c). */
void cairn_repo_take_master(cairn_repo *r, const uint8_t master[CAIRN_KEY_SIZE]);
/* Remembers in dir that key file id opened the repository. */
int cairn_repo_last_key_record(const char *dir, const uint8_t id[CAIRN_ID_SIZE]);
/* Checks a master key from an export against the repository (its id's
 * first bytes, then a snapshot record or index object if config is not
 * sealed) and takes it (key_manage.c); the sealed config checks it when
 * settle_config opens it. */
int cairn_repo_unlock_export(cairn_repo *r, const cairn_open_opts *opts);

#endif

/* A repository: a store, its keys and config, and the fingerprint index.
 *
 * Store layout:
 *   config              plain JSON (format version, id, chunker, encryption)
 *   keys/<id>           master key sealed per password
 *   data/<aa>/<id>      packs
 *   snapshots/<id>      sealed snapshot records
 *   index/<id>          sealed index objects
 * The embedded index lives in the cache directory, per repository id, and
 * is kept in step with the store's index/ objects on open. */
#ifndef CAIRN_REPO_H
#define CAIRN_REPO_H

#include "cairn/chunker.h"
#include "cairn/fingerprint.h"
#include "cairn/keys.h"
#include "cairn/pack.h"
#include "cairn/seal.h"
#include "cairn/store.h"
#include "cairn/sys/index.h"
#include "cairn/buf.h"

#include <stddef.h>
#include <stdint.h>

#define CAIRN_REPO_VERSION 1

typedef struct cairn_repo cairn_repo;

typedef struct cairn_repo_config {
	int version;
	uint8_t id[CAIRN_ID_SIZE];
	cairn_chunker_params chunker;
	int encrypted;
	uint32_t pack_target; /* bytes */
} cairn_repo_config;

typedef struct cairn_init_opts {
	const char *password; /* ignored when !encrypted */
	size_t password_len;
	int encrypted;
	uint32_t chunk_min, chunk_avg, chunk_max; /* 0: default */
	cairn_kdf_params kdf;                     /* 0s: default */
} cairn_init_opts;

typedef struct cairn_open_opts {
	const char *password; /* NULL if none was given */
	size_t password_len;
	const char *cache_dir; /* NULL: ${XDG_CACHE_HOME:-~/.cache}/cairn */
	const char *index_url;   /* a cairn-server ("http[s]://HOST:PORT"), or NULL: embedded */
	const char *index_token; /* its bearer token (needed with index_url) */
	int connections;       /* network stores: requests in flight (0: default) */
} cairn_open_opts;

/* Creates a repository at location. CAIRN_EEXISTS (and nothing changed) if
 * there already is one. Does not open it. id_out may be NULL. */
int cairn_repo_init(const char *location, const cairn_init_opts *opts,
		    uint8_t id_out[CAIRN_ID_SIZE]);
/* Opens a repository: CAIRN_ENOREPO if there is none, CAIRN_EAUTH for a
 * wrong password (CAIRN_EINVAL if one is needed and none was given). */
int cairn_repo_open(cairn_repo **out, const char *location, const cairn_open_opts *opts);
void cairn_repo_free(cairn_repo *r); /* NULL is fine */
/* 1 if the repository at location needs a password (it is encrypted),
 * 0 if not, or CAIRN_ENOREPO. */
int cairn_repo_needs_password(const char *location);

const cairn_repo_config *cairn_repo_config_get(const cairn_repo *r);
cairn_store *cairn_repo_store(cairn_repo *r);
cairn_index *cairn_repo_index(cairn_repo *r);

/* Per-thread helpers keyed for this repository (caller frees). */
int cairn_repo_sealer_new(const cairn_repo *r, cairn_sealer **out, int zstd_level);
int cairn_repo_fingerprinter_new(const cairn_repo *r, cairn_fingerprinter **out);

/* Imports index/ objects the index has not seen (all of them if rebuild,
 * after clearing the index). *imported_out (may be NULL) counts objects.
 * An index server is not synced on open and not cleared by a rebuild: a
 * rebuild registers every object's entries with it again. */
int cairn_repo_sync_index(cairn_repo *r, int rebuild, uint64_t *imported_out);

/* Reads, authenticates and opens the chunk fp of this kind (a DATA chunk
 * may be in a bundle); out gets its plaintext. For DATA and TREE chunks
 * the plaintext's fingerprint is checked as well. CAIRN_ENOTFOUND if the
 * index has no such chunk, CAIRN_ECORRUPT if the bytes fail, both with a
 * message naming the pack. */
int cairn_repo_read_blob(cairn_repo *r, cairn_sealer *s, cairn_fingerprinter *f,
			 const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind, cairn_buf *out);
/* Opens a blob already read from a pack at entry's location (same
 * checks); out gets the entry's chunk alone. */
int cairn_repo_open_blob(cairn_sealer *s, cairn_fingerprinter *f, const cairn_index_entry *entry,
			 const void *sealed, size_t len, cairn_buf *out);
/* The same in two steps, for a reader that takes several chunks out of
 * one bundle: unseal authenticates and opens the blob at entry's location
 * (out: the whole bundle, or the chunk alone), chunk finds entry's chunk
 * in that plaintext and checks it against its fingerprint. Both fail
 * with CAIRN_ECORRUPT and a message naming the chunk and the pack. */
int cairn_repo_unseal_blob(cairn_sealer *s, const cairn_index_entry *entry, const void *sealed,
			   size_t len, cairn_buf *out);
int cairn_repo_blob_chunk(cairn_fingerprinter *f, const cairn_index_entry *entry,
			  const cairn_buf *plain, const uint8_t **chunk_out);

/* The ids of the objects named prefix<64 hex> (e.g. "snapshots/"); other
 * names are ignored. *ids_out (count in *n_out) is the caller's to free. */
int cairn_repo_list_ids(cairn_repo *r, const char *prefix, uint8_t (**ids_out)[CAIRN_ID_SIZE],
			size_t *n_out);
/* Reads the whole-object blob prefix<hex id> (snapshot record, index
 * object): checks that its SHA-256 is its id, then unseals it as kind
 * into plain (at most max bytes). Errors name the object. */
int cairn_repo_load_object(cairn_repo *r, cairn_sealer *s, const char *prefix,
			   const uint8_t id[CAIRN_ID_SIZE], uint8_t kind, size_t max, cairn_buf *plain);

/* Store keys of objects. */
void cairn_repo_pack_key(char out[80], const uint8_t pack_id[CAIRN_ID_SIZE]);

/* Uploads a finished pack, writes an index/ object for its blobs, then
 * queues them for registration in the index (in that order, so that a
 * crash leaves at worst an unreferenced pack). The queue is registered in
 * batches of many packs, by cairn_repo_flush_index and before a blob is
 * read. Safe to call from several threads at once. */
int cairn_repo_commit_pack(cairn_repo *r, cairn_sealer *s, cairn_pack_writer *w);
/* Registers in the index the blobs of every pack committed so far. Call it
 * before writing a snapshot that refers to them. Whatever is left queued
 * when the repository is freed is in the store's index/ objects: the next
 * open imports it into an embedded index. */
int cairn_repo_flush_index(cairn_repo *r);

#endif

/* A repository: a store, its keys and config, and the fingerprint index.
 *
 * Store layout:
 *   config              JSON (format version, id, encryption; the chunker and
 *                       pack size sealed under the master key if encrypted)
 *   keys/<id>           master key sealed per password
 *   data/<aa>/<id>      packs
 *   snapshots/<id>      sealed snapshot records
 *   index/<id>          sealed index objects
 * The embedded index lives in the cache directory, per repository id, and
 * is kept in step with the store's index/ objects on open. */
#ifndef CAIRN_REPO_H
#define CAIRN_REPO_H

#include "cairn/chunker.h"
#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "cairn/keys.h"
#include "cairn/pack.h"
#include "cairn/progress.h"
#include "cairn/seal.h"
#include "cairn/store.h"
#include "cairn/sys/index.h"
#include "cairn/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Version 2: clients follow prune's rule (markers, gc/ records; see
 * docs/MAINTENANCE.md). A cairn that only knows version 1 refuses to
 * open a repository of version 2, so it cannot write into one that a
 * prune collects. Version 1 is read and written as before, and the first
 * prune raises it. Version 3: an encrypted repository's settings are
 * sealed in config under its master key (docs/FORMAT.md §3); the first
 * client with the password to open an older one raises it. */
#define CAIRN_REPO_VERSION 3
#define CAIRN_REPO_VERSION_MIN 1
#define CAIRN_REPO_VERSION_SEALED 3

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
	const char *cache_dir; /* where to remember the repository; NULL as in cairn_open_opts */
} cairn_init_opts;

typedef struct cairn_open_opts {
	const char *password; /* NULL if none was given */
	size_t password_len;
	const char *cache_dir;   /* NULL: ${XDG_CACHE_HOME:-~/.cache}/cairn */
	const char *index_url;   /* a cairn-server ("http[s]://HOST:PORT"), or NULL: embedded */
	const char *index_token; /* its bearer token (needed with index_url) */
	int connections;         /* network stores: requests in flight (0: default) */
	/* Bandwidth limits of the store's traffic, bytes per second (0: none);
	 * an index server's traffic is not limited. */
	uint64_t limit_upload, limit_download;
	cairn_warn_cb warn; /* key files passed over, an index server's Bloom filter
	                       refused (NULL: not told) */
	void *warn_ud;
	const char *key_hint; /* a key file's id or unique prefix: tried first (NULL: none) */
	/* Instead of a password: a master key export (cairn/keys.h), checked
	 * against the repository (`cairn key import`). NULL: none. */
	const char *key_export;
	size_t key_export_len;
} cairn_open_opts;

/* Creates a repository at location. CAIRN_EEXISTS (and nothing changed) if
 * there already is one. Does not open it. id_out may be NULL. */
int cairn_repo_init(const char *location, const cairn_init_opts *opts,
                    uint8_t id_out[CAIRN_ID_SIZE]);
/* Opens a repository: CAIRN_ENOREPO if there is none, CAIRN_EAUTH for a
 * wrong password (CAIRN_EINVAL if one is needed and none was given).
 * CAIRN_ECORRUPT, naming config, if config says the repository is
 * unencrypted and this client (its cache directory) has seen it
 * encrypted, or a password was given and it has never seen it
 * unencrypted; or if the sealed settings fail. An encrypted repository
 * of version 1 or 2 is raised to version 3 (settings sealed). */
int cairn_repo_open(cairn_repo **out, const char *location, const cairn_open_opts *opts);
void cairn_repo_free(cairn_repo *r); /* NULL is fine */
/* 0 if cairn_repo_init may create a repository at location: nothing is
 * there, or an empty directory or S3 prefix. Else CAIRN_EEXISTS with a
 * message naming location and what it holds (a cairn repository,
 * another tool's, other files), or an error reaching it. */
int cairn_repo_init_check(const char *location);
/* 1 if the repository at location needs a password (it is encrypted),
 * 0 if not, or CAIRN_ENOREPO. */
int cairn_repo_needs_password(const char *location);

const cairn_repo_config *cairn_repo_config_get(const cairn_repo *r);
/* Raises the repository's format version to version (rewrites config,
 * sealing the settings from version 3 on); nothing if it is there
 * already. */
int cairn_repo_upgrade(cairn_repo *r, int version);
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

/* What cairn_repo_rebuild_index found and did. */
typedef struct cairn_index_rebuild {
	uint64_t objects;         /* index/ objects imported */
	uint64_t objects_damaged; /* index/ objects that failed authentication or parsing */
	uint64_t packs_recovered; /* packs no such object listed, imported from their trailers */
	uint64_t blobs_recovered; /* the blobs of those packs */
	uint64_t objects_written; /* new index/ objects listing those blobs */
	uint64_t packs_damaged;   /* packs whose trailer failed: their blobs stay unknown */
} cairn_index_rebuild;

/* Rebuilds the index from the store (lib/repo/index_sync.c): clears an
 * embedded index, imports every index/ object that can be read and
 * authenticated, then lists data/ and reads the trailer of each pack that
 * none of them lists (one ranged read of its tail), registers its blobs
 * and writes new index/ objects for them, so that the store holds that
 * knowledge again for the next client. A damaged index/ object and a pack
 * whose trailer fails are told to warn (path: the object's name in the
 * store, message: why; warn may be NULL) and counted, and the rebuild goes
 * on; any other failure stops it. An index server is refilled, not
 * cleared. */
int cairn_repo_rebuild_index(cairn_repo *r, cairn_warn_cb warn, void *ud, cairn_index_rebuild *out);

/* Makes the index/ objects stop listing the n packs dead (sorted by id),
 * which are gone or about to go: an object that lists only them is
 * deleted, one that lists others too is written again without them first
 * (and taken as imported). Objects are read on up to threads threads. */
int cairn_repo_unlist_packs(cairn_repo *r, const uint8_t (*dead)[CAIRN_ID_SIZE], size_t n,
                            unsigned threads);

/* The ids of the objects named prefix<64 hex> (e.g. "snapshots/"); other
 * names are ignored. *ids_out (count in *n_out) is the caller's to free. */
int cairn_repo_list_ids(cairn_repo *r, const char *prefix, uint8_t (**ids_out)[CAIRN_ID_SIZE],
                        size_t *n_out);
/* Reads the whole-object blob prefix<hex id> (snapshot record, index
 * object): checks that its SHA-256 is its id, then unseals it as kind
 * into plain (at most max bytes). Errors name the object. */
int cairn_repo_load_object(cairn_repo *r, cairn_sealer *s, const char *prefix,
                           const uint8_t id[CAIRN_ID_SIZE], uint8_t kind, size_t max,
                           cairn_buf *plain);

/* Uploads a finished pack, writes an index/ object for its blobs, then
 * queues them for registration in the index (in that order, so that a
 * crash leaves at worst an unreferenced pack). The queue is registered in
 * batches of many packs, and by cairn_repo_flush_index. Safe to call from
 * several threads at once (lib/repo/pack_commit.c). */
int cairn_repo_commit_pack(cairn_repo *r, cairn_sealer *s, cairn_pack_writer *w);
/* Registers in the index the blobs of every pack committed so far. Call it
 * before writing a snapshot that refers to them, and before reading back
 * blobs this process committed (a read that does not find a blob brings
 * the index up to the store's index/ objects, at most every 2 s). Whatever is left queued
 * when the repository is freed is in the store's index/ objects: the next
 * open imports it into an embedded index. */
int cairn_repo_flush_index(cairn_repo *r);

/* ---- reading blobs (lib/repo/blob_read.c) ----
 * The one way to read blobs: one at a time (cairn_repo_read_blob), or
 * many at once in steps a caller may spread over threads: locate them,
 * plan ranged reads of their packs, read each range once, and take the
 * blobs out of it. Reading flushes no registration (see
 * cairn_repo_flush_index). */

/* Reads, authenticates and opens the chunk fp of this kind (a DATA chunk
 * may be in a bundle); out gets its plaintext. For DATA and TREE chunks
 * the plaintext's fingerprint is checked as well. Where a place fails the
 * next is tried: every row the index has of fp, the same after bringing
 * the index up to the store, then the store's own record (index/ objects,
 * then pack trailers), which the index is told of. CAIRN_ENOTFOUND if no
 * place has the chunk, CAIRN_ECORRUPT if the bytes of the last place
 * tried fail, both with a message naming the pack. */
int cairn_repo_read_blob(cairn_repo *r, cairn_sealer *s, cairn_fingerprinter *f,
                         const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind, cairn_buf *out);
/* 1 if the repository's index server was out of reach during this
 * handle's life (why gets the reason): a backup then went on without it,
 * storing what it could not ask about, and what the server was not told
 * is kept in the cache directory for the next command that reaches it. */
int cairn_repo_index_offline(cairn_repo *r, char *why, size_t n);

/* Up to max (1..CAIRN_INDEX_ROWS_MAX) places of the chunk fp: the index's
 * rows (cairn_index_rows), or with from_store the store's own record
 * (index/ objects, then the trailers of packs none lists; read into a
 * local index beside a server's, once per handle; nothing is written to
 * the store). For a reader whose first answer was not usable. */
int cairn_repo_blob_places(cairn_repo *r, const uint8_t fp[CAIRN_FP_SIZE], int from_store,
                           size_t max, cairn_index_entry *rows, uint8_t *count_out);
/* Reads the blob of the fingerprint of failed, a location (from an index)
 * where it was not, from any other place: the row is rejected in the
 * index (advisory), and the places cairn_repo_read_blob tries are tried
 * but failed. The restore's way past a location an index holder made up
 * or a pack that is gone. */
int cairn_repo_read_blob_elsewhere(cairn_repo *r, cairn_sealer *s, cairn_fingerprinter *f,
                                   const cairn_index_entry *failed, uint8_t kind, cairn_buf *out);

/* Brings the index up to the store again (the index/ objects written
 * since, the packs prune deleted since): for a reader that found a pack
 * gone, whose blobs a prune may have moved, or a blob unknown, which a
 * newer snapshot registered. One at a time, and at most every 2 s (a
 * call within that does nothing). */
int cairn_repo_refresh_index(cairn_repo *r);
/* The same, whenever it was last done: for a reader that must read a
 * snapshot written since (a prune's mark, a check), once. */
int cairn_repo_refresh_index_now(cairn_repo *r);
/* Where each of the n fingerprints is: found[i] = 1 and out[i] (its fp
 * included), or found[i] = 0. One index query. */
int cairn_repo_locate_blobs(cairn_repo *r, const uint8_t (*fps)[CAIRN_FP_SIZE], size_t n,
                            cairn_index_entry *out, uint8_t *found);
/* 0 if the lengths an index entry gives are possible for its kind, which
 * bounds what is read before anything is: the sealed length by the
 * plaintext's, and the plaintext by the largest chunk or bundle.
 * CAIRN_ECORRUPT (no message) if not. */
int cairn_repo_blob_check(const cairn_sealer *s, const cairn_index_entry *e);
/* 1 if the packs are reached over a network (more reads in flight pay),
 * 0 for a local directory. */
int cairn_repo_store_is_remote(const cairn_repo *r);

/* A blob to read: where it is in which pack, and the caller's tag. */
typedef struct cairn_blob_loc {
	uint8_t pack[CAIRN_ID_SIZE];
	uint32_t offset;
	uint32_t length;
	size_t id;
} cairn_blob_loc;

/* One ranged read of a pack covering blobs[first, first + count). */
typedef struct cairn_pack_range {
	uint64_t offset;
	uint64_t length;
	size_t first;
	size_t count;
} cairn_pack_range;

/* Sorts blobs by (pack, offset) and groups neighbours of the same pack
 * into ranges: a blob joins the current range if it starts at most
 * max_gap bytes after the range's end and the range stays within
 * max_length bytes (a single larger blob still gets a range of its own).
 * Overlapping blobs share a range. *out (count in *n_out) is the caller's
 * to free; NULL with *n_out = 0 when n is 0. Pure: no I/O. */
int cairn_repo_plan_ranges(cairn_blob_loc *blobs, size_t n, uint64_t max_gap, uint64_t max_length,
                           cairn_pack_range **out, size_t *n_out);
/* cairn_repo_plan_ranges with the gaps and lengths that suit the
 * repository's store: a local one reads small gaps, a remote one saves
 * requests. */
int cairn_repo_plan_reads(const cairn_repo *r, cairn_blob_loc *blobs, size_t n,
                          cairn_pack_range **out, size_t *n_out);
/* Reads [offset, offset + length) of a pack into out: one store request
 * (out may be shorter if the pack is). */
int cairn_repo_read_range(cairn_repo *r, const uint8_t pack[CAIRN_ID_SIZE], uint64_t offset,
                          uint64_t length, cairn_buf *out);
/* Reads and opens the trailer of pack, pack_size bytes long: its last
 * 64 KiB in one request, a longer trailer in a second. *entries_out, the
 * trailer's blobs in its order, is the caller's to free. A damaged or
 * short pack is CAIRN_ECORRUPT; every error names the pack. */
int cairn_repo_read_trailer(cairn_repo *r, cairn_sealer *s, const uint8_t pack[CAIRN_ID_SIZE],
                            uint64_t pack_size, cairn_pack_entry **entries_out, size_t *count_out);

/* Checks the n locations an index gave (e[i]: fingerprint, pack, offset,
 * lengths, kind) against the authenticated trailers of their packs:
 * ok[i] = 1 if the pack is in the store and its trailer lists the chunk
 * exactly there. An index holder can register anything; only a holder of
 * the key writes a trailer. Each pack is read once (a stat and its
 * trailer) and kept while a bounded cache has room; packs committed
 * through this handle are known unread. A missing pack or a trailer that
 * fails is a 0, not an error; errors are the store's (it cannot be read)
 * and CAIRN_ENOMEM. Safe from several threads, each with its sealer. */
int cairn_repo_verify_locations(cairn_repo *r, cairn_sealer *s, const cairn_index_entry *e,
                                size_t n, uint8_t *ok);
/* Enters a pack committed through this handle as checked: entries are its
 * trailer's (final offsets). */
void cairn_repo_trust_pack(cairn_repo *r, const uint8_t id[CAIRN_ID_SIZE],
                           const cairn_pack_entry *entries, size_t n);

/* Takes the blobs out of a range read from a pack, in the order the plan
 * left them: the chunks of one bundle are neighbours there, and the
 * bundle is opened once for all of them. One per thread; the sealer and
 * fingerprinter are the caller's. */
typedef struct cairn_range_reader {
	cairn_sealer *sealer;
	cairn_fingerprinter *fp;
	cairn_buf plain; /* the blob or bundle opened last */
	const cairn_buf *raw;
	uint64_t offset; /* of raw in its pack */
	int bundle_open; /* plain holds the bundle at bundle_offset, or failed to */
	uint32_t bundle_offset, bundle_length;
	cairn_error_saved bundle_failed; /* code 0: it opened */
} cairn_range_reader;

void cairn_repo_range_init(cairn_range_reader *rr, cairn_sealer *s, cairn_fingerprinter *f);
void cairn_repo_range_free(cairn_range_reader *rr);
/* Starts on raw, the bytes of a pack from offset on. */
void cairn_repo_range_start(cairn_range_reader *rr, const cairn_buf *raw, uint64_t offset);
/* The chunk of e, which the range must cover: authenticated, opened and
 * checked against its fingerprint; *chunk_out points into rr->plain until
 * the next call. CAIRN_ECORRUPT with a message naming the pack and the
 * blob (the chunks of a bundle that could not be opened all get the
 * bundle's), or CAIRN_ENOMEM. */
int cairn_repo_range_chunk(cairn_range_reader *rr, const cairn_index_entry *e,
                           const uint8_t **chunk_out);

#endif

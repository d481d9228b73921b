/* Snapshot records: snapshots/<id>, a sealed JSON object (kind
 * CAIRN_BLOB_SNAPSHOT); id = SHA-256 of the stored bytes. */
#ifndef CAIRN_SNAPSHOT_H
#define CAIRN_SNAPSHOT_H

#include "cairn/manifest.h"
#include "cairn/progress.h"
#include "cairn/repo.h"

#include <stdint.h>

typedef struct cairn_summary {
	uint64_t files_new, files_changed, files_unchanged;
	uint64_t dirs, others;     /* directories; hard links, symlinks, devices, ... */
	uint64_t bytes_read;       /* file content read from disk */
	uint64_t bytes_total;      /* size of all files in the snapshot */
	uint64_t bytes_added;      /* stored bytes added to the repository */
	uint64_t blobs_added;      /* data blobs (file content chunks) */
	uint64_t tree_blobs_added; /* manifest blobs */
	uint64_t errors;           /* entries that could not be read */
	uint64_t duration_ns;
} cairn_summary;

typedef struct cairn_snapshot {
	uint8_t id[CAIRN_ID_SIZE]; /* set by save / load */
	int64_t time_ns;           /* since the epoch, UTC */
	char *host;
	char *user;
	char **paths;
	size_t n_paths;
	char **tags;
	size_t n_tags;
	int has_parent;
	uint8_t parent[CAIRN_ID_SIZE];
	cairn_chunk_ref *manifest; /* the manifest stream's chunks */
	size_t n_manifest;
	uint64_t manifest_size;
	cairn_summary summary;
	int has_original; /* written again (new tags) from the record original */
	uint8_t original[CAIRN_ID_SIZE];
} cairn_snapshot;

void cairn_snapshot_clear(cairn_snapshot *s);

/* The record as stored (before sealing), and as `snapshots --json` shows
 * it when with_id. */
int cairn_snapshot_to_json(cairn_buf *out, const cairn_snapshot *s, int with_id);
int cairn_snapshot_from_json(cairn_snapshot *out, const void *json, size_t len);

/* Seals and stores s; sets s->id. */
int cairn_snapshot_save(cairn_repo *r, cairn_snapshot *s);
int cairn_snapshot_load(cairn_repo *r, const uint8_t id[CAIRN_ID_SIZE], cairn_snapshot *out);
/* Every snapshot, oldest first. An unreadable record fails the call with
 * a message naming it. */
int cairn_snapshot_list(cairn_repo *r, cairn_snapshot **out, size_t *count_out);

/* The records a listing left out: each record that fails authentication
 * or parsing (CAIRN_ECORRUPT) is told to warn, its path being its name
 * in the store ("snapshots/<64 hex>") and its message why, and counted. */
typedef struct cairn_snapshot_skips {
	cairn_warn_cb warn; /* NULL: only count */
	void *ud;
	size_t count; /* records left out, added to by each call */
} cairn_snapshot_skips;

/* As cairn_snapshot_list, but a record that fails authentication or
 * parsing is left out and told to skips (NULL: left out silently), and
 * one that vanished since the store was listed (a concurrent forget) is
 * left out silently. Any other failure (the store cannot be listed or
 * read) fails the call. */
int cairn_snapshot_list_readable(cairn_repo *r, cairn_snapshot **out, size_t *count_out,
                                 cairn_snapshot_skips *skips);
void cairn_snapshot_list_free(cairn_snapshot *list, size_t count);
/* With an index server, snapshots are listed from its catalogue, which
 * cairn_snapshot_save keeps; this registers every snapshot of the store
 * with it (for `cairn index rebuild`). Does nothing without one. */
int cairn_snapshot_catalog_sync(cairn_repo *r, uint64_t *count_out);
/* name: a full id, a unique prefix, or "latest". CAIRN_ENOTFOUND or
 * CAIRN_EINVAL (ambiguous prefix) with a message. "latest" reads every
 * record (cairn_snapshot_list); an id or prefix reads none. */
int cairn_snapshot_resolve(cairn_repo *r, const char *name, uint8_t id_out[CAIRN_ID_SIZE]);
/* As cairn_snapshot_resolve, but "latest" is the newest snapshot whose
 * record can be read (cairn_snapshot_list_readable: the others are told
 * to skips). A prefix still counts every record, readable or not, so an
 * ambiguous prefix stays ambiguous and a damaged record can be named. */
int cairn_snapshot_resolve_readable(cairn_repo *r, const char *name, uint8_t id_out[CAIRN_ID_SIZE],
                                    cairn_snapshot_skips *skips);

/* Formats time_ns as RFC 3339 UTC with nanoseconds into out (>= 40 bytes). */
void cairn_time_format(char *out, size_t size, int64_t time_ns);

#endif

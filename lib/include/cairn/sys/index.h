/* The fingerprint index backend table, for implementors.
 *
 * An index maps a chunk fingerprint to where its sealed blob lives
 * (pack id, offset, length; for a chunk in a bundle, where in the bundle). It is an accelerator:
 * the store's index/ objects can always rebuild it. Backends must be safe to call from several
 * threads at once. */
#ifndef CAIRN_SYS_INDEX_H
#define CAIRN_SYS_INDEX_H

#include "cairn/progress.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_index_entry {
	uint8_t fp[32];
	uint8_t pack[32];
	uint32_t offset;
	uint32_t length;
	uint32_t raw_length;
	uint32_t inner; /* kind CAIRN_BLOB_BUNDLE: the chunk's offset in the bundle */
	uint8_t kind;
} cairn_index_entry;

typedef struct cairn_index cairn_index;

/* Version 2 added scan and drop_packs, version 3 rows and reject, version
 * 4 snapshot_add_host. */
#define CAIRN_INDEX_OPS_VERSION 4

/* Most rows of one fingerprint a rows call gives. */
#define CAIRN_INDEX_ROWS_MAX 8

struct cairn_index_ops {
	int version; /* CAIRN_INDEX_OPS_VERSION */
	const char *name;
	/* For each of the n fingerprints: found[i] = 1 and out[i] filled in, or
	 * found[i] = 0. One batch: one transaction per shard touched. Of a
	 * fingerprint's rows, the one with the lowest pack id (memcmp order)
	 * among those never rejected, else among the rejected ones. */
	int (*lookup)(cairn_index *ix, const uint8_t (*fps)[32], size_t n, cairn_index_entry *out,
	              uint8_t *found);
	/* Registers entries. A chunk may be in several packs (two clients
	 * that raced on it both uploaded it): each (fingerprint, pack) is a
	 * row of its own, and registering a row again changes nothing. */
	int (*insert)(cairn_index *ix, const cairn_index_entry *entries, size_t n);
	/* Whether the index object with this id was already imported. */
	int (*object_known)(cairn_index *ix, const uint8_t id[32], int *known_out);
	/* Records that the index object with this id has been imported. */
	int (*object_add)(cairn_index *ix, const uint8_t id[32]);
	/* Number of rows (a chunk in two packs counts twice). */
	int (*count)(cairn_index *ix, uint64_t *count_out);
	/* Removes everything (for rebuild). */
	int (*clear)(cairn_index *ix);
	void (*free)(cairn_index *ix);
	/* Optional, NULL when the backend keeps no snapshot catalogue: records
	 * a snapshot id (idempotent), lists every recorded id (*ids_out is the
	 * caller's to free), forgets one (CAIRN_ENOTFOUND if absent). */
	int (*snapshot_add)(cairn_index *ix, const uint8_t id[32]);
	int (*snapshot_list)(cairn_index *ix, uint8_t (**ids_out)[32], size_t *count_out);
	int (*snapshot_remove)(cairn_index *ix, const uint8_t id[32]);
	/* Optional (NULL: lookup): lookup for deduplication, which may answer
	 * found[i] = 0 for a fingerprint another process registered after the
	 * first lookup_dedup call (one stored twice costs space, not
	 * correctness), but finds what was registered through this handle.
	 * It may answer compact entries: length 0, only fp, pack and offset
	 * known (the pack's trailer has the rest). Restores and checks use
	 * lookup. */
	int (*lookup_dedup)(cairn_index *ix, const uint8_t (*fps)[32], size_t n,
	                    cairn_index_entry *out, uint8_t *found);
	/* Optional (NULL: the backend cannot be scanned): up to max rows in (fp, pack) order,
	 * the first after the row (after->fp, after->pack), or from the very first if after is
	 * NULL, into out; *n_out < max only when the end was reached. */
	int (*scan)(cairn_index *ix, const cairn_index_entry *after, cairn_index_entry *out,
	            size_t max, size_t *n_out);
	/* Optional: deletes every row whose pack is one of the n packs (any order, repeats
	 * fine). */
	int (*drop_packs)(cairn_index *ix, const uint8_t (*packs)[32], size_t n);
	/* Optional (NULL: lookup's one row): up to max (1..CAIRN_INDEX_ROWS_MAX)
	 * rows of each of the n fingerprints, in the order lookup prefers them:
	 * fingerprint i's are out[i * max, i * max + counts[i]). */
	int (*rows)(cairn_index *ix, const uint8_t (*fps)[32], size_t n, size_t max,
	            cairn_index_entry *out, uint8_t *counts);
	/* Optional (NULL: nothing is kept): the rows (fp, pack) of the n entries
	 * failed verification against their packs (a location an index holder
	 * made up, or a pack gone): lookups prefer every other row of the
	 * fingerprint from now on. Rows not in the index are passed over. */
	int (*reject)(cairn_index *ix, const cairn_index_entry *rows, size_t n);
	/* Optional (NULL: never): 1 if the backend is going on without the
	 * server behind it (its circuit is open: lookups answer "missing",
	 * registrations fail at once), with the reason in why (n bytes; why
	 * may be NULL). */
	int (*offline)(cairn_index *ix, char *why, size_t n);
	/* Optional (NULL: snapshot_add): snapshot_add, telling that host (the
	 * snapshot record's, not empty) made the snapshot, so that the
	 * catalogue can say when each host last made one. */
	int (*snapshot_add_host)(cairn_index *ix, const uint8_t id[32], const char *host);
};

struct cairn_index {
	const struct cairn_index_ops *ops;
};

/* Tunes SQLite for a process that uses it through libcairn: turns off
 * SQLite's memory statistics, whose global mutex every allocation of
 * every connection takes, so that threads working on separate shards do
 * not queue on it. SQLite takes this only before its first use, and the
 * setting is the whole process's: call it first thing in main(), before
 * any thread starts. Returns 0, or CAIRN_ERROR if SQLite was in use
 * already (nothing changes then; the index works the same, slower). */
int cairn_index_sqlite_tune_process(void);

/* The embedded backend: SQLite, sharded by the fingerprint's first byte
 * into nshards (a power of two, 1..256) database files shard-XX.db in dir
 * (created if missing), WAL mode. An index made by an older schema is
 * brought up to date when opened. */
int cairn_index_sqlite_open(cairn_index **out, const char *dir, unsigned nshards);

/* Tuning for a long-lived process serving many clients (the index server);
 * zeros keep the defaults, sized for a backup client. */
typedef struct cairn_index_sqlite_opts {
	unsigned cache_mib; /* page cache for all shards together (default 16) */
	unsigned wal_pages; /* WAL pages between checkpoints (default 1000) */
	/* Fold each shard's WAL into its database when the index is freed.
	 * Default: leave it to the next writer's checkpoints, so that a
	 * command does not end waiting on the disk for every shard. */
	int checkpoint_on_close;
	/* Every commit on stable storage when it returns (synchronous=FULL);
	 * default: on stable storage at the next checkpoint (a power loss
	 * may take the last commits; a crashed process loses nothing). */
	int durable;
} cairn_index_sqlite_opts;

int cairn_index_sqlite_open_ex(cairn_index **out, const char *dir, unsigned nshards,
                               const cairn_index_sqlite_opts *opts);

/* The index core: an exact table in memory of every row's fingerprint,
 * pack and offset, loaded from SQLite shards in dir (as
 * cairn_index_sqlite_open makes them) when it opens; registrations are
 * synced to a log (dir/log) before insert returns, shown in the table at
 * once, and merged into the shards in sorted batches by a thread of its
 * own; leftovers of a crash are merged when it opens. lookup_dedup answers
 * from memory with compact entries: fp, pack and offset set, length 0
 * (the pack's trailer gives the rest); lookup reads full rows from the
 * shards. What an index server runs. */
typedef struct cairn_index_core_opts {
	unsigned cache_mib; /* SQLite's page cache for all shards (0: default) */
	unsigned wal_pages; /* WAL pages between checkpoints (0: default) */
	unsigned merge_ms;  /* how often the log is merged (0: every 10 s) */
} cairn_index_core_opts;

int cairn_index_core_open(cairn_index **out, const char *dir, unsigned nshards,
                          const cairn_index_core_opts *opts);
/* Calls fn for the fingerprint of every row the core holds (a fingerprint
 * in several packs: once each); ix must be a core. */
void cairn_index_core_each(cairn_index *ix, void (*fn)(void *ud, const uint8_t fp[32]), void *ud);

/* The remote backend: a cairn-server at url ("http[s]://HOST:PORT", maybe
 * with a path prefix) holding the index of repository repo_id, reached
 * with the bearer token. Lookups first ask the server's Bloom filter,
 * downloaded when it changed and kept in cache_dir (NULL: not kept), so
 * that fingerprints it calls absent cost no request. Keeps the snapshot
 * catalogue too. Opening does not connect; the first request does. The
 * environment variable CAIRN_INDEX_CA_FILE names extra trusted
 * certificates for https. */
int cairn_index_remote_open(cairn_index **out, const char *url, const char *token,
                            const uint8_t repo_id[32], const char *cache_dir);
/* Where a remote index tells what it passes over and goes on without (a
 * Bloom filter over the client's cap); ix must be a remote one. */
void cairn_index_remote_set_warn(cairn_index *ix, cairn_warn_cb warn, void *ud);

static inline void cairn_index_free(cairn_index *ix)
{
	if (ix)
		ix->ops->free(ix);
}

#endif

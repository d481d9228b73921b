/* The fingerprint index, whatever its backend: the calls every backend
 * answers (cairn/sys/index.h has the table, the entry and the backends'
 * open functions). Callers use these, never ix->ops directly. */
#ifndef CAIRN_INDEX_H
#define CAIRN_INDEX_H

#include "cairn/sys/index.h"

#include <stddef.h>
#include <stdint.h>

/* For each of the n fingerprints: found[i] = 1 and out[i] filled in, or
 * found[i] = 0. A chunk in several packs: the row of the lowest pack id,
 * rows rejected (cairn_index_reject) last. */
static inline int cairn_index_lookup(cairn_index *ix, const uint8_t (*fps)[32], size_t n,
                                     cairn_index_entry *out, uint8_t *found)
{
	return ix->ops->lookup(ix, fps, n, out, found);
}

/* The lookup of a backup deduplicating its chunks: may miss fingerprints
 * registered since its first call (the backend's lookup_dedup), or is
 * cairn_index_lookup() when the backend has no such shortcut. */
static inline int cairn_index_lookup_dedup(cairn_index *ix, const uint8_t (*fps)[32], size_t n,
                                           cairn_index_entry *out, uint8_t *found)
{
	if (ix->ops->lookup_dedup)
		return ix->ops->lookup_dedup(ix, fps, n, out, found);
	return ix->ops->lookup(ix, fps, n, out, found);
}

/* Registers entries: one row per (fingerprint, pack); a repeat changes
 * nothing. */
static inline int cairn_index_insert(cairn_index *ix, const cairn_index_entry *entries, size_t n)
{
	return ix->ops->insert(ix, entries, n);
}

/* Whether the index object with this id was imported already. */
static inline int cairn_index_object_known(cairn_index *ix, const uint8_t id[32], int *known_out)
{
	return ix->ops->object_known(ix, id, known_out);
}

/* Records that the index object with this id has been imported. */
static inline int cairn_index_object_add(cairn_index *ix, const uint8_t id[32])
{
	return ix->ops->object_add(ix, id);
}

/* Number of rows (a chunk in two packs counts twice). */
static inline int cairn_index_count(cairn_index *ix, uint64_t *count_out)
{
	return ix->ops->count(ix, count_out);
}

/* Removes everything (for a rebuild). */
static inline int cairn_index_clear(cairn_index *ix)
{
	return ix->ops->clear(ix);
}

/* 1 if the backend keeps a snapshot catalogue (the index server does):
 * only then may the cairn_index_snapshot_ calls be made. */
static inline int cairn_index_has_snapshots(const cairn_index *ix)
{
	return ix->ops->snapshot_add != NULL;
}

/* Records a snapshot id (idempotent). */
static inline int cairn_index_snapshot_add(cairn_index *ix, const uint8_t id[32])
{
	return ix->ops->snapshot_add(ix, id);
}

/* Records a snapshot id made by host (NULL or "": unknown), idempotent;
 * a backend that keeps no hosts records the id alone. */
static inline int cairn_index_snapshot_add_host(cairn_index *ix, const uint8_t id[32],
                                                const char *host)
{
	if (host && *host && ix->ops->version >= 4 && ix->ops->snapshot_add_host)
		return ix->ops->snapshot_add_host(ix, id, host);
	return ix->ops->snapshot_add(ix, id);
}

/* Every recorded id; *ids_out is the caller's to free. */
static inline int cairn_index_snapshot_list(cairn_index *ix, uint8_t (**ids_out)[32],
                                            size_t *count_out)
{
	return ix->ops->snapshot_list(ix, ids_out, count_out);
}

/* Forgets one id; CAIRN_ENOTFOUND if it was not recorded. */
static inline int cairn_index_snapshot_remove(cairn_index *ix, const uint8_t id[32])
{
	return ix->ops->snapshot_remove(ix, id);
}

/* 1 if the backend can be scanned and have packs dropped: only then may
 * cairn_index_scan() and cairn_index_drop_packs() be called (prune). */
static inline int cairn_index_can_prune(const cairn_index *ix)
{
	return ix->ops->version >= 2 && ix->ops->scan != NULL && ix->ops->drop_packs != NULL;
}

/* Up to max rows in (fingerprint, pack) order: the first after the row
 * (after->fp, after->pack), or from the very first if after is NULL.
 * *n_out < max only when the end was reached. */
static inline int cairn_index_scan(cairn_index *ix, const cairn_index_entry *after,
                                   cairn_index_entry *out, size_t max, size_t *n_out)
{
	return ix->ops->scan(ix, after, out, max, n_out);
}

/* Deletes every row whose pack is one of the n packs (any order, repeats
 * fine). */
static inline int cairn_index_drop_packs(cairn_index *ix, const uint8_t (*packs)[32], size_t n)
{
	return ix->ops->drop_packs(ix, packs, n);
}

/* Up to max (1..CAIRN_INDEX_ROWS_MAX) rows of each of the n fingerprints,
 * lookup's choice first: fingerprint i's are out[i * max, i * max +
 * counts[i]). A backend that keeps one row a fingerprint gives that. */
static inline int cairn_index_rows(cairn_index *ix, const uint8_t (*fps)[32], size_t n, size_t max,
                                   cairn_index_entry *out, uint8_t *counts)
{
	if (ix->ops->version >= 3 && ix->ops->rows)
		return ix->ops->rows(ix, fps, n, max, out, counts);
	for (size_t i = 0; i < n; i++) {
		int rc = ix->ops->lookup(ix, fps + i, 1, out + i * max, counts + i);
		if (rc)
			return rc;
	}
	return 0;
}

/* 1 if the index is going on without its server (cairn/sys/index.h
 * offline); why (NULL: not wanted) gets the reason. */
static inline int cairn_index_offline(cairn_index *ix, char *why, size_t n)
{
	return ix->ops->version >= 3 && ix->ops->offline && ix->ops->offline(ix, why, n);
}

/* Tells the index that these rows (fingerprint, pack) failed
 * verification: it offers them last from now on. Advisory: a backend
 * that cannot keep it returns 0. */
static inline int cairn_index_reject(cairn_index *ix, const cairn_index_entry *rows, size_t n)
{
	if (ix->ops->version >= 3 && ix->ops->reject && n)
		return ix->ops->reject(ix, rows, n);
	return 0;
}

#endif

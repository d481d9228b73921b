/* A bounded cache of unsealed blobs, shared by the threads of a browse
 * view: least recently used blobs go first once the bytes held pass the
 * capacity; a blob being fetched is fetched once however many threads
 * ask for it; a small pool of workers fetches blobs asked for ahead of
 * time (read-ahead). Fetching itself is the caller's function, so the
 * cache is tested without a repository. */
#ifndef CAIRN_BROWSE_BLOBCACHE_H
#define CAIRN_BROWSE_BLOBCACHE_H

#include "cairn/buf.h"
#include "cairn/fingerprint.h"

#include <stddef.h>
#include <stdint.h>

/* Fills out with the plaintext of blob fp of this kind: 0, or an error
 * with this thread's message set. Called from any thread, without the
 * cache's lock. */
typedef int (*cairn_blobcache_fetch_fn)(void *ud, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind,
                                        cairn_buf *out);

typedef struct cairn_blobcache cairn_blobcache;

/* A blob held by a caller: its bytes stay put until it is released. */
typedef struct cairn_cached_blob {
	const uint8_t *data;
	size_t len;
} cairn_cached_blob;

typedef struct cairn_blobcache_stats {
	uint64_t hits, misses, evictions, prefetched;
	size_t bytes, entries;
} cairn_blobcache_stats;

/* capacity: bytes of blobs kept unreferenced; threads: read-ahead workers
 * (0: no read-ahead, cairn_blobcache_prefetch does nothing). */
int cairn_blobcache_new(cairn_blobcache **out, size_t capacity, unsigned threads,
                        cairn_blobcache_fetch_fn fetch, void *ud);
/* Stops the workers and frees every blob; none may still be held. */
void cairn_blobcache_free(cairn_blobcache *c);

/* The blob fp of kind, from the cache or fetched now (or waited for, if
 * another thread fetches it): 0 and *out, to be released with
 * cairn_blobcache_release, or the fetch's error (its message this
 * thread's). A failed fetch is not kept: the next get tries again. */
int cairn_blobcache_get(cairn_blobcache *c, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind,
                        const cairn_cached_blob **out);
void cairn_blobcache_release(cairn_blobcache *c, const cairn_cached_blob *b);
/* Asks a worker to fetch the blob unless it is held or being fetched.
 * Returns at once: 1 if the blob is there, coming or asked for, 0 if the
 * queue of such requests is full (or there are no workers). */
int cairn_blobcache_prefetch(cairn_blobcache *c, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind);
void cairn_blobcache_stats_get(cairn_blobcache *c, cairn_blobcache_stats *out);

#endif

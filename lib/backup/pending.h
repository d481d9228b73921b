/* A pending chunk: read and cut, waiting to be fingerprinted,
 * deduplicated and, if new, sealed into a pack. */
#ifndef CAIRN_BACKUP_PENDING_H
#define CAIRN_BACKUP_PENDING_H

#include "cairn/fingerprint.h"
#include "cairn/seal.h"

#include <stdint.h>

/* What deduplication decided about a pending chunk. */
enum chunk_state {
	CHUNK_UNKNOWN,   /* not asked yet */
	CHUNK_KNOWN,     /* stored already (or a hole): only referenced */
	CHUNK_ASK_INDEX, /* not in this backup's set: the index is asked */
	CHUNK_NEW,       /* to be sealed and stored */
};

/* Data chunks up to this size (small files, and the tails of others) are
 * sealed together in bundles of up to CAIRN_BUNDLE_MAX bytes: zstd alone
 * compresses the kernel tree's files of up to 96 KiB 22 % faster, and
 * 12 % smaller, than one by one (docs/PERFORMANCE.md, the bundles' round). */
#define BUNDLE_CHUNK_MAX (64u << 10)

struct slot;

/* Chunks read but not yet deduplicated, from one or more files: their
 * data stays in the reader's buffer until the window is settled. */
typedef struct cairn_pending {
	uint8_t fp[CAIRN_FP_SIZE];
	const uint8_t *data; /* NULL: a hole */
	uint32_t len;
	enum chunk_state state;
	struct slot *slot; /* the file's entry in the backup's ring */
} cairn_pending;

#endif

/* Blob sealing: compress with zstd (kept only if it shrinks the data),
 * then encrypt with XChaCha20-Poly1305 under a random 192-bit nonce,
 * with the blob's fingerprint and kind as associated data.
 *
 * Sealed layout (encrypted repository):
 *   nonce[24] || AEAD( flag[1] || body ) || tag[16]
 * Sealed layout (--no-encryption repository):
 *   flag[1] || body
 * flag 0: body is the plaintext; flag 1: body is one zstd frame.
 * See docs/FORMAT.md. */
#ifndef CAIRN_SEAL_H
#define CAIRN_SEAL_H

#include "cairn/fingerprint.h"
#include "cairn/buf.h"

#include <stddef.h>
#include <stdint.h>

enum cairn_blob_kind {
	CAIRN_BLOB_DATA = 1,     /* file content chunk */
	CAIRN_BLOB_TREE = 2,     /* manifest stream chunk */
	CAIRN_BLOB_TRAILER = 3,  /* pack trailer */
	CAIRN_BLOB_SNAPSHOT = 4, /* snapshot record */
	CAIRN_BLOB_INDEX = 5,    /* index object */
	CAIRN_BLOB_BUNDLE = 6,   /* small file content chunks back to back */
	CAIRN_BLOB_GC = 7,       /* a record of prune in gc/ */
};

/* A bundle is one blob holding the plaintexts of several data chunks, so
 * that small files are compressed together, not one by one. It is sealed
 * with an all-zero fingerprint and kind CAIRN_BLOB_BUNDLE; each chunk in
 * it has its own entry (kind CAIRN_BLOB_BUNDLE, the bundle's offset and
 * length, its own length and its offset inside the bundle), and a reader
 * checks the chunk it takes out against its fingerprint. Bundles hold at
 * most CAIRN_BUNDLE_MAX bytes in at most CAIRN_BUNDLE_CHUNKS chunks. */
#define CAIRN_BUNDLE_MAX (128u * 1024)
#define CAIRN_BUNDLE_CHUNKS 64

#define CAIRN_SEAL_NONCE 24
#define CAIRN_SEAL_TAG 16
#define CAIRN_SEAL_STORED 0
#define CAIRN_SEAL_ZSTD 1

/* Per-thread context: keeps zstd contexts and the key. */
typedef struct cairn_sealer cairn_sealer;

/* zstd level 1 compresses text about as well as 3 at twice the speed. */
#define CAIRN_SEAL_LEVEL_DEFAULT 1

/* key NULL: no encryption. zstd_level: 1..19, 0 for the default. */
int cairn_sealer_new(cairn_sealer **out, const uint8_t key[32], int zstd_level);
void cairn_sealer_free(cairn_sealer *s); /* NULL is fine */
/* Upper bound of the sealed size of len plaintext bytes. */
size_t cairn_seal_bound(const cairn_sealer *s, size_t len);
/* Appends the sealed form of plain to out. fp may be NULL (all zeros). */
int cairn_seal(cairn_sealer *s, cairn_buf *out, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind,
               const void *plain, size_t len);
/* Authenticates and opens sealed; replaces out's contents with the
 * plaintext. Fails with CAIRN_ECORRUPT (nothing in out) if the bytes were
 * altered, belong to another fingerprint or kind, or the plaintext would
 * exceed max_plain bytes. */
int cairn_unseal(cairn_sealer *s, cairn_buf *out, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind,
                 const void *sealed, size_t len, size_t max_plain);

#endif

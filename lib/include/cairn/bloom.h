/* A blocked Bloom filter of fingerprints: "is this chunk definitely new?"
 *
 * The bits are split into 512-bit blocks, one cache line each. A key picks
 * one block and sets (or tests) CAIRN_BLOOM_HASHES bits inside it, so a
 * query touches one cache line. Sized at CAIRN_BLOOM_BITS_PER_ITEM bits per
 * key it answers "maybe present" for about 0.96% of absent keys when it
 * holds as many keys as it was sized for, and far fewer below that.
 *
 * Keys are 32-byte fingerprints. They are mixed before use, so keys that
 * are not uniformly random still spread over the blocks.
 *
 * Serialised form (all integers little-endian), see docs/SERVER.md:
 *   magic "CBLM" | u8 version (1) | u8 hashes | u16 zero | u64 nblocks
 *   | u64 items | u64 capacity | nblocks * 64 bytes of blocks
 * where block b holds words w[8b .. 8b+7] as u64 each, bit i of the block
 * being bit (i % 64) of w[8b + i / 64].
 *
 * Pure: no I/O. Not locked: callers that share a filter between threads
 * hold a lock around cairn_bloom_add. */
#ifndef CAIRN_BLOOM_H
#define CAIRN_BLOOM_H

#include "cairn/buf.h"

#include <stddef.h>
#include <stdint.h>

#define CAIRN_BLOOM_BITS_PER_ITEM 10
#define CAIRN_BLOOM_HASHES 7
#define CAIRN_BLOOM_BLOCK_BYTES 64
#define CAIRN_BLOOM_HEADER_SIZE 32
#define CAIRN_BLOOM_VERSION 1
/* Largest serialised filter accepted (8 GiB: some 6.8 billion keys). */
#define CAIRN_BLOOM_MAX_BLOCKS ((uint64_t)1 << 27)

typedef struct cairn_bloom cairn_bloom;

/* A filter sized for capacity keys (at least one block). */
int cairn_bloom_new(cairn_bloom **out, uint64_t capacity);
void cairn_bloom_free(cairn_bloom *b); /* NULL is fine */

/* Adds key. Returns 1 if that set at least one bit (the filter changed),
 * 0 if every bit was already set. */
int cairn_bloom_add(cairn_bloom *b, const uint8_t key[32]);
/* Adds n keys (faster than one by one: their blocks are fetched side by
 * side); returns how many changed the filter. */
uint64_t cairn_bloom_add_many(cairn_bloom *b, const uint8_t (*keys)[32], size_t n);
/* 1 if key may have been added, 0 if it certainly was not. */
int cairn_bloom_has(const cairn_bloom *b, const uint8_t key[32]);

/* Adds that changed the filter: the number of distinct keys added, less
 * the few that were false positives when added. */
uint64_t cairn_bloom_items(const cairn_bloom *b);
uint64_t cairn_bloom_capacity(const cairn_bloom *b);
/* Bytes of the serialised form. */
uint64_t cairn_bloom_size(const cairn_bloom *b);

/* Expected false-positive rate of this filter's geometry holding items
 * distinct keys; cairn_bloom_fp_rate(b, cairn_bloom_capacity(b)) is the
 * rate it was designed for. */
double cairn_bloom_fp_rate(const cairn_bloom *b, uint64_t items);

/* Appends the serialised filter to out. */
int cairn_bloom_serialize(const cairn_bloom *b, cairn_buf *out);
/* Parses a serialised filter (untrusted bytes): CAIRN_ECORRUPT with a
 * message for a wrong magic, version, geometry or length. */
int cairn_bloom_parse(cairn_bloom **out, const void *data, size_t len);

#endif

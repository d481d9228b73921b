/* Content-defined chunking with a Rabin fingerprint over a 64-byte window.
 *
 * Pure: bytes in, cut points out; no I/O, no allocation. The polynomial is
 * a random irreducible polynomial of degree 53 over GF(2), chosen per
 * repository at init. A cut is made after byte i when the chunk holds at
 * least min bytes and (digest & mask) == 0, or when it reaches max bytes.
 * The first (min - 64) bytes of every chunk are not hashed at all. */
#ifndef CAIRN_CHUNKER_H
#define CAIRN_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define CAIRN_CHUNKER_WINDOW 64
#define CAIRN_CHUNKER_POLY_DEGREE 53

/* Defaults and bounds of the chunk sizes (bytes). The defaults are chosen
 * by measurement, what an edit adds against index entries per TB
 * (docs/PERFORMANCE.md, "Chunk sizes"). */
#define CAIRN_CHUNK_MIN_DEFAULT (96u * 1024)
#define CAIRN_CHUNK_AVG_DEFAULT (160u * 1024)
#define CAIRN_CHUNK_MAX_DEFAULT (1280u * 1024)
#define CAIRN_CHUNK_SIZE_LOWEST 256u                 /* smallest min allowed */
#define CAIRN_CHUNK_SIZE_HIGHEST (64u * 1024 * 1024) /* largest max allowed */

typedef struct cairn_chunker_params {
	uint64_t poly; /* irreducible, degree 53 */
	uint32_t min;  /* >= CAIRN_CHUNK_SIZE_LOWEST, >= 2 * window */
	uint32_t avg;  /* min < avg < max; mask = 2^k - 1 for the smallest 2^k >= avg - min */
	uint32_t max;  /* <= CAIRN_CHUNK_SIZE_HIGHEST */
} cairn_chunker_params;

typedef struct cairn_chunker {
	cairn_chunker_params params;
	uint64_t mask;
	uint64_t out_table[256]; /* removes the byte leaving the window */
	uint64_t mod_table[256]; /* reduces after shifting a byte in */
	/* for scanning two bytes per step: */
	uint64_t out2_table[256]; /* removes the byte that left one step earlier */
	uint64_t mod2_table[256]; /* reduces the top byte after shifting two bytes in */
	/* state of the current chunk */
	uint64_t digest;
	uint8_t window[CAIRN_CHUNKER_WINDOW];
	unsigned wpos;
	size_t count; /* bytes in the current chunk so far */
} cairn_chunker;

/* Checks params (CAIRN_EINVAL with a message naming the bad value) and
 * builds the tables. Leaves the chunker at the start of a chunk. */
int cairn_chunker_init(cairn_chunker *c, const cairn_chunker_params *params);
/* Starts a new chunk (e.g. at the start of each file). */
void cairn_chunker_reset(cairn_chunker *c);
/* Scans up to len bytes of buf continuing the current chunk. Returns n in
 * 1..len if the current chunk ends after buf[n-1] (the chunker is then
 * reset for the next chunk), or CAIRN_CHUNKER_NO_CUT if all len bytes
 * belong to the current chunk. At end of input the caller ends the last
 * chunk itself. */
#define CAIRN_CHUNKER_NO_CUT ((size_t)-1)
size_t cairn_chunker_scan(cairn_chunker *c, const uint8_t *buf, size_t len);

/* A random irreducible polynomial of degree 53 (libsodium's randombytes). */
uint64_t cairn_chunker_random_poly(void);
/* 1 if poly (degree 53 exactly) is irreducible over GF(2), else 0. */
int cairn_chunker_poly_irreducible(uint64_t poly);
/* Checks params as cairn_chunker_init does, without building tables. */
int cairn_chunker_params_check(const cairn_chunker_params *params);

#endif

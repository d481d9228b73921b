/* The records prune keeps in gc/ (lib/gc/, docs/MAINTENANCE.md has the
 * rule they serve): pure encoding; the caller seals them (kind
 * CAIRN_BLOB_GC) and stores them as gc/<generation: 16 hex>-<type>.
 *
 * Plaintext: u8 version (1) || u8 type || u64le generation || body
 *   plan     varint npacks, npacks * (pack_id[32] || u64le size)
 *            varint nsnapshots, nsnapshots * snapshot_id[32]
 *            varint ntemp, ntemp * (varint len || key)
 *            varint len || a Bloom filter (cairn/bloom.h) of the condemned chunks
 *   running  varint n, n * (varint len || marker key)
 *   done     varint npacks, npacks * pack_id[32]
 *   lost     varint n, n * (fp[32] || pack_id[32])
 * A plan condemns packs: those prune deletes once every backup that was
 * running when the plan was published has ended, unless a snapshot took
 * up one of their condemned chunks meanwhile. "running" lists those
 * backups' markers; "done" the packs that were then deleted. */
#ifndef CAIRN_FORMAT_GCFILE_H
#define CAIRN_FORMAT_GCFILE_H

#include "cairn/bloom.h"
#include "cairn/buf.h"
#include "cairn/fingerprint.h"

#include <stddef.h>
#include <stdint.h>

#define CAIRN_GC_PREFIX "gc/"
#define CAIRN_GC_RECORD_MAX (1u << 30)
/* Keys of markers and temporary objects in records: at most this long. */
#define CAIRN_GC_KEY_MAX 200

enum cairn_gc_type {
	CAIRN_GC_PLAN = 1,
	CAIRN_GC_RUNNING = 2,
	CAIRN_GC_DONE = 3,
	CAIRN_GC_LOST = 4,
};

/* A chunk lost in a pack (lost records). */
typedef struct cairn_gc_lost {
	uint8_t fp[CAIRN_FP_SIZE];
	uint8_t pack[CAIRN_ID_SIZE];
} cairn_gc_lost;

typedef struct cairn_gc_pack {
	uint8_t id[CAIRN_ID_SIZE];
	uint64_t size;
} cairn_gc_pack;

/* One record, decoded; what a type does not carry stays empty. */
typedef struct cairn_gc_record {
	enum cairn_gc_type type;
	uint64_t generation;
	cairn_gc_pack *packs; /* plan: condemned; done: deleted (size 0) */
	size_t n_packs;
	uint8_t (*snapshots)[CAIRN_ID_SIZE]; /* plan: the snapshots its mark read */
	size_t n_snapshots;
	char **keys; /* plan: temporary objects to remove; running: markers */
	size_t n_keys;
	cairn_bloom *condemned; /* plan: the condemned chunks (NULL: none) */
	cairn_gc_lost *lost;    /* lost */
	size_t n_lost;
} cairn_gc_record;

/* Appends the encoding of rec to out. */
int cairn_gc_record_encode(cairn_buf *out, const cairn_gc_record *rec);
/* Decodes untrusted bytes into out (cleared first; the caller clears it
 * after). CAIRN_ECORRUPT with a message on any malformed or trailing byte. */
int cairn_gc_record_decode(cairn_gc_record *out, const void *data, size_t len);
void cairn_gc_record_clear(cairn_gc_record *rec);

/* Sorts lost pairs by fingerprint then pack and drops repeats; the new
 * count. */
size_t cairn_gc_lost_sort(cairn_gc_lost *v, size_t n);
/* The index of the first of sorted pairs whose fingerprint is fp (n if
 * none is: the pairs of fp are v[first, ...) while they match). */
size_t cairn_gc_lost_first(const cairn_gc_lost *v, size_t n, const uint8_t fp[CAIRN_FP_SIZE]);
/* 1 if sorted pairs hold fp lost in pack (pack NULL: in any pack). */
int cairn_gc_lost_has(const cairn_gc_lost *v, size_t n, const uint8_t fp[CAIRN_FP_SIZE],
                      const uint8_t *pack);

/* The store key of a record: gc/<generation, 16 hex>-<plan|running|done|lost>. */
void cairn_gc_record_key(char out[64], uint64_t generation, enum cairn_gc_type type);
/* Parses such a key (after the prefix or with it): 0 and the parts, or
 * -1 for any other name. */
int cairn_gc_record_parse_key(const char *key, uint64_t *generation_out,
                              enum cairn_gc_type *type_out);

#endif

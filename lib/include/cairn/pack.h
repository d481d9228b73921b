/* Packs: many sealed blobs back to back, then a sealed trailer listing
 * them, then the trailer's length. Pack id = SHA-256 of the pack's bytes.
 * Pure encoding and decoding; the caller stores the bytes.
 *
 *   blob_0 || blob_1 || ... || sealed_trailer || u32le(len(sealed_trailer))
 *
 * The trailer's plaintext (kind CAIRN_BLOB_TRAILER, fingerprint all zero):
 *   u8 version (2) || varint count || count * entry
 *   entry = fp[32] || u8 kind || u32le offset || u32le length || u32le raw_length
 *           || u32le inner
 * Version 1, still read, has no inner (0). Blobs are written in a random
 * order (chosen at finish), not the order they were added. Layout
 * constants: lib/format/pack_format.h; bytes: docs/FORMAT.md. */
#ifndef CAIRN_PACK_H
#define CAIRN_PACK_H

#include "cairn/fingerprint.h"
#include "cairn/seal.h"
#include "cairn/sys/index.h"
#include "cairn/buf.h"

#include <stddef.h>
#include <stdint.h>

#define CAIRN_PACK_TARGET_DEFAULT (16u * 1024 * 1024)

typedef struct cairn_pack_entry {
	uint8_t fp[CAIRN_FP_SIZE];
	uint8_t kind;
	uint32_t offset;     /* of the sealed blob in the pack */
	uint32_t length;     /* of the sealed blob */
	uint32_t raw_length; /* of the chunk's plaintext */
	uint32_t inner;      /* kind CAIRN_BLOB_BUNDLE: where the chunk starts in the
	                        bundle's plaintext; else 0 */
} cairn_pack_entry;

/* A sealed blob of a pack being filled: where it starts in the writer
 * (spooled: in the spool, or in data past spool_flushed) and its entries,
 * entries[first, first + count). */
typedef struct cairn_pack_blob {
	uint32_t src;
	uint32_t first;
	uint32_t count;
} cairn_pack_blob;

typedef struct cairn_pack_writer {
	cairn_buf data;            /* sealed blobs in the order added (spooled: those
	                              not yet written to spool_fd) */
	cairn_pack_entry *entries; /* in the order added; offsets final after finish */
	size_t count;
	size_t cap;
	cairn_pack_blob *blobs; /* in the order added */
	size_t n_blobs, cap_blobs;
	cairn_buf tail;   /* after finish: sealed trailer || u32le length */
	cairn_iovec *iov; /* after finish: the pack's bytes, piece by piece */
	size_t n_iov;
	uint64_t size; /* after finish: the pack's size */
	int spooled;   /* blobs go to spool_fd, not data */
	int spool_fd;
	uint64_t spool_len;     /* bytes of blobs, written or not */
	uint64_t spool_flushed; /* bytes written to spool_fd */
	size_t spool_batch;     /* gathered bytes that make a write */
} cairn_pack_writer;

void cairn_pack_writer_init(cairn_pack_writer *w);
void cairn_pack_writer_free(cairn_pack_writer *w);
/* From now on keeps the sealed blobs in an unlinked temporary file in
 * dir rather than in memory: blobs are gathered in memory up to
 * spool_batch bytes (CAIRN_PACK_SPOOL_BATCH; one write for many small
 * ones), and after finish the pieces of iov of blobs written out are
 * pieces of that file. On failure the writer goes on in memory. */
#define CAIRN_PACK_SPOOL_BATCH (256u * 1024)
int cairn_pack_writer_spool(cairn_pack_writer *w, const char *dir);
/* Empties the writer for the next pack, keeping its allocations. */
void cairn_pack_writer_reset(cairn_pack_writer *w);
/* Seals plain (len <= UINT32_MAX) and adds it as a blob. */
int cairn_pack_add(cairn_pack_writer *w, cairn_sealer *s, const uint8_t fp[CAIRN_FP_SIZE],
                   uint8_t kind, const void *plain, size_t len);
/* Seals the n data chunks of plain, lens[i] bytes each in this order
 * (together len bytes, at most CAIRN_BUNDLE_MAX in 2..CAIRN_BUNDLE_CHUNKS
 * chunks), as one bundle blob with an entry for each chunk (fps[i]). */
int cairn_pack_add_bundle(cairn_pack_writer *w, cairn_sealer *s,
                          const uint8_t (*fps)[CAIRN_FP_SIZE], const uint32_t *lens, size_t n,
                          const void *plain, size_t len);
/* Adds a blob sealed already (len bytes, as read from another pack) with
 * its n entries (one, or a bundle's): their offsets and lengths are set
 * here, the rest is kept. A blob's sealing binds its fingerprint and
 * kind, not its place, so it moves from pack to pack unchanged. */
int cairn_pack_add_sealed(cairn_pack_writer *w, const cairn_pack_entry *entries, size_t n,
                          const void *sealed, size_t len);
/* NULL if an entry's fields can locate a chunk (a known kind, a blob of
 * at least a byte that ends before 4 GiB, a chunk of at least a byte,
 * inside its bundle if in one, inner 0 if not); else what is wrong. */
const char *cairn_pack_entry_problem(uint8_t kind, uint32_t offset, uint32_t length,
                                     uint32_t raw_length, uint32_t inner);
/* Bytes of an entry as pack trailers and index objects of this version
 * (1 or 2) lay it out. */
size_t cairn_pack_entry_size(unsigned version);
/* Reads one such entry from r into *e; NULL, or what is wrong with it
 * (cairn_pack_entry_problem's checks, and the kinds the version knew). */
const char *cairn_pack_entry_read(cairn_reader *r, unsigned version, cairn_pack_entry *e);
/* The index entry that locates e's chunk in the pack pack_id. */
void cairn_pack_entry_to_index(const cairn_pack_entry *e, const uint8_t pack_id[CAIRN_ID_SIZE],
                               cairn_index_entry *out);
/* Bytes the pack holds so far (blobs only). */
static inline size_t cairn_pack_size(const cairn_pack_writer *w)
{
	return w->spooled ? (size_t)w->spool_len : w->data.len;
}
/* Shuffles the blobs, seals the trailer and, unless id_out is NULL,
 * computes the pack id (cairn_store_putv_named can do it instead). The
 * blobs are not moved: afterwards w->iov (n_iov pieces, w->size bytes in
 * all) lists the pack's bytes in their final order, pointing into the
 * writer, and w->entries holds the final offsets. Calling it again after a
 * failure is fine. */
int cairn_pack_finish(cairn_pack_writer *w, cairn_sealer *s, uint8_t id_out[CAIRN_ID_SIZE]);
/* After finish: appends the whole pack to out. */
int cairn_pack_copy(const cairn_pack_writer *w, cairn_buf *out);

/* Length of the sealed trailer from the pack's last 4 bytes; CAIRN_ECORRUPT
 * unless 0 < length <= pack_size - 4. */
int cairn_pack_trailer_length(const uint8_t last4[4], uint64_t pack_size, uint32_t *len_out);
/* Opens and parses a sealed trailer of a pack of pack_size bytes. Every
 * entry must lie inside the blob area, blobs must not overlap (the
 * entries of one bundle share theirs), and the count must fit the
 * trailer. *entries_out is the caller's to free. */
int cairn_pack_parse_trailer(cairn_sealer *s, const uint8_t *sealed, size_t len, uint64_t pack_size,
                             cairn_pack_entry **entries_out, size_t *count_out);
/* The same for the trailer at the end of tail: the last len bytes of a
 * pack of pack_size bytes (the whole pack, or a read of its end).
 * CAIRN_ECORRUPT when tail holds no length or less than the trailer. */
int cairn_pack_parse_tail(cairn_sealer *s, const uint8_t *tail, size_t len, uint64_t pack_size,
                          cairn_pack_entry **entries_out, size_t *count_out);

#endif

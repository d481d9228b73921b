/* Index objects (index/<id> in the store): the locations of the blobs of
 * one or more packs, so that any index can be rebuilt from the store.
 * Pure encoding; the caller seals (kind CAIRN_BLOB_INDEX) and stores.
 *
 * Plaintext: u8 version (2) || varint npacks || npacks * pack
 *   pack  = pack_id[32] || varint nblobs || nblobs * blob
 *   blob  = fp[32] || u8 kind || u32le offset || u32le length || u32le raw_length
 *           || u32le inner
 * Version 1, still read, has no inner (0). */
#ifndef CAIRN_INDEXFILE_H
#define CAIRN_INDEXFILE_H

#include "cairn/sys/index.h"
#include "cairn/buf.h"

/* Appends the encoding of entries (any order; grouped by pack on output). */
int cairn_indexfile_encode(cairn_buf *out, const cairn_index_entry *entries, size_t count);
/* Decodes; *entries_out is the caller's to free. CAIRN_ECORRUPT on any
 * malformed or trailing byte. */
int cairn_indexfile_decode(const void *data, size_t len, cairn_index_entry **entries_out,
                           size_t *count_out);

#endif

/* Pack layout constants (see cairn/pack.h and docs/FORMAT.md).
 *
 *   pack    = blob* || sealed_trailer || u32le trailer_length
 *   trailer = u8 version || varint count || count * entry   (plaintext)
 *   entry   = fp[32] || u8 kind || u32le offset || u32le length || u32le raw_length
 *             || u32le inner                                  (version 2)
 *
 * Version 1 entries have no inner field (it is 0). The trailer is sealed
 * with kind CAIRN_BLOB_TRAILER and an all-zero fingerprint. Entries are
 * listed in the order of their offsets, those of a bundle in the order
 * of their inner offsets. */
#ifndef CAIRN_PACK_FORMAT_H
#define CAIRN_PACK_FORMAT_H

#define CAIRN_PACK_VERSION 2
/* Bytes of the u32le trailer length at the very end of a pack. */
#define CAIRN_PACK_TAIL_SIZE 4
/* fp[32] + kind + offset + length + raw_length + inner */
#define CAIRN_PACK_ENTRY_SIZE (32 + 1 + 4 + 4 + 4 + 4)
/* the same without inner, in version 1 */
#define CAIRN_PACK_ENTRY_SIZE_V1 (32 + 1 + 4 + 4 + 4)
/* version byte plus the longest varint count */
#define CAIRN_PACK_TRAILER_HEADER_MAX (1 + 10)
/* Blob kinds a pack may list: CAIRN_BLOB_DATA .. CAIRN_BLOB_BUNDLE
 * (version 1: .. CAIRN_BLOB_INDEX). */
#define CAIRN_PACK_KIND_MIN 1
#define CAIRN_PACK_KIND_MAX 6
#define CAIRN_PACK_KIND_MAX_V1 5

#endif

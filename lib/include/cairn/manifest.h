/* The manifest: a snapshot's file tree as a byte stream of entries in path
 * order (byte by byte, '/' before every other byte: cairn_path_cmp in
 * util/path.h). The stream is chunked and stored as blobs of kind
 * CAIRN_BLOB_TREE, so an unchanged part of a tree costs nothing in the
 * next snapshot. Pure encoding and decoding; layout in
 * lib/format/manifest_format.h and docs/FORMAT.md.
 *
 * Stream = magic "CAIRNMF" || u8 version (2; 1 still read) || record*
 * record = varint body_length || body   (body_length <= CAIRN_MANIFEST_RECORD_MAX) */
#ifndef CAIRN_MANIFEST_H
#define CAIRN_MANIFEST_H

#include "cairn/fingerprint.h"
#include "cairn/buf.h"

#include <stddef.h>
#include <stdint.h>

#define CAIRN_MANIFEST_RECORD_MAX (256u * 1024 * 1024)
#define CAIRN_MANIFEST_PATH_MAX 65536u
#define CAIRN_MANIFEST_XATTR_NAME_MAX 255u
#define CAIRN_MANIFEST_XATTR_VALUE_MAX 65536u
/* One entry's xattrs: how many, and their names' and values' bytes in
 * all, so that no record, however written, holds more in memory. */
#define CAIRN_MANIFEST_XATTR_COUNT_MAX 1024u
#define CAIRN_MANIFEST_XATTR_TOTAL_MAX (1024u * 1024)

enum cairn_entry_type {
	CAIRN_ENTRY_FILE = 1,
	CAIRN_ENTRY_DIR = 2,
	CAIRN_ENTRY_SYMLINK = 3,
	CAIRN_ENTRY_HARDLINK = 4, /* link_target = path of the entry it links to */
	CAIRN_ENTRY_FIFO = 5,
	CAIRN_ENTRY_CHARDEV = 6,
	CAIRN_ENTRY_BLOCKDEV = 7,
	CAIRN_ENTRY_SOCKET = 8,
};

/* A piece of a file's content. A fingerprint of all zero bytes is a hole:
 * length zero bytes, stored nowhere. */
typedef struct cairn_chunk_ref {
	uint8_t fp[CAIRN_FP_SIZE];
	uint32_t length;
} cairn_chunk_ref;

typedef struct cairn_xattr {
	char *name; /* NUL-terminated */
	uint8_t *value;
	size_t value_len;
} cairn_xattr;

typedef struct cairn_entry {
	uint8_t type;
	char *path;    /* absolute, no trailing '/', NUL-terminated; any bytes but NUL */
	uint32_t mode; /* st_mode & 07777 */
	uint32_t uid, gid;
	int64_t mtime_ns, ctime_ns;
	uint64_t size;
	uint64_t dev, ino; /* of the source file, for the files cache */
	uint64_t rdev;     /* device numbers */
	char *link_target; /* symlink target, or hardlink's first path; else NULL */
	cairn_xattr *xattrs;
	size_t n_xattrs;
	cairn_chunk_ref *chunks; /* file content in order; sum of lengths = size */
	size_t n_chunks;
	uint32_t flags; /* chattr flags (FILE and DIR), the bits manifest_format.h keeps */
	/* Decoded from a version 1 stream, which kept only user.* xattrs and
	 * no flags: what it says of them is not the whole story. */
	uint8_t attrs_partial;
} cairn_entry;

/* Frees everything the entry owns and zeroes it. */
void cairn_entry_clear(cairn_entry *e);

/* Appends the stream header (magic and version). */
int cairn_manifest_begin(cairn_buf *out);
/* Appends one record. CAIRN_EINVAL if the entry is not representable. */
int cairn_manifest_encode(cairn_buf *out, const cairn_entry *e);

/* Streaming decoder: feed it the stream in pieces of any size, take
 * entries out as they complete. Memory is bounded by the largest record. */
typedef struct cairn_manifest_decoder {
	cairn_buf pending;
	size_t start; /* of unconsumed bytes in pending */
	int header_done;
	uint8_t version; /* the stream's, once its header is read */
} cairn_manifest_decoder;

void cairn_manifest_decoder_init(cairn_manifest_decoder *d);
void cairn_manifest_decoder_free(cairn_manifest_decoder *d);
int cairn_manifest_feed(cairn_manifest_decoder *d, const void *data, size_t len);
/* 1 and *out filled (the caller clears it), 0 if more bytes are needed,
 * or CAIRN_ECORRUPT. */
int cairn_manifest_next(cairn_manifest_decoder *d, cairn_entry *out);
/* CAIRN_ECORRUPT if bytes are left over (a truncated record) at the end. */
int cairn_manifest_finish(cairn_manifest_decoder *d);

#endif

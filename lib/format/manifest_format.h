/* Manifest stream layout (see cairn/manifest.h and docs/FORMAT.md).
 *
 *   stream = "CAIRNMF" || u8 version || record*
 *   record = varint body_length || body
 *   body   = u8 type
 *            bytes path              absolute, 1..CAIRN_MANIFEST_PATH_MAX, no NUL
 *            varint mode             st_mode & 07777
 *            varint uid, varint gid  each <= UINT32_MAX
 *            svarint mtime_ns, svarint ctime_ns
 *            varint size
 *            varint dev, varint ino, varint rdev
 *            bytes link_target       empty = none; required for symlinks and hardlinks
 *            varint n_xattrs, then n_xattrs * (bytes name, bytes value)
 *            varint n_chunks, then n_chunks * (fp[32], varint length)
 *   bytes  = varint length || that many bytes
 *
 * A record is exactly its body: bytes left over inside it are an error. */
#ifndef CAIRN_MANIFEST_FORMAT_H
#define CAIRN_MANIFEST_FORMAT_H

#define CAIRN_MANIFEST_MAGIC "CAIRNMF"
#define CAIRN_MANIFEST_MAGIC_SIZE 7
#define CAIRN_MANIFEST_VERSION 1
#define CAIRN_MANIFEST_HEADER_SIZE (CAIRN_MANIFEST_MAGIC_SIZE + 1)

/* Longest varint: 64 bits in 7-bit groups. */
#define CAIRN_MANIFEST_VARINT_MAX 10

#define CAIRN_MANIFEST_MODE_MASK 07777u
/* Symlink targets and hardlink paths share the path limit. */
#define CAIRN_MANIFEST_LINK_MAX CAIRN_MANIFEST_PATH_MAX

/* Smallest encodings, used to check a count against the bytes left before
 * anything is allocated for it: an xattr is a name of at least one byte
 * and a value length; a chunk is a fingerprint and a length. */
#define CAIRN_MANIFEST_XATTR_MIN (1 + 1 + 1)
#define CAIRN_MANIFEST_CHUNK_MIN (32 + 1)

#endif

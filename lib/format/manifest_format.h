/* Manifest stream layout (see cairn/manifest.h and docs/FORMAT.md).
 *
 *   stream = "CAIRNMF" || u8 version (2; 1 still read) || record*
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
 *            varint flags            version 2 only; FILE and DIR only, else 0
 *            varint n_chunks, then n_chunks * (fp[32], varint length)
 *   bytes  = varint length || that many bytes
 *
 * A record is exactly its body: bytes left over inside it are an error.
 * A version 1 stream has no flags field: its entries have flags 0 and
 * kept only user.* xattrs (attrs_partial). */
#ifndef CAIRN_MANIFEST_FORMAT_H
#define CAIRN_MANIFEST_FORMAT_H

#define CAIRN_MANIFEST_MAGIC "CAIRNMF"
#define CAIRN_MANIFEST_MAGIC_SIZE 7
#define CAIRN_MANIFEST_VERSION 2
/* The oldest version still read: no flags field. */
#define CAIRN_MANIFEST_VERSION_V1 1
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

/* File flags (chattr), by the bits Linux's FS_IOC_GETFLAGS gives them.
 * Only those a user sets and a restore can set again are kept; others
 * (e: extents, I: hashed directory, E, N, V: set by the file system
 * itself; C and F, which only take on an empty file or directory; x) are
 * not stored, and a reader refuses a record with any bit outside
 * CAIRN_MANIFEST_FLAGS_MASK. */
#define CAIRN_MANIFEST_FLAG_SECRM 0x00000001u        /* s */
#define CAIRN_MANIFEST_FLAG_UNRM 0x00000002u         /* u */
#define CAIRN_MANIFEST_FLAG_COMPR 0x00000004u        /* c */
#define CAIRN_MANIFEST_FLAG_SYNC 0x00000008u         /* S */
#define CAIRN_MANIFEST_FLAG_IMMUTABLE 0x00000010u    /* i */
#define CAIRN_MANIFEST_FLAG_APPEND 0x00000020u       /* a */
#define CAIRN_MANIFEST_FLAG_NODUMP 0x00000040u       /* d */
#define CAIRN_MANIFEST_FLAG_NOATIME 0x00000080u      /* A */
#define CAIRN_MANIFEST_FLAG_NOCOMP 0x00000400u       /* m */
#define CAIRN_MANIFEST_FLAG_JOURNAL_DATA 0x00004000u /* j */
#define CAIRN_MANIFEST_FLAG_NOTAIL 0x00008000u       /* t */
#define CAIRN_MANIFEST_FLAG_DIRSYNC 0x00010000u      /* D */
#define CAIRN_MANIFEST_FLAG_TOPDIR 0x00020000u       /* T */
#define CAIRN_MANIFEST_FLAG_PROJINHERIT 0x20000000u  /* P */
#define CAIRN_MANIFEST_FLAGS_MASK 0x2003c4ffu

#endif

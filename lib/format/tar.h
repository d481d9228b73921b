/* POSIX tar (pax interchange format) headers, for `cairn dump` of a
 * directory. Pure: formats into a buffer, does no I/O.
 *
 * Each member is a ustar header block (512 bytes), preceded by a pax
 * extended header ('x') when a field does not fit ustar: a name longer
 * than ustar's prefix and name fields allow, a link target over 100
 * bytes, a name that is not ASCII (its bytes are kept as they are, a
 * newline included: pax records are length-prefixed; GNU tar and
 * Python's tarfile take a name that is not UTF-8 back byte for byte, and
 * GNU tar warns of every "hdrcharset" record, so none is written), a size of 8 GiB or more, ids
 * over 2097151, a time before 1970, after 2242 or with nanoseconds, extended attributes
 * ("SCHILY.xattr.NAME"). The data of a member follows its header, padded
 * with zeros to a multiple of 512 bytes; two zero blocks end the
 * archive. */
#ifndef CAIRN_FORMAT_TAR_H
#define CAIRN_FORMAT_TAR_H

#include "cairn/buf.h"
#include "cairn/manifest.h"

#include <stddef.h>
#include <stdint.h>

#define CAIRN_TAR_BLOCK 512

enum cairn_tar_type {
	CAIRN_TAR_FILE = '0',
	CAIRN_TAR_HARDLINK = '1',
	CAIRN_TAR_SYMLINK = '2',
	CAIRN_TAR_CHARDEV = '3',
	CAIRN_TAR_BLOCKDEV = '4',
	CAIRN_TAR_DIR = '5',
	CAIRN_TAR_FIFO = '6',
};

typedef struct cairn_tar_member {
	enum cairn_tar_type type;
	const char *name;     /* relative, no trailing '/' (a directory gets one) */
	const char *linkname; /* symlink target, or a hard link's member name; else NULL */
	uint32_t mode;        /* permission bits and setuid, setgid, sticky */
	uint32_t uid, gid;
	uint64_t size; /* of the data that follows: regular files only */
	int64_t mtime_ns;
	uint32_t devmajor, devminor;
	const cairn_xattr *xattrs;
	size_t n_xattrs;
} cairn_tar_member;

/* Appends m's header blocks (a pax extended header first if needed) to
 * out. CAIRN_EINVAL for an empty name or a name holding a NUL-free but
 * empty component list; CAIRN_ENOMEM. */
int cairn_tar_header(cairn_buf *out, const cairn_tar_member *m);
/* How many zero bytes follow size bytes of data to end its last block. */
size_t cairn_tar_padding(uint64_t size);
/* Appends the end of the archive: two zero blocks. */
int cairn_tar_end(cairn_buf *out);
/* The member type of a manifest entry's type, or 0 for one tar cannot
 * hold (a socket). */
enum cairn_tar_type cairn_tar_type_of(uint8_t entry_type);

#endif

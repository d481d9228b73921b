/* `cairn dump`: one entry of a snapshot written out: a regular file's
 * bytes, or a directory (or any other entry) and all below it as a POSIX
 * tar stream in pax format, members named by their paths without the
 * leading '/'. Contents are read a window at a time through the blob
 * reader, never a whole file in memory. */
#ifndef CAIRN_DUMP_H
#define CAIRN_DUMP_H

#include "cairn/progress.h"
#include "cairn/repo.h"
#include "cairn/snapshot.h"

#include <stddef.h>
#include <stdint.h>

/* Takes len bytes of output: 0, or an error (with a message) that stops
 * the dump. */
typedef int (*cairn_write_fn)(void *ud, const void *data, size_t len);

typedef struct cairn_dump_opts {
	cairn_write_fn write;
	void *write_ud;
	/* Told each file with bytes that could not be read (they are written
	 * as zeros, so a tar stream stays whole) and each entry tar cannot
	 * hold (a socket, left out): its path and why. NULL: not told. */
	cairn_warn_cb warn;
	void *warn_ud;
} cairn_dump_opts;

typedef struct cairn_dump_result {
	uint8_t type; /* PATH's entry; CAIRN_ENTRY_FILE (or a hard link to one): bytes, else tar */
	uint64_t members; /* tar members written */
	uint64_t bytes;   /* file content written */
	uint64_t damaged; /* files with bytes that could not be read */
	uint64_t skipped; /* entries left out of the tar stream */
} cairn_dump_result;

/* Writes the entry at path (absolute; "/" is the whole snapshot) of snap.
 * 0 once it is written, damaged files included (out->damaged counts
 * them); CAIRN_ENOTFOUND, naming path, if the snapshot has no such
 * entry; a tree reader's or the write's error. */
int cairn_dump(cairn_repo *r, const cairn_snapshot *snap, const char *path,
               const cairn_dump_opts *o, cairn_dump_result *out);

#endif

/* Browsing a repository's snapshots as a read-only file tree (what
 * `cairn mount` shows):
 *
 *   /ids/<snapshot id>/<the snapshot's absolute paths>
 *   /snapshots/<time>/...        the same, named by time (UTC, "-1"... when
 *                                two share a second)
 *   /hosts/<host>/<time>/...     the same, by host
 *   /latest                      a symlink to ids/<newest snapshot's id>
 *
 * Paths are given as FUSE gives them (absolute, "/" the top). Nothing
 * of a snapshot is read before it is first looked into; then one pass
 * over its manifest records where each directory is (memory: about the
 * length of the directories' paths), and each directory is read from its
 * place in the manifest when it is listed. Listings and blobs are cached
 * within bounds. Inode numbers are stable while the view lives; the
 * entries of a hardlink group share one and count their links.
 *
 * Every call is safe from several threads. Errors: CAIRN_ENOTFOUND for
 * a path that is not there, CAIRN_EINVAL for a path through something
 * that is no directory, CAIRN_ECORRUPT (and CAIRN_ENOTFOUND, CAIRN_EIO)
 * for damaged or missing data, with a message naming it. */
#ifndef CAIRN_BROWSE_H
#define CAIRN_BROWSE_H

#include "cairn/repo.h"
#include "cairn/select.h"
#include "cairn/snapshot.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_browse cairn_browse;
typedef struct cairn_browse_file cairn_browse_file;

#define CAIRN_BROWSE_CACHE_DEFAULT (64u << 20)
#define CAIRN_BROWSE_READAHEAD_DEFAULT (16u << 20)

typedef struct cairn_browse_opts {
	size_t cache_bytes;     /* unsealed blobs kept (0: CAIRN_BROWSE_CACHE_DEFAULT) */
	size_t readahead_bytes; /* fetched ahead of sequential reads (0: the default;
	                           at most a quarter of the cache) */
	unsigned threads;       /* fetching ahead (0: one per CPU, at least 2) */
	const cairn_snapshot_filter *filter; /* which snapshots (NULL: all) */
	cairn_snapshot_skips *skips;         /* records that cannot be read (NULL: silent) */
	uint32_t uid, gid;                   /* owner of the view's own directories */
} cairn_browse_opts;

/* What stat says of a path. type is an enum cairn_entry_type (never
 * CAIRN_ENTRY_HARDLINK: a hardlink is its target's inode). */
typedef struct cairn_browse_attr {
	uint64_t ino;
	uint8_t type;
	uint32_t mode; /* permission bits, st_mode & 07777 */
	uint32_t uid, gid, nlink;
	int64_t mtime_ns, ctime_ns;
	uint64_t size, rdev;
} cairn_browse_attr;

/* Lists the repository's snapshots (those the filter passes). r stays the
 * caller's and must outlive the view. */
int cairn_browse_open(cairn_browse **out, cairn_repo *r, const cairn_browse_opts *opts);
void cairn_browse_free(cairn_browse *b); /* NULL is fine; no file may be open */
/* How many snapshots the view shows. */
size_t cairn_browse_count(const cairn_browse *b);

int cairn_browse_stat(cairn_browse *b, const char *path, cairn_browse_attr *out);
/* Called for each entry of a directory ("." and ".." first) with the
 * position of the next one; nonzero stops the listing. */
typedef int (*cairn_browse_fill_fn)(void *ud, const char *name, const cairn_browse_attr *a,
                                    uint64_t next);
/* Lists directory path from position from (0: the start). */
int cairn_browse_list(cairn_browse *b, const char *path, uint64_t from, cairn_browse_fill_fn fill,
                      void *ud);
/* The target of symlink path (*out the caller's). */
int cairn_browse_readlink(cairn_browse *b, const char *path, char **out);
/* The extended attributes of path (*out, *n_out the caller's: free each
 * with its name and value, or through a cairn_entry). */
int cairn_browse_xattrs(cairn_browse *b, const char *path, cairn_xattr **out, size_t *n_out);

/* Opens regular file path for reading. */
int cairn_browse_file_open(cairn_browse *b, const char *path, cairn_browse_file **out);
/* Reads up to n bytes at off into buf: how many (0 at or past the end),
 * or a negative code with a message naming the damaged or missing data. */
int64_t cairn_browse_file_read(cairn_browse_file *f, void *buf, size_t n, uint64_t off);
void cairn_browse_file_close(cairn_browse_file *f); /* NULL is fine */

#endif

/* Whole reads and writes at an offset, through short transfers and
 * interrupted calls. */
#ifndef CAIRN_UTIL_FILEIO_H
#define CAIRN_UTIL_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes all n bytes at off: 0, or -1 with errno. */
int cairn_pwrite_all(int fd, const void *p, size_t n, uint64_t off);
/* Reads n bytes at off, fewer at the end of the file: the count, or -1
 * with errno. */
ssize_t cairn_pread_all(int fd, void *p, size_t n, uint64_t off);

#endif

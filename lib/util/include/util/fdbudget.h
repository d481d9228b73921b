/* What the process may still open: the one budget of file descriptors
 * that the backup's readers and the restore's writers size their batches
 * by. */
#ifndef CAIRN_UTIL_FDBUDGET_H
#define CAIRN_UTIL_FDBUDGET_H

#include <stdint.h>

/* Descriptors left for what an engine does not count itself: the walk's
 * directories, the store, the index and the caller. */
#define CAIRN_FD_MARGIN 128

/* The descriptors the process has open (from /proc/self/fd), or -1. */
long cairn_open_fd_count(void);
/* The limit on open descriptors (RLIMIT_NOFILE's soft limit; 1024 if it
 * cannot be read, 1 << 20 if there is none). */
uint64_t cairn_open_fd_limit(void);
/* How many more descriptors may be opened, keeping CAIRN_FD_MARGIN and
 * `reserve` more free: the limit less those open now (64 if that cannot
 * be read), the margin and the reserve; 0 when nothing is left. */
uint64_t cairn_fd_spare(uint64_t reserve);

#endif

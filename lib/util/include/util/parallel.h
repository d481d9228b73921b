/* Running independent pieces of work side by side: steps that wait on
 * the disk one file at a time (opening and closing index shards), where
 * several threads overlap the waits, and work on separate shards that
 * several cores can share (registering a batch). */
#ifndef CAIRN_UTIL_PARALLEL_H
#define CAIRN_UTIL_PARALLEL_H

#include <stddef.h>

/* Calls fn(ud, i) once for every i in [0, n), on up to `threads` threads,
 * the caller's among them; fewer if threads cannot be started. Every call
 * is made, also after a failure. Returns 0, or the code of the lowest i
 * that failed, with that call's error message as the caller's. */
int cairn_parallel_for(size_t n, unsigned threads, int (*fn)(void *ud, size_t i), void *ud);

#endif

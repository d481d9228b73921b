/* Clocks read in nanoseconds. */
#ifndef CAIRN_UTIL_TIME_H
#define CAIRN_UTIL_TIME_H

#include <stdint.h>
#include <time.h>

/* clock_gettime(clock) in nanoseconds: CLOCK_MONOTONIC for durations,
 * CLOCK_REALTIME for timestamps. */
int64_t cairn_now_ns(clockid_t clock);

#endif

/* Hold points: places where an end-to-end test can stop a process to
 * force an interleaving with another (a backup between reading its
 * parent and writing its snapshot while a prune runs, a prune between
 * publishing its plan and carrying it out), or kill it at a known step
 * (a backup that has committed a pack and not written its snapshot).
 * With CAIRN_TEST_HOLD set to "NAME:PATH" (several such, separated by
 * commas), the thread that reaches the point NAME creates PATH.reached
 * and waits until PATH exists. Without it, nothing happens. */
#ifndef CAIRN_UTIL_HOLD_H
#define CAIRN_UTIL_HOLD_H

void cairn_hold(const char *point);

#endif

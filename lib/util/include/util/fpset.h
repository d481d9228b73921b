/* A sorted set of 32-byte keys (fingerprints, ids) built in pieces: keys
 * are appended to an array that is sorted and rid of repeats whenever it
 * is full, and grown only when that leaves it more than three quarters
 * full. It holds 32 bytes per distinct key once finished, and at most
 * about three times that while it is built. (Not the backup's hash set,
 * which answers while it grows.) */
#ifndef CAIRN_UTIL_FPSET_H
#define CAIRN_UTIL_FPSET_H

#include <stddef.h>
#include <stdint.h>

#define CAIRN_FPSET_KEY 32

typedef struct cairn_sorted_fps {
	uint8_t (*fps)[CAIRN_FPSET_KEY];
	size_t n, cap;
	size_t sorted; /* fps[0, sorted) are sorted and distinct */
} cairn_sorted_fps;

/* Adds n keys. 0 or CAIRN_ENOMEM. */
int cairn_sorted_fps_add(cairn_sorted_fps *s, const uint8_t (*fps)[CAIRN_FPSET_KEY], size_t n);
/* Sorts and drops repeats; afterwards fps[0, n) are the distinct keys in
 * memcmp order and cairn_sorted_fps_has answers. */
void cairn_sorted_fps_finish(cairn_sorted_fps *s);
int cairn_sorted_fps_has(const cairn_sorted_fps *s, const uint8_t fp[CAIRN_FPSET_KEY]);
void cairn_sorted_fps_free(cairn_sorted_fps *s);
/* memcmp of two 32-byte keys, for qsort and bsearch. */
int cairn_fp_cmp(const void *a, const void *b);

#endif

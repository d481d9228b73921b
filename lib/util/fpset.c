/* A sorted set of 32-byte keys built in pieces (util/fpset.h): the
 * chunks the manifests reference, snapshot after snapshot, for check and
 * stats. */
#include "util/fpset.h"

#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

int cairn_fp_cmp(const void *a, const void *b)
{
	return memcmp(a, b, CAIRN_FPSET_KEY);
}

static void compact(cairn_sorted_fps *s)
{
	size_t n = 0;
	if (s->sorted == s->n)
		return;
	qsort(s->fps, s->n, sizeof(*s->fps), cairn_fp_cmp);
	for (size_t i = 0; i < s->n; i++)
		if (n == 0 || memcmp(s->fps[n - 1], s->fps[i], CAIRN_FPSET_KEY) != 0)
			memmove(s->fps[n++], s->fps[i], CAIRN_FPSET_KEY);
	s->n = s->sorted = n;
}

int cairn_sorted_fps_add(cairn_sorted_fps *s, const uint8_t (*fps)[CAIRN_FPSET_KEY], size_t n)
{
	while (n > 0) {
		if (s->n == s->cap) {
			compact(s);
			if (s->n >= s->cap / 4 * 3) {
				int rc = cairn_array_grow((void **)&s->fps, &s->cap, s->cap + 1,
				                          sizeof(*s->fps));
				if (rc)
					return rc;
			}
		}
		size_t k = s->cap - s->n < n ? s->cap - s->n : n;
		memcpy(s->fps[s->n], fps, k * sizeof(*fps));
		s->n += k;
		fps += k;
		n -= k;
	}
	return 0;
}

void cairn_sorted_fps_finish(cairn_sorted_fps *s)
{
	compact(s);
	if (s->n && s->n < s->cap) {
		void *p = realloc(s->fps, s->n * sizeof(*s->fps));
		if (p) {
			s->fps = p;
			s->cap = s->n;
		}
	}
}

int cairn_sorted_fps_has(const cairn_sorted_fps *s, const uint8_t fp[CAIRN_FPSET_KEY])
{
	return s->sorted && bsearch(fp, s->fps, s->sorted, sizeof(*s->fps), cairn_fp_cmp) != NULL;
}

void cairn_sorted_fps_free(cairn_sorted_fps *s)
{
	free(s->fps);
	memset(s, 0, sizeof(*s));
}

/* A set of fingerprints built in pieces (the chunks the manifests
 * reference, snapshot after snapshot): appended to an array that is
 * sorted and rid of repeats whenever it is full, and grown only when that
 * leaves it more than three quarters full. So it holds 32 bytes per
 * distinct fingerprint once finished, and at most about three times that
 * while it is built. */
#include "check/check_internal.h"

#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

int check_fp_cmp(const void *a, const void *b)
{
	return memcmp(a, b, CAIRN_FP_SIZE);
}

static void compact(check_fpset *s)
{
	size_t n = 0;
	if (s->sorted == s->n)
		return;
	qsort(s->fps, s->n, sizeof(*s->fps), check_fp_cmp);
	for (size_t i = 0; i < s->n; i++)
		if (n == 0 || memcmp(s->fps[n - 1], s->fps[i], CAIRN_FP_SIZE) != 0)
			memmove(s->fps[n++], s->fps[i], CAIRN_FP_SIZE);
	s->n = s->sorted = n;
}

int check_fpset_add(check_fpset *s, const uint8_t (*fps)[CAIRN_FP_SIZE], size_t n)
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

void check_fpset_finish(check_fpset *s)
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

int check_fpset_has(const check_fpset *s, const uint8_t fp[CAIRN_FP_SIZE])
{
	return s->sorted && bsearch(fp, s->fps, s->sorted, sizeof(*s->fps), check_fp_cmp) != NULL;
}

void check_fpset_free(check_fpset *s)
{
	free(s->fps);
	memset(s, 0, sizeof(*s));
}

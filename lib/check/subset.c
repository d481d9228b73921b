/* --read-data-subset: which packs a check reads. "N/M" is a fixed
 * partition of the packs by id, so that M runs with N = 1..M read each
 * pack once; "P%" is a random choice of that share. */
#include "check/check_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static int subset_invalid(const char *s)
{
	return cairn_error_set(CAIRN_EINVAL,
	                       "--read-data-subset takes N/M (1 <= N <= M) or P%% (0 < P <= 100), "
	                       "not \"%s\"",
	                       s);
}

/* Decimal digits only, into *out; NULL if there are none or too many.
 * Returns where they end. */
static const char *digits(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return NULL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return p == s ? NULL : p;
}

/* "12", "2.5": a number of digits with an optional fraction. */
static const char *decimal(const char *s, double *out)
{
	uint64_t whole, frac = 0;
	double scale = 1;
	const char *p = digits(s, &whole);
	if (!p)
		return NULL;
	if (*p == '.') {
		const char *q = p + 1;
		for (; *q >= '0' && *q <= '9' && q - p <= 15; q++) {
			frac = frac * 10 + (uint64_t)(*q - '0');
			scale *= 10;
		}
		if (q == p + 1 || (*q >= '0' && *q <= '9'))
			return NULL;
		p = q;
	}
	*out = (double)whole + (double)frac / scale;
	return p;
}

int cairn_check_subset_parse(cairn_check_subset *out, const char *s)
{
	const char *p;
	memset(out, 0, sizeof(*out));
	if (strchr(s, '/')) {
		uint64_t part, parts;
		if (!(p = digits(s, &part)) || *p != '/' || !(p = digits(p + 1, &parts)) || *p ||
		    part < 1 || part > parts)
			return subset_invalid(s);
		out->read = CAIRN_CHECK_READ_PART;
		out->part = part;
		out->parts = parts;
		return 0;
	}
	double percent;
	if (!(p = decimal(s, &percent)) || strcmp(p, "%") != 0 || !(percent > 0) || percent > 100)
		return subset_invalid(s);
	out->read = CAIRN_CHECK_READ_PERCENT;
	out->percent = percent;
	return 0;
}

int cairn_check_subset_in_part(uint64_t part, uint64_t parts, const uint8_t pack[CAIRN_ID_SIZE])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | pack[i];
	return parts > 0 && v % parts == part - 1;
}

size_t cairn_check_subset_count(double percent, size_t n)
{
	if (n == 0 || !(percent > 0))
		return 0;
	double x = (double)n * percent / 100;
	size_t k = (size_t)x;
	/* Rounded up, but not over what the double's last bits make up. */
	if (x - (double)k > 1e-9)
		k++;
	if (k < 1)
		k = 1;
	return k > n ? n : k;
}

static uint32_t sodium_random(void *ud, uint32_t bound)
{
	(void)ud;
	return randombytes_uniform(bound);
}

void cairn_check_subset_choose(const cairn_check_subset *s, const uint8_t (*ids)[CAIRN_ID_SIZE],
                               size_t n, uint8_t *chosen,
                               uint32_t (*random)(void *ud, uint32_t bound), void *ud)
{
	size_t want = 0;
	if (s->read == CAIRN_CHECK_READ_PERCENT)
		want = cairn_check_subset_count(s->percent, n);
	if (!random)
		random = sodium_random;
	for (size_t i = 0; i < n; i++) {
		switch (s->read) {
		case CAIRN_CHECK_READ_ALL:
			chosen[i] = 1;
			break;
		case CAIRN_CHECK_READ_PART:
			chosen[i] = (uint8_t)cairn_check_subset_in_part(s->part, s->parts, ids[i]);
			break;
		case CAIRN_CHECK_READ_PERCENT: {
			/* Selection sampling (Knuth's algorithm S): each of the
			 * n packs is as likely to be chosen, and exactly `want` are. */
			size_t left = n - i;
			uint32_t bound = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
			chosen[i] = want > 0 && random(ud, bound) < want;
			if (chosen[i])
				want--;
			break;
		}
		default:
			chosen[i] = 0;
		}
	}
}

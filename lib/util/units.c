/* Numbers and sizes as users write them (util/units.h). */
#include "util/units.h"

#include "cairn/errors.h"

static int parse_digits(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return CAIRN_EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return CAIRN_EINVAL;
		v = v * 10 + d;
	}
	*end = p;
	*out = v;
	return 0;
}

int cairn_uint_parse(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v;
	if (parse_digits(s, &end, &v) || *end)
		return CAIRN_EINVAL;
	*out = v;
	return 0;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int cairn_size_parse(const char *s, uint64_t *out)
{
	const char *p;
	uint64_t v;
	unsigned shift = 0;
	if (parse_digits(s, &p, &v))
		return CAIRN_EINVAL;
	switch (lower(*p)) {
	case 'k':
		shift = 10;
		break;
	case 'm':
		shift = 20;
		break;
	case 'g':
		shift = 30;
		break;
	case 't':
		shift = 40;
		break;
	}
	if (shift) {
		p++;
		if (lower(p[0]) == 'i' && lower(p[1]) == 'b')
			p += 2;
		else if (lower(p[0]) == 'b')
			p++;
	} else if (lower(*p) == 'b') {
		p++;
	}
	if (*p)
		return CAIRN_EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return CAIRN_EINVAL;
	*out = v << shift;
	return 0;
}

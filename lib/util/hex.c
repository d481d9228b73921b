#include "util/hex.h"

#include "cairn/errors.h"

#include <string.h>

void cairn_hex_encode(char *out, const void *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

int cairn_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int cairn_hex_decode(uint8_t *out, size_t len, const char *s)
{
	if (strlen(s) != 2 * len)
		return cairn_error_set(CAIRN_EINVAL, "expected %zu hex digits", 2 * len);
	for (size_t i = 0; i < len; i++) {
		int hi = cairn_hex_digit(s[2 * i]), lo = cairn_hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return cairn_error_set(CAIRN_EINVAL, "not a hex string: %.80s", s);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int cairn_hex_is_prefix(const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n > 0 && n <= max;
}

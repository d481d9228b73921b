/* Numbers and sizes as users write them: command-line options and
 * environment variables. */
#ifndef CAIRN_UTIL_UNITS_H
#define CAIRN_UTIL_UNITS_H

#include <stdint.h>

/* "4096", "512K", "1M", "1MiB", "2g": K, M, G, T (optionally followed by
 * "B" or "iB", any case) are powers of 1024. 0 or CAIRN_EINVAL. */
int cairn_size_parse(const char *s, uint64_t *out);
/* Decimal digits only. 0 or CAIRN_EINVAL. */
int cairn_uint_parse(const char *s, uint64_t *out);

#endif

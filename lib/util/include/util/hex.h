#ifndef CAIRN_UTIL_HEX_H
#define CAIRN_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*len lowercase hex digits and a NUL to out (2*len+1 bytes). */
void cairn_hex_encode(char *out, const void *data, size_t len);
/* Decodes exactly 2*len hex digits of s (either case) into out.
 * 0, or CAIRN_EINVAL if s is not exactly that many hex digits. */
int cairn_hex_decode(uint8_t *out, size_t len, const char *s);
/* The value of one hex digit (either case), or -1 if c is not one. */
int cairn_hex_digit(char c);
/* 1 if s is a non-empty string of lowercase hex digits of at most max chars. */
int cairn_hex_is_prefix(const char *s, size_t max);

#endif

/* Byte buffers, pieces of bytes, the bounds-checked reader and
 * cairn_array_grow() are declared in the public cairn/buf.h, since the
 * public API takes and returns them; lib/util/buf.c implements them. This
 * header lets code inside the tree include them as the util module they
 * are. */
#ifndef CAIRN_UTIL_BUF_H
#define CAIRN_UTIL_BUF_H

#include "cairn/buf.h"

/* Appends code point cp (at most 0x10ffff, not a surrogate) in UTF-8. */
int cairn_buf_append_utf8(cairn_buf *b, unsigned cp);

#endif

/* Growable byte buffers and a bounds-checked reader for parsing untrusted
 * bytes. Writers append little-endian integers and LEB128 varints; the
 * reader fails (sticky) rather than reading past the end.
 *
 * Public because the API passes bytes in and out through them (as libgit2
 * does with git_buf); implemented in lib/util/buf.c. */
#ifndef CAIRN_BUF_H
#define CAIRN_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
} cairn_buf;

#define CAIRN_BUF_INIT                                                                             \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* A piece of bytes among several written as one: len bytes at data or,
 * when data is NULL, len bytes of the file fd from offset off. */
typedef struct cairn_iovec {
	const void *data;
	size_t len;
	int fd;
	uint64_t off;
} cairn_iovec;

/* Copies len bytes of piece v, from at bytes into it, to dst. 0, or
 * CAIRN_EIO when the file cannot be read or is short. */
int cairn_iov_read(const cairn_iovec *v, size_t at, void *dst, size_t len);
/* Hands the bytes of the n pieces, in order, to fn: a piece in memory at
 * once, a piece of a file in blocks read into a buffer. Stops at fn's
 * first non-zero answer and returns it; else 0, CAIRN_EIO or
 * CAIRN_ENOMEM. */
int cairn_iov_each(const cairn_iovec *iov, size_t n,
                   int (*fn)(void *ud, const uint8_t *p, size_t len), void *ud);

void cairn_buf_init(cairn_buf *b);
void cairn_buf_free(cairn_buf *b);  /* frees data; b is reusable after */
void cairn_buf_clear(cairn_buf *b); /* len = 0, keeps the allocation */
/* Ensures room for extra more bytes. 0 or CAIRN_ENOMEM. */
int cairn_buf_reserve(cairn_buf *b, size_t extra);
int cairn_buf_append(cairn_buf *b, const void *data, size_t len);
int cairn_buf_append_u8(cairn_buf *b, uint8_t v);
int cairn_buf_append_u32le(cairn_buf *b, uint32_t v);
int cairn_buf_append_u64le(cairn_buf *b, uint64_t v);
int cairn_buf_append_varint(cairn_buf *b, uint64_t v);                  /* unsigned LEB128 */
int cairn_buf_append_svarint(cairn_buf *b, int64_t v);                  /* zigzag, then LEB128 */
int cairn_buf_append_bytes(cairn_buf *b, const void *data, size_t len); /* varint length + bytes */
int cairn_buf_append_str(cairn_buf *b, const char *s); /* appends s and keeps a NUL after len */
int cairn_buf_printf(cairn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes the array *items (*cap elements of size bytes) hold at least need
 * elements, doubling from 64. 0 or CAIRN_ENOMEM; *items is kept on
 * failure. */
int cairn_array_grow(void **items, size_t *cap, size_t need, size_t size);
/* Takes the data out of b (caller frees it); b becomes empty. */
uint8_t *cairn_buf_detach(cairn_buf *b, size_t *len_out);

static inline void cairn_put_u32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t cairn_get_u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void cairn_put_u64le(uint8_t *p, uint64_t v)
{
	cairn_put_u32le(p, (uint32_t)v);
	cairn_put_u32le(p + 4, (uint32_t)(v >> 32));
}
static inline uint64_t cairn_get_u64le(const uint8_t *p)
{
	return (uint64_t)cairn_get_u32le(p) | (uint64_t)cairn_get_u32le(p + 4) << 32;
}

/* A cursor over untrusted bytes. Any failed read sets failed, returns 0 /
 * NULL, and every later read fails too: check failed once at the end. */
typedef struct cairn_reader {
	const uint8_t *data;
	size_t len;
	size_t pos;
	int failed;
} cairn_reader;

void cairn_reader_init(cairn_reader *r, const void *data, size_t len);
uint8_t cairn_read_u8(cairn_reader *r);
uint32_t cairn_read_u32le(cairn_reader *r);
uint64_t cairn_read_u64le(cairn_reader *r);
uint64_t cairn_read_varint(cairn_reader *r); /* at most 10 bytes */
int64_t cairn_read_svarint(cairn_reader *r);
/* Returns a pointer to the next n bytes inside the buffer, or NULL. */
const uint8_t *cairn_read_raw(cairn_reader *r, size_t n);
/* Varint length (at most max) then the bytes; *len_out gets the length. */
const uint8_t *cairn_read_bytes(cairn_reader *r, size_t max, size_t *len_out);
static inline size_t cairn_reader_left(const cairn_reader *r)
{
	return r->len - r->pos;
}

#endif

#include "util/buf.h"

#include "cairn/errors.h"
#include "util/fileio.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

void cairn_buf_init(cairn_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void cairn_buf_free(cairn_buf *b)
{
	free(b->data);
	cairn_buf_init(b);
}

void cairn_buf_clear(cairn_buf *b)
{
	b->len = 0;
}

int cairn_buf_reserve(cairn_buf *b, size_t extra)
{
	if (extra <= b->cap - b->len)
		return 0;
	if (extra > SIZE_MAX / 2 - b->len)
		return cairn_error_set(CAIRN_ENOMEM, "buffer too large");
	size_t cap = b->cap ? b->cap : 64;
	while (cap - b->len < extra)
		cap *= 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory (%zu bytes)", cap);
	b->data = p;
	b->cap = cap;
	return 0;
}

int cairn_buf_append(cairn_buf *b, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	int rc = cairn_buf_reserve(b, len);
	if (rc)
		return rc;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

int cairn_buf_append_u8(cairn_buf *b, uint8_t v)
{
	return cairn_buf_append(b, &v, 1);
}

int cairn_buf_append_utf8(cairn_buf *b, unsigned cp)
{
	uint8_t u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return cairn_buf_append(b, u, n);
}

int cairn_buf_append_u32le(cairn_buf *b, uint32_t v)
{
	uint8_t p[4];
	cairn_put_u32le(p, v);
	return cairn_buf_append(b, p, 4);
}

int cairn_buf_append_u64le(cairn_buf *b, uint64_t v)
{
	uint8_t p[8];
	cairn_put_u64le(p, v);
	return cairn_buf_append(b, p, 8);
}

int cairn_buf_append_varint(cairn_buf *b, uint64_t v)
{
	uint8_t p[10];
	size_t n = 0;
	do {
		uint8_t byte = v & 0x7f;
		v >>= 7;
		p[n++] = byte | (v ? 0x80 : 0);
	} while (v);
	return cairn_buf_append(b, p, n);
}

int cairn_buf_append_svarint(cairn_buf *b, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	return cairn_buf_append_varint(b, z);
}

int cairn_buf_append_bytes(cairn_buf *b, const void *data, size_t len)
{
	int rc = cairn_buf_append_varint(b, len);
	return rc ? rc : cairn_buf_append(b, data, len);
}

int cairn_buf_append_str(cairn_buf *b, const char *s)
{
	size_t n = strlen(s);
	int rc = cairn_buf_reserve(b, n + 1);
	if (rc)
		return rc;
	memcpy(b->data + b->len, s, n + 1);
	b->len += n;
	return 0;
}

int cairn_buf_printf(cairn_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return cairn_error_set(CAIRN_EINVAL, "bad format");
	int rc = cairn_buf_reserve(b, (size_t)n + 1);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

uint8_t *cairn_buf_detach(cairn_buf *b, size_t *len_out)
{
	uint8_t *p = b->data;
	if (len_out)
		*len_out = b->len;
	cairn_buf_init(b);
	return p;
}

void cairn_reader_init(cairn_reader *r, const void *data, size_t len)
{
	r->data = data;
	r->len = len;
	r->pos = 0;
	r->failed = 0;
}

const uint8_t *cairn_read_raw(cairn_reader *r, size_t n)
{
	if (r->failed || n > r->len - r->pos) {
		r->failed = 1;
		return NULL;
	}
	const uint8_t *p = r->data + r->pos;
	r->pos += n;
	return p;
}

uint8_t cairn_read_u8(cairn_reader *r)
{
	const uint8_t *p = cairn_read_raw(r, 1);
	return p ? p[0] : 0;
}

uint32_t cairn_read_u32le(cairn_reader *r)
{
	const uint8_t *p = cairn_read_raw(r, 4);
	return p ? cairn_get_u32le(p) : 0;
}

uint64_t cairn_read_u64le(cairn_reader *r)
{
	const uint8_t *p = cairn_read_raw(r, 8);
	return p ? cairn_get_u64le(p) : 0;
}

uint64_t cairn_read_varint(cairn_reader *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		const uint8_t *p = cairn_read_raw(r, 1);
		if (!p)
			return 0;
		if (shift == 63 && (*p & 0x7e)) /* would overflow 64 bits */
			break;
		v |= (uint64_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80))
			return v;
	}
	r->failed = 1;
	return 0;
}

int64_t cairn_read_svarint(cairn_reader *r)
{
	uint64_t z = cairn_read_varint(r);
	return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

const uint8_t *cairn_read_bytes(cairn_reader *r, size_t max, size_t *len_out)
{
	uint64_t n = cairn_read_varint(r);
	if (r->failed || n > max || n > r->len - r->pos) {
		r->failed = 1;
		*len_out = 0;
		return NULL;
	}
	*len_out = (size_t)n;
	return cairn_read_raw(r, (size_t)n);
}

int cairn_array_grow(void **items, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 64;
	while (n < need) {
		if (n > SIZE_MAX / 2 / size)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		n *= 2;
	}
	void *p = realloc(*items, n * size);
	if (!p)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	*items = p;
	*cap = n;
	return 0;
}

int cairn_iov_read(const cairn_iovec *v, size_t at, void *dst, size_t len)
{
	if (v->data) {
		memcpy(dst, (const uint8_t *)v->data + at, len);
		return 0;
	}
	ssize_t n = cairn_pread_all(v->fd, dst, len, v->off + at);
	if (n < 0 || (size_t)n < len)
		return cairn_error_set_errno(CAIRN_EIO, n < 0 ? errno : EIO,
		                             "cannot read a spooled pack");
	return 0;
}

int cairn_iov_each(const cairn_iovec *iov, size_t n,
                   int (*fn)(void *ud, const uint8_t *p, size_t len), void *ud)
{
	enum { BLOCK = 256 * 1024 };
	uint8_t *buf = NULL;
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		if (iov[i].data) {
			rc = iov[i].len ? fn(ud, iov[i].data, iov[i].len) : 0;
			continue;
		}
		if (!buf && !(buf = malloc(BLOCK)))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		for (size_t at = 0; !rc && at < iov[i].len; at += BLOCK) {
			size_t k = iov[i].len - at < BLOCK ? iov[i].len - at : BLOCK;
			if (!(rc = cairn_iov_read(&iov[i], at, buf, k)))
				rc = fn(ud, buf, k);
		}
	}
	free(buf);
	return rc;
}

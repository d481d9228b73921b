/* The index protocol's bodies (cairn/wire.h): pure encoders and parsers,
 * shared by the remote index and cairn-server. */
#include "cairn/wire.h"

#include "cairn/chunker.h"
#include "cairn/errors.h"
#include "cairn/pack.h"
#include "cairn/seal.h"
#include "util/buf.h"

#include <string.h>

int cairn_wire_kind_valid(uint8_t kind)
{
	return kind == CAIRN_BLOB_DATA || kind == CAIRN_BLOB_TREE || kind == CAIRN_BLOB_BUNDLE;
}

int cairn_wire_entries_encode(cairn_buf *out, const cairn_index_entry *entries, size_t n)
{
	if (n > SIZE_MAX / CAIRN_WIRE_ENTRY_SIZE)
		return cairn_error_set(CAIRN_ENOMEM, "too many index entries");
	int rc = cairn_buf_reserve(out, n * CAIRN_WIRE_ENTRY_SIZE);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const cairn_index_entry *e = &entries[i];
		uint8_t *p = out->data + out->len;
		memcpy(p, e->fp, 32);
		memcpy(p + 32, e->pack, 32);
		cairn_put_u32le(p + 64, e->offset);
		cairn_put_u32le(p + 68, e->length);
		cairn_put_u32le(p + 72, e->raw_length);
		p[76] = e->kind;
		cairn_put_u32le(p + 77, e->inner);
		out->len += CAIRN_WIRE_ENTRY_SIZE;
	}
	return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int cairn_wire_entries_decode(const void *body, size_t len, cairn_index_entry *out, size_t *n_out)
{
	const uint8_t *p = body;
	*n_out = 0;
	if (len % CAIRN_WIRE_ENTRY_SIZE != 0)
		return cairn_error_set(CAIRN_EINVAL,
		                       "body of %zu bytes is not a whole number of %d-byte entries",
		                       len, CAIRN_WIRE_ENTRY_SIZE);
	size_t n = len / CAIRN_WIRE_ENTRY_SIZE;
	for (size_t i = 0; i < n; i++, p += CAIRN_WIRE_ENTRY_SIZE) {
		cairn_index_entry *e = &out[i];
		memcpy(e->fp, p, 32);
		memcpy(e->pack, p + 32, 32);
		e->offset = cairn_get_u32le(p + 64);
		e->length = cairn_get_u32le(p + 68);
		e->raw_length = cairn_get_u32le(p + 72);
		e->kind = p[76];
		e->inner = cairn_get_u32le(p + 77);
		if (all_zero(e->fp, 32))
			return cairn_error_set(CAIRN_EINVAL, "entry %zu: all-zero fingerprint", i);
		if (!cairn_wire_kind_valid(e->kind))
			return cairn_error_set(CAIRN_EINVAL, "entry %zu: unknown blob kind %u", i,
			                       e->kind);
		const char *why = cairn_pack_entry_problem(e->kind, e->offset, e->length,
		                                           e->raw_length, e->inner);
		if (why)
			return cairn_error_set(CAIRN_EINVAL, "entry %zu: %s", i, why);
		if (e->raw_length > CAIRN_CHUNK_SIZE_HIGHEST)
			return cairn_error_set(CAIRN_EINVAL, "entry %zu: raw length %u too large",
			                       i, e->raw_length);
	}
	*n_out = n;
	return 0;
}

int cairn_wire_answers_encode(cairn_buf *out, const cairn_index_entry *entries,
                              const uint8_t *found, size_t n)
{
	size_t need = 0;
	for (size_t i = 0; i < n; i++)
		need += found[i] ? CAIRN_WIRE_ANSWER_SIZE : 1;
	int rc = cairn_buf_reserve(out, need);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = out->data + out->len;
		if (!found[i]) {
			p[0] = CAIRN_WIRE_ANSWER_MISSING;
			out->len++;
			continue;
		}
		const cairn_index_entry *e = &entries[i];
		p[0] = CAIRN_WIRE_ANSWER_PRESENT;
		memcpy(p + 1, e->pack, 32);
		cairn_put_u32le(p + 33, e->offset);
		cairn_put_u32le(p + 37, e->length);
		cairn_put_u32le(p + 41, e->raw_length);
		p[45] = e->kind;
		cairn_put_u32le(p + 46, e->inner);
		out->len += CAIRN_WIRE_ANSWER_SIZE;
	}
	return 0;
}

int cairn_wire_answers_decode(const void *body, size_t len, const uint8_t (*fps)[32], size_t n,
                              cairn_index_entry *out, uint8_t *found)
{
	cairn_reader r;
	cairn_reader_init(&r, body, len);
	for (size_t i = 0; i < n; i++) {
		uint8_t tag = cairn_read_u8(&r);
		if (r.failed)
			return cairn_error_set(CAIRN_ECORRUPT,
			                       "lookup answer ends after %zu of %zu fingerprints",
			                       i, n);
		if (tag == CAIRN_WIRE_ANSWER_MISSING) {
			found[i] = 0;
			continue;
		}
		if (tag != CAIRN_WIRE_ANSWER_PRESENT)
			return cairn_error_set(CAIRN_ECORRUPT, "lookup answer %zu: bad tag %u", i,
			                       tag);
		cairn_index_entry *e = &out[i];
		const uint8_t *pack = cairn_read_raw(&r, 32);
		e->offset = cairn_read_u32le(&r);
		e->length = cairn_read_u32le(&r);
		e->raw_length = cairn_read_u32le(&r);
		e->kind = cairn_read_u8(&r);
		e->inner = cairn_read_u32le(&r);
		if (r.failed)
			return cairn_error_set(CAIRN_ECORRUPT, "lookup answer %zu is truncated", i);
		memcpy(e->pack, pack, 32);
		memcpy(e->fp, fps[i], 32);
		found[i] = 1;
	}
	if (cairn_reader_left(&r) != 0)
		return cairn_error_set(CAIRN_ECORRUPT, "lookup answer has %zu bytes too many",
		                       cairn_reader_left(&r));
	return 0;
}

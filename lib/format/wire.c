/* The index protocol's bodies (cairn/wire.h): pure encoders and parsers,
 * shared by the remote index and cairn-server. */
#include "cairn/wire.h"

#include "cairn/chunker.h"
#include "cairn/errors.h"
#include "cairn/pack.h"
#include "cairn/seal.h"
#include "util/buf.h"

#include <stdlib.h>
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

/* The index of pack in packs[0, *n), added if new; slots (nslots, a
 * power of two, zeroed) hold index + 1. */
static uint16_t pack_index(const uint8_t *pack, uint8_t (*packs)[32], size_t *n, uint16_t *slots,
                           size_t nslots)
{
	uint64_t h;
	memcpy(&h, pack, sizeof(h));
	size_t k = (size_t)(h & (nslots - 1));
	for (; slots[k]; k = (k + 1) & (nslots - 1))
		if (!memcmp(packs[slots[k] - 1], pack, 32))
			return (uint16_t)(slots[k] - 1);
	memcpy(packs[*n], pack, 32);
	slots[k] = (uint16_t)(*n + 1);
	return (uint16_t)(*n)++;
}

int cairn_wire_presence_encode(cairn_buf *out, const cairn_index_entry *entries,
                               const uint8_t *found, size_t n)
{
	size_t nslots = 1, npacks = 0, need = 2;
	if (n > CAIRN_WIRE_LOOKUP_MAX)
		return cairn_error_set(CAIRN_EINVAL, "a presence answer holds at most %d answers",
		                       (int)CAIRN_WIRE_LOOKUP_MAX);
	while (nslots < 2 * n)
		nslots <<= 1;
	uint16_t *slots = calloc(nslots, sizeof(*slots));
	uint16_t *idx = malloc((n ? n : 1) * sizeof(*idx));
	uint8_t(*packs)[32] = malloc((n ? n : 1) * 32);
	int rc = 0;
	if (!slots || !idx || !packs) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (found[i])
			idx[i] = pack_index(entries[i].pack, packs, &npacks, slots, nslots);
	for (size_t i = 0; i < n; i++)
		need += found[i] ? CAIRN_WIRE_PRESENT_SIZE : 1;
	if ((rc = cairn_buf_reserve(out, need + npacks * 32)))
		goto out;
	uint8_t *p = out->data + out->len;
	p[0] = (uint8_t)npacks;
	p[1] = (uint8_t)(npacks >> 8);
	memcpy(p + 2, packs, npacks * 32);
	p += 2 + npacks * 32;
	for (size_t i = 0; i < n; i++) {
		if (!found[i]) {
			*p++ = CAIRN_WIRE_ANSWER_MISSING;
			continue;
		}
		p[0] = CAIRN_WIRE_ANSWER_PRESENT;
		p[1] = (uint8_t)idx[i];
		p[2] = (uint8_t)(idx[i] >> 8);
		cairn_put_u32le(p + 3, entries[i].offset);
		p += CAIRN_WIRE_PRESENT_SIZE;
	}
	out->len = (size_t)(p - out->data);
out:
	free(slots);
	free(idx);
	free(packs);
	return rc;
}

int cairn_wire_presence_decode(const void *body, size_t len, const uint8_t (*fps)[32], size_t n,
                               cairn_index_entry *out, uint8_t *found)
{
	cairn_reader r;
	cairn_reader_init(&r, body, len);
	uint8_t lo = cairn_read_u8(&r), hi = cairn_read_u8(&r);
	size_t npacks = (size_t)lo | (size_t)hi << 8;
	const uint8_t *packs = cairn_read_raw(&r, npacks * 32);
	if (r.failed)
		return cairn_error_set(
		    CAIRN_ECORRUPT, "presence answer: %zu packs announced, %zu bytes", npacks, len);
	for (size_t i = 0; i < n; i++) {
		uint8_t tag = cairn_read_u8(&r);
		if (r.failed)
			return cairn_error_set(CAIRN_ECORRUPT,
			                       "presence answer ends after %zu of %zu fingerprints",
			                       i, n);
		found[i] = 0;
		if (tag == CAIRN_WIRE_ANSWER_MISSING)
			continue;
		if (tag != CAIRN_WIRE_ANSWER_PRESENT)
			return cairn_error_set(CAIRN_ECORRUPT, "presence answer %zu: bad tag %u", i,
			                       tag);
		uint8_t a = cairn_read_u8(&r), b = cairn_read_u8(&r);
		size_t k = (size_t)a | (size_t)b << 8;
		uint32_t offset = cairn_read_u32le(&r);
		if (r.failed)
			return cairn_error_set(CAIRN_ECORRUPT, "presence answer %zu is truncated",
			                       i);
		if (k >= npacks)
			return cairn_error_set(CAIRN_ECORRUPT,
			                       "presence answer %zu names pack %zu of %zu", i, k,
			                       npacks);
		memset(&out[i], 0, sizeof(out[i]));
		memcpy(out[i].fp, fps[i], 32);
		memcpy(out[i].pack, packs + 32 * k, 32);
		out[i].offset = offset;
		found[i] = 1;
	}
	if (cairn_reader_left(&r) != 0)
		return cairn_error_set(CAIRN_ECORRUPT, "presence answer has %zu bytes too many",
		                       cairn_reader_left(&r));
	return 0;
}

int cairn_wire_scan_request_encode(cairn_buf *out, const cairn_index_entry *after, uint32_t max)
{
	int rc = cairn_buf_reserve(out, CAIRN_WIRE_SCAN_REQUEST_SIZE);
	if (rc)
		return rc;
	cairn_put_u32le(out->data + out->len, max);
	out->len += 4;
	if (after) {
		memcpy(out->data + out->len, after->fp, 32);
		memcpy(out->data + out->len + 32, after->pack, 32);
		out->len += 64;
	}
	return 0;
}

int cairn_wire_scan_request_decode(const void *body, size_t len, cairn_index_entry *after,
                                   int *has_after, uint32_t *max_out)
{
	const uint8_t *p = body;
	*has_after = 0;
	*max_out = 0;
	if (len != 4 && len != CAIRN_WIRE_SCAN_REQUEST_SIZE)
		return cairn_error_set(CAIRN_EINVAL,
		                       "scan request of %zu bytes: expected 4 (a count) or %d (a "
		                       "count, a fingerprint and a pack id)",
		                       len, CAIRN_WIRE_SCAN_REQUEST_SIZE);
	uint32_t max = cairn_get_u32le(p);
	if (max == 0)
		return cairn_error_set(CAIRN_EINVAL, "scan request for 0 rows");
	if (len == CAIRN_WIRE_SCAN_REQUEST_SIZE) {
		memset(after, 0, sizeof(*after));
		memcpy(after->fp, p + 4, 32);
		memcpy(after->pack, p + 36, 32);
		*has_after = 1;
	}
	*max_out = max;
	return 0;
}

int cairn_wire_scan_answer_encode(cairn_buf *out, const cairn_index_entry *rows, size_t n, int end)
{
	int rc = cairn_buf_append_u8(out, end ? 1 : 0);
	return rc ? rc : cairn_wire_entries_encode(out, rows, n);
}

/* (fp, pack) order, the index's. */
static int row_cmp(const cairn_index_entry *a, const cairn_index_entry *b)
{
	int c = memcmp(a->fp, b->fp, 32);
	return c ? c : memcmp(a->pack, b->pack, 32);
}

int cairn_wire_scan_answer_decode(const void *body, size_t len, const cairn_index_entry *after,
                                  size_t max, cairn_index_entry *out, size_t *n_out, int *end_out)
{
	const uint8_t *p = body;
	size_t n;
	*n_out = 0;
	*end_out = 0;
	if (len < 1 || p[0] > 1)
		return cairn_error_set(CAIRN_ECORRUPT, "scan answer %s",
		                       len ? "has a bad end flag" : "is empty");
	if ((len - 1) % CAIRN_WIRE_ENTRY_SIZE != 0)
		return cairn_error_set(
		    CAIRN_ECORRUPT, "scan answer of %zu bytes is not a flag and whole %d-byte rows",
		    len, CAIRN_WIRE_ENTRY_SIZE);
	if ((len - 1) / CAIRN_WIRE_ENTRY_SIZE > max)
		return cairn_error_set(CAIRN_ECORRUPT,
		                       "scan answer has %zu rows, %zu were asked for",
		                       (len - 1) / CAIRN_WIRE_ENTRY_SIZE, max);
	if (cairn_wire_entries_decode(p + 1, len - 1, out, &n))
		return cairn_error_prefix(CAIRN_ECORRUPT, "scan answer");
	if (n == 0 && !p[0])
		return cairn_error_set(CAIRN_ECORRUPT, "scan answer has no row and no end");
	for (size_t i = 0; i < n; i++) {
		const cairn_index_entry *before = i ? &out[i - 1] : after;
		if (before && row_cmp(before, &out[i]) >= 0)
			return cairn_error_set(
			    CAIRN_ECORRUPT, "scan answer: row %zu is not after the one before it",
			    i);
	}
	*n_out = n;
	*end_out = p[0];
	return 0;
}

int cairn_wire_packs_decode(const void *body, size_t len, const uint8_t (**packs_out)[32],
                            size_t *n_out)
{
	*packs_out = NULL;
	*n_out = 0;
	if (len == 0 || len % 32 != 0)
		return cairn_error_set(
		    CAIRN_EINVAL, "body of %zu bytes is not one or more 32-byte pack ids", len);
	if (len / 32 > CAIRN_WIRE_DROP_MAX)
		return cairn_error_set(CAIRN_EINVAL, "%zu pack ids: at most %d in one request",
		                       len / 32, CAIRN_WIRE_DROP_MAX);
	*packs_out = (const uint8_t(*)[32])body;
	*n_out = len / 32;
	return 0;
}

int cairn_wire_rows_encode(cairn_buf *out, const cairn_index_entry *rows, const uint8_t *counts,
                           size_t n, size_t max)
{
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if (counts[i] > max || max > CAIRN_INDEX_ROWS_MAX)
			return cairn_error_set(CAIRN_EINVAL, "rows answer: %u rows of at most %zu",
			                       counts[i], max);
		if (!(rc = cairn_buf_append_u8(out, counts[i])))
			rc = cairn_wire_entries_encode(out, rows + i * max, counts[i]);
	}
	return rc;
}

int cairn_wire_rows_decode(const void *body, size_t len, const uint8_t (*fps)[32], size_t n,
                           size_t max, cairn_index_entry *out, uint8_t *counts)
{
	const uint8_t *p = body, *end = p + len;
	cairn_index_entry row;
	size_t one;
	for (size_t i = 0; i < n; i++) {
		if (p == end)
			return cairn_error_set(
			    CAIRN_ECORRUPT, "rows answer ends after %zu of %zu fingerprints", i, n);
		unsigned count = *p++;
		if (count > CAIRN_INDEX_ROWS_MAX)
			return cairn_error_set(CAIRN_ECORRUPT,
			                       "rows answer %zu: %u rows, at most %d", i, count,
			                       CAIRN_INDEX_ROWS_MAX);
		if ((size_t)(end - p) < count * (size_t)CAIRN_WIRE_ENTRY_SIZE)
			return cairn_error_set(CAIRN_ECORRUPT, "rows answer %zu is truncated", i);
		counts[i] = 0;
		for (unsigned k = 0; k < count; k++, p += CAIRN_WIRE_ENTRY_SIZE) {
			if (cairn_wire_entries_decode(p, CAIRN_WIRE_ENTRY_SIZE, &row, &one))
				return cairn_error_prefix(CAIRN_ECORRUPT, "rows answer %zu", i);
			if (memcmp(row.fp, fps[i], 32) != 0)
				return cairn_error_set(
				    CAIRN_ECORRUPT, "rows answer %zu: a row of another fingerprint",
				    i);
			if (k < max)
				out[i * max + counts[i]++] = row;
		}
	}
	if (p != end)
		return cairn_error_set(CAIRN_ECORRUPT, "rows answer has %zu bytes too many",
		                       (size_t)(end - p));
	return 0;
}

int cairn_wire_rejects_encode(cairn_buf *out, const cairn_index_entry *rows, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		if (!(rc = cairn_buf_append(out, rows[i].fp, 32)))
			rc = cairn_buf_append(out, rows[i].pack, 32);
	return rc;
}

int cairn_wire_rejects_decode(const void *body, size_t len, cairn_index_entry *out, size_t *n_out)
{
	const uint8_t *p = body;
	*n_out = 0;
	if (len == 0 || len % CAIRN_WIRE_REJECT_SIZE != 0)
		return cairn_error_set(CAIRN_EINVAL,
		                       "body of %zu bytes is not one or more %d-byte rows "
		                       "(fingerprint, pack id)",
		                       len, CAIRN_WIRE_REJECT_SIZE);
	size_t n = len / CAIRN_WIRE_REJECT_SIZE;
	for (size_t i = 0; i < n; i++, p += CAIRN_WIRE_REJECT_SIZE) {
		memset(&out[i], 0, sizeof(out[i]));
		memcpy(out[i].fp, p, 32);
		memcpy(out[i].pack, p + 32, 32);
	}
	*n_out = n;
	return 0;
}

int cairn_wire_host_check(const void *body, size_t len)
{
	if (len == 0 || len > CAIRN_WIRE_HOST_MAX)
		return cairn_error_set(CAIRN_EINVAL,
		                       "a host name of %zu bytes (1 to %d are allowed)", len,
		                       CAIRN_WIRE_HOST_MAX);
	if (memchr(body, '\0', len))
		return cairn_error_set(CAIRN_EINVAL, "a host name holds a NUL byte");
	return 0;
}

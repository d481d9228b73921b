#include "cairn/indexfile.h"

#include "cairn/errors.h"
#include "cairn/pack.h"
#include "cairn/seal.h"

#include <stdlib.h>
#include <string.h>

/* Layout (see cairn/indexfile.h and docs/FORMAT.md). Entries are laid
 * out as in pack trailers of the same version. */
#define INDEXFILE_VERSION 2
/* pack_id[32] + a one-byte blob count + at least one blob */
#define PACK_MIN_SIZE(blob_size) (32 + 1 + (blob_size))

static int by_pack_then_offset(const void *a, const void *b)
{
	const cairn_index_entry *x = a, *y = b;
	int c = memcmp(x->pack, y->pack, sizeof(x->pack));
	if (c)
		return c;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	if (x->inner != y->inner)
		return x->inner < y->inner ? -1 : 1;
	return memcmp(x->fp, y->fp, sizeof(x->fp));
}

int cairn_indexfile_encode(cairn_buf *out, const cairn_index_entry *entries, size_t count)
{
	size_t start = out->len;
	cairn_index_entry *sorted = NULL;
	size_t npacks = 0;
	int rc;

	for (size_t i = 0; i < count; i++) {
		const cairn_index_entry *e = &entries[i];
		const char *why = cairn_pack_entry_problem(e->kind, e->offset, e->length,
		                                           e->raw_length, e->inner);
		if (why)
			return cairn_error_set(
			    CAIRN_EINVAL,
			    "index object: entry %zu (kind %u, offset %u, length "
			    "%u, raw length %u, inner %u): %s",
			    i, entries[i].kind, entries[i].offset, entries[i].length,
			    entries[i].raw_length, entries[i].inner, why);
	}
	if (count > SIZE_MAX / sizeof(*sorted))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	sorted = malloc((count ? count : 1) * sizeof(*sorted));
	if (!sorted)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (count)
		memcpy(sorted, entries, count * sizeof(*sorted));
	qsort(sorted, count, sizeof(*sorted), by_pack_then_offset);
	for (size_t i = 0; i < count; i++)
		if (i == 0 || memcmp(sorted[i].pack, sorted[i - 1].pack, sizeof(sorted[i].pack)))
			npacks++;

	if ((rc = cairn_buf_append_u8(out, INDEXFILE_VERSION)) != 0 ||
	    (rc = cairn_buf_append_varint(out, npacks)) != 0)
		goto out;
	for (size_t i = 0; i < count;) {
		size_t j = i + 1;
		while (j < count && !memcmp(sorted[j].pack, sorted[i].pack, sizeof(sorted[i].pack)))
			j++;
		if ((rc = cairn_buf_append(out, sorted[i].pack, sizeof(sorted[i].pack))) != 0 ||
		    (rc = cairn_buf_append_varint(out, j - i)) != 0)
			goto out;
		for (; i < j; i++) {
			const cairn_index_entry *e = &sorted[i];
			if ((rc = cairn_buf_append(out, e->fp, sizeof(e->fp))) != 0 ||
			    (rc = cairn_buf_append_u8(out, e->kind)) != 0 ||
			    (rc = cairn_buf_append_u32le(out, e->offset)) != 0 ||
			    (rc = cairn_buf_append_u32le(out, e->length)) != 0 ||
			    (rc = cairn_buf_append_u32le(out, e->raw_length)) != 0 ||
			    (rc = cairn_buf_append_u32le(out, e->inner)) != 0)
				goto out;
		}
	}
	rc = 0;
out:
	if (rc)
		out->len = start;
	free(sorted);
	return rc;
}

/* Walks the whole object, checking every field; fills fill (if not NULL)
 * and counts the blobs into *total. Counts are checked against the bytes
 * left before anything is sized by them. */
static int walk(const void *data, size_t len, cairn_index_entry *fill, size_t *total)
{
	cairn_reader r;
	size_t n = 0;

	cairn_reader_init(&r, data, len);
	uint8_t version = cairn_read_u8(&r);
	uint64_t npacks = cairn_read_varint(&r);
	if (r.failed)
		return cairn_error_set(CAIRN_ECORRUPT, "index object: truncated header");
	if (version != INDEXFILE_VERSION && version != 1)
		return cairn_error_set(CAIRN_ECORRUPT, "index object: unknown version %u", version);
	size_t blob_size = cairn_pack_entry_size(version);
	if (npacks > cairn_reader_left(&r) / PACK_MIN_SIZE(blob_size))
		return cairn_error_set(CAIRN_ECORRUPT,
		                       "index object: %llu packs cannot fit in %zu bytes",
		                       (unsigned long long)npacks, cairn_reader_left(&r));
	for (uint64_t p = 0; p < npacks; p++) {
		const uint8_t *pack = cairn_read_raw(&r, 32);
		uint64_t nblobs = cairn_read_varint(&r);
		if (r.failed)
			return cairn_error_set(CAIRN_ECORRUPT,
			                       "index object: truncated at pack %llu",
			                       (unsigned long long)p);
		if (nblobs == 0 || nblobs > cairn_reader_left(&r) / blob_size)
			return cairn_error_set(
			    CAIRN_ECORRUPT,
			    "index object: pack %llu claims %llu blobs in %zu bytes",
			    (unsigned long long)p, (unsigned long long)nblobs,
			    cairn_reader_left(&r));
		for (uint64_t b = 0; b < nblobs; b++, n++) {
			cairn_pack_entry pe;
			const char *why = cairn_pack_entry_read(&r, version, &pe);
			if (why)
				return cairn_error_set(CAIRN_ECORRUPT,
				                       "index object: blob %llu of pack %llu (kind "
				                       "%u, offset %u, length %u, inner %u): %s",
				                       (unsigned long long)b, (unsigned long long)p,
				                       pe.kind, pe.offset, pe.length, pe.inner,
				                       why);
			if (fill)
				cairn_pack_entry_to_index(&pe, pack, &fill[n]);
		}
	}
	if (cairn_reader_left(&r))
		return cairn_error_set(CAIRN_ECORRUPT, "index object: %zu trailing bytes",
		                       cairn_reader_left(&r));
	*total = n;
	return 0;
}

int cairn_indexfile_decode(const void *data, size_t len, cairn_index_entry **entries_out,
                           size_t *count_out)
{
	cairn_index_entry *entries = NULL;
	size_t total;
	int rc;

	*entries_out = NULL;
	*count_out = 0;
	if ((rc = walk(data, len, NULL, &total)) != 0)
		return rc;
	/* total <= len / (entry size): bounded by the input, not by a claim */
	entries = malloc((total ? total : 1) * sizeof(*entries));
	if (!entries)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = walk(data, len, entries, &total)) != 0) {
		free(entries);
		return rc;
	}
	*entries_out = entries;
	*count_out = total;
	return 0;
}

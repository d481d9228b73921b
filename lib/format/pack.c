#include "cairn/pack.h"

#include "cairn/errors.h"
#include "format/pack_format.h"
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cairn_pack_writer_init(cairn_pack_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void cairn_pack_writer_free(cairn_pack_writer *w)
{
	cairn_buf_free(&w->data);
	cairn_buf_free(&w->tail);
	free(w->entries);
	free(w->blobs);
	free(w->iov);
	if (w->spooled)
		close(w->spool_fd);
	cairn_pack_writer_init(w);
}

int cairn_pack_writer_spool(cairn_pack_writer *w, const char *dir)
{
	if (w->spooled || w->count)
		return 0;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		/* no O_TMPFILE here: a named file, unlinked at once */
		char path[4096];
		if (snprintf(path, sizeof(path), "%s/cairn-pack-XXXXXX", dir) < (int)sizeof(path) &&
		    (fd = mkostemp(path, O_CLOEXEC)) >= 0)
			unlink(path);
	}
	if (fd < 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot make a temporary file in %s",
		                             dir);
	w->spool_fd = fd;
	w->spooled = 1;
	w->spool_len = w->spool_flushed = 0;
	w->spool_batch = CAIRN_PACK_SPOOL_BATCH;
	return 0;
}

void cairn_pack_writer_reset(cairn_pack_writer *w)
{
	cairn_buf_clear(&w->data);
	cairn_buf_clear(&w->tail);
	w->count = 0;
	w->n_blobs = 0;
	w->n_iov = 0;
	w->size = 0;
	if (w->spooled && w->spool_len) {
		if (w->spool_flushed)
			/* Gives the blocks back; failing that, they are
			 * overwritten. Keeping the pages for the next pack costs
			 * less CPU, but they stay dirty, and a long backup would
			 * write every spool to the disk every half minute. */
			(void)ftruncate(w->spool_fd, 0);
		w->spool_len = w->spool_flushed = 0;
	}
}

const char *cairn_pack_entry_problem(uint8_t kind, uint32_t offset, uint32_t length,
                                     uint32_t raw_length, uint32_t inner)
{
	if (kind < CAIRN_PACK_KIND_MIN || kind > CAIRN_PACK_KIND_MAX)
		return "unknown blob kind";
	if (length == 0 || raw_length == 0)
		return "empty";
	if ((uint64_t)offset + length > UINT32_MAX)
		return "blob ends past 4 GiB";
	if (kind == CAIRN_BLOB_BUNDLE ? (uint64_t)inner + raw_length > CAIRN_BUNDLE_MAX
	                              : inner != 0)
		return "chunk lies outside its bundle";
	return NULL;
}

size_t cairn_pack_entry_size(unsigned version)
{
	return version == 1 ? CAIRN_PACK_ENTRY_SIZE_V1 : CAIRN_PACK_ENTRY_SIZE;
}

const char *cairn_pack_entry_read(cairn_reader *r, unsigned version, cairn_pack_entry *e)
{
	const uint8_t *fp = cairn_read_raw(r, CAIRN_FP_SIZE);
	e->kind = cairn_read_u8(r);
	e->offset = cairn_read_u32le(r);
	e->length = cairn_read_u32le(r);
	e->raw_length = cairn_read_u32le(r);
	e->inner = version == 1 ? 0 : cairn_read_u32le(r);
	if (r->failed)
		return "truncated";
	memcpy(e->fp, fp, CAIRN_FP_SIZE);
	if (version == 1 && e->kind > CAIRN_PACK_KIND_MAX_V1)
		return "unknown blob kind";
	return cairn_pack_entry_problem(e->kind, e->offset, e->length, e->raw_length, e->inner);
}

void cairn_pack_entry_to_index(const cairn_pack_entry *e, const uint8_t pack_id[CAIRN_ID_SIZE],
                               cairn_index_entry *out)
{
	memcpy(out->fp, e->fp, CAIRN_FP_SIZE);
	memcpy(out->pack, pack_id, CAIRN_ID_SIZE);
	out->kind = e->kind;
	out->offset = e->offset;
	out->length = e->length;
	out->raw_length = e->raw_length;
	out->inner = e->inner;
}

/* Writes the gathered blobs to the spool. */
static int spool_flush(cairn_pack_writer *w)
{
	if (!w->data.len)
		return 0;
	if (cairn_pwrite_all(w->spool_fd, w->data.data, w->data.len, w->spool_flushed) != 0)
		return cairn_error_set_errno(CAIRN_EIO, errno,
		                             "cannot write a pack's temporary file");
	w->spool_flushed += w->data.len;
	cairn_buf_clear(&w->data);
	return 0;
}

/* Seals plain as the next blob (s NULL: plain is a blob sealed already),
 * with room for its n entries, which the caller fills in (all but offset
 * and length): *out is the first. On failure nothing is added. */
static int add_blob(cairn_pack_writer *w, cairn_sealer *s, const uint8_t fp[CAIRN_FP_SIZE],
                    uint8_t kind, const void *plain, size_t len, size_t n, cairn_pack_entry **out)
{
	size_t start = w->data.len;
	int rc;
	if (len == 0 || len > UINT32_MAX)
		return cairn_error_set(CAIRN_EINVAL, "pack: blob of %zu bytes", len);
	if ((rc = cairn_array_grow((void **)&w->entries, &w->cap, w->count + n,
	                           sizeof(*w->entries))) ||
	    (rc = cairn_array_grow((void **)&w->blobs, &w->cap_blobs, w->n_blobs + 1,
	                           sizeof(*w->blobs))))
		return rc;
	rc = s ? cairn_seal(s, &w->data, fp, kind, plain, len)
	       : cairn_buf_append(&w->data, plain, len);
	if (rc) {
		w->data.len = start;
		return rc;
	}
	size_t sealed = w->data.len - start;
	uint64_t at = w->spooled ? w->spool_flushed + start : start;
	/* Offsets and lengths are u32 in the trailer. */
	if (at + sealed > UINT32_MAX) {
		w->data.len = start;
		return cairn_error_set(CAIRN_EINVAL, "pack: would exceed %u bytes", UINT32_MAX);
	}
	if (w->spooled)
		w->spool_len = at + sealed;
	w->blobs[w->n_blobs++] = (cairn_pack_blob){
	    .src = (uint32_t)at, .first = (uint32_t)w->count, .count = (uint32_t)n};
	cairn_pack_entry *e = &w->entries[w->count];
	w->count += n;
	for (size_t i = 0; i < n; i++) {
		e[i].offset = (uint32_t)at;
		e[i].length = (uint32_t)sealed;
	}
	*out = e;
	return 0;
}

/* After a blob was added: spools what has gathered. */
static int added(cairn_pack_writer *w)
{
	return w->spooled && w->data.len >= w->spool_batch ? spool_flush(w) : 0;
}

int cairn_pack_add(cairn_pack_writer *w, cairn_sealer *s, const uint8_t fp[CAIRN_FP_SIZE],
                   uint8_t kind, const void *plain, size_t len)
{
	if (kind < CAIRN_PACK_KIND_MIN || kind >= CAIRN_BLOB_BUNDLE)
		return cairn_error_set(CAIRN_EINVAL, "pack: blob kind %u", kind);
	cairn_pack_entry *e = NULL;
	int rc = add_blob(w, s, fp, kind, plain, len, 1, &e);
	if (rc)
		return rc;
	memcpy(e->fp, fp, CAIRN_FP_SIZE);
	e->kind = kind;
	e->raw_length = (uint32_t)len;
	e->inner = 0;
	return added(w);
}

int cairn_pack_add_bundle(cairn_pack_writer *w, cairn_sealer *s,
                          const uint8_t (*fps)[CAIRN_FP_SIZE], const uint32_t *lens, size_t n,
                          const void *plain, size_t len)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += lens[i] ? lens[i] : UINT32_MAX; /* an empty chunk does not fit */
	if (n < 2 || n > CAIRN_BUNDLE_CHUNKS || len > CAIRN_BUNDLE_MAX || sum != len)
		return cairn_error_set(CAIRN_EINVAL, "pack: bundle of %zu chunks, %zu bytes", n,
		                       len);
	cairn_pack_entry *e = NULL;
	int rc = add_blob(w, s, NULL, CAIRN_BLOB_BUNDLE, plain, len, n, &e);
	if (rc)
		return rc;
	uint32_t inner = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(e[i].fp, fps[i], CAIRN_FP_SIZE);
		e[i].kind = CAIRN_BLOB_BUNDLE;
		e[i].raw_length = lens[i];
		e[i].inner = inner;
		inner += lens[i];
	}
	return added(w);
}

int cairn_pack_add_sealed(cairn_pack_writer *w, const cairn_pack_entry *entries, size_t n,
                          const void *sealed, size_t len)
{
	if (n == 0 || n > CAIRN_BUNDLE_CHUNKS || (n > 1 && entries[0].kind != CAIRN_BLOB_BUNDLE))
		return cairn_error_set(CAIRN_EINVAL, "pack: a sealed blob with %zu entries", n);
	for (size_t i = 0; i < n; i++) {
		const char *why = cairn_pack_entry_problem(entries[i].kind, 0, (uint32_t)len,
		                                           entries[i].raw_length, entries[i].inner);
		if (why || entries[i].kind != entries[0].kind || len != entries[i].length)
			return cairn_error_set(CAIRN_EINVAL, "pack: sealed blob entry %zu: %s", i,
			                       why ? why : "does not match the blob");
	}
	cairn_pack_entry *e = NULL;
	int rc = add_blob(w, NULL, NULL, entries[0].kind, sealed, len, n, &e);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		uint32_t offset = e[i].offset, length = e[i].length;
		e[i] = entries[i];
		e[i].offset = offset;
		e[i].length = length;
	}
	return added(w);
}

/* A uniformly random order of the blobs: order[k] is the entry at pack
 * position k. */
static void shuffle(size_t *order, size_t count)
{
	uint8_t seed[randombytes_SEEDBYTES];
	uint32_t r[256];

	for (size_t i = 0; i < count; i++)
		order[i] = i;
	randombytes_buf(seed, sizeof(seed));
	/* Fisher-Yates; count fits u32 as every blob takes at least a byte of
	 * a pack of at most UINT32_MAX bytes. One system call per pack rather
	 * than per blob: keystreams from a fresh random seed, one per block of
	 * draws, supply them. */
	for (size_t i = count, n = 0; i > 1; i--, n++) {
		if (n % 256 == 0) {
			cairn_put_u64le(seed, (uint64_t)n);
			randombytes_buf_deterministic(r, sizeof(r), seed);
		}
		size_t j = (size_t)(((uint64_t)r[n % 256] * i) >> 32);
		size_t t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
}

int cairn_pack_finish(cairn_pack_writer *w, cairn_sealer *s, uint8_t id_out[CAIRN_ID_SIZE])
{
	cairn_buf plain = CAIRN_BUF_INIT;
	size_t *order = NULL;
	int rc;

	if (sodium_init() < 0)
		return cairn_error_set(CAIRN_ERROR, "libsodium failed to initialise");
	cairn_buf_clear(&w->tail);
	w->n_iov = 0;
	cairn_iovec *iov = realloc(w->iov, (w->n_blobs + 1) * sizeof(*iov));
	if (iov)
		w->iov = iov;
	order = malloc((w->n_blobs ? w->n_blobs : 1) * sizeof(*order));
	if (!iov || !order) {
		free(order);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	shuffle(order, w->n_blobs);

	/* The blobs stay where they are in data; only their offsets in the
	 * pack, and the order in which they are written, change. */
	uint64_t offset = 0;
	for (size_t k = 0; k < w->n_blobs; k++) {
		const cairn_pack_blob *bl = &w->blobs[order[k]];
		cairn_pack_entry *e = &w->entries[bl->first];
		uint64_t src = bl->src;
		for (uint32_t i = 0; i < bl->count; i++)
			e[i].offset = (uint32_t)offset;
		/* Spooled blobs not written out yet are still in data. */
		int in_file = w->spooled && src < w->spool_flushed;
		if (w->spooled && !in_file)
			src -= w->spool_flushed;
		iov[k].data = in_file ? NULL : w->data.data + src;
		iov[k].len = e->length;
		iov[k].fd = in_file ? w->spool_fd : -1;
		iov[k].off = in_file ? src : 0;
		offset += e->length;
	}

	rc = cairn_buf_reserve(&plain,
	                       CAIRN_PACK_TRAILER_HEADER_MAX + w->count * CAIRN_PACK_ENTRY_SIZE);
	if (rc)
		goto out;
	cairn_buf_append_u8(&plain, CAIRN_PACK_VERSION);
	cairn_buf_append_varint(&plain, w->count);
	/* In pack order, so the trailer says nothing about the order added. */
	for (size_t k = 0; k < w->n_blobs; k++) {
		const cairn_pack_blob *bl = &w->blobs[order[k]];
		for (uint32_t i = 0; i < bl->count; i++) {
			const cairn_pack_entry *e = &w->entries[bl->first + i];
			cairn_buf_append(&plain, e->fp, CAIRN_FP_SIZE);
			cairn_buf_append_u8(&plain, e->kind);
			cairn_buf_append_u32le(&plain, e->offset);
			cairn_buf_append_u32le(&plain, e->length);
			cairn_buf_append_u32le(&plain, e->raw_length);
			cairn_buf_append_u32le(&plain, e->inner);
		}
	}

	if ((rc = cairn_seal(s, &w->tail, NULL, CAIRN_BLOB_TRAILER, plain.data, plain.len)) != 0)
		goto out;
	size_t trailer_len = w->tail.len;
	if (trailer_len > UINT32_MAX || trailer_len > SIZE_MAX - CAIRN_PACK_TAIL_SIZE - offset) {
		rc = cairn_error_set(CAIRN_EINVAL, "pack: trailer of %zu bytes is too large",
		                     trailer_len);
		goto out;
	}
	if ((rc = cairn_buf_append_u32le(&w->tail, (uint32_t)trailer_len)) != 0)
		goto out;
	iov[w->n_blobs] = (cairn_iovec){.data = w->tail.data, .len = w->tail.len, .fd = -1};
	w->n_iov = w->n_blobs + 1;
	w->size = offset + w->tail.len;
	if (id_out)
		rc = cairn_sha256_iov(id_out, iov, w->n_iov);
out:
	if (rc) {
		cairn_buf_clear(&w->tail);
		w->n_iov = 0;
	}
	cairn_buf_free(&plain);
	free(order);
	return rc;
}

int cairn_pack_copy(const cairn_pack_writer *w, cairn_buf *out)
{
	int rc = cairn_buf_reserve(out, (size_t)w->size);
	for (size_t i = 0; !rc && i < w->n_iov; i++) {
		if ((rc = cairn_iov_read(&w->iov[i], 0, out->data + out->len, w->iov[i].len)))
			break;
		out->len += w->iov[i].len;
	}
	return rc;
}

int cairn_pack_trailer_length(const uint8_t last4[4], uint64_t pack_size, uint32_t *len_out)
{
	uint32_t n = cairn_get_u32le(last4);

	if (pack_size < CAIRN_PACK_TAIL_SIZE || n == 0 || n > pack_size - CAIRN_PACK_TAIL_SIZE)
		return cairn_error_set(CAIRN_ECORRUPT,
		                       "pack: trailer length %u does not fit a pack of %llu bytes",
		                       n, (unsigned long long)pack_size);
	*len_out = n;
	return 0;
}

static int by_offset(const void *a, const void *b)
{
	const cairn_pack_entry *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int cairn_pack_parse_trailer(cairn_sealer *s, const uint8_t *sealed, size_t len, uint64_t pack_size,
                             cairn_pack_entry **entries_out, size_t *count_out)
{
	static const uint8_t zero_fp[CAIRN_FP_SIZE];
	cairn_buf plain = CAIRN_BUF_INIT;
	cairn_pack_entry *entries = NULL, *sorted = NULL;
	cairn_reader r;
	uint64_t area, count;
	size_t max_plain;
	int rc;

	*entries_out = NULL;
	*count_out = 0;
	if (len == 0 || pack_size < CAIRN_PACK_TAIL_SIZE || len > pack_size - CAIRN_PACK_TAIL_SIZE)
		return cairn_error_set(
		    CAIRN_ECORRUPT, "pack: trailer of %zu bytes does not fit a pack of %llu bytes",
		    len, (unsigned long long)pack_size);
	area = pack_size - CAIRN_PACK_TAIL_SIZE - len;

	/* Blobs take at least a byte each and do not overlap, and a blob has
	 * at most CAIRN_BUNDLE_CHUNKS entries, so the blob area bounds the
	 * count, and so the plaintext: a trailer that would open to more
	 * cannot be valid and is not decompressed. */
	if (area > (SIZE_MAX - CAIRN_PACK_TRAILER_HEADER_MAX) / CAIRN_PACK_ENTRY_SIZE /
	               CAIRN_BUNDLE_CHUNKS)
		max_plain = SIZE_MAX;
	else
		max_plain = CAIRN_PACK_TRAILER_HEADER_MAX +
		            (size_t)area * CAIRN_BUNDLE_CHUNKS * CAIRN_PACK_ENTRY_SIZE;
	rc = cairn_unseal(s, &plain, zero_fp, CAIRN_BLOB_TRAILER, sealed, len, max_plain);
	if (rc) {
		rc = cairn_error_prefix(rc, "pack trailer");
		goto out;
	}

	cairn_reader_init(&r, plain.data, plain.len);
	uint8_t version = cairn_read_u8(&r);
	count = cairn_read_varint(&r);
	if (r.failed) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "pack trailer: truncated header");
		goto out;
	}
	if (version != CAIRN_PACK_VERSION && version != 1) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "pack trailer: unknown version %u", version);
		goto out;
	}
	size_t entry_size = cairn_pack_entry_size(version);
	if (count > cairn_reader_left(&r) / entry_size ||
	    count * entry_size != cairn_reader_left(&r)) {
		rc = cairn_error_set(CAIRN_ECORRUPT,
		                     "pack trailer: %llu entries do not match its %zu bytes",
		                     (unsigned long long)count, cairn_reader_left(&r));
		goto out;
	}
	entries = calloc(count ? count : 1, sizeof(*entries));
	sorted = malloc((count ? count : 1) * sizeof(*sorted));
	if (!entries || !sorted) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		cairn_pack_entry *e = &entries[i];
		const char *why = cairn_pack_entry_read(&r, version, e);
		if (why) {
			rc = cairn_error_set(
			    CAIRN_ECORRUPT,
			    "pack trailer: entry %zu (kind %u, raw length %u, inner "
			    "%u): %s",
			    i, e->kind, e->raw_length, e->inner, why);
			goto out;
		}
		if ((uint64_t)e->offset + e->length > area) {
			rc = cairn_error_set(CAIRN_ECORRUPT,
			                     "pack trailer: entry %zu (offset %u, length %u) lies "
			                     "outside the %llu bytes of blobs",
			                     i, e->offset, e->length, (unsigned long long)area);
			goto out;
		}
	}
	memcpy(sorted, entries, count * sizeof(*sorted));
	qsort(sorted, count, sizeof(*sorted), by_offset);
	for (size_t i = 1, shared = 1; i < count; i++) {
		const cairn_pack_entry *a = &sorted[i - 1], *b = &sorted[i];
		/* the entries of one bundle, at most CAIRN_BUNDLE_CHUNKS */
		if (a->offset == b->offset && a->length == b->length &&
		    a->kind == CAIRN_BLOB_BUNDLE && b->kind == CAIRN_BLOB_BUNDLE &&
		    ++shared <= CAIRN_BUNDLE_CHUNKS)
			continue;
		shared = 1;
		if ((uint64_t)a->offset + a->length > b->offset) {
			rc = cairn_error_set(CAIRN_ECORRUPT,
			                     "pack trailer: blobs at offsets %u and %u overlap",
			                     sorted[i - 1].offset, sorted[i].offset);
			goto out;
		}
	}
	*entries_out = entries;
	*count_out = count;
	entries = NULL;
	rc = 0;
out:
	cairn_buf_free(&plain);
	free(entries);
	free(sorted);
	return rc;
}

int cairn_pack_parse_tail(cairn_sealer *s, const uint8_t *tail, size_t len, uint64_t pack_size,
                          cairn_pack_entry **entries_out, size_t *count_out)
{
	uint32_t tlen;
	int rc;
	*entries_out = NULL;
	*count_out = 0;
	if (len < CAIRN_PACK_TAIL_SIZE)
		return cairn_error_set(CAIRN_ECORRUPT, "a pack of %llu bytes has no trailer",
		                       (unsigned long long)pack_size);
	if ((rc = cairn_pack_trailer_length(tail + len - CAIRN_PACK_TAIL_SIZE, pack_size, &tlen)))
		return rc;
	if ((uint64_t)tlen + CAIRN_PACK_TAIL_SIZE > len)
		return cairn_error_set(CAIRN_ECORRUPT, "a trailer of %u bytes, only %zu read", tlen,
		                       len);
	return cairn_pack_parse_trailer(s, tail + len - CAIRN_PACK_TAIL_SIZE - tlen, tlen,
	                                pack_size, entries_out, count_out);
}

#include "format/gcfile.h"

#include "cairn/errors.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GCFILE_VERSION 1

static const char *const type_names[] = {
    [CAIRN_GC_PLAN] = "plan",
    [CAIRN_GC_RUNNING] = "running",
    [CAIRN_GC_DONE] = "done",
    [CAIRN_GC_LOST] = "lost",
};

void cairn_gc_record_clear(cairn_gc_record *rec)
{
	for (size_t i = 0; i < rec->n_keys; i++)
		free(rec->keys[i]);
	free(rec->keys);
	free(rec->packs);
	free(rec->snapshots);
	free(rec->lost);
	cairn_bloom_free(rec->condemned);
	memset(rec, 0, sizeof(*rec));
}

static int encode_keys(cairn_buf *out, char *const *keys, size_t n)
{
	int rc = cairn_buf_append_varint(out, n);
	for (size_t i = 0; i < n && !rc; i++) {
		size_t len = strlen(keys[i]);
		if (len == 0 || len > CAIRN_GC_KEY_MAX)
			return cairn_error_set(CAIRN_EINVAL, "gc record: key of %zu bytes", len);
		rc = cairn_buf_append_bytes(out, keys[i], len);
	}
	return rc;
}

static int encode_plan(cairn_buf *out, const cairn_gc_record *rec)
{
	int rc = cairn_buf_append_varint(out, rec->n_packs);
	for (size_t i = 0; i < rec->n_packs && !rc; i++)
		if (!(rc = cairn_buf_append(out, rec->packs[i].id, CAIRN_ID_SIZE)))
			rc = cairn_buf_append_u64le(out, rec->packs[i].size);
	if (!rc)
		rc = cairn_buf_append_varint(out, rec->n_snapshots);
	if (!rc && rec->n_snapshots)
		rc = cairn_buf_append(out, rec->snapshots, rec->n_snapshots * CAIRN_ID_SIZE);
	if (!rc)
		rc = encode_keys(out, rec->keys, rec->n_keys);
	if (rc)
		return rc;
	cairn_buf bloom = CAIRN_BUF_INIT;
	if (rec->condemned)
		rc = cairn_bloom_serialize(rec->condemned, &bloom);
	if (!rc)
		rc = cairn_buf_append_bytes(out, bloom.data, bloom.len);
	cairn_buf_free(&bloom);
	return rc;
}

int cairn_gc_record_encode(cairn_buf *out, const cairn_gc_record *rec)
{
	int rc;
	if ((rc = cairn_buf_append_u8(out, GCFILE_VERSION)) ||
	    (rc = cairn_buf_append_u8(out, (uint8_t)rec->type)) ||
	    (rc = cairn_buf_append_u64le(out, rec->generation)))
		return rc;
	switch (rec->type) {
	case CAIRN_GC_PLAN:
		return encode_plan(out, rec);
	case CAIRN_GC_RUNNING:
		return encode_keys(out, rec->keys, rec->n_keys);
	case CAIRN_GC_DONE:
		rc = cairn_buf_append_varint(out, rec->n_packs);
		for (size_t i = 0; i < rec->n_packs && !rc; i++)
			rc = cairn_buf_append(out, rec->packs[i].id, CAIRN_ID_SIZE);
		return rc;
	case CAIRN_GC_LOST:
		rc = cairn_buf_append_varint(out, rec->n_lost);
		if (!rc && rec->n_lost)
			rc = cairn_buf_append(out, rec->lost, rec->n_lost * sizeof(*rec->lost));
		return rc;
	}
	return cairn_error_set(CAIRN_EINVAL, "gc record: unknown type %d", (int)rec->type);
}

/* A count of items of at least item_size bytes each: no more than the
 * bytes left could hold. */
static int read_count(cairn_reader *r, size_t item_size, size_t *n_out)
{
	uint64_t n = cairn_read_varint(r);
	if (r->failed || n > cairn_reader_left(r) / item_size)
		return -1;
	*n_out = (size_t)n;
	return 0;
}

static int decode_keys(cairn_reader *r, cairn_gc_record *out)
{
	size_t n;
	if (read_count(r, 2, &n))
		return -1;
	out->keys = calloc(n ? n : 1, sizeof(*out->keys));
	if (!out->keys)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const uint8_t *k = cairn_read_bytes(r, CAIRN_GC_KEY_MAX, &len);
		if (!k || len == 0 || memchr(k, '\0', len))
			return -1;
		if (!(out->keys[i] = strndup((const char *)k, len)))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		out->n_keys++;
	}
	return 0;
}

static int decode_packs(cairn_reader *r, cairn_gc_record *out, int with_size)
{
	size_t n;
	if (read_count(r, CAIRN_ID_SIZE + (with_size ? 8 : 0), &n))
		return -1;
	out->packs = calloc(n ? n : 1, sizeof(*out->packs));
	if (!out->packs)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const uint8_t *id = cairn_read_raw(r, CAIRN_ID_SIZE);
		if (!id)
			return -1;
		memcpy(out->packs[i].id, id, CAIRN_ID_SIZE);
		if (with_size)
			out->packs[i].size = cairn_read_u64le(r);
	}
	out->n_packs = n;
	return r->failed ? -1 : 0;
}

static int decode_lost(cairn_reader *r, cairn_gc_record *out)
{
	size_t n;
	if (read_count(r, sizeof(*out->lost), &n))
		return -1;
	out->lost = malloc(n ? n * sizeof(*out->lost) : 1);
	if (!out->lost)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	const uint8_t *p = cairn_read_raw(r, n * sizeof(*out->lost));
	if (n && !p)
		return -1;
	if (n)
		memcpy(out->lost, p, n * sizeof(*out->lost));
	out->n_lost = n;
	return 0;
}

static int decode_plan(cairn_reader *r, cairn_gc_record *out)
{
	int rc;
	size_t n, len;
	if ((rc = decode_packs(r, out, 1)))
		return rc;
	if (read_count(r, CAIRN_ID_SIZE, &n))
		return -1;
	out->snapshots = malloc(n ? n * CAIRN_ID_SIZE : 1);
	if (!out->snapshots)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	const uint8_t *ids = cairn_read_raw(r, n * CAIRN_ID_SIZE);
	if (n && !ids)
		return -1;
	if (n)
		memcpy(out->snapshots, ids, n * CAIRN_ID_SIZE);
	out->n_snapshots = n;
	if ((rc = decode_keys(r, out)))
		return rc;
	const uint8_t *bloom = cairn_read_bytes(r, CAIRN_GC_RECORD_MAX, &len);
	if (!bloom)
		return -1;
	if (len && (rc = cairn_bloom_parse(&out->condemned, bloom, len)))
		return rc;
	return 0;
}

int cairn_gc_record_decode(cairn_gc_record *out, const void *data, size_t len)
{
	cairn_reader r;
	int rc = 0;
	memset(out, 0, sizeof(*out));
	cairn_reader_init(&r, data, len);
	uint8_t version = cairn_read_u8(&r);
	uint8_t type = cairn_read_u8(&r);
	out->generation = cairn_read_u64le(&r);
	if (r.failed || version != GCFILE_VERSION)
		rc = -1;
	else if (type == CAIRN_GC_PLAN)
		rc = decode_plan(&r, out);
	else if (type == CAIRN_GC_RUNNING)
		rc = decode_keys(&r, out);
	else if (type == CAIRN_GC_DONE)
		rc = decode_packs(&r, out, 0);
	else if (type == CAIRN_GC_LOST)
		rc = decode_lost(&r, out);
	else
		rc = -1;
	out->type = (enum cairn_gc_type)type;
	if (!rc && (r.failed || cairn_reader_left(&r)))
		rc = -1;
	if (rc == -1)
		rc = cairn_error_set(CAIRN_ECORRUPT, "gc record: malformed (version %u, type %u)",
		                     version, type);
	if (rc)
		cairn_gc_record_clear(out);
	return rc;
}

static int lost_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(cairn_gc_lost));
}

size_t cairn_gc_lost_sort(cairn_gc_lost *v, size_t n)
{
	size_t w = 0;
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), lost_cmp);
	for (size_t i = 0; i < n; i++)
		if (w == 0 || lost_cmp(&v[w - 1], &v[i]) != 0)
			v[w++] = v[i];
	return w;
}

size_t cairn_gc_lost_first(const cairn_gc_lost *v, size_t n, const uint8_t fp[CAIRN_FP_SIZE])
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(v[mid].fp, fp, CAIRN_FP_SIZE) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int cairn_gc_lost_has(const cairn_gc_lost *v, size_t n, const uint8_t fp[CAIRN_FP_SIZE],
                      const uint8_t *pack)
{
	for (size_t lo = cairn_gc_lost_first(v, n, fp);
	     lo < n && memcmp(v[lo].fp, fp, CAIRN_FP_SIZE) == 0; lo++)
		if (!pack || memcmp(v[lo].pack, pack, CAIRN_ID_SIZE) == 0)
			return 1;
	return 0;
}

void cairn_gc_record_key(char out[64], uint64_t generation, enum cairn_gc_type type)
{
	snprintf(out, 64, "%s%016" PRIx64 "-%s", CAIRN_GC_PREFIX, generation,
	         type_names[type] ? type_names[type] : "?");
}

int cairn_gc_record_parse_key(const char *key, uint64_t *generation_out,
                              enum cairn_gc_type *type_out)
{
	if (strncmp(key, CAIRN_GC_PREFIX, strlen(CAIRN_GC_PREFIX)) == 0)
		key += strlen(CAIRN_GC_PREFIX);
	uint64_t g = 0;
	for (int i = 0; i < 16; i++) {
		char c = key[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return -1;
		g = g << 4 | d;
	}
	if (key[16] != '-')
		return -1;
	for (int t = CAIRN_GC_PLAN; t <= CAIRN_GC_LOST; t++)
		if (strcmp(key + 17, type_names[t]) == 0) {
			*generation_out = g;
			*type_out = (enum cairn_gc_type)t;
			return 0;
		}
	return -1;
}

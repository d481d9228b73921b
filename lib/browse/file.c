/* Reading a file of a snapshot: its chunks through the blob cache, the
 * next ones asked for ahead while reads go on in order. */
#include "browse/browse_internal.h"

#include "cairn/errors.h"

#include <stdlib.h>
#include <string.h>

struct cairn_browse_file {
	cairn_blobcache *cache;
	cairn_chunk_ref *chunks;
	size_t n;
	uint64_t *starts; /* n + 1 */
	uint64_t size;    /* what reads may reach: the chunks' total */
	uint64_t readahead;
	pthread_mutex_t mu; /* ra */
	browse_readahead ra;
};

static const uint8_t zero_fp[CAIRN_FP_SIZE];

int browse_file_new(cairn_browse_file **out, cairn_blobcache *cache, cairn_entry *e,
                    uint64_t readahead)
{
	cairn_browse_file *f = calloc(1, sizeof(*f));
	*out = NULL;
	if (!f || !(f->starts = malloc((e->n_chunks + 1) * sizeof(*f->starts)))) {
		free(f);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	f->cache = cache;
	f->chunks = e->chunks;
	f->n = e->n_chunks;
	e->chunks = NULL;
	e->n_chunks = 0;
	f->starts[0] = 0;
	for (size_t i = 0; i < f->n; i++)
		f->starts[i + 1] = f->starts[i] + f->chunks[i].length;
	f->size = f->starts[f->n] < e->size ? f->starts[f->n] : e->size;
	f->readahead = readahead;
	pthread_mutex_init(&f->mu, NULL);
	*out = f;
	return 0;
}

void cairn_browse_file_close(cairn_browse_file *f)
{
	if (!f)
		return;
	pthread_mutex_destroy(&f->mu);
	free(f->chunks);
	free(f->starts);
	free(f);
}

static int is_hole(const cairn_chunk_ref *c)
{
	return memcmp(c->fp, zero_fp, CAIRN_FP_SIZE) == 0;
}

/* Asks for the chunks after [first, last] when reads go in order. */
static void read_ahead(cairn_browse_file *f, size_t first, size_t last)
{
	size_t from, to;
	pthread_mutex_lock(&f->mu);
	browse_readahead_plan(&f->ra, f->starts, f->n, first, last, f->readahead, &from, &to);
	pthread_mutex_unlock(&f->mu);
	for (size_t i = from; i < to; i++) {
		if (is_hole(&f->chunks[i]) ||
		    cairn_blobcache_prefetch(f->cache, f->chunks[i].fp, CAIRN_BLOB_DATA))
			continue;
		/* The queue is full: ask for the rest at the next read. */
		pthread_mutex_lock(&f->mu);
		if (f->ra.ahead > i)
			f->ra.ahead = i;
		pthread_mutex_unlock(&f->mu);
		break;
	}
}

/* Copies [off, off + n) of chunk i (off relative to the chunk) to buf. */
static int copy_chunk(cairn_browse_file *f, size_t i, uint64_t off, uint8_t *buf, size_t n)
{
	const cairn_chunk_ref *c = &f->chunks[i];
	const cairn_cached_blob *b;
	if (is_hole(c)) {
		memset(buf, 0, n);
		return 0;
	}
	int rc = cairn_blobcache_get(f->cache, c->fp, CAIRN_BLOB_DATA, &b);
	if (rc)
		return cairn_error_prefix(rc, "bytes %llu to %llu",
		                          (unsigned long long)f->starts[i],
		                          (unsigned long long)f->starts[i + 1]);
	if (b->len != c->length)
		rc = cairn_error_set(CAIRN_ECORRUPT,
		                     "bytes %llu to %llu: chunk of %zu bytes, not %u",
		                     (unsigned long long)f->starts[i],
		                     (unsigned long long)f->starts[i + 1], b->len, c->length);
	else
		memcpy(buf, b->data + off, n);
	cairn_blobcache_release(f->cache, b);
	return rc;
}

int64_t cairn_browse_file_read(cairn_browse_file *f, void *buf, size_t n, uint64_t off)
{
	if (off >= f->size || n == 0)
		return 0;
	if (n > f->size - off)
		n = (size_t)(f->size - off);
	size_t first = browse_piece_at(f->starts, f->n, off);
	size_t last = browse_piece_at(f->starts, f->n, off + n - 1);
	read_ahead(f, first, last);
	size_t done = 0;
	for (size_t i = first; i <= last; i++) {
		uint64_t at = off + done - f->starts[i];
		uint64_t k = f->starts[i + 1] - f->starts[i] - at;
		if (k > n - done)
			k = n - done;
		int rc = copy_chunk(f, i, at, (uint8_t *)buf + done, (size_t)k);
		if (rc)
			return rc;
		done += (size_t)k;
	}
	return (int64_t)done;
}

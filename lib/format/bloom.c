/* The blocked Bloom filter (see cairn/bloom.h). */
#include "cairn/bloom.h"

#include "cairn/errors.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_BITS (CAIRN_BLOOM_BLOCK_BYTES * 8)
#define BLOCK_WORDS (CAIRN_BLOOM_BLOCK_BYTES / 8)
/* Each bit position takes 9 bits of one 64-bit hash. */
#define POS_BITS 9
#define POS_MASK (BLOCK_BITS - 1)

struct cairn_bloom {
	uint64_t *words; /* nblocks * BLOCK_WORDS, cache-line aligned */
	uint64_t nblocks;
	uint64_t items;
	uint64_t capacity;
	unsigned hashes;
};

static const uint8_t magic[4] = {'C', 'B', 'L', 'M'};
/* Odd constants, so that zero words do not hash to zero. */
#define SEED1 0x9e3779b97f4a7c15ull
#define SEED2 0xc2b2ae3d27d4eb4full

/* The finaliser of splitmix64: every input bit affects every output bit. */
static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The block a key lives in, and the hash its bit positions come from. */
static void locate(const cairn_bloom *b, const uint8_t key[32], uint64_t **block, uint64_t *bits)
{
	uint64_t h1 = mix(cairn_get_u64le(key) ^ mix(cairn_get_u64le(key + 16) ^ SEED1));
	uint64_t h2 = mix(cairn_get_u64le(key + 8) ^ mix(cairn_get_u64le(key + 24) ^ SEED2) ^ h1);
	/* Multiply-shift maps h1 onto [0, nblocks) without a division. */
	uint64_t i = (uint64_t)(((unsigned __int128)h1 * b->nblocks) >> 64);
	*block = b->words + i * BLOCK_WORDS;
	*bits = h2;
}

static int alloc_words(cairn_bloom *b)
{
	size_t bytes = (size_t)b->nblocks * CAIRN_BLOOM_BLOCK_BYTES;
	b->words = aligned_alloc(CAIRN_BLOOM_BLOCK_BYTES, bytes);
	if (!b->words)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory (Bloom filter of %zu bytes)",
		                       bytes);
	return 0;
}

int cairn_bloom_new(cairn_bloom **out, uint64_t capacity)
{
	*out = NULL;
	if (capacity == 0)
		capacity = 1;
	if (capacity > CAIRN_BLOOM_MAX_BLOCKS * BLOCK_BITS / CAIRN_BLOOM_BITS_PER_ITEM)
		return cairn_error_set(CAIRN_EINVAL, "Bloom filter capacity %llu is too large",
		                       (unsigned long long)capacity);
	cairn_bloom *b = calloc(1, sizeof(*b));
	if (!b)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	b->capacity = capacity;
	b->hashes = CAIRN_BLOOM_HASHES;
	b->nblocks = (capacity * CAIRN_BLOOM_BITS_PER_ITEM + BLOCK_BITS - 1) / BLOCK_BITS;
	int rc = alloc_words(b);
	if (rc) {
		free(b);
		return rc;
	}
	memset(b->words, 0, (size_t)b->nblocks * CAIRN_BLOOM_BLOCK_BYTES);
	*out = b;
	return 0;
}

void cairn_bloom_free(cairn_bloom *b)
{
	if (!b)
		return;
	free(b->words);
	free(b);
}

int cairn_bloom_add(cairn_bloom *b, const uint8_t key[32])
{
	return (int)cairn_bloom_add_many(b, (const uint8_t(*)[32])key, 1);
}

/* Keys are located a group at a time and their blocks fetched side by
 * side: adding is bound by the wait for each block otherwise. */
#define ADD_GROUP 16

uint64_t cairn_bloom_add_many(cairn_bloom *b, const uint8_t (*keys)[32], size_t n)
{
	uint64_t *blocks[ADD_GROUP], bits[ADD_GROUP], added = 0;
	for (size_t from = 0; from < n; from += ADD_GROUP) {
		size_t m = n - from < ADD_GROUP ? n - from : ADD_GROUP;
		for (size_t k = 0; k < m; k++) {
			locate(b, keys[from + k], &blocks[k], &bits[k]);
			__builtin_prefetch(blocks[k], 1);
		}
		for (size_t k = 0; k < m; k++) {
			uint64_t changed = 0, h = bits[k];
			for (unsigned i = 0; i < b->hashes; i++, h >>= POS_BITS) {
				unsigned pos = (unsigned)(h & POS_MASK);
				uint64_t bit = 1ull << (pos & 63);
				changed |= ~blocks[k][pos >> 6] & bit;
				blocks[k][pos >> 6] |= bit;
			}
			added += changed != 0;
		}
	}
	b->items += added;
	return added;
}

int cairn_bloom_has(const cairn_bloom *b, const uint8_t key[32])
{
	uint64_t *block, bits;
	locate(b, key, &block, &bits);
	for (unsigned i = 0; i < b->hashes; i++, bits >>= POS_BITS) {
		unsigned pos = (unsigned)(bits & POS_MASK);
		if (!(block[pos >> 6] & (1ull << (pos & 63))))
			return 0;
	}
	return 1;
}

uint64_t cairn_bloom_items(const cairn_bloom *b)
{
	return b->items;
}

uint64_t cairn_bloom_capacity(const cairn_bloom *b)
{
	return b->capacity;
}

uint64_t cairn_bloom_size(const cairn_bloom *b)
{
	return CAIRN_BLOOM_HEADER_SIZE + b->nblocks * CAIRN_BLOOM_BLOCK_BYTES;
}

static double pow_u(double x, uint64_t n)
{
	double r = 1.0;
	while (n) {
		if (n & 1)
			r *= x;
		x *= x;
		n >>= 1;
	}
	return r;
}

/* A block holding j keys answers "maybe" for an absent key with
 * probability (1 - (1 - 1/512)^(hashes j))^hashes; the number of keys in
 * a block is Poisson with mean items / nblocks. The Poisson weights are
 * computed outward from the mode and normalised by their sum, which needs
 * no exp(). */
double cairn_bloom_fp_rate(const cairn_bloom *b, uint64_t items)
{
	if (items == 0)
		return 0.0;
	double lambda = (double)items / (double)b->nblocks;
	double qk = pow_u(1.0 - 1.0 / BLOCK_BITS, b->hashes);
	uint64_t mode = (uint64_t)lambda;
	double sum = 0.0, acc = 0.0;
	for (int dir = 0; dir < 2; dir++) {
		double t = 1.0;
		uint64_t j = mode;
		for (;;) {
			if (dir == 0 || j != mode) {
				double in_block = 1.0 - pow_u(qk, j);
				sum += t;
				acc += t * pow_u(in_block, b->hashes);
			}
			if (t < 1e-17 * sum)
				break;
			if (dir == 0) {
				j++;
				t *= lambda / (double)j;
			} else {
				if (j == 0)
					break;
				t *= (double)j / lambda;
				j--;
			}
		}
	}
	return acc / sum;
}

int cairn_bloom_serialize(const cairn_bloom *b, cairn_buf *out)
{
	uint64_t size = cairn_bloom_size(b);
	if (size > SIZE_MAX)
		return cairn_error_set(CAIRN_ENOMEM, "Bloom filter too large");
	int rc = cairn_buf_reserve(out, (size_t)size);
	if (rc)
		return rc;
	uint8_t *p = out->data + out->len;
	memcpy(p, magic, 4);
	p[4] = CAIRN_BLOOM_VERSION;
	p[5] = (uint8_t)b->hashes;
	p[6] = p[7] = 0;
	cairn_put_u64le(p + 8, b->nblocks);
	cairn_put_u64le(p + 16, b->items);
	cairn_put_u64le(p + 24, b->capacity);
	p += CAIRN_BLOOM_HEADER_SIZE;
	uint64_t nwords = b->nblocks * BLOCK_WORDS;
	for (uint64_t i = 0; i < nwords; i++)
		cairn_put_u64le(p + 8 * i, b->words[i]);
	out->len += (size_t)size;
	return 0;
}

int cairn_bloom_parse(cairn_bloom **out, const void *data, size_t len)
{
	cairn_reader r;
	*out = NULL;
	cairn_reader_init(&r, data, len);
	const uint8_t *m = cairn_read_raw(&r, 4);
	uint8_t version = cairn_read_u8(&r);
	uint8_t hashes = cairn_read_u8(&r);
	uint8_t pad0 = cairn_read_u8(&r), pad1 = cairn_read_u8(&r);
	uint64_t nblocks = cairn_read_u64le(&r);
	uint64_t items = cairn_read_u64le(&r);
	uint64_t capacity = cairn_read_u64le(&r);
	if (r.failed || memcmp(m, magic, 4) != 0)
		return cairn_error_set(CAIRN_ECORRUPT, "not a Bloom filter");
	if (version != CAIRN_BLOOM_VERSION)
		return cairn_error_set(CAIRN_ECORRUPT, "Bloom filter version %u is not supported",
		                       version);
	if (hashes < 1 || hashes * POS_BITS > 64 || pad0 || pad1 || capacity == 0)
		return cairn_error_set(CAIRN_ECORRUPT, "Bloom filter header is malformed");
	if (nblocks < 1 || nblocks > CAIRN_BLOOM_MAX_BLOCKS ||
	    cairn_reader_left(&r) / CAIRN_BLOOM_BLOCK_BYTES != nblocks ||
	    cairn_reader_left(&r) % CAIRN_BLOOM_BLOCK_BYTES != 0)
		return cairn_error_set(CAIRN_ECORRUPT,
		                       "Bloom filter of %llu blocks has %zu bytes of blocks",
		                       (unsigned long long)nblocks, cairn_reader_left(&r));
	cairn_bloom *b = calloc(1, sizeof(*b));
	if (!b)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	b->nblocks = nblocks;
	b->items = items;
	b->capacity = capacity;
	b->hashes = hashes;
	int rc = alloc_words(b);
	if (rc) {
		free(b);
		return rc;
	}
	const uint8_t *p = cairn_read_raw(&r, (size_t)nblocks * CAIRN_BLOOM_BLOCK_BYTES);
	for (uint64_t i = 0; i < nblocks * BLOCK_WORDS; i++)
		b->words[i] = cairn_get_u64le(p + 8 * i);
	*out = b;
	return 0;
}

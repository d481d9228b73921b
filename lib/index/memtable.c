/* The index core's table in memory (memtable.h). */
#include "index/memtable.h"

#include "cairn/errors.h"
#include "util/parallel.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TAIL 30 /* fingerprint bytes a record keeps: all but the first two */
#define STRIPES 1024
/* Pack ids are kept in blocks that never move, so that a pack number's
 * id can be read without a lock. */
#define PACK_BLOCK_BITS 12
#define PACK_BLOCK (1u << PACK_BLOCK_BITS)
#define PACK_NUM_MASK (CAIRN_MEMTABLE_PACKS_MAX - 1)

typedef struct rec {
	uint8_t tail[TAIL];
	uint8_t writer[2]; /* room for a writer's identity; zero */
	uint32_t pack;     /* number | flags */
	uint32_t offset;
} rec;

_Static_assert(sizeof(rec) == 40, "a record is 40 bytes");

typedef struct part {
	rec *a;
	uint32_t n, sorted, cap;
} part;

struct cairn_memtable {
	unsigned bits;
	size_t nparts;
	part *parts;
	pthread_rwlock_t locks[STRIPES];

	pthread_mutex_t packs_lock;
	uint8_t (**blocks)[32]; /* block b holds numbers [b * PACK_BLOCK, ...) */
	size_t nblocks_cap;
	uint32_t npacks;
	uint32_t *slots; /* open addressing: number + 1, 0 empty */
	size_t nslots;
};

static size_t part_of(const cairn_memtable *mt, const uint8_t *fp)
{
	uint32_t top = (uint32_t)fp[0] << 16 | (uint32_t)fp[1] << 8 | fp[2];
	return top >> (24 - mt->bits);
}

static pthread_rwlock_t *lock_of(cairn_memtable *mt, size_t p)
{
	return &mt->locks[p & (STRIPES - 1)];
}

/* memcmp of two tails, the first 8 bytes compared as one number: tails
 * are uniformly random, so that nearly always decides. */
static int tail_cmp(const uint8_t *a, const uint8_t *b)
{
	uint64_t x, y;
	memcpy(&x, a, 8);
	memcpy(&y, b, 8);
	if (x != y) {
		x = __builtin_bswap64(x);
		y = __builtin_bswap64(y);
		return x < y ? -1 : 1;
	}
	return memcmp(a + 8, b + 8, TAIL - 8);
}

static int rec_cmp(const rec *x, const rec *y)
{
	int c = tail_cmp(x->tail, y->tail);
	if (c)
		return c;
	uint32_t a = x->pack & PACK_NUM_MASK, b = y->pack & PACK_NUM_MASK;
	return (a > b) - (a < b);
}

static int rec_qsort_cmp(const void *a, const void *b)
{
	return rec_cmp(a, b);
}

unsigned cairn_memtable_bits_for(uint64_t rows)
{
	unsigned bits = CAIRN_MEMTABLE_BITS_MIN;
	while (bits < CAIRN_MEMTABLE_BITS_MAX && (rows >> bits) > 128)
		bits++;
	return bits;
}

int cairn_memtable_new(cairn_memtable **out, unsigned bits)
{
	*out = NULL;
	if (bits < CAIRN_MEMTABLE_BITS_MIN)
		bits = CAIRN_MEMTABLE_BITS_MIN;
	if (bits > CAIRN_MEMTABLE_BITS_MAX)
		bits = CAIRN_MEMTABLE_BITS_MAX;
	cairn_memtable *mt = calloc(1, sizeof(*mt));
	if (!mt)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	mt->bits = bits;
	mt->nparts = (size_t)1 << bits;
	mt->parts = calloc(mt->nparts, sizeof(*mt->parts));
	mt->nslots = 1024;
	mt->slots = calloc(mt->nslots, sizeof(*mt->slots));
	if (!mt->parts || !mt->slots) {
		free(mt->parts);
		free(mt->slots);
		free(mt);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < STRIPES; i++)
		pthread_rwlock_init(&mt->locks[i], NULL);
	pthread_mutex_init(&mt->packs_lock, NULL);
	*out = mt;
	return 0;
}

void cairn_memtable_free(cairn_memtable *mt)
{
	if (!mt)
		return;
	for (size_t i = 0; i < mt->nparts; i++)
		free(mt->parts[i].a);
	free(mt->parts);
	for (size_t b = 0; b < mt->nblocks_cap; b++)
		free(mt->blocks[b]);
	free(mt->blocks);
	free(mt->slots);
	for (size_t i = 0; i < STRIPES; i++)
		pthread_rwlock_destroy(&mt->locks[i]);
	pthread_mutex_destroy(&mt->packs_lock);
	free(mt);
}

/* ---- packs ---- */

static size_t slot_of(const uint8_t id[32], size_t nslots)
{
	uint64_t h;
	memcpy(&h, id, sizeof(h)); /* pack ids are SHA-256 digests */
	return (size_t)(h & (nslots - 1));
}

const uint8_t *cairn_memtable_pack_id(const cairn_memtable *mt, uint32_t num)
{
	num &= PACK_NUM_MASK;
	return mt->blocks[num >> PACK_BLOCK_BITS][num & (PACK_BLOCK - 1)];
}

static int grow_slots(cairn_memtable *mt)
{
	size_t n = mt->nslots * 2;
	uint32_t *s = calloc(n, sizeof(*s));
	if (!s)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (uint32_t num = 0; num < mt->npacks; num++) {
		size_t k = slot_of(cairn_memtable_pack_id(mt, num), n);
		while (s[k])
			k = (k + 1) & (n - 1);
		s[k] = num + 1;
	}
	free(mt->slots);
	mt->slots = s;
	mt->nslots = n;
	return 0;
}

static int new_pack(cairn_memtable *mt, const uint8_t id[32], size_t slot, uint32_t *num)
{
	uint32_t n = mt->npacks;
	size_t b = n >> PACK_BLOCK_BITS;
	if (n >= CAIRN_MEMTABLE_PACKS_MAX)
		return cairn_error_set(CAIRN_ERROR,
		                       "the index holds more packs than it can number");
	if (b >= mt->nblocks_cap) {
		size_t cap = mt->nblocks_cap ? 2 * mt->nblocks_cap : 16;
		void *m = realloc(mt->blocks, cap * sizeof(*mt->blocks));
		if (!m)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		mt->blocks = m;
		memset(mt->blocks + mt->nblocks_cap, 0,
		       (cap - mt->nblocks_cap) * sizeof(*mt->blocks));
		mt->nblocks_cap = cap;
	}
	if (!mt->blocks[b] && !(mt->blocks[b] = malloc(PACK_BLOCK * 32)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	memcpy(mt->blocks[b][n & (PACK_BLOCK - 1)], id, 32);
	mt->slots[slot] = n + 1;
	mt->npacks = n + 1;
	*num = n;
	return 0;
}

/* The slot of id, or of the empty slot where it would go. Under
 * packs_lock. */
static size_t probe(const cairn_memtable *mt, const uint8_t id[32])
{
	size_t k = slot_of(id, mt->nslots);
	while (mt->slots[k] && memcmp(cairn_memtable_pack_id(mt, mt->slots[k] - 1), id, 32))
		k = (k + 1) & (mt->nslots - 1);
	return k;
}

int cairn_memtable_intern(cairn_memtable *mt, const uint8_t id[32], uint32_t *num)
{
	int rc = 0;
	pthread_mutex_lock(&mt->packs_lock);
	if (2 * (size_t)(mt->npacks + 1) > mt->nslots && (rc = grow_slots(mt)))
		goto out;
	size_t k = probe(mt, id);
	if (mt->slots[k])
		*num = mt->slots[k] - 1;
	else
		rc = new_pack(mt, id, k, num);
out:
	pthread_mutex_unlock(&mt->packs_lock);
	return rc;
}

/* ---- partitions ---- */

/* The first record of p's sorted part not below key's tail. */
static uint32_t lower_bound(const part *p, const uint8_t *tail)
{
	uint32_t lo = 0, hi = p->sorted;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (tail_cmp(p->a[mid].tail, tail) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The record (tail, pack), or NULL. */
static rec *find_exact(part *p, const uint8_t *tail, uint32_t pack)
{
	for (uint32_t i = lower_bound(p, tail); i < p->sorted && !tail_cmp(p->a[i].tail, tail); i++)
		if ((p->a[i].pack & PACK_NUM_MASK) == pack)
			return &p->a[i];
	for (uint32_t i = p->sorted; i < p->n; i++)
		if ((p->a[i].pack & PACK_NUM_MASK) == pack && !tail_cmp(p->a[i].tail, tail))
			return &p->a[i];
	return NULL;
}

/* Sorts the unsorted tail and merges it into the sorted part, in place
 * from the back. */
static int merge_tail(part *p)
{
	uint32_t nd = p->n - p->sorted;
	if (!nd)
		return 0;
	rec *d = malloc(nd * sizeof(*d));
	if (!d)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	memcpy(d, p->a + p->sorted, nd * sizeof(*d));
	qsort(d, nd, sizeof(*d), rec_qsort_cmp);
	int64_t i = (int64_t)p->sorted - 1, j = (int64_t)nd - 1, k = (int64_t)p->n - 1;
	while (j >= 0) {
		if (i >= 0 && rec_cmp(&p->a[i], &d[j]) > 0)
			p->a[k--] = p->a[i--];
		else
			p->a[k--] = d[j--];
	}
	p->sorted = p->n;
	free(d);
	return 0;
}

static uint32_t room_for(uint32_t n)
{
	uint32_t extra = n / 16;
	return n + (extra < 4 ? 4 : extra);
}

static int reserve(part *p, uint32_t n)
{
	if (n <= p->cap)
		return 0;
	uint32_t cap = room_for(n);
	rec *a = realloc(p->a, (size_t)cap * sizeof(*a));
	if (!a)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	p->a = a;
	p->cap = cap;
	return 0;
}

static void make_rec(rec *r, const uint8_t *fp, uint32_t pack, uint32_t offset, int bad)
{
	memcpy(r->tail, fp + 2, TAIL);
	r->writer[0] = r->writer[1] = 0;
	r->pack = pack | (bad ? CAIRN_MEMTABLE_BAD : 0);
	r->offset = offset;
}

int cairn_memtable_add(cairn_memtable *mt, const uint8_t fp[32], uint32_t pack, uint32_t offset,
                       int *added)
{
	size_t pi = part_of(mt, fp);
	part *p = &mt->parts[pi];
	int rc = 0, was_added = 0;
	pthread_rwlock_wrlock(lock_of(mt, pi));
	if (find_exact(p, fp + 2, pack))
		goto out;
	if ((rc = reserve(p, p->n + 1)))
		goto out;
	make_rec(&p->a[p->n++], fp, pack, offset, 0);
	was_added = 1;
	uint32_t limit = p->sorted / 16;
	if (p->n - p->sorted > (limit < 8 ? 8 : limit))
		rc = merge_tail(p);
out:
	pthread_rwlock_unlock(lock_of(mt, pi));
	if (added)
		*added = was_added;
	return rc;
}

/* Whether r is a better row to give than best: never bad, and of the
 * lower pack id, as the SQLite shards order a fingerprint's rows. */
static int better(const cairn_memtable *mt, const rec *r, const rec *best)
{
	if (r->pack & CAIRN_MEMTABLE_BAD)
		return 0;
	return !best || memcmp(cairn_memtable_pack_id(mt, r->pack),
	                       cairn_memtable_pack_id(mt, best->pack), 32) < 0;
}

int cairn_memtable_find(cairn_memtable *mt, const uint8_t fp[32], cairn_memtable_row *row)
{
	size_t pi = part_of(mt, fp);
	part *p = &mt->parts[pi];
	const rec *hit = NULL;
	pthread_rwlock_rdlock(lock_of(mt, pi));
	for (uint32_t i = lower_bound(p, fp + 2); i < p->sorted && !tail_cmp(p->a[i].tail, fp + 2);
	     i++)
		if (better(mt, &p->a[i], hit))
			hit = &p->a[i];
	for (uint32_t i = p->sorted; i < p->n; i++)
		if (!tail_cmp(p->a[i].tail, fp + 2) && better(mt, &p->a[i], hit))
			hit = &p->a[i];
	if (hit) {
		row->pack = hit->pack & PACK_NUM_MASK;
		row->offset = hit->offset;
	}
	pthread_rwlock_unlock(lock_of(mt, pi));
	return hit != NULL;
}

int cairn_memtable_mark_bad(cairn_memtable *mt, const uint8_t fp[32], uint32_t pack)
{
	size_t pi = part_of(mt, fp);
	pthread_rwlock_wrlock(lock_of(mt, pi));
	rec *r = find_exact(&mt->parts[pi], fp + 2, pack);
	if (r)
		r->pack |= CAIRN_MEMTABLE_BAD;
	pthread_rwlock_unlock(lock_of(mt, pi));
	return r != NULL;
}

int cairn_memtable_drop_packs(cairn_memtable *mt, const uint8_t (*ids)[32], size_t n,
                              uint64_t *gone_out)
{
	uint64_t gone = 0;
	pthread_mutex_lock(&mt->packs_lock);
	uint32_t npacks = mt->npacks;
	uint8_t *dropped = calloc(npacks / 8 + 1, 1);
	for (size_t i = 0; dropped && i < n; i++) {
		size_t k = probe(mt, ids[i]);
		if (mt->slots[k]) /* a pack the table never had has no rows */
			dropped[(mt->slots[k] - 1) >> 3] |=
			    (uint8_t)(1u << ((mt->slots[k] - 1) & 7));
	}
	pthread_mutex_unlock(&mt->packs_lock);
	if (!dropped)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t pi = 0; pi < mt->nparts; pi++) {
		part *p = &mt->parts[pi];
		pthread_rwlock_wrlock(lock_of(mt, pi));
		uint32_t k = 0, sorted = 0;
		for (uint32_t i = 0; i < p->n; i++) {
			uint32_t num = p->a[i].pack & PACK_NUM_MASK;
			if (num < npacks && (dropped[num >> 3] >> (num & 7) & 1))
				continue;
			p->a[k++] = p->a[i];
			sorted += i < p->sorted;
		}
		gone += p->n - k;
		p->n = k;
		p->sorted = sorted;
		pthread_rwlock_unlock(lock_of(mt, pi));
	}
	free(dropped);
	if (gone_out)
		*gone_out = gone;
	return 0;
}

void cairn_memtable_clear(cairn_memtable *mt)
{
	for (size_t pi = 0; pi < mt->nparts; pi++) {
		pthread_rwlock_wrlock(lock_of(mt, pi));
		free(mt->parts[pi].a);
		memset(&mt->parts[pi], 0, sizeof(mt->parts[pi]));
		pthread_rwlock_unlock(lock_of(mt, pi));
	}
}

uint64_t cairn_memtable_count(cairn_memtable *mt)
{
	uint64_t n = 0;
	for (size_t pi = 0; pi < mt->nparts; pi++) {
		pthread_rwlock_rdlock(lock_of(mt, pi));
		n += mt->parts[pi].n;
		pthread_rwlock_unlock(lock_of(mt, pi));
	}
	return n;
}

uint64_t cairn_memtable_bytes(cairn_memtable *mt)
{
	uint64_t b = mt->nparts * sizeof(part);
	for (size_t pi = 0; pi < mt->nparts; pi++) {
		pthread_rwlock_rdlock(lock_of(mt, pi));
		b += (uint64_t)mt->parts[pi].cap * sizeof(rec);
		pthread_rwlock_unlock(lock_of(mt, pi));
	}
	pthread_mutex_lock(&mt->packs_lock);
	b += (uint64_t)mt->nslots * sizeof(uint32_t) +
	     (uint64_t)((mt->npacks + PACK_BLOCK - 1) >> PACK_BLOCK_BITS) * PACK_BLOCK * 32;
	pthread_mutex_unlock(&mt->packs_lock);
	return b;
}

static void fp_of(const cairn_memtable *mt, size_t pi, const rec *r, uint8_t fp[32])
{
	uint32_t top = (uint32_t)(pi << (24 - mt->bits));
	fp[0] = (uint8_t)(top >> 16);
	fp[1] = (uint8_t)(top >> 8);
	memcpy(fp + 2, r->tail, TAIL);
}

void cairn_memtable_each(cairn_memtable *mt, void (*fn)(void *ud, const uint8_t fp[32]), void *ud)
{
	uint8_t fp[32];
	for (size_t pi = 0; pi < mt->nparts; pi++) {
		pthread_rwlock_rdlock(lock_of(mt, pi));
		for (uint32_t i = 0; i < mt->parts[pi].n; i++) {
			fp_of(mt, pi, &mt->parts[pi].a[i], fp);
			fn(ud, fp);
		}
		pthread_rwlock_unlock(lock_of(mt, pi));
	}
}

/* ---- loading ---- */

/* A loading thread's rows, in fingerprint order, before they are split
 * into their partitions (one growing array: partitions that grow one by
 * one cost the allocator dearly). */
struct cairn_memtable_loader {
	cairn_memtable *mt;
	size_t first, end; /* the partitions it fills */
	uint32_t *counts;  /* rows of partition first + k */
	rec *a;
	size_t n, cap;
};

int cairn_memtable_loader_new(cairn_memtable_loader **out, cairn_memtable *mt, unsigned lo,
                              unsigned hi, size_t expected)
{
	cairn_memtable_loader *ld = calloc(1, sizeof(*ld));
	*out = NULL;
	if (!ld)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	ld->mt = mt;
	ld->first = (size_t)lo << (mt->bits - 8);
	ld->end = (size_t)hi << (mt->bits - 8);
	ld->cap = expected;
	if (!(ld->counts = calloc(ld->end - ld->first + 1, sizeof(*ld->counts))) ||
	    (expected && !(ld->a = malloc(expected * sizeof(*ld->a))))) {
		free(ld->counts);
		free(ld);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	*out = ld;
	return 0;
}

void cairn_memtable_loader_free(cairn_memtable_loader *ld)
{
	if (!ld)
		return;
	free(ld->counts);
	free(ld->a);
	free(ld);
}

int cairn_memtable_loader_add(cairn_memtable_loader *ld, const uint8_t fp[32], uint32_t pack,
                              uint32_t offset, int bad)
{
	size_t pi = part_of(ld->mt, fp);
	if (pi < ld->first || pi >= ld->end)
		return cairn_error_set(CAIRN_EINVAL, "a row outside the loader's partitions");
	if (ld->n == ld->cap) {
		size_t cap = ld->cap ? ld->cap + ld->cap / 2 : 65536;
		rec *a = realloc(ld->a, cap * sizeof(*a));
		if (!a)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		ld->a = a;
		ld->cap = cap;
	}
	make_rec(&ld->a[ld->n++], fp, pack, offset, bad);
	ld->counts[pi - ld->first]++;
	return 0;
}

/* Rows of one fingerprint in several packs are ordered by pack number,
 * as cairn_memtable_add keeps them. */
static void order_ties(rec *a, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++)
		if (rec_cmp(&a[i - 1], &a[i]) > 0) {
			qsort(a, n, sizeof(*a), rec_qsort_cmp);
			return;
		}
}

int cairn_memtable_loader_finish(cairn_memtable_loader *ld, const uint32_t *map)
{
	cairn_memtable *mt = ld->mt;
	size_t at = 0;
	for (size_t i = 0; map && i < ld->n; i++)
		ld->a[i].pack =
		    (ld->a[i].pack & ~PACK_NUM_MASK) | map[ld->a[i].pack & PACK_NUM_MASK];
	for (size_t pi = ld->first; pi < ld->end; pi++) {
		part *p = &mt->parts[pi];
		uint32_t n = ld->counts[pi - ld->first];
		if (!n)
			continue;
		uint32_t cap = room_for(n);
		rec *a = malloc((size_t)cap * sizeof(*a));
		if (!a)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		memcpy(a, ld->a + at, (size_t)n * sizeof(*a));
		at += n;
		order_ties(a, n);
		pthread_rwlock_wrlock(lock_of(mt, pi));
		free(p->a);
		p->a = a;
		p->n = p->sorted = n;
		p->cap = cap;
		pthread_rwlock_unlock(lock_of(mt, pi));
	}
	free(ld->a);
	ld->a = NULL;
	ld->n = ld->cap = 0;
	return 0;
}

/* ---- saving and loading whole ----
 *
 * "CXMT", bits, packs, 0 (u32 each), rows (u64), the pack ids, each
 * partition's row count (u32), then every partition's records. */

#define SAVE_MAGIC "CXMT"
#define LOAD_THREADS 8

int cairn_memtable_save(cairn_memtable *mt, int (*put)(void *ud, const void *p, size_t n), void *ud)
{
	uint32_t head[4] = {0, mt->bits, mt->npacks, 0};
	uint64_t rows = cairn_memtable_count(mt);
	memcpy(&head[0], SAVE_MAGIC, 4);
	int rc = put(ud, head, sizeof(head));
	if (!rc)
		rc = put(ud, &rows, sizeof(rows));
	for (uint32_t b = 0; !rc && b * PACK_BLOCK < mt->npacks; b++) {
		uint32_t n = mt->npacks - b * PACK_BLOCK;
		rc = put(ud, mt->blocks[b], (size_t)(n < PACK_BLOCK ? n : PACK_BLOCK) * 32);
	}
	for (size_t pi = 0; !rc && pi < mt->nparts; pi++)
		if (!(rc = merge_tail(&mt->parts[pi])))
			rc = put(ud, &mt->parts[pi].n, sizeof(uint32_t));
	for (size_t pi = 0; !rc && pi < mt->nparts; pi++)
		if (mt->parts[pi].n)
			rc = put(ud, mt->parts[pi].a, (size_t)mt->parts[pi].n * sizeof(rec));
	return rc;
}

typedef struct load_job {
	cairn_memtable *mt;
	const uint32_t *counts;
	const uint64_t *starts; /* of each thread's first partition's records */
	size_t per;             /* partitions per thread */
	int (*read_at)(void *ud, void *p, size_t n, uint64_t offset);
	void *ud;
} load_job;

/* Reads the records of one thread's partitions, a buffer at a time. */
static int load_range(void *arg, size_t t)
{
	const load_job *j = arg;
	cairn_memtable *mt = j->mt;
	size_t first = t * j->per, end = first + j->per;
	uint64_t at = j->starts[t];
	for (size_t pi = first; pi < end && pi < mt->nparts; pi++) {
		part *p = &mt->parts[pi];
		uint32_t n = j->counts[pi];
		if (!n)
			continue;
		uint32_t cap = room_for(n);
		if (!(p->a = malloc((size_t)cap * sizeof(rec))))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		p->cap = cap;
		int rc = j->read_at(j->ud, p->a, (size_t)n * sizeof(rec), at);
		if (rc)
			return rc;
		at += (uint64_t)n * sizeof(rec);
		for (uint32_t i = 0; i < n; i++)
			if ((p->a[i].pack & PACK_NUM_MASK) >= mt->npacks)
				return cairn_error_set(CAIRN_ECORRUPT,
				                       "a saved index table is damaged");
		p->n = p->sorted = n;
	}
	return 0;
}

int cairn_memtable_load_saved(cairn_memtable **out,
                              int (*read_at)(void *ud, void *p, size_t n, uint64_t offset),
                              void *ud, uint64_t base)
{
	uint32_t head[4], *counts = NULL;
	uint64_t rows, sum = 0, starts[LOAD_THREADS];
	cairn_memtable *mt = NULL;
	uint8_t(*ids)[32] = NULL;
	*out = NULL;
	int rc = read_at(ud, head, sizeof(head), base);
	if (!rc)
		rc = read_at(ud, &rows, sizeof(rows), base + sizeof(head));
	if (rc)
		return rc;
	if (memcmp(&head[0], SAVE_MAGIC, 4) || head[1] < CAIRN_MEMTABLE_BITS_MIN ||
	    head[1] > CAIRN_MEMTABLE_BITS_MAX || head[2] > CAIRN_MEMTABLE_PACKS_MAX)
		return cairn_error_set(CAIRN_ECORRUPT, "not a saved index table");
	uint64_t at = base + sizeof(head) + sizeof(rows);
	if ((rc = cairn_memtable_new(&mt, head[1])))
		return rc;
	ids = malloc(((size_t)head[2] + 1) * 32);
	counts = malloc(mt->nparts * sizeof(*counts));
	if (!ids || !counts) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = read_at(ud, ids, (size_t)head[2] * 32, at)))
		goto out;
	at += (uint64_t)head[2] * 32;
	for (uint32_t i = 0; !rc && i < head[2]; i++) {
		uint32_t num;
		if (!(rc = cairn_memtable_intern(mt, ids[i], &num)) && num != i)
			rc = cairn_error_set(CAIRN_ECORRUPT,
			                     "a saved index table names a pack twice");
	}
	if (rc || (rc = read_at(ud, counts, mt->nparts * sizeof(*counts), at)))
		goto out;
	at += mt->nparts * sizeof(*counts);
	load_job job = {mt, counts, starts, mt->nparts / LOAD_THREADS, read_at, ud};
	for (size_t pi = 0; pi < mt->nparts; pi++) {
		if (pi % job.per == 0)
			starts[pi / job.per] = at + sum * sizeof(rec);
		sum += counts[pi];
	}
	if (sum != rows) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "a saved index table's counts do not add up");
		goto out;
	}
	rc = cairn_parallel_for(LOAD_THREADS, LOAD_THREADS, load_range, &job);
out:
	free(ids);
	free(counts);
	if (rc) {
		cairn_memtable_free(mt);
		return rc;
	}
	*out = mt;
	return 0;
}

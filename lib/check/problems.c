/* The problems a check finds, one per (kind, object, offset) however
 * often it is found, and the chunks each concerns, from which the second
 * pass over the manifests learns the snapshots and files that need it. */
#include "check/check_internal.h"

#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t key_hash(enum cairn_check_kind kind, const char *object, uint64_t offset)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const char *p = object; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h = (h ^ (uint64_t)kind) * 1099511628211ull;
	return (h ^ offset) * 1099511628211ull;
}

static int key_equal(const cairn_check_problem *p, enum cairn_check_kind kind, const char *object,
                     uint64_t offset)
{
	return p->kind == kind && p->offset == offset && strcmp(p->object, object) == 0;
}

/* The slot of the key: the one holding it, or the free one it would take. */
static size_t slot_of(const check_problems *ps, enum cairn_check_kind kind, const char *object,
                      uint64_t offset)
{
	size_t mask = ps->n_slots - 1;
	size_t i = (size_t)key_hash(kind, object, offset) & mask;
	while (ps->slots[i] && !key_equal(&ps->items[ps->slots[i] - 1], kind, object, offset))
		i = (i + 1) & mask;
	return i;
}

/* Keeps the table at most half full. */
static int slots_grow(check_problems *ps)
{
	if (ps->n_slots && (ps->n + 1) * 2 <= ps->n_slots)
		return 0;
	size_t n = ps->n_slots ? ps->n_slots * 2 : 64;
	uint32_t *old = ps->slots;
	if (!(ps->slots = calloc(n, sizeof(*ps->slots)))) {
		ps->slots = old;
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	ps->n_slots = n;
	for (size_t i = 0; i < ps->n; i++) {
		const cairn_check_problem *p = &ps->items[i];
		ps->slots[slot_of(ps, p->kind, p->object, p->offset)] = (uint32_t)(i + 1);
	}
	free(old);
	return 0;
}

int check_problem_add(check_problems *ps, enum cairn_check_kind kind, const char *object,
                      uint64_t offset, const char *detail, uint64_t count, size_t *index_out)
{
	int rc;
	if (ps->n >= UINT32_MAX - 1)
		return cairn_error_set(CAIRN_ENOMEM, "too many problems");
	if ((rc = slots_grow(ps)))
		return rc;
	size_t slot = slot_of(ps, kind, object, offset);
	if (ps->slots[slot]) {
		size_t i = ps->slots[slot] - 1;
		ps->items[i].count += count;
		if (index_out)
			*index_out = i;
		return 0;
	}
	if ((rc = cairn_array_grow((void **)&ps->items, &ps->cap, ps->n + 1, sizeof(*ps->items))))
		return rc;
	cairn_check_problem *p = &ps->items[ps->n];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->offset = offset;
	p->count = count;
	snprintf(p->object, sizeof(p->object), "%s", object);
	if (!(p->detail = strdup(detail ? detail : "")))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	ps->slots[slot] = (uint32_t)(ps->n + 1);
	if (index_out)
		*index_out = ps->n;
	ps->n++;
	return 0;
}

int check_problem_chunk(check_problems *ps, size_t problem, const uint8_t fp[CAIRN_FP_SIZE])
{
	int rc = cairn_array_grow((void **)&ps->chunks, &ps->cap_chunks, ps->n_chunks + 1,
	                          sizeof(*ps->chunks));
	if (rc)
		return rc;
	check_chunk *ch = &ps->chunks[ps->n_chunks++];
	memcpy(ch->fp, fp, CAIRN_FP_SIZE);
	ch->problem = (uint32_t)problem;
	return 0;
}

static int chunk_cmp(const void *pa, const void *pb)
{
	const check_chunk *a = pa, *b = pb;
	int c = memcmp(a->fp, b->fp, CAIRN_FP_SIZE);
	if (c)
		return c;
	return a->problem < b->problem ? -1 : a->problem > b->problem;
}

void check_problems_sort(check_problems *ps)
{
	size_t n = 0;
	if (ps->n_chunks == 0)
		return;
	qsort(ps->chunks, ps->n_chunks, sizeof(*ps->chunks), chunk_cmp);
	for (size_t i = 0; i < ps->n_chunks; i++)
		if (n == 0 || chunk_cmp(&ps->chunks[n - 1], &ps->chunks[i]) != 0)
			ps->chunks[n++] = ps->chunks[i];
	ps->n_chunks = n;
}

size_t check_problems_find(const check_problems *ps, const uint8_t fp[CAIRN_FP_SIZE], size_t *first)
{
	size_t lo = 0, hi = ps->n_chunks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(ps->chunks[mid].fp, fp, CAIRN_FP_SIZE) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < ps->n_chunks && memcmp(ps->chunks[end].fp, fp, CAIRN_FP_SIZE) == 0)
		end++;
	*first = lo;
	return end - lo;
}

static int need_snapshot(cairn_check_problem *p, const uint8_t snap[CAIRN_ID_SIZE])
{
	/* The pass goes snapshot by snapshot: the last one is the likely one. */
	for (size_t i = p->n_snapshots; i-- > 0;)
		if (memcmp(p->snapshots[i], snap, CAIRN_ID_SIZE) == 0)
			return 0;
	int rc = cairn_array_grow((void **)&p->snapshots, &p->cap_snapshots, p->n_snapshots + 1,
	                          sizeof(*p->snapshots));
	if (rc)
		return rc;
	memcpy(p->snapshots[p->n_snapshots++], snap, CAIRN_ID_SIZE);
	return 0;
}

int check_problem_need(check_problems *ps, size_t problem, const uint8_t snap[CAIRN_ID_SIZE],
                       const char *path)
{
	cairn_check_problem *p = &ps->items[problem];
	int rc = need_snapshot(p, snap);
	if (rc || !path)
		return rc;
	p->files_total++;
	if (p->n_files == CAIRN_CHECK_FILES_SHOWN)
		return 0;
	for (size_t i = 0; i < p->n_files; i++)
		if (strcmp(p->files[i], path) == 0)
			return 0;
	if (!(p->files[p->n_files] = strdup(path)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	p->n_files++;
	return 0;
}

static int problem_cmp(const void *pa, const void *pb)
{
	const cairn_check_problem *a = pa, *b = pb;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	int c = strcmp(a->object, b->object);
	if (c)
		return c;
	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

void check_problems_take(check_problems *ps, cairn_check_problem **out, size_t *n_out)
{
	if (ps->n)
		qsort(ps->items, ps->n, sizeof(*ps->items), problem_cmp);
	*out = ps->items;
	*n_out = ps->n;
	ps->items = NULL;
	ps->n = ps->cap = 0;
	check_problems_free(ps);
}

void check_problem_clear(cairn_check_problem *p)
{
	free(p->detail);
	free(p->snapshots);
	for (size_t i = 0; i < p->n_files; i++)
		free(p->files[i]);
	memset(p, 0, sizeof(*p));
}

void check_problems_free(check_problems *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		check_problem_clear(&ps->items[i]);
	free(ps->items);
	free(ps->slots);
	free(ps->chunks);
	memset(ps, 0, sizeof(*ps));
}

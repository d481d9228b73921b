/* The cache of unsealed blobs: a hash table of entries by (fingerprint,
 * kind), a list of the unreferenced ones in order of use (the least
 * recently used at its tail goes first), and a queue of blobs to fetch
 * ahead for the workers. One mutex guards everything; fetching happens
 * outside it. */
#include "browse/blobcache.h"

#include "cairn/errors.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 256
#define BUCKETS_MIN 256

enum entry_state {
	ENTRY_FETCHING = 0,
	ENTRY_READY,
	ENTRY_FAILED,
};

typedef struct entry {
	cairn_cached_blob blob; /* first: what callers hold */
	uint8_t fp[CAIRN_FP_SIZE];
	uint8_t kind;
	enum entry_state state;
	int in_table; /* reachable from the table (failed ones leave it) */
	int claimed;  /* a thread fetches it (a queued one is not yet claimed) */
	unsigned refs;
	struct entry *hnext;
	struct entry *prev, *next; /* the list of unreferenced ready entries */
	cairn_error_saved *err;
	uint8_t *data;
} entry;

struct cairn_blobcache {
	pthread_mutex_t mu;
	pthread_cond_t done;   /* an entry stopped fetching */
	pthread_cond_t queued; /* the queue has work, or stop */
	entry **table;
	size_t n_buckets, n_entries;
	entry *lru_head, *lru_tail;
	size_t bytes, capacity;
	entry *queue[QUEUE_MAX];
	size_t q_head, q_len;
	pthread_t *workers;
	unsigned n_workers;
	int stop;
	cairn_blobcache_fetch_fn fetch;
	void *ud;
	cairn_blobcache_stats stats;
};

static size_t bucket_of(const cairn_blobcache *c, const uint8_t *fp, uint8_t kind)
{
	uint64_t h;
	memcpy(&h, fp, sizeof(h));
	return (size_t)((h ^ kind) & (c->n_buckets - 1));
}

static entry *find(cairn_blobcache *c, const uint8_t *fp, uint8_t kind)
{
	for (entry *e = c->table[bucket_of(c, fp, kind)]; e; e = e->hnext)
		if (e->kind == kind && memcmp(e->fp, fp, CAIRN_FP_SIZE) == 0)
			return e;
	return NULL;
}

static void grow(cairn_blobcache *c)
{
	size_t n = c->n_buckets * 2;
	entry **t = calloc(n, sizeof(*t));
	if (!t)
		return; /* longer chains, still correct */
	entry **old = c->table;
	size_t old_n = c->n_buckets;
	c->table = t;
	c->n_buckets = n;
	for (size_t i = 0; i < old_n; i++) {
		for (entry *e = old[i], *next; e; e = next) {
			next = e->hnext;
			size_t b = bucket_of(c, e->fp, e->kind);
			e->hnext = t[b];
			t[b] = e;
		}
	}
	free(old);
}

static void table_remove(cairn_blobcache *c, entry *e)
{
	for (entry **p = &c->table[bucket_of(c, e->fp, e->kind)]; *p; p = &(*p)->hnext) {
		if (*p == e) {
			*p = e->hnext;
			break;
		}
	}
	e->in_table = 0;
	c->n_entries--;
}

static void lru_unlink(cairn_blobcache *c, entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else if (c->lru_head == e)
		c->lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else if (c->lru_tail == e)
		c->lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(cairn_blobcache *c, entry *e)
{
	e->prev = NULL;
	e->next = c->lru_head;
	if (c->lru_head)
		c->lru_head->prev = e;
	c->lru_head = e;
	if (!c->lru_tail)
		c->lru_tail = e;
}

static void entry_free(entry *e)
{
	free(e->data);
	free(e->err);
	free(e);
}

/* Drops unreferenced blobs, least recently used first, until the bytes
 * held fit. */
static void evict(cairn_blobcache *c)
{
	while (c->bytes > c->capacity && c->lru_tail) {
		entry *e = c->lru_tail;
		lru_unlink(c, e);
		table_remove(c, e);
		c->bytes -= e->blob.len;
		c->stats.evictions++;
		entry_free(e);
	}
}

/* A new entry being fetched, in the table, with one reference. */
static entry *add(cairn_blobcache *c, const uint8_t *fp, uint8_t kind)
{
	entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	memcpy(e->fp, fp, CAIRN_FP_SIZE);
	e->kind = kind;
	e->refs = 1;
	e->in_table = 1;
	if (c->n_entries >= 2 * c->n_buckets)
		grow(c);
	size_t b = bucket_of(c, fp, kind);
	e->hnext = c->table[b];
	c->table[b] = e;
	c->n_entries++;
	return e;
}

/* Drops a reference; the lock is held. */
static void unref(cairn_blobcache *c, entry *e)
{
	if (--e->refs)
		return;
	if (e->state == ENTRY_READY && e->in_table) {
		lru_push(c, e);
		evict(c);
	} else if (!e->in_table) {
		entry_free(e);
	}
}

/* Fetches e (claimed by this thread) without the lock and records the
 * outcome with it; returns the fetch's code. */
static int fetch_entry(cairn_blobcache *c, entry *e)
{
	cairn_buf b = CAIRN_BUF_INIT;
	pthread_mutex_unlock(&c->mu);
	int rc = c->fetch(c->ud, e->fp, e->kind, &b);
	cairn_error_saved *err = NULL;
	if (rc && (err = malloc(sizeof(*err))))
		cairn_error_save(err, rc);
	pthread_mutex_lock(&c->mu);
	if (rc == 0) {
		size_t len = b.len, cap = b.cap;
		e->data = cairn_buf_detach(&b, NULL);
		if (!e->data && len == 0)
			e->data = malloc(1);
		/* The buffer grew by doubling: what it holds is what counts. */
		uint8_t *fit = len && cap > len + len / 16 ? realloc(e->data, len) : NULL;
		if (fit)
			e->data = fit;
		e->blob.data = e->data;
		e->blob.len = len;
		e->state = ENTRY_READY;
		c->bytes += len;
	} else {
		e->state = ENTRY_FAILED;
		e->err = err;
		table_remove(c, e);
	}
	cairn_buf_free(&b);
	pthread_cond_broadcast(&c->done);
	return rc;
}

/* The code of a failed entry, its message made this thread's. */
static int failed_code(const entry *e)
{
	if (e->err)
		return cairn_error_restore(e->err);
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

int cairn_blobcache_get(cairn_blobcache *c, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind,
                        const cairn_cached_blob **out)
{
	int rc = 0;
	*out = NULL;
	pthread_mutex_lock(&c->mu);
	entry *e = find(c, fp, kind);
	if (e) {
		if (e->refs++ == 0 && e->state == ENTRY_READY)
			lru_unlink(c, e);
		if (e->state == ENTRY_READY)
			c->stats.hits++;
		if (e->state == ENTRY_FETCHING && !e->claimed) {
			/* Queued for a worker that has not started it: fetch it here. */
			e->claimed = 1;
			rc = fetch_entry(c, e);
		}
		while (e->state == ENTRY_FETCHING)
			pthread_cond_wait(&c->done, &c->mu);
	} else {
		c->stats.misses++;
		if (!(e = add(c, fp, kind))) {
			pthread_mutex_unlock(&c->mu);
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		}
		e->claimed = 1;
		rc = fetch_entry(c, e);
	}
	if (e->state == ENTRY_FAILED) {
		if (!rc)
			rc = failed_code(e);
		unref(c, e);
		pthread_mutex_unlock(&c->mu);
		return rc;
	}
	pthread_mutex_unlock(&c->mu);
	*out = &e->blob;
	return 0;
}

void cairn_blobcache_release(cairn_blobcache *c, const cairn_cached_blob *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&c->mu);
	unref(c, (entry *)b);
	pthread_mutex_unlock(&c->mu);
}

int cairn_blobcache_prefetch(cairn_blobcache *c, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind)
{
	int ok = 1;
	if (!c->n_workers)
		return 0;
	pthread_mutex_lock(&c->mu);
	if (!find(c, fp, kind)) {
		entry *e = c->q_len < QUEUE_MAX ? add(c, fp, kind) : NULL;
		if (e) {
			c->queue[(c->q_head + c->q_len++) % QUEUE_MAX] = e;
			c->stats.prefetched++;
			pthread_cond_signal(&c->queued);
		} else {
			ok = 0;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return ok;
}

static void *worker_main(void *arg)
{
	cairn_blobcache *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->stop && !c->q_len)
			pthread_cond_wait(&c->queued, &c->mu);
		if (c->stop)
			break;
		entry *e = c->queue[c->q_head];
		c->q_head = (c->q_head + 1) % QUEUE_MAX;
		c->q_len--;
		if (!e->claimed) {
			e->claimed = 1;
			fetch_entry(c, e);
		}
		unref(c, e); /* the queue's reference */
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int cairn_blobcache_new(cairn_blobcache **out, size_t capacity, unsigned threads,
                        cairn_blobcache_fetch_fn fetch, void *ud)
{
	cairn_blobcache *c = calloc(1, sizeof(*c));
	*out = NULL;
	if (!c || !(c->table = calloc(BUCKETS_MIN, sizeof(*c->table))) ||
	    (threads && !(c->workers = calloc(threads, sizeof(*c->workers))))) {
		if (c)
			free(c->table);
		free(c);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	c->n_buckets = BUCKETS_MIN;
	c->capacity = capacity;
	c->fetch = fetch;
	c->ud = ud;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->done, NULL);
	pthread_cond_init(&c->queued, NULL);
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&c->workers[i], NULL, worker_main, c) != 0) {
			cairn_blobcache_free(c);
			return cairn_error_set(CAIRN_ERROR, "cannot start a read-ahead thread");
		}
		c->n_workers++;
	}
	*out = c;
	return 0;
}

void cairn_blobcache_free(cairn_blobcache *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_broadcast(&c->queued);
	pthread_mutex_unlock(&c->mu);
	for (unsigned i = 0; i < c->n_workers; i++)
		pthread_join(c->workers[i], NULL);
	for (size_t i = 0; i < c->n_buckets; i++) {
		for (entry *e = c->table[i], *next; e; e = next) {
			next = e->hnext;
			entry_free(e);
		}
	}
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->done);
	pthread_cond_destroy(&c->queued);
	free(c->table);
	free(c->workers);
	free(c);
}

void cairn_blobcache_stats_get(cairn_blobcache *c, cairn_blobcache_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->stats;
	out->bytes = c->bytes;
	out->entries = c->n_entries;
	pthread_mutex_unlock(&c->mu);
}

/* The browse view: its list of snapshots and their names, the view's own
 * directories (ids/, snapshots/, hosts/, latest), the cache of directory
 * listings, and the public calls. One mutex covers the snapshots'
 * indexes and the listings (reading a directory's place in a manifest
 * happens under it); reading files does not take it. */
#include "browse/browse_internal.h"

#include "cairn/errors.h"
#include "util/hex.h"
#include "util/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Bytes of snapshot indexes and of listings kept (beyond the ones in use). */
#define INDEX_BUDGET (64u << 20)
#define LISTING_BUDGET (32u << 20)

/* ---- reading blobs for the cache ---- */

static int fetch_blob(void *ud, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind, cairn_buf *out)
{
	cairn_browse *b = ud;
	pthread_mutex_lock(&b->pool_mu);
	reader_ctx *r = b->pool;
	if (r)
		b->pool = r->next;
	pthread_mutex_unlock(&b->pool_mu);
	int rc;
	if (!r) {
		if (!(r = calloc(1, sizeof(*r))))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		if ((rc = cairn_repo_sealer_new(b->repo, &r->sealer, 0)) ||
		    (rc = cairn_repo_fingerprinter_new(b->repo, &r->fp))) {
			cairn_sealer_free(r->sealer);
			free(r);
			return rc;
		}
	}
	rc = cairn_repo_read_blob(b->repo, r->sealer, r->fp, fp, kind, out);
	pthread_mutex_lock(&b->pool_mu);
	r->next = b->pool;
	b->pool = r;
	pthread_mutex_unlock(&b->pool_mu);
	return rc;
}

/* ---- opening: the snapshots and their names ---- */

static void name_snapshots(cairn_browse *b)
{
	for (size_t i = 0; i < b->n_snaps; i++) {
		snap_view *s = &b->snaps[i];
		char t[40];
		struct tm tm;
		time_t sec = (time_t)(s->snap.time_ns / 1000000000);
		if (s->snap.time_ns < 0 && s->snap.time_ns % 1000000000)
			sec--;
		gmtime_r(&sec, &tm);
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
		/* Snapshots of one second are neighbours (the list is in time order). */
		size_t same = 0;
		for (size_t j = i; j > 0 && strncmp(b->snaps[j - 1].name, t, strlen(t)) == 0; j--)
			same++;
		if (same)
			snprintf(s->name, sizeof(s->name), "%s-%zu", t, same);
		else
			snprintf(s->name, sizeof(s->name), "%s", t);
	}
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t browse_host_find(const cairn_browse *b, const char *name, size_t len)
{
	for (size_t i = 0; i < b->n_hosts; i++)
		if (strlen(b->hosts[i]) == len && memcmp(b->hosts[i], name, len) == 0)
			return i;
	return SIZE_MAX;
}

size_t browse_host_count(const cairn_browse *b, size_t host)
{
	size_t n = 0;
	for (size_t i = 0; i < b->n_snaps; i++)
		n += b->snaps[i].host == host;
	return n;
}

static int list_hosts(cairn_browse *b)
{
	if (b->n_snaps && !(b->hosts = calloc(b->n_snaps, sizeof(*b->hosts))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < b->n_snaps; i++) {
		const char *h = b->snaps[i].snap.host ? b->snaps[i].snap.host : "";
		char *name = malloc(strlen(h) + 2);
		if (!name)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		browse_safe_name(name, h, strlen(h));
		if (browse_host_find(b, name, strlen(name)) != SIZE_MAX) {
			free(name);
			continue;
		}
		b->hosts[b->n_hosts++] = name;
	}
	if (b->n_hosts)
		qsort(b->hosts, b->n_hosts, sizeof(*b->hosts), str_cmp);
	for (size_t i = 0; i < b->n_snaps; i++) {
		const char *h = b->snaps[i].snap.host ? b->snaps[i].snap.host : "";
		char name[strlen(h) + 2];
		browse_safe_name(name, h, strlen(h));
		b->snaps[i].host = browse_host_find(b, name, strlen(name));
	}
	return 0;
}

static int take_snapshots(cairn_browse *b, const cairn_browse_opts *o)
{
	cairn_snapshot *list = NULL;
	size_t n = 0;
	int rc = cairn_snapshot_list_readable(b->repo, &list, &n, o->skips);
	if (rc)
		return rc;
	if (n && !(b->snaps = calloc(n, sizeof(*b->snaps)))) {
		cairn_snapshot_list_free(list, n);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (o->filter && !cairn_snapshot_filter_match(o->filter, &list[i]))
			continue;
		snap_view *s = &b->snaps[b->n_snaps];
		s->snap = list[i];
		memset(&list[i], 0, sizeof(list[i]));
		s->no = b->n_snaps++;
		cairn_hex_encode(s->id, s->snap.id, CAIRN_ID_SIZE);
		if (!(s->starts = malloc((s->snap.n_manifest + 1) * sizeof(*s->starts)))) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			break;
		}
		s->starts[0] = 0;
		for (size_t k = 0; k < s->snap.n_manifest; k++)
			s->starts[k + 1] = s->starts[k] + s->snap.manifest[k].length;
	}
	cairn_snapshot_list_free(list, n);
	return rc;
}

int cairn_browse_open(cairn_browse **out, cairn_repo *r, const cairn_browse_opts *opts)
{
	cairn_browse_opts o = {0};
	cairn_browse *b = calloc(1, sizeof(*b));
	int rc;
	*out = NULL;
	if (!b)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (opts)
		o = *opts;
	b->repo = r;
	b->uid = o.uid;
	b->gid = o.gid;
	if (!o.cache_bytes)
		o.cache_bytes = CAIRN_BROWSE_CACHE_DEFAULT;
	/* What is read ahead must not push out what is being read. */
	b->readahead = o.readahead_bytes ? o.readahead_bytes : CAIRN_BROWSE_READAHEAD_DEFAULT;
	if (b->readahead > o.cache_bytes / 4)
		b->readahead = o.cache_bytes / 4;
	pthread_mutex_init(&b->mu, NULL);
	pthread_mutex_init(&b->pool_mu, NULL);
	if (!o.threads) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		o.threads = cpus < 2 ? 2 : cpus > 16 ? 16 : (unsigned)cpus;
	}
	if ((rc = take_snapshots(b, &o)) || (rc = list_hosts(b)) ||
	    (rc = cairn_blobcache_new(&b->cache, o.cache_bytes, o.threads, fetch_blob, b))) {
		cairn_browse_free(b);
		return rc;
	}
	name_snapshots(b);
	*out = b;
	return 0;
}

void cairn_browse_free(cairn_browse *b)
{
	if (!b)
		return;
	cairn_blobcache_free(b->cache);
	for (size_t i = 0; i < BROWSE_LISTING_BUCKETS; i++) {
		for (browse_listing *l = b->buckets[i], *next; l; l = next) {
			next = l->hnext;
			browse_listing_clear(l);
			free(l);
		}
	}
	for (size_t i = 0; i < b->n_snaps; i++) {
		cairn_snapshot_clear(&b->snaps[i].snap);
		free(b->snaps[i].starts);
		snap_index_free(b->snaps[i].idx);
	}
	for (size_t i = 0; i < b->n_hosts; i++)
		free(b->hosts[i]);
	for (reader_ctx *r = b->pool, *next; r; r = next) {
		next = r->next;
		cairn_sealer_free(r->sealer);
		cairn_fingerprinter_free(r->fp);
		free(r);
	}
	pthread_mutex_destroy(&b->mu);
	pthread_mutex_destroy(&b->pool_mu);
	free(b->hosts);
	free(b->snaps);
	free(b);
}

size_t cairn_browse_count(const cairn_browse *b)
{
	return b->n_snaps;
}

/* ---- indexes and listings (under the lock) ---- */

/* Makes s's index ready, dropping the least recently used others while
 * the indexes take more than their budget. */
int browse_index_ready(cairn_browse *b, snap_view *s)
{
	if (!s->idx) {
		int rc = snap_index_build(b->cache, s);
		if (rc)
			return rc;
		b->index_bytes += snap_index_bytes(s->idx);
	}
	s->idx->last_use = ++b->clock;
	while (b->index_bytes > INDEX_BUDGET) {
		snap_view *old = NULL;
		for (size_t i = 0; i < b->n_snaps; i++)
			if (b->snaps[i].idx && &b->snaps[i] != s &&
			    (!old || b->snaps[i].idx->last_use < old->idx->last_use))
				old = &b->snaps[i];
		if (!old)
			break;
		b->index_bytes -= snap_index_bytes(old->idx);
		snap_index_free(old->idx);
		old->idx = NULL;
	}
	return 0;
}

static size_t listing_bucket(size_t snap, size_t dir)
{
	return (snap * 7919u + dir) % BROWSE_LISTING_BUCKETS;
}

static void lru_unlink(cairn_browse *b, browse_listing *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else if (b->lru_head == l)
		b->lru_head = l->next;
	if (l->next)
		l->next->prev = l->prev;
	else if (b->lru_tail == l)
		b->lru_tail = l->prev;
	l->prev = l->next = NULL;
}

static void listings_evict(cairn_browse *b)
{
	while (b->listing_bytes > LISTING_BUDGET && b->lru_tail) {
		browse_listing *l = b->lru_tail;
		lru_unlink(b, l);
		for (browse_listing **p = &b->buckets[listing_bucket(l->snap, l->dir)]; *p;
		     p = &(*p)->hnext) {
			if (*p == l) {
				*p = l->hnext;
				break;
			}
		}
		b->listing_bytes -= l->bytes;
		browse_listing_clear(l);
		free(l);
	}
}

void browse_listing_release(cairn_browse *b, browse_listing *l)
{
	if (!l || --l->refs)
		return;
	l->next = b->lru_head;
	if (b->lru_head)
		b->lru_head->prev = l;
	b->lru_head = l;
	if (!b->lru_tail)
		b->lru_tail = l;
	listings_evict(b);
}

/* Directory dir of s, listed (held: release it). */
int browse_listing_get(cairn_browse *b, snap_view *s, size_t dir, browse_listing **out)
{
	size_t h = listing_bucket(s->no, dir);
	for (browse_listing *l = b->buckets[h]; l; l = l->hnext) {
		if (l->snap == s->no && l->dir == dir) {
			if (l->refs++ == 0)
				lru_unlink(b, l);
			*out = l;
			return 0;
		}
	}
	browse_listing *l = calloc(1, sizeof(*l));
	if (!l)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	int rc = snap_list_dir(b->cache, s, dir, l);
	if (rc) {
		browse_listing_clear(l);
		free(l);
		return rc;
	}
	l->snap = s->no;
	l->dir = dir;
	l->refs = 1;
	l->bytes = sizeof(*l) + l->cap * sizeof(*l->c) + l->arena.cap;
	l->hnext = b->buckets[h];
	b->buckets[h] = l;
	b->listing_bytes += l->bytes;
	*out = l;
	return 0;
}

const browse_child *browse_listing_find(const browse_listing *l, const char *name, size_t len)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *m = (const char *)l->arena.data + l->c[mid].name;
		size_t mlen = strlen(m);
		int c = memcmp(m, name, mlen < len ? mlen : len);
		if (c == 0)
			c = mlen < len ? -1 : mlen > len;
		if (c == 0)
			return &l->c[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

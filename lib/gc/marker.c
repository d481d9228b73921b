/* Markers (marker.h): writing one, refreshing it from a thread, and
 * listing them by the store's clock. */
#include "gc/marker.h"

#include "cairn/errors.h"
#include "cairn/store.h"
#include "util/hex.h"
#include "util/hold.h"
#include "util/time.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cairn_marker {
	cairn_store *store;
	char key[CAIRN_MARKER_KEY_MAX];
	enum cairn_marker_kind kind;
	cairn_marker_timing timing;
	int64_t started; /* wall clock, seconds: only written down */
	pthread_t thread;
	int running;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	int stop;
	int64_t written_ns; /* CLOCK_BOOTTIME of the last write that succeeded */
	int64_t lapse_ns;   /* the longest time between two such writes */
};

static const char *const kind_names[] = {
    [CAIRN_MARKER_BACKUP] = "backup",
    [CAIRN_MARKER_PRUNE] = "prune",
};

static int64_t env_seconds(const char *name, int64_t fallback)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !*v)
		return fallback;
	long long x = strtoll(v, &end, 10);
	return (*end || x <= 0) ? fallback : (int64_t)x;
}

void cairn_marker_timing_get(cairn_marker_timing *out)
{
	out->refresh_s = env_seconds("CAIRN_MARKER_REFRESH", CAIRN_MARKER_REFRESH_DEFAULT);
	out->grace_s = env_seconds("CAIRN_MARKER_GRACE", CAIRN_MARKER_GRACE_DEFAULT);
	if (out->grace_s < 4 * out->refresh_s)
		out->grace_s = 4 * out->refresh_s;
}

int cairn_marker_is_fresh(int64_t mtime, int64_t now, int64_t grace_s)
{
	/* A time the store cannot tell, or one ahead of now, counts. */
	return mtime == 0 || now == 0 || now - mtime <= grace_s;
}

int cairn_marker_refresh(cairn_marker *m)
{
	char body[96];
	int n = snprintf(body, sizeof(body), "{\"kind\":\"%s\",\"started\":%lld}\n",
	                 kind_names[m->kind], (long long)m->started);
	int64_t before = cairn_now_ns(CLOCK_BOOTTIME);
	int rc = cairn_store_put(m->store, m->key, body, (size_t)n, 0);
	if (!rc) {
		pthread_mutex_lock(&m->lock);
		/* The write counts from when it began: the store's time of it is
		 * no earlier. The gap since the last one may have let a prune
		 * take the process for dead, whatever the marker says now. */
		int64_t after = cairn_now_ns(CLOCK_BOOTTIME);
		if (m->written_ns && after - m->written_ns > m->lapse_ns)
			m->lapse_ns = after - m->written_ns;
		if (before > m->written_ns)
			m->written_ns = before;
		pthread_mutex_unlock(&m->lock);
	}
	return rc;
}

static void *refresher(void *ud)
{
	cairn_marker *m = ud;
	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += m->timing.refresh_s;
		while (!m->stop && pthread_cond_timedwait(&m->cv, &m->lock, &until) == 0)
			;
		if (m->stop)
			break;
		pthread_mutex_unlock(&m->lock);
		/* Tests stop the refreshes here, as a stalled store would. */
		cairn_hold("marker-refresh");
		/* A failed write is tried again next time; cairn_marker_check
		 * tells the owner if it has been too long. */
		(void)cairn_marker_refresh(m);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int cairn_marker_start(cairn_marker **out, cairn_repo *r, enum cairn_marker_kind kind)
{
	uint8_t rnd[16];
	char hex[33];
	pthread_condattr_t ca;
	*out = NULL;
	cairn_marker *m = calloc(1, sizeof(*m));
	if (!m)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	m->store = cairn_repo_store(r);
	m->kind = kind;
	m->started = (int64_t)time(NULL);
	cairn_marker_timing_get(&m->timing);
	randombytes_buf(rnd, sizeof(rnd));
	cairn_hex_encode(hex, rnd, sizeof(rnd));
	snprintf(m->key, sizeof(m->key), "%s%s-%s", CAIRN_MARKER_PREFIX, kind_names[kind], hex);
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = cairn_marker_refresh(m);
	if (rc) {
		cairn_error_prefix(rc, "cannot write the marker %s", m->key);
		goto fail;
	}
	if (pthread_create(&m->thread, NULL, refresher, m) != 0) {
		rc = cairn_error_set(CAIRN_ERROR, "cannot start the marker's thread");
		cairn_store_del(m->store, m->key);
		goto fail;
	}
	m->running = 1;
	*out = m;
	return 0;
fail:
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cv);
	free(m);
	return rc;
}

int cairn_marker_check(cairn_marker *m)
{
	pthread_mutex_lock(&m->lock);
	int64_t age = cairn_now_ns(CLOCK_BOOTTIME) - m->written_ns;
	if (age < m->lapse_ns)
		age = m->lapse_ns;
	pthread_mutex_unlock(&m->lock);
	int64_t age_s = age / 1000000000;
	if (age_s * 2 <= m->timing.grace_s)
		return 0;
	return cairn_error_set(CAIRN_ERROR,
	                       "the marker %s went unwritten for %llds, more than half the "
	                       "grace of %llds: a prune may have taken this %s for dead",
	                       m->key, (long long)age_s, (long long)m->timing.grace_s,
	                       kind_names[m->kind]);
}

void cairn_marker_forgive(cairn_marker *m)
{
	pthread_mutex_lock(&m->lock);
	m->lapse_ns = 0;
	pthread_mutex_unlock(&m->lock);
}

const char *cairn_marker_key(const cairn_marker *m)
{
	return m->key;
}

void cairn_marker_end(cairn_marker *m)
{
	if (!m)
		return;
	if (m->running) {
		pthread_mutex_lock(&m->lock);
		m->stop = 1;
		pthread_cond_broadcast(&m->cv);
		pthread_mutex_unlock(&m->lock);
		pthread_join(m->thread, NULL);
	}
	/* A marker left behind only makes prunes wait for its grace. */
	(void)cairn_store_del(m->store, m->key);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cv);
	free(m);
}

struct seen_list {
	const cairn_marker *self;
	cairn_marker_seen *v;
	size_t n, cap;
	int64_t now;
};

static int collect_marker(const cairn_store_item *it, void *ud)
{
	struct seen_list *l = ud;
	const char *name = it->key + strlen(CAIRN_MARKER_PREFIX);
	if (strcmp(it->key, l->self->key) == 0) {
		l->now = it->mtime;
		return 0;
	}
	if (strlen(it->key) >= CAIRN_MARKER_KEY_MAX)
		return 0;
	int rc = cairn_array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v));
	if (rc)
		return rc;
	cairn_marker_seen *s = &l->v[l->n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->key, sizeof(s->key), "%s", it->key);
	/* An unknown name counts as a backup: its writer is newer than us. */
	s->kind = strncmp(name, "prune-", 6) == 0 ? CAIRN_MARKER_PRUNE : CAIRN_MARKER_BACKUP;
	s->mtime = it->mtime;
	return 0;
}

int cairn_markers_list(cairn_repo *r, cairn_marker *self, cairn_marker_seen **out, size_t *n_out)
{
	struct seen_list l = {.self = self};
	*out = NULL;
	*n_out = 0;
	int rc = cairn_marker_refresh(self);
	if (!rc)
		rc = cairn_store_list_items(cairn_repo_store(r), CAIRN_MARKER_PREFIX,
		                            collect_marker, &l);
	if (rc) {
		free(l.v);
		return rc;
	}
	for (size_t i = 0; i < l.n; i++)
		l.v[i].fresh = cairn_marker_is_fresh(l.v[i].mtime, l.now, self->timing.grace_s);
	*out = l.v;
	*n_out = l.n;
	return 0;
}

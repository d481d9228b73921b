/* The connections the server holds, and the guard against clients that
 * connect and then send slowly or not at all.
 *
 * Every connection has a state and the time it entered it; each state
 * but BUSY has a deadline (the request's headers, its body, the next
 * request on a kept-alive connection), counted from that time and never
 * pushed back by the bytes that trickle in. A connection past its
 * deadline is dropped. When a new connection makes one address hold more
 * than its cap, or the server more than its limit, a stalled connection
 * is dropped to make room: first the oldest that has not sent its
 * headers (NEW, HEADERS), then the oldest idle one; the new connection
 * itself only if every other is in the middle of a request. A stalled
 * connection whose socket holds a whole request head the server has not
 * read yet is passed over, and from then on until its state changes:
 * its client did send, the server is behind (under a flood of
 * connections an honest request may wait its turn longer than the
 * attacker's connections live). So a client that sends its request at
 * once gets in, whoever else shares its address.
 *
 * Dropping is the caller's callback (http.c shuts the socket down, and
 * libmicrohttpd then closes the connection); this file only decides. It
 * is pure but for its lock: the caller gives the time. */
#include "server.h"

#include "cairn/errors.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct srv_conn {
	srv_conn *prev, *next;
	int fd;
	uint8_t key[SRV_CONN_KEY];
	enum srv_conn_state state;
	double since;
	int dropped;
	int sent; /* a whole request head was seen waiting: never a victim */
};

struct srv_conns {
	srv_conn_limits lim;
	srv_conn_drop_fn drop;
	srv_conn_pending_fn pending;
	void *ud;
	pthread_mutex_t lock;
	srv_conn *head, *tail; /* in the order they were opened */
	size_t live;           /* not dropped */
	srv_conn_stats stats;
};

int srv_conns_new(srv_conns **out, const srv_conn_limits *lim, srv_conn_drop_fn drop,
                  srv_conn_pending_fn pending, void *ud)
{
	srv_conns *cs = calloc(1, sizeof(*cs));
	if (!cs)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	cs->lim = *lim;
	cs->drop = drop;
	cs->pending = pending;
	cs->ud = ud;
	pthread_mutex_init(&cs->lock, NULL);
	*out = cs;
	return 0;
}

void srv_conns_free(srv_conns *cs)
{
	if (!cs)
		return;
	srv_conn *c = cs->head;
	while (c) {
		srv_conn *next = c->next;
		free(c);
		c = next;
	}
	pthread_mutex_destroy(&cs->lock);
	free(cs);
}

void srv_conn_key(const struct sockaddr *sa, uint8_t key[SRV_CONN_KEY])
{
	memset(key, 0, SRV_CONN_KEY);
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		key[10] = key[11] = 0xff; /* as an IPv4-mapped IPv6 address */
		memcpy(key + 12, &in->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		/* One host holds a whole /64: count the prefix, but keep an
		 * IPv4-mapped address whole. */
		memcpy(key, a, memcmp(a, mapped, 12) == 0 ? 16 : 8);
	}
}

static void drop(srv_conns *cs, srv_conn *c, uint64_t *counter)
{
	c->dropped = 1;
	cs->live--;
	(*counter)++;
	cs->drop(c->fd, cs->ud);
}

static int stalled(const srv_conn *c, int pass)
{
	if (c->dropped || c->sent)
		return 0;
	if (pass == 0)
		return c->state == SRV_CONN_NEW || c->state == SRV_CONN_HEADERS;
	return c->state == SRV_CONN_IDLE;
}

/* Sockets looked at, at most, in one search for a connection to drop. */
#define PEEK_MAX 16

/* The connection to drop to make room (of key's address, if key is not
 * NULL), other than self: the one stalled longest, headers first, but
 * none whose request waits whole to be read. */
static srv_conn *victim(srv_conns *cs, const srv_conn *self, const uint8_t *key)
{
	int peeked = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (;;) {
			srv_conn *best = NULL;
			for (srv_conn *c = cs->head; c; c = c->next)
				if (c != self && stalled(c, pass) &&
				    (!key || memcmp(c->key, key, SRV_CONN_KEY) == 0) &&
				    (!best || c->since < best->since))
					best = c;
			if (!best)
				break;
			if (!cs->pending || !cs->pending(best->fd, cs->ud))
				return best;
			best->sent = 1;
			if (++peeked >= PEEK_MAX)
				return NULL;
		}
	}
	return NULL;
}

static size_t count_key(srv_conns *cs, const uint8_t *key)
{
	size_t n = 0;
	for (srv_conn *c = cs->head; c; c = c->next)
		n += !c->dropped && memcmp(c->key, key, SRV_CONN_KEY) == 0;
	return n;
}

srv_conn *srv_conns_open(srv_conns *cs, int fd, const uint8_t key[SRV_CONN_KEY], double now)
{
	srv_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		cs->drop(fd, cs->ud);
		return NULL;
	}
	c->fd = fd;
	memcpy(c->key, key, SRV_CONN_KEY);
	c->state = SRV_CONN_NEW;
	c->since = now;
	pthread_mutex_lock(&cs->lock);
	c->prev = cs->tail;
	if (cs->tail)
		cs->tail->next = c;
	else
		cs->head = c;
	cs->tail = c;
	cs->live++;
	cs->stats.opened++;
	/* Linear scans: a server holds a few thousand connections at most. */
	if (cs->lim.per_addr && count_key(cs, key) > cs->lim.per_addr) {
		srv_conn *v = victim(cs, c, key);
		drop(cs, v ? v : c, v ? &cs->stats.crowded : &cs->stats.refused);
	} else if (cs->lim.max && cs->live > cs->lim.max) {
		srv_conn *v = victim(cs, c, NULL);
		drop(cs, v ? v : c, v ? &cs->stats.crowded : &cs->stats.refused);
	}
	pthread_mutex_unlock(&cs->lock);
	return c;
}

void srv_conns_set(srv_conns *cs, srv_conn *c, enum srv_conn_state state, double now)
{
	if (!c)
		return;
	pthread_mutex_lock(&cs->lock);
	/* A new connection's request line does not restart the clock its
	 * headers run against: that started when it was accepted. */
	if (!(state == SRV_CONN_HEADERS && c->state == SRV_CONN_NEW))
		c->since = now;
	c->state = state;
	c->sent = 0;
	pthread_mutex_unlock(&cs->lock);
}

void srv_conns_close(srv_conns *cs, srv_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&cs->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		cs->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		cs->tail = c->prev;
	if (!c->dropped)
		cs->live--;
	pthread_mutex_unlock(&cs->lock);
	free(c);
}

static double deadline(const srv_conns *cs, const srv_conn *c)
{
	switch (c->state) {
	case SRV_CONN_NEW:
	case SRV_CONN_HEADERS:
		return c->since + cs->lim.header_s;
	case SRV_CONN_BODY:
		return c->since + cs->lim.body_s;
	case SRV_CONN_IDLE:
		return c->since + cs->lim.idle_s;
	case SRV_CONN_BUSY:
		break;
	}
	return 0;
}

size_t srv_conns_expire(srv_conns *cs, double now)
{
	size_t n = 0;
	pthread_mutex_lock(&cs->lock);
	for (srv_conn *c = cs->head; c; c = c->next) {
		double d = c->dropped ? 0 : deadline(cs, c);
		if (d > 0 && now > d) {
			drop(cs, c, &cs->stats.late);
			n++;
		}
	}
	pthread_mutex_unlock(&cs->lock);
	return n;
}

void srv_conns_stats_get(srv_conns *cs, srv_conn_stats *out)
{
	pthread_mutex_lock(&cs->lock);
	*out = cs->stats;
	out->open = cs->live;
	pthread_mutex_unlock(&cs->lock);
}

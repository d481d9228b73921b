/* cairn-server's connection guard: which connection is dropped, when,
 * driven by a clock the test holds and a drop callback that records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

typedef struct dropped {
	int fds[64];
	int n;
	int pending_fd; /* the socket with unread bytes, or 0 */
} dropped;

static void record(int fd, void *ud)
{
	dropped *d = ud;
	d->fds[d->n++] = fd;
}

static int pending(int fd, void *ud)
{
	dropped *d = ud;
	return fd == d->pending_fd;
}

static void key_of(int host, uint8_t key[SRV_CONN_KEY])
{
	memset(key, 0, SRV_CONN_KEY);
	key[15] = (uint8_t)host;
}

static srv_conn_stats stats_of(srv_conns *cs)
{
	srv_conn_stats st;
	srv_conns_stats_get(cs, &st);
	return st;
}

/* A guard whose connections all come from the key k gets (host 1). */
static srv_conns *guard(dropped *d, uint8_t k[SRV_CONN_KEY], unsigned max, unsigned per_addr)
{
	srv_conn_limits lim = {max, per_addr, 10, 30, 60};
	key_of(1, k);
	srv_conns *cs;
	memset(d, 0, sizeof(*d));
	assert_int_equal(srv_conns_new(&cs, &lim, record, pending, d), 0);
	return cs;
}

static void test_server_conns__an_address_over_its_cap_loses_its_oldest_stalled(void **state)
{
	dropped d;
	uint8_t a[SRV_CONN_KEY], b[SRV_CONN_KEY];
	srv_conns *cs = guard(&d, a, 100, 3);
	key_of(2, b);
	srv_conn *c1 = srv_conns_open(cs, 1, a, 1.0);
	srv_conns_open(cs, 2, a, 2.0);
	srv_conns_open(cs, 3, b, 0.5);
	srv_conns_open(cs, 4, a, 3.0);
	/* c1 is busy answering: the oldest stalled one of a goes, not b's */
	srv_conns_set(cs, c1, SRV_CONN_BUSY, 3.0);
	srv_conns_open(cs, 5, a, 4.0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.fds[0], 2);
	assert_int_equal(stats_of(cs).open, 4);
	assert_int_equal(stats_of(cs).crowded, 1);
	srv_conns_free(cs);
}

static void test_server_conns__headers_go_before_idle_and_busy_never(void **state)
{
	dropped d;
	uint8_t k[SRV_CONN_KEY];
	srv_conns *cs = guard(&d, k, 3, 0);
	srv_conn *idle = srv_conns_open(cs, 1, k, 1.0);
	srv_conn *busy = srv_conns_open(cs, 2, k, 2.0);
	srv_conns_open(cs, 3, k, 5.0);
	srv_conns_set(cs, idle, SRV_CONN_IDLE, 1.5);
	srv_conns_set(cs, busy, SRV_CONN_BUSY, 2.0);
	/* the one waiting for headers goes though the idle one is older */
	srv_conns_set(cs, srv_conns_open(cs, 4, k, 6.0), SRV_CONN_BUSY, 6.0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.fds[0], 3);
	/* with none waiting for headers but the newcomer, the idle one */
	srv_conns_open(cs, 5, k, 7.0);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.fds[1], 1);
	srv_conns_free(cs);
}

static void test_server_conns__with_every_other_busy_the_new_one_is_refused(void **state)
{
	dropped d;
	uint8_t k[SRV_CONN_KEY];
	srv_conns *cs = guard(&d, k, 2, 0);
	srv_conns_set(cs, srv_conns_open(cs, 1, k, 1.0), SRV_CONN_BUSY, 1.0);
	srv_conns_set(cs, srv_conns_open(cs, 2, k, 1.0), SRV_CONN_BODY, 1.0);
	srv_conn *c = srv_conns_open(cs, 3, k, 2.0);
	assert_non_null(c);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.fds[0], 3);
	assert_int_equal(stats_of(cs).refused, 1);
	assert_int_equal(stats_of(cs).open, 2);
	/* closing a dropped connection does not count it twice */
	srv_conns_close(cs, c);
	assert_int_equal(stats_of(cs).open, 2);
	srv_conns_free(cs);
}

static void test_server_conns__a_socket_with_unread_bytes_is_passed_over(void **state)
{
	dropped d;
	uint8_t k[SRV_CONN_KEY];
	srv_conns *cs = guard(&d, k, 2, 0);
	srv_conns_open(cs, 1, k, 1.0);
	srv_conns_open(cs, 2, k, 2.0);
	/* 1 is the oldest, but its request came whole and waits to be read */
	d.pending_fd = 1;
	srv_conns_open(cs, 3, k, 3.0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.fds[0], 2);
	/* and stays passed over once the server has read it, until its
	 * request moves on */
	d.pending_fd = 0;
	srv_conns_open(cs, 4, k, 4.0);
	assert_int_equal(d.fds[1], 3);
	srv_conns_free(cs);
}

static void test_server_conns__each_state_has_its_deadline(void **state)
{
	dropped d;
	uint8_t k[SRV_CONN_KEY];
	srv_conns *cs = guard(&d, k, 0, 0);
	srv_conns_open(cs, 1, k, 0.0); /* NEW: 10 s */
	srv_conn *h = srv_conns_open(cs, 2, k, 0.0);
	srv_conn *b = srv_conns_open(cs, 3, k, 0.0);
	srv_conn *i = srv_conns_open(cs, 4, k, 0.0);
	srv_conn *busy = srv_conns_open(cs, 5, k, 0.0);
	srv_conns_set(cs, h, SRV_CONN_IDLE, 1.0); /* a request answered, */
	srv_conns_set(cs, h, SRV_CONN_HEADERS, 5.0); /* the next one's line */ /* 15 */
	srv_conns_set(cs, b, SRV_CONN_BODY, 5.0);                              /* 35 */
	srv_conns_set(cs, i, SRV_CONN_IDLE, 5.0);                              /* 65 */
	srv_conns_set(cs, busy, SRV_CONN_BUSY, 5.0);                           /* never */
	assert_int_equal(srv_conns_expire(cs, 9.9), 0);
	assert_int_equal(srv_conns_expire(cs, 10.1), 1);
	assert_int_equal(d.fds[0], 1);
	assert_int_equal(srv_conns_expire(cs, 15.1), 1);
	assert_int_equal(d.fds[1], 2);
	assert_int_equal(srv_conns_expire(cs, 35.1), 1);
	assert_int_equal(d.fds[2], 3);
	assert_int_equal(srv_conns_expire(cs, 65.1), 1);
	assert_int_equal(d.fds[3], 4);
	/* a new connection's request line does not give its headers more time */
	srv_conn *late = srv_conns_open(cs, 6, k, 100.0);
	srv_conns_set(cs, late, SRV_CONN_HEADERS, 109.0);
	assert_int_equal(srv_conns_expire(cs, 110.1), 1);
	assert_int_equal(d.fds[4], 6);
	/* a connection dropped is not dropped again */
	assert_int_equal(srv_conns_expire(cs, 1e6), 0);
	assert_int_equal(d.n, 5);
	assert_int_equal(stats_of(cs).late, 5);
	assert_int_equal(stats_of(cs).open, 1);
	srv_conns_free(cs);
}

static void test_server_conns__addresses_are_counted_ipv4_whole_and_ipv6_by_64(void **state)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6}, b6 = a6;
	uint8_t k1[SRV_CONN_KEY], k2[SRV_CONN_KEY], want[SRV_CONN_KEY] = {0};
	inet_pton(AF_INET, "192.0.2.7", &in.sin_addr);
	srv_conn_key((struct sockaddr *)&in, k1);
	want[10] = want[11] = 0xff;
	want[12] = 192;
	want[14] = 2;
	want[15] = 7;
	assert_memory_equal(k1, want, SRV_CONN_KEY);
	/* the same address mapped into IPv6 counts as the same */
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &a6.sin6_addr);
	srv_conn_key((struct sockaddr *)&a6, k2);
	assert_memory_equal(k1, k2, SRV_CONN_KEY);
	/* two hosts of one /64 are one; another /64 is another */
	inet_pton(AF_INET6, "2001:db8:1:2::1", &a6.sin6_addr);
	inet_pton(AF_INET6, "2001:db8:1:2:ffff::9", &b6.sin6_addr);
	srv_conn_key((struct sockaddr *)&a6, k1);
	srv_conn_key((struct sockaddr *)&b6, k2);
	assert_memory_equal(k1, k2, SRV_CONN_KEY);
	inet_pton(AF_INET6, "2001:db8:1:3::1", &b6.sin6_addr);
	srv_conn_key((struct sockaddr *)&b6, k2);
	assert_memory_not_equal(k1, k2, SRV_CONN_KEY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_server_conns__an_address_over_its_cap_loses_its_oldest_stalled),
	    cmocka_unit_test(test_server_conns__headers_go_before_idle_and_busy_never),
	    cmocka_unit_test(test_server_conns__with_every_other_busy_the_new_one_is_refused),
	    cmocka_unit_test(test_server_conns__a_socket_with_unread_bytes_is_passed_over),
	    cmocka_unit_test(test_server_conns__each_state_has_its_deadline),
	    cmocka_unit_test(test_server_conns__addresses_are_counted_ipv4_whole_and_ipv6_by_64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

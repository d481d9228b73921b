#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/chunker.h"
#include "cairn/errors.h"

#include <stdlib.h>
#include <string.h>

/* An irreducible polynomial of degree 53 (checked independently below by
 * Rabin's test), so the tests do not depend on random_poly. */
#define TEST_POLY 0x3DA3358B4DC173ull

/* ---- helpers ----------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Deterministic pseudo-random bytes, so any failure is reproducible. */
static uint8_t *random_bytes(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = splitmix(&seed);
		for (size_t k = 0; k < 8 && i + k < len; k++)
			p[i + k] = (uint8_t)(v >> (8 * k));
	}
	return p;
}

static cairn_chunker_params make_params(uint32_t min, uint32_t avg, uint32_t max)
{
	cairn_chunker_params p = {TEST_POLY, min, avg, max};
	return p;
}

typedef struct cuts {
	size_t *end; /* end offset of each chunk; the last is the input length */
	size_t n;
} cuts;

static void cuts_push(cuts *c, size_t v)
{
	size_t *p = realloc(c->end, (c->n + 1) * sizeof(*p));
	assert_non_null(p);
	c->end = p;
	c->end[c->n++] = v;
}

static void cuts_free(cuts *c)
{
	free(c->end);
	c->end = NULL;
	c->n = 0;
}

/* Chunks data, feeding it in pieces whose sizes cycle through feeds
 * (feeds NULL: all at once). Checks every return value of scan. */
static cuts chunk_with_feeds(cairn_chunker *ch, const uint8_t *data, size_t len,
                             const size_t *feeds, size_t n_feeds)
{
	cuts out = {NULL, 0};
	size_t pos = 0, f = 0;

	cairn_chunker_reset(ch);
	while (pos < len) {
		size_t feed = feeds ? feeds[f++ % n_feeds] : len;
		if (feed > len - pos)
			feed = len - pos;
		size_t off = 0;
		while (off < feed) {
			size_t r = cairn_chunker_scan(ch, data + pos + off, feed - off);
			if (r == CAIRN_CHUNKER_NO_CUT)
				break;
			if (r == 0 || r > feed - off)
				fail_msg("scan returned %zu for %zu bytes", r, feed - off);
			off += r;
			cuts_push(&out, pos + off);
		}
		pos += feed;
	}
	if (len && (out.n == 0 || out.end[out.n - 1] != len))
		cuts_push(&out, len);
	return out;
}

static cuts chunk_all(const cairn_chunker_params *params, const uint8_t *data, size_t len)
{
	cairn_chunker *ch = malloc(sizeof(*ch));
	assert_non_null(ch);
	assert_int_equal(cairn_chunker_init(ch, params), 0);
	cuts c = chunk_with_feeds(ch, data, len, NULL, 0);
	free(ch);
	return c;
}

static void assert_cuts_equal(const cuts *a, const cuts *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		if (a->end[i] != b->end[i])
			fail_msg("cut %zu: %zu != %zu", i, a->end[i], b->end[i]);
}

static void assert_chunk_sizes_in_bounds(const cuts *c, const cairn_chunker_params *p)
{
	size_t prev = 0;
	for (size_t i = 0; i < c->n; i++) {
		size_t size = c->end[i] - prev;
		if (size > p->max)
			fail_msg("chunk %zu is %zu bytes, over max %u", i, size, p->max);
		if (i + 1 < c->n && size < p->min)
			fail_msg("chunk %zu is %zu bytes, under min %u", i, size, p->min);
		assert_true(size > 0);
		prev = c->end[i];
	}
}

/* ---- GF(2) polynomial arithmetic, written independently of chunker.c --- */

static int deg(uint64_t p)
{
	return p ? 63 - __builtin_clzll(p) : -1;
}

static uint64_t pmod(uint64_t a, uint64_t m)
{
	int dm = deg(m);
	for (int i = 63; i >= dm; i--)
		if (a >> i & 1)
			a ^= m << (i - dm);
	return a;
}

/* Carry-less product; the caller keeps deg(a) + deg(b) < 64. */
static uint64_t pmul(uint64_t a, uint64_t b)
{
	uint64_t r = 0;
	for (int i = 0; i < 64; i++)
		if (b >> i & 1)
			r ^= a << i;
	return r;
}

/* a * b mod m for deg(a), deg(b) < deg(m) <= 53, by Horner's rule. */
static uint64_t pmulmod(uint64_t a, uint64_t b, uint64_t m)
{
	uint64_t r = 0;
	for (int i = deg(b); i >= 0; i--) {
		r = pmod(r << 1, m);
		if (b >> i & 1)
			r ^= a;
	}
	return r;
}

static uint64_t pgcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = pmod(a, b);
		a = b;
		b = t;
	}
	return a;
}

/* Rabin's test for degree 53, which is prime: f is irreducible iff
 * x^(2^53) = x mod f and gcd(x^2 - x, f) = 1. A different algorithm from
 * the chunker's, so the two check each other. */
static int rabin_irreducible_53(uint64_t f)
{
	if (deg(f) != 53)
		return 0;
	if (pgcd(f, 0x6) != 1) /* x^2 + x */
		return 0;
	uint64_t t = 2;
	for (int i = 0; i < 53; i++)
		t = pmulmod(t, t, f);
	return t == 2;
}

/* Brute force: no factor of degree 1..deg(f)/2. Fine for small degrees. */
static int trial_irreducible(uint64_t f)
{
	int d = deg(f);
	for (uint64_t g = 2; deg(g) <= d / 2; g++)
		if (pmod(f, g) == 0)
			return 0;
	return 1;
}

static uint64_t random_irreducible(int degree, uint64_t *seed)
{
	for (;;) {
		uint64_t f = splitmix(seed) & (((uint64_t)1 << degree) - 1);
		f |= (uint64_t)1 << degree | 1;
		if (trial_irreducible(f))
			return f;
	}
}

/* ---- a straightforward reference chunker ------------------------------- */

/* The 64 bytes read as one big-endian number, i.e. a polynomial, mod poly. */
static uint64_t window_digest(const uint8_t *w, uint64_t poly)
{
	uint64_t digest = 0;
	for (int k = 0; k < CAIRN_CHUNKER_WINDOW; k++)
		digest = pmod(digest << 8 | w[k], poly);
	return digest;
}

/* The chunker's rule read literally from the header: the digest after a
 * byte is the residue of the last 64 hashed bytes read as a polynomial
 * (first byte highest), hashing starts min - 64 bytes into each chunk, and
 * a cut follows the byte that makes (digest & mask) == 0 once the chunk
 * holds min bytes, or that makes it max bytes long. */
static cuts reference_chunks(const cairn_chunker_params *p, uint64_t mask, const uint8_t *data,
                             size_t len)
{
	cuts out = {NULL, 0};
	size_t start = 0;
	while (start < len) {
		size_t end = len;
		for (size_t count = p->min; start + count <= len; count++) {
			if (count == p->max) {
				end = start + count;
				break;
			}
			uint64_t digest =
			    window_digest(data + start + count - CAIRN_CHUNKER_WINDOW, p->poly);
			if ((digest & mask) == 0) {
				end = start + count;
				break;
			}
		}
		cuts_push(&out, end);
		start = end;
	}
	return out;
}

/* ---- tests ------------------------------------------------------------- */

static void test_chunker__test_polynomial_is_irreducible_by_rabins_test(void **state)
{
	(void)state;
	assert_true(rabin_irreducible_53(TEST_POLY));
	assert_true(cairn_chunker_poly_irreducible(TEST_POLY));
}

static void test_chunker__random_poly_is_irreducible_of_degree_53(void **state)
{
	(void)state;
	uint64_t seen[8];
	for (int i = 0; i < 8; i++) {
		uint64_t p = cairn_chunker_random_poly();
		assert_int_equal(deg(p), CAIRN_CHUNKER_POLY_DEGREE);
		assert_true(cairn_chunker_poly_irreducible(p));
		assert_true(rabin_irreducible_53(p));
		seen[i] = p;
	}
	/* Random, not a constant: eight equal draws would mean no randomness. */
	int all_same = 1;
	for (int i = 1; i < 8; i++)
		all_same &= seen[i] == seen[0];
	assert_false(all_same);
}

static void test_chunker__rejects_polynomials_of_the_wrong_degree(void **state)
{
	(void)state;
	assert_false(cairn_chunker_poly_irreducible(0));
	assert_false(cairn_chunker_poly_irreducible(1));
	assert_false(cairn_chunker_poly_irreducible(0x7)); /* x^2+x+1: irreducible, degree 2 */
	assert_false(cairn_chunker_poly_irreducible(TEST_POLY >> 1));
	assert_false(cairn_chunker_poly_irreducible(TEST_POLY << 1));
	assert_false(cairn_chunker_poly_irreducible(TEST_POLY | (uint64_t)1 << 60));
}

static void test_chunker__rejects_known_reducible_polynomials(void **state)
{
	(void)state;
	uint64_t top = (uint64_t)1 << 53;
	/* x^53 alone, and x^53 + x^k (all divisible by x). */
	assert_false(cairn_chunker_poly_irreducible(top));
	assert_false(cairn_chunker_poly_irreducible(top | 2));
	/* x^53 + 1 has the root 1, so x + 1 divides it. */
	assert_false(cairn_chunker_poly_irreducible(top | 1));
	/* Without a constant term: divisible by x. */
	assert_false(cairn_chunker_poly_irreducible(TEST_POLY ^ 1));
	/* (x^2 + x + 1)(x^51 + x^3 + 1) and (x + 1)(x^52 + x + 1). */
	assert_false(cairn_chunker_poly_irreducible(pmul(0x7, (uint64_t)1 << 51 | 0x9)));
	assert_false(cairn_chunker_poly_irreducible(pmul(0x3, (uint64_t)1 << 52 | 0x3)));
}

static void test_chunker__rejects_products_of_two_large_irreducibles(void **state)
{
	(void)state;
	/* Factors of degree 26 and 27 are the hardest case: the test must look
	 * for factors all the way up to half the degree. */
	uint64_t seed = 42;
	for (int i = 0; i < 4; i++) {
		uint64_t a = random_irreducible(26, &seed);
		uint64_t b = random_irreducible(27, &seed);
		uint64_t f = pmul(a, b);
		assert_int_equal(deg(f), 53);
		assert_false(rabin_irreducible_53(f));
		if (cairn_chunker_poly_irreducible(f))
			fail_msg("accepted %llx = %llx * %llx", (unsigned long long)f,
			         (unsigned long long)a, (unsigned long long)b);
	}
	/* And small factor pairs: an irreducible of degree 5 times one of 48. */
	uint64_t a = random_irreducible(5, &seed);
	for (int i = 0; i < 50; i++) {
		uint64_t b = splitmix(&seed) & (((uint64_t)1 << 48) - 1);
		b |= (uint64_t)1 << 48 | 1;
		assert_false(cairn_chunker_poly_irreducible(pmul(a, b)));
	}
}

static void test_chunker__irreducibility_agrees_with_rabins_test(void **state)
{
	(void)state;
	uint64_t seed = 7;
	int irreducible = 0;
	for (int i = 0; i < 1500; i++) {
		uint64_t f = splitmix(&seed) & (((uint64_t)1 << 53) - 1);
		f |= (uint64_t)1 << 53 | 1;
		int expect = rabin_irreducible_53(f);
		if (cairn_chunker_poly_irreducible(f) != expect)
			fail_msg("disagree on %llx (Rabin says %d)", (unsigned long long)f, expect);
		irreducible += expect;
	}
	/* About 2/53 of these are irreducible: both answers were exercised. */
	assert_true(irreducible > 10);
	assert_true(irreducible < 1490);
}

static void test_chunker__params_check_accepts_the_defaults_and_the_extremes(void **state)
{
	(void)state;
	cairn_chunker_params p =
	    make_params(CAIRN_CHUNK_MIN_DEFAULT, CAIRN_CHUNK_AVG_DEFAULT, CAIRN_CHUNK_MAX_DEFAULT);
	assert_int_equal(cairn_chunker_params_check(&p), 0);
	p = make_params(CAIRN_CHUNK_SIZE_LOWEST, CAIRN_CHUNK_SIZE_LOWEST + 1,
	                CAIRN_CHUNK_SIZE_LOWEST + 2);
	assert_int_equal(cairn_chunker_params_check(&p), 0);
	p = make_params(CAIRN_CHUNK_SIZE_LOWEST, CAIRN_CHUNK_SIZE_HIGHEST - 1,
	                CAIRN_CHUNK_SIZE_HIGHEST);
	assert_int_equal(cairn_chunker_params_check(&p), 0);
}

static void assert_params_rejected(cairn_chunker_params p, const char *what)
{
	cairn_error_clear();
	if (cairn_chunker_params_check(&p) != CAIRN_EINVAL)
		fail_msg("params_check accepted %s", what);
	assert_true(strlen(cairn_error_last()) > 0);
	cairn_chunker *ch = malloc(sizeof(*ch));
	assert_non_null(ch);
	if (cairn_chunker_init(ch, &p) != CAIRN_EINVAL)
		fail_msg("init accepted %s", what);
	free(ch);
}

static void test_chunker__params_check_rejects_bad_sizes(void **state)
{
	(void)state;
	assert_params_rejected(make_params(CAIRN_CHUNK_SIZE_LOWEST - 1, 4096, 8192),
	                       "min below the lowest");
	assert_params_rejected(make_params(0, 4096, 8192), "min 0");
	assert_params_rejected(make_params(4096, 4096, 8192), "avg equal to min");
	assert_params_rejected(make_params(4096, 2048, 8192), "avg below min");
	assert_params_rejected(make_params(1024, 4096, 4096), "max equal to avg");
	assert_params_rejected(make_params(1024, 4096, 2048), "max below avg");
	assert_params_rejected(make_params(1024, 4096, CAIRN_CHUNK_SIZE_HIGHEST + 1),
	                       "max above the highest");
	assert_params_rejected(make_params(1024, 4096, UINT32_MAX), "max UINT32_MAX");
}

static void test_chunker__params_check_rejects_bad_polynomials(void **state)
{
	(void)state;
	cairn_chunker_params p = make_params(1024, 4096, 16384);
	p.poly = 0;
	assert_params_rejected(p, "polynomial 0");
	p.poly = (uint64_t)1 << 53;
	assert_params_rejected(p, "x^53");
	p.poly = TEST_POLY ^ 1;
	assert_params_rejected(p, "a polynomial divisible by x");
	p.poly = TEST_POLY << 1 | 1;
	assert_params_rejected(p, "a polynomial of degree 54");
	p.poly = pmul(0x7, (uint64_t)1 << 51 | 0x9);
	assert_params_rejected(p, "a reducible polynomial");
}

static void
test_chunker__mask_is_one_below_the_least_power_of_two_covering_avg_minus_min(void **state)
{
	(void)state;
	cairn_chunker *ch = malloc(sizeof(*ch));
	assert_non_null(ch);
	cairn_chunker_params p = make_params(1024, 1024 + 1500, 65536);
	assert_int_equal(cairn_chunker_init(ch, &p), 0);
	assert_int_equal(ch->mask, 2047);
	p = make_params(CAIRN_CHUNK_MIN_DEFAULT, CAIRN_CHUNK_AVG_DEFAULT, CAIRN_CHUNK_MAX_DEFAULT);
	assert_int_equal(cairn_chunker_init(ch, &p), 0);
	/* A chunk ends on average (mask + 1) bytes after min. */
	assert_int_equal(ch->mask + 1, CAIRN_CHUNK_AVG_DEFAULT - CAIRN_CHUNK_MIN_DEFAULT);
	free(ch);
}

static void test_chunker__reference_digest_matches_the_format_vectors(void **state)
{
	(void)state;
	uint8_t w[CAIRN_CHUNKER_WINDOW];
	for (int i = 0; i < CAIRN_CHUNKER_WINDOW; i++)
		w[i] = (uint8_t)i;
	assert_int_equal(window_digest(w, TEST_POLY), 0x44b76cac5cee3ull);
	memset(w, 0xff, sizeof(w));
	assert_int_equal(window_digest(w, TEST_POLY), 0x6d9879d4c4d97ull);
}

static void test_chunker__cuts_the_format_test_vector(void **state)
{
	(void)state;
	/* docs/FORMAT.md, Appendix A: data from a 64-bit LCG, top byte of
	 * each step. */
	static const size_t want[] = {
	    1510, 1218, 1507, 1393, 373,  1434, 472,  686,  349,  3084, 836,  796,  460,  1594,
	    840,  2961, 1680, 1418, 2603, 2564, 577,  1828, 481,  3121, 301,  1787, 635,  450,
	    655,  781,  1016, 1313, 2696, 644,  848,  310,  4096, 766,  3635, 452,  1372, 915,
	    321,  681,  801,  887,  1730, 443,  2271, 883,  335,  398,  324,  5};
	const size_t len = 65536;
	uint8_t *data = malloc(len);
	assert_non_null(data);
	uint64_t x = 0;
	for (size_t i = 0; i < len; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		data[i] = (uint8_t)(x >> 56);
	}
	assert_memory_equal(data, "\x14\x1a\x9a\x66\x62\x8f", 6);

	cairn_chunker_params p = make_params(256, 1024, 4096);
	cuts c = chunk_all(&p, data, len);
	assert_int_equal(c.n, sizeof(want) / sizeof(want[0]));
	size_t prev = 0;
	for (size_t i = 0; i < c.n; i++) {
		if (c.end[i] - prev != want[i])
			fail_msg("chunk %zu is %zu bytes, want %zu", i, c.end[i] - prev, want[i]);
		prev = c.end[i];
	}
	cuts_free(&c);
	free(data);
}

/* For each {min, avg, max} of sizes, on len seeded random bytes: the
 * reference's cuts, the chunker's over the whole input at once, and over
 * it fed in pieces (feeds, cycled). */
static void assert_cuts_match_reference(const uint32_t (*sizes)[3], size_t n_sizes, size_t len,
                                        uint64_t seed, const size_t *feeds, size_t n_feeds)
{
	uint8_t *data = random_bytes(len, seed);
	cairn_chunker *ch = malloc(sizeof(*ch));
	assert_non_null(ch);
	for (size_t s = 0; s < n_sizes; s++) {
		cairn_chunker_params p = make_params(sizes[s][0], sizes[s][1], sizes[s][2]);
		assert_int_equal(cairn_chunker_init(ch, &p), 0);
		cuts want = reference_chunks(&p, ch->mask, data, len);
		assert_true(want.n > 20);
		cuts got = chunk_with_feeds(ch, data, len, NULL, 0);
		assert_cuts_equal(&got, &want);
		cuts fed = chunk_with_feeds(ch, data, len, feeds, n_feeds);
		assert_cuts_equal(&fed, &want);
		cuts_free(&want);
		cuts_free(&got);
		cuts_free(&fed);
	}
	free(ch);
	free(data);
}

static void test_chunker__matches_a_straightforward_reference(void **state)
{
	(void)state;
	static const uint32_t sizes[][3] = {
	    {256, 256 + 700, 4096},
	    {300, 301, 302},
	    {1000, 1800, 2500},
	    {257, 1000, 3001},
	};
	/* Odd feed sizes exercise the one-byte alignment step. */
	static const size_t feeds[] = {1, 3, 2, 5, 64, 63, 1000, 7};
	assert_cuts_match_reference(sizes, sizeof(sizes) / sizeof(sizes[0]), 96 * 1024 + 37, 1,
	                            feeds, sizeof(feeds) / sizeof(feeds[0]));
}

/* Long scans go two blocks at a time with two independent digests: cuts
 * found by either stream, by both, by neither (on to the next pair, or to
 * max), and feeds that split a scan anywhere, all as the reference cuts. */
static void test_chunker__two_stream_scan_matches_the_reference(void **state)
{
	(void)state;
	static const uint32_t sizes[][3] = {
	    {1024, 1024 + 2048, 65536},  /* a match every 2 KiB: either block */
	    {1024, 1024 + 32768, 40000}, /* rarely a match: many pairs, then max */
	    {4096, 4096 + 8192, 30000},
	};
	static const size_t feeds[] = {70000, 8191, 65, 9000, 1, 12345, 64, 20000};
	assert_cuts_match_reference(sizes, sizeof(sizes) / sizeof(sizes[0]), 1024 * 1024 + 77, 7,
	                            feeds, sizeof(feeds) / sizeof(feeds[0]));
}

static void test_chunker__same_input_gives_same_cuts_whatever_the_feed_sizes(void **state)
{
	(void)state;
	const size_t len = 1024 * 1024 + 123;
	uint8_t *data = random_bytes(len, 2);
	cairn_chunker_params p = make_params(1024, 3072, 16384);
	cairn_chunker *ch = malloc(sizeof(*ch));
	assert_non_null(ch);
	assert_int_equal(cairn_chunker_init(ch, &p), 0);

	cuts whole = chunk_with_feeds(ch, data, len, NULL, 0);
	assert_true(whole.n > 100);

	static const size_t single[][1] = {{1},    {2},    {3},    {63},    {64},   {65},
	                                   {1023}, {1024}, {4096}, {16384}, {65537}};
	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
		cuts c = chunk_with_feeds(ch, data, len, single[i], 1);
		assert_cuts_equal(&c, &whole);
		cuts_free(&c);
	}
	uint64_t seed = 99;
	size_t random_feeds[257];
	for (size_t i = 0; i < 257; i++)
		random_feeds[i] = 1 + splitmix(&seed) % 5000;
	cuts c = chunk_with_feeds(ch, data, len, random_feeds, 257);
	assert_cuts_equal(&c, &whole);
	cuts_free(&c);

	/* A fresh chunker agrees with one that has been used before. */
	cuts again = chunk_all(&p, data, len);
	assert_cuts_equal(&again, &whole);
	cuts_free(&again);

	cuts_free(&whole);
	free(ch);
	free(data);
}

static void test_chunker__every_chunk_but_the_last_is_within_min_and_max(void **state)
{
	(void)state;
	static const uint32_t sizes[][3] = {
	    {256, 512, 1024},
	    {1024, 3072, 16384},
	    {4096, 8000, 8192}, /* max often comes first */
	    {2048, 4096, 32768},
	};
	const size_t len = 2 * 1024 * 1024 + 5;
	uint8_t *data = random_bytes(len, 3);

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		cairn_chunker_params p = make_params(sizes[s][0], sizes[s][1], sizes[s][2]);
		cuts c = chunk_all(&p, data, len);
		assert_chunk_sizes_in_bounds(&c, &p);
		assert_int_equal(c.end[c.n - 1], len);
		cuts_free(&c);
	}
	free(data);
}

static void test_chunker__cuts_at_max_when_the_digest_never_matches(void **state)
{
	(void)state;
	/* A constant byte gives a constant digest once the window is full:
	 * every chunk ends at min (digest matches) or at max (never does). */
	cairn_chunker_params p = make_params(512, 4096, 10000);
	const size_t len = 100000;
	uint8_t *data = malloc(len);
	assert_non_null(data);
	int saw_max = 0, saw_min = 0;

	for (int b = 0; b < 256; b++) {
		memset(data, b, len);
		cuts c = chunk_all(&p, data, len);
		assert_chunk_sizes_in_bounds(&c, &p);
		size_t first = c.end[0];
		assert_true(first == p.min || first == p.max);
		for (size_t i = 1; i + 1 < c.n; i++)
			assert_int_equal(c.end[i] - c.end[i - 1], first);
		saw_max |= first == p.max;
		saw_min |= first == p.min;
		cuts_free(&c);
	}
	/* Zero bytes hash to zero, which always matches. */
	assert_true(saw_min);
	assert_true(saw_max);
	free(data);
}

static void test_chunker__zero_bytes_are_cut_at_min(void **state)
{
	(void)state;
	cairn_chunker_params p = make_params(700, 2000, 9000);
	const size_t len = 7000 + 13;
	uint8_t *data = calloc(1, len);
	assert_non_null(data);
	cuts c = chunk_all(&p, data, len);
	assert_int_equal(c.n, 11);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(c.end[i], 700 * (i + 1));
	assert_int_equal(c.end[10], len);
	cuts_free(&c);
	free(data);
}

static void test_chunker__input_shorter_than_min_is_one_chunk(void **state)
{
	(void)state;
	cairn_chunker_params p = make_params(1024, 3072, 16384);
	cairn_chunker *ch = malloc(sizeof(*ch));
	assert_non_null(ch);
	assert_int_equal(cairn_chunker_init(ch, &p), 0);
	uint8_t zeros[1023] = {0};
	assert_int_equal(cairn_chunker_scan(ch, zeros, sizeof(zeros)), CAIRN_CHUNKER_NO_CUT);
	assert_int_equal(ch->count, 1023);
	/* The next byte completes min, and zeros always match. */
	assert_int_equal(cairn_chunker_scan(ch, zeros, 5), 1);
	assert_int_equal(ch->count, 0);
	free(ch);
}

static void test_chunker__scanning_nothing_never_cuts(void **state)
{
	(void)state;
	cairn_chunker_params p = make_params(256, 1024, 4096);
	cairn_chunker *ch = malloc(sizeof(*ch));
	assert_non_null(ch);
	assert_int_equal(cairn_chunker_init(ch, &p), 0);
	uint8_t *data = random_bytes(5000, 4);
	static const size_t steps[] = {0, 100, 91, 64, 1, 1, 1500};
	size_t pos = 0;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_int_equal(cairn_chunker_scan(ch, data + pos, 0), CAIRN_CHUNKER_NO_CUT);
		size_t r = cairn_chunker_scan(ch, data + pos, steps[i]);
		pos += r == CAIRN_CHUNKER_NO_CUT ? steps[i] : r;
	}
	free(data);
	free(ch);
}

static void test_chunker__reset_starts_a_new_chunk(void **state)
{
	(void)state;
	const size_t len = 200000;
	uint8_t *data = random_bytes(len, 5);
	cairn_chunker_params p = make_params(512, 2048, 8192);
	cairn_chunker *ch = malloc(sizeof(*ch));
	assert_non_null(ch);
	assert_int_equal(cairn_chunker_init(ch, &p), 0);

	cuts fresh = chunk_with_feeds(ch, data, len, NULL, 0);
	/* Leave the chunker in the middle of a chunk, then reset: the cuts
	 * are those of a fresh chunker. */
	uint8_t *junk = random_bytes(1000, 6);
	assert_int_equal(cairn_chunker_scan(ch, junk, 300), CAIRN_CHUNKER_NO_CUT);
	assert_int_equal(cairn_chunker_scan(ch, junk + 300, 211), CAIRN_CHUNKER_NO_CUT);
	cuts after = chunk_with_feeds(ch, data, len, NULL, 0); /* resets first */
	assert_cuts_equal(&after, &fresh);
	cuts_free(&fresh);
	cuts_free(&after);
	free(junk);
	free(data);
	free(ch);
}

static void test_chunker__bytes_before_min_minus_window_do_not_matter(void **state)
{
	(void)state;
	const size_t len = 300000;
	uint8_t *data = random_bytes(len, 8);
	cairn_chunker_params p = make_params(2048, 4096, 32768);
	cuts a = chunk_all(&p, data, len);
	/* Scribble over the unhashed head of every chunk but the first. */
	for (size_t i = 0; i + 1 < a.n; i++)
		memset(data + a.end[i], 0xa5, p.min - CAIRN_CHUNKER_WINDOW);
	cuts b = chunk_all(&p, data, len);
	assert_cuts_equal(&a, &b);
	cuts_free(&a);
	cuts_free(&b);
	free(data);
}

/* The cuts of b line up with those of a shifted by delta from some point
 * on; returns the index in a of the first cut that does, or a.n. */
static size_t resync_index(const cuts *a, const cuts *b, ptrdiff_t delta, size_t from)
{
	for (size_t i = 0; i < a->n; i++) {
		if (a->end[i] < from)
			continue;
		size_t want = (size_t)((ptrdiff_t)a->end[i] + delta);
		for (size_t j = 0; j < b->n; j++) {
			if (b->end[j] != want)
				continue;
			/* From here on every cut must agree. */
			if (a->n - i != b->n - j)
				fail_msg("cut counts differ after resync (%zu vs %zu)", a->n - i,
				         b->n - j);
			for (size_t k = 0; i + k < a->n; k++)
				if ((ptrdiff_t)b->end[j + k] != (ptrdiff_t)a->end[i + k] + delta)
					fail_msg("cut %zu diverges after resync", i + k);
			return i;
		}
	}
	return a->n;
}

static void test_chunker__cuts_are_stable_under_a_prepended_byte(void **state)
{
	(void)state;
	const size_t len = 1024 * 1024;
	uint8_t *data = random_bytes(len + 1, 9);
	cairn_chunker_params p = make_params(1024, 3072, 16384);

	for (int b = 0; b < 4; b++) {
		data[0] = (uint8_t)(b * 77);
		cuts a = chunk_all(&p, data + 1, len);
		cuts shifted = chunk_all(&p, data, len + 1);
		assert_true(a.n > 100);
		size_t i = resync_index(&a, &shifted, 1, 0);
		if (i > 2)
			fail_msg("cuts line up only from cut %zu of %zu", i, a.n);
		cuts_free(&a);
		cuts_free(&shifted);
	}
	free(data);
}

static void test_chunker__cuts_resynchronise_after_an_insertion_or_deletion(void **state)
{
	(void)state;
	const size_t len = 1024 * 1024, at = 500000, ins = 3333;
	uint8_t *data = random_bytes(len, 10);
	uint8_t *extra = random_bytes(ins, 11);
	uint8_t *edited = malloc(len + ins);
	assert_non_null(edited);
	memcpy(edited, data, at);
	memcpy(edited + at, extra, ins);
	memcpy(edited + at + ins, data + at, len - at);
	cairn_chunker_params p = make_params(1024, 3072, 16384);

	cuts a = chunk_all(&p, data, len);
	cuts b = chunk_all(&p, edited, len + ins);
	/* Before the edit every cut is the same. */
	size_t same = 0;
	while (same < a.n && a.end[same] < at) {
		assert_int_equal(b.end[same], a.end[same]);
		same++;
	}
	assert_true(same > 50);
	/* After it they line up again within a couple of chunks. */
	size_t i = resync_index(&a, &b, (ptrdiff_t)ins, at);
	assert_true(i < a.n);
	assert_true(i <= same + 2);

	/* The deletion is the same edit seen the other way. */
	i = resync_index(&b, &a, -(ptrdiff_t)ins, at + ins);
	assert_true(i < b.n);

	cuts_free(&a);
	cuts_free(&b);
	free(edited);
	free(extra);
	free(data);
}

static void test_chunker__average_chunk_size_on_random_data_is_near_avg(void **state)
{
	(void)state;
	/* The defaults' proportions, scaled down: min = avg / 2, max = 8 avg;
	 * and a span that is not a power of two. */
	static const uint32_t sizes[][3] = {
	    {2048, 4096, 32768},
	    {1024, 3000, 24000},
	};
	const size_t len = 6 * 1024 * 1024;
	uint8_t *data = random_bytes(len, 12);

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		cairn_chunker_params p = make_params(sizes[s][0], sizes[s][1], sizes[s][2]);
		cuts c = chunk_all(&p, data, len);
		double mean = (double)len / (double)c.n;
		if (mean < 0.75 * p.avg || mean > 1.5 * p.avg)
			fail_msg("mean chunk size %.0f for avg %u", mean, p.avg);
		cuts_free(&c);
	}
	free(data);
}

static void test_chunker__different_polynomials_cut_differently(void **state)
{
	(void)state;
	const size_t len = 512 * 1024;
	uint8_t *data = random_bytes(len, 13);
	cairn_chunker_params p = make_params(1024, 3072, 16384);
	cuts a = chunk_all(&p, data, len);
	p.poly = cairn_chunker_random_poly();
	if (p.poly == TEST_POLY)
		p.poly = cairn_chunker_random_poly();
	cuts b = chunk_all(&p, data, len);
	/* The polynomial keys the chunker: the boundaries must not coincide. */
	size_t common = 0;
	for (size_t i = 0, j = 0; i < a.n && j < b.n;) {
		if (a.end[i] == b.end[j]) {
			common++;
			i++;
			j++;
		} else if (a.end[i] < b.end[j]) {
			i++;
		} else {
			j++;
		}
	}
	assert_true(common < a.n / 4);
	cuts_free(&a);
	cuts_free(&b);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chunker__test_polynomial_is_irreducible_by_rabins_test),
	    cmocka_unit_test(test_chunker__random_poly_is_irreducible_of_degree_53),
	    cmocka_unit_test(test_chunker__rejects_polynomials_of_the_wrong_degree),
	    cmocka_unit_test(test_chunker__rejects_known_reducible_polynomials),
	    cmocka_unit_test(test_chunker__rejects_products_of_two_large_irreducibles),
	    cmocka_unit_test(test_chunker__irreducibility_agrees_with_rabins_test),
	    cmocka_unit_test(test_chunker__params_check_accepts_the_defaults_and_the_extremes),
	    cmocka_unit_test(test_chunker__params_check_rejects_bad_sizes),
	    cmocka_unit_test(test_chunker__params_check_rejects_bad_polynomials),
	    cmocka_unit_test(
	        test_chunker__mask_is_one_below_the_least_power_of_two_covering_avg_minus_min),
	    cmocka_unit_test(test_chunker__reference_digest_matches_the_format_vectors),
	    cmocka_unit_test(test_chunker__cuts_the_format_test_vector),
	    cmocka_unit_test(test_chunker__matches_a_straightforward_reference),
	    cmocka_unit_test(test_chunker__two_stream_scan_matches_the_reference),
	    cmocka_unit_test(test_chunker__same_input_gives_same_cuts_whatever_the_feed_sizes),
	    cmocka_unit_test(test_chunker__every_chunk_but_the_last_is_within_min_and_max),
	    cmocka_unit_test(test_chunker__cuts_at_max_when_the_digest_never_matches),
	    cmocka_unit_test(test_chunker__zero_bytes_are_cut_at_min),
	    cmocka_unit_test(test_chunker__input_shorter_than_min_is_one_chunk),
	    cmocka_unit_test(test_chunker__scanning_nothing_never_cuts),
	    cmocka_unit_test(test_chunker__reset_starts_a_new_chunk),
	    cmocka_unit_test(test_chunker__bytes_before_min_minus_window_do_not_matter),
	    cmocka_unit_test(test_chunker__cuts_are_stable_under_a_prepended_byte),
	    cmocka_unit_test(test_chunker__cuts_resynchronise_after_an_insertion_or_deletion),
	    cmocka_unit_test(test_chunker__average_chunk_size_on_random_data_is_near_avg),
	    cmocka_unit_test(test_chunker__different_polynomials_cut_differently),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

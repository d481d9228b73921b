#include "cairn/chunker.h"

#include "cairn/errors.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Polynomials over GF(2) are held in a uint64_t, bit i being the
 * coefficient of x^i. The chunker's polynomial has degree 53, so residues
 * have degree < 53 and a residue times x^8 still fits in 64 bits. */

#define POLY_TOP ((uint64_t)1 << CAIRN_CHUNKER_POLY_DEGREE)
/* Right shift that brings the residue's top byte (x^45..x^52) down to 0..7. */
#define TOP_BYTE_SHIFT (CAIRN_CHUNKER_POLY_DEGREE - 8)

static int degree(uint64_t p)
{
	return p ? 63 - __builtin_clzll(p) : -1;
}

/* a mod b, b != 0 */
static uint64_t poly_mod(uint64_t a, uint64_t b)
{
	int db = degree(b);
	int da;
	while ((da = degree(a)) >= db)
		a ^= b << (da - db);
	return a;
}

static uint64_t poly_gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t r = poly_mod(a, b);
		a = b;
		b = r;
	}
	return a;
}

/* a * b mod m for a, b of degree < deg(m) <= 62: shift-and-add, reducing
 * after every shift so nothing overflows. */
static uint64_t poly_mulmod(uint64_t a, uint64_t b, uint64_t m)
{
	uint64_t top = (uint64_t)1 << degree(m);
	uint64_t r = 0;
	while (b) {
		if (b & 1)
			r ^= a;
		b >>= 1;
		a <<= 1;
		if (a & top)
			a ^= m;
	}
	return r;
}

int cairn_chunker_poly_irreducible(uint64_t poly)
{
	if (degree(poly) != CAIRN_CHUNKER_POLY_DEGREE)
		return 0;
	/* Ben-Or: a polynomial of degree n is irreducible iff it shares no
	 * factor with x^(2^i) - x for i = 1..n/2, since x^(2^i) - x is the
	 * product of all irreducible polynomials whose degree divides i. */
	uint64_t x = 2;
	uint64_t t = x;
	for (int i = 1; i <= CAIRN_CHUNKER_POLY_DEGREE / 2; i++) {
		t = poly_mulmod(t, t, poly);
		if (poly_gcd(poly, t ^ x) != 1)
			return 0;
	}
	return 1;
}

uint64_t cairn_chunker_random_poly(void)
{
	/* Without a random source libsodium aborts in randombytes_buf anyway;
	 * there is no polynomial we could safely return instead. */
	if (sodium_init() < 0)
		abort();
	for (;;) {
		uint64_t p;
		randombytes_buf(&p, sizeof(p));
		p &= POLY_TOP - 1;
		/* A polynomial without a constant term is divisible by x:
		 * setting it halves the expected number of tries. */
		p |= POLY_TOP | 1;
		if (cairn_chunker_poly_irreducible(p))
			return p;
	}
}

int cairn_chunker_params_check(const cairn_chunker_params *p)
{
	uint32_t lowest = CAIRN_CHUNK_SIZE_LOWEST;
	if (lowest < 2 * CAIRN_CHUNKER_WINDOW)
		lowest = 2 * CAIRN_CHUNKER_WINDOW;
	if (p->min < lowest)
		return cairn_error_set(CAIRN_EINVAL,
		                       "chunker: minimum chunk size %" PRIu32 " is below %" PRIu32,
		                       p->min, lowest);
	if (p->avg <= p->min)
		return cairn_error_set(CAIRN_EINVAL,
		                       "chunker: average chunk size %" PRIu32
		                       " is not above the minimum %" PRIu32,
		                       p->avg, p->min);
	if (p->max <= p->avg)
		return cairn_error_set(CAIRN_EINVAL,
		                       "chunker: maximum chunk size %" PRIu32
		                       " is not above the average %" PRIu32,
		                       p->max, p->avg);
	if (p->max > CAIRN_CHUNK_SIZE_HIGHEST)
		return cairn_error_set(CAIRN_EINVAL,
		                       "chunker: maximum chunk size %" PRIu32 " is above %" PRIu32,
		                       p->max, (uint32_t)CAIRN_CHUNK_SIZE_HIGHEST);
	if (degree(p->poly) != CAIRN_CHUNKER_POLY_DEGREE)
		return cairn_error_set(CAIRN_EINVAL,
		                       "chunker: polynomial 0x%" PRIx64 " is not of degree %d",
		                       p->poly, CAIRN_CHUNKER_POLY_DEGREE);
	if (!cairn_chunker_poly_irreducible(p->poly))
		return cairn_error_set(
		    CAIRN_EINVAL, "chunker: polynomial 0x%" PRIx64 " is not irreducible", p->poly);
	return 0;
}

int cairn_chunker_init(cairn_chunker *c, const cairn_chunker_params *params)
{
	int rc = cairn_chunker_params_check(params);
	if (rc)
		return rc;

	memset(c, 0, sizeof(*c));
	c->params = *params;

	uint64_t span = params->avg - params->min;
	uint64_t pow2 = 1;
	while (pow2 < span)
		pow2 <<= 1;
	c->mask = pow2 - 1;

	/* The digest is sum(window[k] * x^(8 * (63 - k))) mod poly. One step
	 * multiplies it by x^8, adds the new byte and subtracts the byte that
	 * entered 64 steps earlier, now weighted x^(8 * 64). Subtracting it
	 * after the shift (rather than before, as the textbook does) gives the
	 * same residue and keeps the out table off the digest's dependency
	 * chain. */
	uint64_t poly = params->poly;
	uint64_t x8 = (uint64_t)1 << 8;
	uint64_t x_window = 1;
	for (int i = 0; i < CAIRN_CHUNKER_WINDOW; i++)
		x_window = poly_mulmod(x_window, x8, poly);
	uint64_t x_window8 = poly_mulmod(x_window, x8, poly);
	uint64_t x61 = poly_mulmod((uint64_t)1 << 52, (uint64_t)1 << 9, poly);
	for (unsigned b = 0; b < 256; b++) {
		c->out_table[b] = poly_mulmod(b, x_window, poly);
		c->out2_table[b] = poly_mulmod(b, x_window8, poly);
		/* After a shift by 8 the old top byte sits at x^53..x^60:
		 * cancel those bits and add their residue. */
		uint64_t high = (uint64_t)b << CAIRN_CHUNKER_POLY_DEGREE;
		c->mod_table[b] = high ^ poly_mod(high, poly);
		/* After a shift by 16 (in 64 bits) the top byte's low three
		 * bits sit at x^61..x^63 and the rest fell off the end; its
		 * residue is that of b * x^61. The byte below it is reduced
		 * by mod_table. */
		c->mod2_table[b] = ((uint64_t)b << 61) ^ poly_mulmod(b, x61, poly);
	}
	cairn_chunker_reset(c);
	return 0;
}

void cairn_chunker_reset(cairn_chunker *c)
{
	c->digest = 0;
	memset(c->window, 0, sizeof(c->window));
	c->wpos = 0;
	c->count = 0;
}

/* An empty asm that claims to change v: the compiler may no longer
 * reassociate the XORs around it, so the digest's loop-carried chain stays
 * shift -> table load -> XOR instead of growing by the independent terms. */
#define CHAIN_BARRIER(v) __asm__("" : "+r"(v))

/* Two bytes of one stream: d is the digest of the window that ends just
 * before q; afterwards it is the digest of the window ending at q[1], and
 * hit says where a digest first matched the mask (1: after q[0], 2: after
 * q[1], 0: neither). The outgoing bytes are read from q[-64] and q[-63].
 * The digest two bytes on is computed straight from d (two independent
 * table loads), which halves the loop-carried latency per byte; the one
 * in between is worked out on the side only to be tested. */
#define STEP2(d, q, hit)                                                                           \
	do {                                                                                       \
		uint8_t b1_ = (q)[0], b2_ = (q)[1];                                                \
		uint8_t o1_ = (q)[-CAIRN_CHUNKER_WINDOW], o2_ = (q)[1 - CAIRN_CHUNKER_WINDOW];     \
		unsigned top_ = (unsigned)((d) >> TOP_BYTE_SHIFT);                                 \
		uint8_t next_ = (uint8_t)((d) >> (TOP_BYTE_SHIFT - 8));                            \
		uint64_t mid_ = (((d) << 8) | b1_) ^ out_table[o1_] ^ mod_table[top_];             \
		uint64_t t_ =                                                                      \
		    ((d) << 16) ^ ((uint64_t)b1_ << 8 | b2_) ^ out2_table[o1_] ^ out_table[o2_];   \
		CHAIN_BARRIER(t_);                                                                 \
		(d) = t_ ^ mod2_table[top_] ^ mod_table[next_];                                    \
		(hit) = (mid_ & mask) == 0 ? 1 : ((d)&mask) == 0 ? 2 : 0;                          \
	} while (0)

/* Bytes per block of the two-stream scan; even, so two-byte steps end
 * exactly at a block's end. */
#define PAIR_BLOCK 4096

/* Looks for the first byte in [*pos, end) after which the digest matches
 * the mask, two blocks at a time: one stream goes on from *digest through
 * the first block while a second, started from the 64 bytes before the
 * second block, runs through that one. The two digest chains do not
 * depend on each other, so the CPU works on both at once. The digest of
 * a window depends on its 64 bytes alone, so the second stream's matches
 * are the ones the first would find there; the first stream's come first.
 * Needs 64 bytes before *pos in memory. Returns the cut (one past the
 * matching byte), or NULL with *pos and *digest moved past the blocks
 * scanned (fewer than two blocks are left). */
static const uint8_t *scan_pairs(const cairn_chunker *c, const uint8_t **pos, const uint8_t *end,
                                 uint64_t *digest)
{
	const uint64_t *const out_table = c->out_table;
	const uint64_t *const mod_table = c->mod_table;
	const uint64_t *const out2_table = c->out2_table;
	const uint64_t *const mod2_table = c->mod2_table;
	const uint64_t mask = c->mask;
	const uint8_t *q = *pos;
	uint64_t da = *digest;

	while (end - q >= 2 * PAIR_BLOCK) {
		const uint8_t *qa = q, *qb = q + PAIR_BLOCK;
		const uint8_t *const block_end = qb;
		/* The second stream starts as a window of zeros (digest 0)
		 * and takes in the 64 bytes before its block, nothing going
		 * out: then it holds exactly their digest. */
		uint64_t db = 0;
		for (const uint8_t *w = qb - CAIRN_CHUNKER_WINDOW; w < qb; w++)
			db = (((db << 8) | *w) ^ mod_table[db >> TOP_BYTE_SHIFT]);
		int hit_a, hit_b;
		while (qa < block_end) {
			STEP2(da, qa, hit_a);
			STEP2(db, qb, hit_b);
			qa += 2;
			qb += 2;
			if (__builtin_expect(hit_a | hit_b, 0)) {
				if (hit_a)
					return qa - 2 + hit_a;
				/* The second block has a cut; the first may
				 * still have an earlier one. */
				const uint8_t *cut_b = qb - 2 + hit_b;
				while (qa < block_end) {
					STEP2(da, qa, hit_a);
					qa += 2;
					if (hit_a)
						return qa - 2 + hit_a;
				}
				return cut_b;
			}
		}
		da = db;
		q += 2 * PAIR_BLOCK;
	}
	*pos = q;
	*digest = da;
	return NULL;
}

size_t cairn_chunker_scan(cairn_chunker *c, const uint8_t *buf, size_t len)
{
	const size_t min = c->params.min;
	const size_t max = c->params.max;
	const size_t hash_from = min - CAIRN_CHUNKER_WINDOW;
	size_t count = c->count;
	size_t i = 0;

	/* Nothing before hash_from can matter: no cut is allowed before min,
	 * and by then the window holds only bytes from hash_from on. */
	if (count < hash_from) {
		size_t skip = hash_from - count;
		if (skip >= len) {
			c->count = count + len;
			return CAIRN_CHUNKER_NO_CUT;
		}
		i = skip;
		count = hash_from;
	}

	const uint64_t *const out_table = c->out_table;
	const uint64_t *const mod_table = c->mod_table;
	const uint64_t *const out2_table = c->out2_table;
	const uint64_t *const mod2_table = c->mod2_table;
	const uint64_t mask = c->mask;
	uint8_t *const window = c->window;
	uint64_t digest = c->digest;
	unsigned wpos = c->wpos;

#define SLIDE(b)                                                                                   \
	do {                                                                                       \
		uint8_t in_ = (b);                                                                 \
		uint8_t out_ = window[wpos];                                                       \
		window[wpos] = in_;                                                                \
		wpos = (wpos + 1) & (CAIRN_CHUNKER_WINDOW - 1);                                    \
		uint64_t t_ = ((digest << 8) | in_) ^ out_table[out_];                             \
		CHAIN_BARRIER(t_);                                                                 \
		digest = t_ ^ mod_table[digest >> TOP_BYTE_SHIFT];                                 \
	} while (0)

	/* Fill the window up to the byte that makes the chunk min long. */
	const uint8_t *p = buf + i;
	size_t n;
	if (count < min - 1) {
		n = min - 1 - count;
		if (n > len - i)
			n = len - i;
		for (const uint8_t *end = p + n; p < end; p++)
			SLIDE(*p);
		count += n;
		if (count < min - 1)
			goto no_cut;
	}

	/* Every byte from here on may end the chunk. */
	n = max - count;
	if (n > (size_t)(buf + len - p))
		n = (size_t)(buf + len - p);
	const uint8_t *const end = p + n;
	/* The two-stream scan reads outgoing bytes from buf: it starts once
	 * the window holds the 64 bytes before p, all of them in buf (64
	 * bytes into buf, and 64 bytes slid since the chunk began: count is
	 * min - 1 or more here, and the window got its first real byte at
	 * min - 64). */
	const uint8_t *fast_from = buf + CAIRN_CHUNKER_WINDOW;
	if (count < min && p + (min - count) > fast_from)
		fast_from = p + (min - count);
	if (end - fast_from >= 2 * PAIR_BLOCK) {
		for (; p < fast_from; p++) {
			SLIDE(*p);
			if ((digest & mask) == 0) {
				p++;
				goto cut;
			}
		}
		const uint8_t *cut = scan_pairs(c, &p, end, &digest);
		if (cut) {
			p = cut;
			goto cut;
		}
		memcpy(window, p - CAIRN_CHUNKER_WINDOW, CAIRN_CHUNKER_WINDOW);
		wpos = 0;
	}
	if ((wpos & 1) && p < end) {
		SLIDE(*p);
		p++;
		if ((digest & mask) == 0)
			goto cut;
	}
	/* Two bytes per step: the digest two bytes on is computed straight
	 * from the current one (two independent table loads), which halves
	 * the loop-carried latency per byte; the digest in between is worked
	 * out on the side only to be tested. */
	while (end - p >= 2) {
		uint8_t b1 = p[0], b2 = p[1];
		uint8_t o1 = window[wpos], o2 = window[wpos + 1];
		window[wpos] = b1;
		window[wpos + 1] = b2;
		wpos = (wpos + 2) & (CAIRN_CHUNKER_WINDOW - 1);
		unsigned top = (unsigned)(digest >> TOP_BYTE_SHIFT);
		uint8_t next = (uint8_t)(digest >> (TOP_BYTE_SHIFT - 8));
		uint64_t mid = ((digest << 8) | b1) ^ out_table[o1] ^ mod_table[top];
		uint64_t t =
		    (digest << 16) ^ ((uint64_t)b1 << 8 | b2) ^ out2_table[o1] ^ out_table[o2];
		CHAIN_BARRIER(t);
		digest = t ^ mod2_table[top] ^ mod_table[next];
		p += 2;
		if (__builtin_expect(((mid & mask) == 0) | ((digest & mask) == 0), 0)) {
			if ((mid & mask) == 0)
				p--;
			goto cut;
		}
	}
	if (p < end) {
		SLIDE(*p);
		p++;
		if ((digest & mask) == 0)
			goto cut;
	}
#undef SLIDE
	count += n;
	if (count == max)
		goto cut;

no_cut:
	c->digest = digest;
	c->wpos = wpos;
	c->count = count;
	return CAIRN_CHUNKER_NO_CUT;

cut:
	cairn_chunker_reset(c);
	return (size_t)(p - buf);
}

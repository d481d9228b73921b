#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/seal.h"
#include "util/buf.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define OVERHEAD (1 + CAIRN_SEAL_NONCE + CAIRN_SEAL_TAG)
#define NO_LIMIT ((size_t)1 << 40)

static const uint8_t test_key[32] = {
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f};

static uint8_t *random_data(size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	randombytes_buf(p, len);
	return p;
}

/* Text that zstd shrinks a lot. */
static uint8_t *compressible_data(size_t len)
{
	static const char line[] = "the quick brown fox jumps over the lazy dog 0123456789\n";
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)line[i % (sizeof(line) - 1)];
	return p;
}

static void make_fp(uint8_t fp[CAIRN_FP_SIZE], uint8_t seed)
{
	for (int i = 0; i < CAIRN_FP_SIZE; i++)
		fp[i] = (uint8_t)(seed + 3 * i);
}

static cairn_sealer *new_sealer(int encrypted)
{
	cairn_sealer *s = NULL;
	assert_int_equal(cairn_sealer_new(&s, encrypted ? test_key : NULL, 0), 0);
	assert_non_null(s);
	return s;
}

/* Unseals and expects failure: CAIRN_ECORRUPT and nothing in out. */
static void assert_unseal_fails(cairn_sealer *s, const uint8_t *fp, uint8_t kind,
                                const void *sealed, size_t len, size_t max_plain, const char *what)
{
	cairn_buf out = CAIRN_BUF_INIT;
	assert_int_equal(cairn_buf_append(&out, "stale", 5), 0);
	cairn_error_clear();
	int rc = cairn_unseal(s, &out, fp, kind, sealed, len, max_plain);
	if (rc != CAIRN_ECORRUPT)
		fail_msg("unseal of %s returned %d, not CAIRN_ECORRUPT", what, rc);
	assert_int_equal(out.len, 0);
	assert_true(strlen(cairn_error_last()) > 0);
	cairn_buf_free(&out);
}

static void round_trip(int encrypted, const uint8_t *plain, size_t len, cairn_buf *sealed_out)
{
	cairn_sealer *s = new_sealer(encrypted);
	cairn_buf sealed = CAIRN_BUF_INIT, out = CAIRN_BUF_INIT;
	uint8_t fp[CAIRN_FP_SIZE];
	make_fp(fp, 1);

	assert_int_equal(cairn_seal(s, &sealed, fp, CAIRN_BLOB_DATA, plain, len), 0);
	assert_true(sealed.len <= cairn_seal_bound(s, len));
	assert_int_equal(cairn_buf_append(&out, "old contents", 12), 0);
	assert_int_equal(cairn_unseal(s, &out, fp, CAIRN_BLOB_DATA, sealed.data, sealed.len, len),
	                 0);
	assert_int_equal(out.len, len);
	if (len)
		assert_memory_equal(out.data, plain, len);
	cairn_buf_free(&out);
	cairn_sealer_free(s);
	if (sealed_out)
		*sealed_out = sealed;
	else
		cairn_buf_free(&sealed);
}

/* Opens an encrypted blob with libsodium as docs/FORMAT.md describes. */
static int format_open(cairn_buf *out, const uint8_t *fp, uint8_t kind, const uint8_t *sealed,
                       size_t len)
{
	uint8_t ad[CAIRN_FP_SIZE + 1];
	unsigned long long n = 0;
	if (len < OVERHEAD)
		return -1;
	memcpy(ad, fp, CAIRN_FP_SIZE);
	ad[CAIRN_FP_SIZE] = kind;
	assert_int_equal(cairn_buf_reserve(out, len), 0);
	out->len = 0;
	int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
	    out->data, &n, NULL, sealed + CAIRN_SEAL_NONCE, len - CAIRN_SEAL_NONCE, ad, sizeof(ad),
	    sealed, test_key);
	out->len = (size_t)n;
	return rc;
}

/* Seals flag || body with libsodium as docs/FORMAT.md describes. */
static void format_seal(cairn_buf *out, const uint8_t *fp, uint8_t kind, const uint8_t *fb,
                        size_t fb_len)
{
	uint8_t ad[CAIRN_FP_SIZE + 1];
	unsigned long long n = 0;
	memcpy(ad, fp, CAIRN_FP_SIZE);
	ad[CAIRN_FP_SIZE] = kind;
	cairn_buf_clear(out);
	assert_int_equal(cairn_buf_reserve(out, fb_len + OVERHEAD), 0);
	randombytes_buf(out->data, CAIRN_SEAL_NONCE);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(out->data + CAIRN_SEAL_NONCE,
	                                                            &n, fb, fb_len, ad, sizeof(ad),
	                                                            NULL, out->data, test_key),
	                 0);
	out->len = CAIRN_SEAL_NONCE + (size_t)n;
}

/* flag || body, for the format_* helpers and unencrypted blobs. */
static void flag_body(cairn_buf *out, uint8_t flag, const void *body, size_t len)
{
	cairn_buf_clear(out);
	assert_int_equal(cairn_buf_append_u8(out, flag), 0);
	assert_int_equal(cairn_buf_append(out, body, len), 0);
}

/* One zstd frame; with_size 0 leaves the content size out of its header. */
static void zstd_frame(cairn_buf *out, const void *data, size_t len, int with_size)
{
	ZSTD_CCtx *z = ZSTD_createCCtx();
	assert_non_null(z);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, with_size)));
	size_t cap = ZSTD_compressBound(len);
	cairn_buf_clear(out);
	assert_int_equal(cairn_buf_reserve(out, cap), 0);
	if (with_size) {
		size_t n = ZSTD_compress2(z, out->data, cap, data, len);
		assert_false(ZSTD_isError(n));
		out->len = n;
	} else {
		/* Streaming with no pledged size: the frame does not say how much
		 * it expands to. */
		ZSTD_inBuffer in = {data, len, 0};
		ZSTD_outBuffer o = {out->data, cap, 0};
		size_t left;
		do {
			left = ZSTD_compressStream2(z, &o, &in, ZSTD_e_end);
			assert_false(ZSTD_isError(left));
		} while (left);
		out->len = o.pos;
		assert_int_equal(ZSTD_getFrameContentSize(out->data, out->len),
		                 ZSTD_CONTENTSIZE_UNKNOWN);
	}
	ZSTD_freeCCtx(z);
}

/* ---- round trips and layout --------------------------------------------- */

static void test_seal__round_trips_compressible_data_encrypted_and_not(void **state)
{
	(void)state;
	const size_t len = 200000;
	uint8_t *plain = compressible_data(len);
	for (int enc = 0; enc <= 1; enc++) {
		cairn_buf sealed;
		round_trip(enc, plain, len, &sealed);
		/* It was compressed. */
		assert_true(sealed.len < len / 4);
		if (!enc)
			assert_int_equal(sealed.data[0], CAIRN_SEAL_ZSTD);
		cairn_buf_free(&sealed);
	}
	free(plain);
}

static void test_seal__round_trips_incompressible_data_encrypted_and_not(void **state)
{
	(void)state;
	static const size_t lens[] = {1, 2, 100, 4096, 100000, 1048577};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *plain = random_data(lens[i]);
		for (int enc = 0; enc <= 1; enc++)
			round_trip(enc, plain, lens[i], NULL);
		free(plain);
	}
}

static void test_seal__round_trips_an_empty_plaintext(void **state)
{
	(void)state;
	for (int enc = 0; enc <= 1; enc++) {
		cairn_buf sealed;
		round_trip(enc, (const uint8_t *)"", 0, &sealed);
		assert_int_equal(sealed.len, enc ? OVERHEAD : 1);
		cairn_buf_free(&sealed);
	}
}

static void test_seal__stores_incompressible_data_with_flag_0(void **state)
{
	(void)state;
	const size_t len = 65536;
	uint8_t *plain = random_data(len);
	uint8_t fp[CAIRN_FP_SIZE];
	make_fp(fp, 2);

	/* Unencrypted: flag 0, then the plaintext itself. */
	cairn_sealer *s = new_sealer(0);
	cairn_buf sealed = CAIRN_BUF_INIT;
	assert_int_equal(cairn_seal(s, &sealed, fp, CAIRN_BLOB_DATA, plain, len), 0);
	assert_int_equal(sealed.len, len + 1);
	assert_int_equal(sealed.data[0], CAIRN_SEAL_STORED);
	assert_memory_equal(sealed.data + 1, plain, len);
	cairn_sealer_free(s);

	/* Encrypted: exactly nonce + flag + plaintext + tag, and the flag
	 * inside is 0. */
	s = new_sealer(1);
	cairn_buf_clear(&sealed);
	assert_int_equal(cairn_seal(s, &sealed, fp, CAIRN_BLOB_DATA, plain, len), 0);
	assert_int_equal(sealed.len, len + 1 + 24 + 16);
	cairn_buf opened = CAIRN_BUF_INIT;
	assert_int_equal(format_open(&opened, fp, CAIRN_BLOB_DATA, sealed.data, sealed.len), 0);
	assert_int_equal(opened.len, len + 1);
	assert_int_equal(opened.data[0], CAIRN_SEAL_STORED);
	assert_memory_equal(opened.data + 1, plain, len);
	cairn_buf_free(&opened);
	cairn_sealer_free(s);
	cairn_buf_free(&sealed);
	free(plain);
}

static void test_seal__follows_the_documented_layout(void **state)
{
	(void)state;
	const size_t len = 50000;
	uint8_t *plain = compressible_data(len);
	uint8_t fp[CAIRN_FP_SIZE];
	make_fp(fp, 3);
	cairn_sealer *s = new_sealer(1);
	cairn_buf sealed = CAIRN_BUF_INIT, opened = CAIRN_BUF_INIT;

	/* Sealed by cairn, opened by the format's description: flag 1 and one
	 * zstd frame that records its content size. */
	assert_int_equal(cairn_seal(s, &sealed, fp, CAIRN_BLOB_TREE, plain, len), 0);
	assert_int_equal(format_open(&opened, fp, CAIRN_BLOB_TREE, sealed.data, sealed.len), 0);
	assert_int_equal(opened.data[0], CAIRN_SEAL_ZSTD);
	assert_int_equal(ZSTD_findFrameCompressedSize(opened.data + 1, opened.len - 1),
	                 opened.len - 1);
	assert_int_equal(ZSTD_getFrameContentSize(opened.data + 1, opened.len - 1), len);
	uint8_t *back = malloc(len);
	assert_non_null(back);
	assert_int_equal(ZSTD_decompress(back, len, opened.data + 1, opened.len - 1), len);
	assert_memory_equal(back, plain, len);
	free(back);

	/* Sealed by the format's description, opened by cairn. */
	cairn_buf frame = CAIRN_BUF_INIT, fb = CAIRN_BUF_INIT, out = CAIRN_BUF_INIT;
	zstd_frame(&frame, plain, len, 1);
	flag_body(&fb, CAIRN_SEAL_ZSTD, frame.data, frame.len);
	format_seal(&sealed, fp, CAIRN_BLOB_TREE, fb.data, fb.len);
	assert_int_equal(cairn_unseal(s, &out, fp, CAIRN_BLOB_TREE, sealed.data, sealed.len, len),
	                 0);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.data, plain, len);
	flag_body(&fb, CAIRN_SEAL_STORED, "stored", 6);
	format_seal(&sealed, fp, CAIRN_BLOB_INDEX, fb.data, fb.len);
	assert_int_equal(cairn_unseal(s, &out, fp, CAIRN_BLOB_INDEX, sealed.data, sealed.len, 6),
	                 0);
	assert_int_equal(out.len, 6);
	assert_memory_equal(out.data, "stored", 6);

	cairn_buf_free(&frame);
	cairn_buf_free(&fb);
	cairn_buf_free(&out);
	cairn_buf_free(&opened);
	cairn_buf_free(&sealed);
	cairn_sealer_free(s);
	free(plain);
}

static void test_seal__matches_the_format_vector_for_abc(void **state)
{
	(void)state;
	/* docs/FORMAT.md, Appendix A: "abc" unencrypted is 00 61 62 63. */
	cairn_sealer *s = new_sealer(0);
	cairn_buf sealed = CAIRN_BUF_INIT;
	assert_int_equal(cairn_seal(s, &sealed, NULL, CAIRN_BLOB_DATA, "abc", 3), 0);
	assert_int_equal(sealed.len, 4);
	assert_memory_equal(sealed.data,
	                    "\x00"
	                    "abc",
	                    4);
	cairn_buf_free(&sealed);
	cairn_sealer_free(s);
}

static void test_seal__appends_after_existing_bytes(void **state)
{
	(void)state;
	uint8_t fp[CAIRN_FP_SIZE];
	make_fp(fp, 4);
	for (int enc = 0; enc <= 1; enc++) {
		cairn_sealer *s = new_sealer(enc);
		cairn_buf b = CAIRN_BUF_INIT, out = CAIRN_BUF_INIT;
		assert_int_equal(cairn_buf_append(&b, "prefix", 6), 0);
		assert_int_equal(cairn_seal(s, &b, fp, CAIRN_BLOB_DATA, "one", 3), 0);
		size_t mid = b.len;
		assert_int_equal(cairn_seal(s, &b, fp, CAIRN_BLOB_DATA, "two!", 4), 0);
		assert_memory_equal(b.data, "prefix", 6);
		assert_int_equal(cairn_unseal(s, &out, fp, CAIRN_BLOB_DATA, b.data + 6, mid - 6, 3),
		                 0);
		assert_int_equal(out.len, 3);
		assert_memory_equal(out.data, "one", 3);
		assert_int_equal(
		    cairn_unseal(s, &out, fp, CAIRN_BLOB_DATA, b.data + mid, b.len - mid, 4), 0);
		assert_int_equal(out.len, 4);
		assert_memory_equal(out.data, "two!", 4);
		cairn_buf_free(&b);
		cairn_buf_free(&out);
		cairn_sealer_free(s);
	}
}

static void test_seal__bound_covers_every_sealed_size(void **state)
{
	(void)state;
	static const size_t lens[] = {0, 1, 16, 100, 1000, 131072, 131073, 1000000};
	for (int enc = 0; enc <= 1; enc++) {
		cairn_sealer *s = new_sealer(enc);
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			uint8_t *plain = random_data(lens[i]);
			cairn_buf b = CAIRN_BUF_INIT;
			assert_int_equal(cairn_seal(s, &b, NULL, CAIRN_BLOB_DATA, plain, lens[i]),
			                 0);
			assert_true(b.len <= cairn_seal_bound(s, lens[i]));
			assert_true(cairn_seal_bound(s, lens[i]) >= lens[i] + (enc ? OVERHEAD : 1));
			cairn_buf_free(&b);
			free(plain);
		}
		cairn_sealer_free(s);
	}
}

static void test_seal__every_zstd_level_round_trips(void **state)
{
	(void)state;
	const size_t len = 100000;
	uint8_t *plain = compressible_data(len);
	static const int levels[] = {0, 1, 3, 9, 19};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		cairn_sealer *s = NULL;
		cairn_buf b = CAIRN_BUF_INIT, out = CAIRN_BUF_INIT;
		assert_int_equal(cairn_sealer_new(&s, test_key, levels[i]), 0);
		assert_int_equal(cairn_seal(s, &b, NULL, CAIRN_BLOB_DATA, plain, len), 0);
		assert_true(b.len < len / 4);
		assert_int_equal(cairn_unseal(s, &out, NULL, CAIRN_BLOB_DATA, b.data, b.len, len),
		                 0);
		assert_int_equal(out.len, len);
		assert_memory_equal(out.data, plain, len);
		cairn_buf_free(&b);
		cairn_buf_free(&out);
		cairn_sealer_free(s);
	}
	free(plain);
}

static int by_bytes(const void *a, const void *b)
{
	return memcmp(a, b, CAIRN_SEAL_NONCE);
}

/* Through several refills of the sealer's nonces: none comes back. */
static void test_seal__a_sealer_never_repeats_a_nonce(void **state)
{
	(void)state;
	enum { N = 1000 };
	cairn_sealer *s = new_sealer(1);
	uint8_t(*nonces)[CAIRN_SEAL_NONCE] = calloc(N, CAIRN_SEAL_NONCE);
	cairn_buf b = CAIRN_BUF_INIT;
	assert_non_null(nonces);
	for (int i = 0; i < N; i++) {
		cairn_buf_clear(&b);
		assert_int_equal(cairn_seal(s, &b, NULL, CAIRN_BLOB_DATA, "x", 1), 0);
		memcpy(nonces[i], b.data, CAIRN_SEAL_NONCE);
	}
	qsort(nonces, N, CAIRN_SEAL_NONCE, by_bytes);
	for (int i = 1; i < N; i++)
		assert_memory_not_equal(nonces[i - 1], nonces[i], CAIRN_SEAL_NONCE);
	free(nonces);
	cairn_buf_free(&b);
	cairn_sealer_free(s);
}

static void test_seal__nonces_differ_between_seals(void **state)
{
	(void)state;
	cairn_sealer *s = new_sealer(1);
	cairn_sealer *t = new_sealer(1);
	cairn_buf a = CAIRN_BUF_INIT, b = CAIRN_BUF_INIT, c = CAIRN_BUF_INIT;
	assert_int_equal(cairn_seal(s, &a, NULL, CAIRN_BLOB_DATA, "same", 4), 0);
	assert_int_equal(cairn_seal(s, &b, NULL, CAIRN_BLOB_DATA, "same", 4), 0);
	assert_int_equal(cairn_seal(t, &c, NULL, CAIRN_BLOB_DATA, "same", 4), 0);
	assert_int_equal(a.len, b.len);
	/* Random throughout: no prefix shared by a sealer's nonces, no count
	 * at the end. */
	for (size_t at = 0; at < CAIRN_SEAL_NONCE; at += 8) {
		assert_memory_not_equal(a.data + at, b.data + at, 8);
		assert_memory_not_equal(a.data + at, c.data + at, 8);
		assert_memory_not_equal(b.data + at, c.data + at, 8);
	}
	/* The plaintext does not show through. */
	assert_null(memmem(a.data, a.len, "same", 4));
	cairn_buf_free(&a);
	cairn_buf_free(&b);
	cairn_buf_free(&c);
	cairn_sealer_free(s);
	cairn_sealer_free(t);
}

static void test_seal__null_fingerprint_means_all_zeros(void **state)
{
	(void)state;
	cairn_sealer *s = new_sealer(1);
	cairn_buf b = CAIRN_BUF_INIT, out = CAIRN_BUF_INIT;
	uint8_t zero[CAIRN_FP_SIZE] = {0}, other[CAIRN_FP_SIZE];
	make_fp(other, 5);

	assert_int_equal(cairn_seal(s, &b, NULL, CAIRN_BLOB_SNAPSHOT, "snap", 4), 0);
	assert_int_equal(cairn_unseal(s, &out, zero, CAIRN_BLOB_SNAPSHOT, b.data, b.len, 4), 0);
	assert_int_equal(cairn_unseal(s, &out, NULL, CAIRN_BLOB_SNAPSHOT, b.data, b.len, 4), 0);
	assert_memory_equal(out.data, "snap", 4);
	assert_unseal_fails(s, other, CAIRN_BLOB_SNAPSHOT, b.data, b.len, 4, "another fingerprint");
	cairn_buf_clear(&b);
	assert_int_equal(cairn_seal(s, &b, zero, CAIRN_BLOB_SNAPSHOT, "snap", 4), 0);
	assert_int_equal(cairn_unseal(s, &out, NULL, CAIRN_BLOB_SNAPSHOT, b.data, b.len, 4), 0);
	cairn_buf_free(&b);
	cairn_buf_free(&out);
	cairn_sealer_free(s);
}

static void test_seal__free_accepts_null(void **state)
{
	(void)state;
	cairn_sealer_free(NULL);
}

/* ---- what unseal refuses -------------------------------------------------- */

static void test_seal__unseal_rejects_a_flipped_byte_anywhere(void **state)
{
	(void)state;
	uint8_t fp[CAIRN_FP_SIZE];
	make_fp(fp, 6);
	cairn_sealer *s = new_sealer(1);
	uint8_t *incompressible = random_data(300);
	uint8_t *compressible = compressible_data(3000);
	const uint8_t *plains[] = {incompressible, compressible};
	const size_t lens[] = {300, 3000};

	for (int k = 0; k < 2; k++) {
		cairn_buf b = CAIRN_BUF_INIT;
		assert_int_equal(cairn_seal(s, &b, fp, CAIRN_BLOB_DATA, plains[k], lens[k]), 0);
		for (size_t i = 0; i < b.len; i++) {
			for (int bit = 0; bit < 8; bit += 7) {
				b.data[i] ^= (uint8_t)(1u << bit);
				assert_unseal_fails(s, fp, CAIRN_BLOB_DATA, b.data, b.len, NO_LIMIT,
				                    "a flipped byte");
				b.data[i] ^= (uint8_t)(1u << bit);
			}
		}
		/* Intact, it still opens. */
		cairn_buf out = CAIRN_BUF_INIT;
		assert_int_equal(cairn_unseal(s, &out, fp, CAIRN_BLOB_DATA, b.data, b.len, lens[k]),
		                 0);
		cairn_buf_free(&out);
		cairn_buf_free(&b);
	}
	free(incompressible);
	free(compressible);
	cairn_sealer_free(s);
}

static void test_seal__unseal_rejects_the_wrong_fingerprint_or_kind(void **state)
{
	(void)state;
	uint8_t fp[CAIRN_FP_SIZE], other[CAIRN_FP_SIZE];
	make_fp(fp, 7);
	memcpy(other, fp, sizeof(other));
	other[CAIRN_FP_SIZE - 1] ^= 1;
	cairn_sealer *s = new_sealer(1);
	cairn_buf b = CAIRN_BUF_INIT;

	assert_int_equal(cairn_seal(s, &b, fp, CAIRN_BLOB_DATA, "content", 7), 0);
	assert_unseal_fails(s, other, CAIRN_BLOB_DATA, b.data, b.len, 7, "another fingerprint");
	assert_unseal_fails(s, NULL, CAIRN_BLOB_DATA, b.data, b.len, 7, "a zero fingerprint");
	assert_unseal_fails(s, fp, CAIRN_BLOB_TREE, b.data, b.len, 7, "another kind");
	assert_unseal_fails(s, fp, CAIRN_BLOB_INDEX, b.data, b.len, 7, "another kind");
	assert_unseal_fails(s, fp, 0, b.data, b.len, 7, "kind 0");

	/* A sealer with another key cannot open it either. */
	uint8_t key2[32];
	memcpy(key2, test_key, sizeof(key2));
	key2[0] ^= 1;
	cairn_sealer *t = NULL;
	assert_int_equal(cairn_sealer_new(&t, key2, 0), 0);
	assert_unseal_fails(t, fp, CAIRN_BLOB_DATA, b.data, b.len, 7, "another key");
	cairn_sealer_free(t);

	cairn_buf_free(&b);
	cairn_sealer_free(s);
}

static void test_seal__unseal_rejects_truncated_input(void **state)
{
	(void)state;
	uint8_t fp[CAIRN_FP_SIZE];
	make_fp(fp, 8);
	uint8_t *plain = compressible_data(5000);
	cairn_buf b = CAIRN_BUF_INIT;

	cairn_sealer *s = new_sealer(1);
	assert_int_equal(cairn_seal(s, &b, fp, CAIRN_BLOB_DATA, plain, 5000), 0);
	for (size_t len = 0; len < b.len; len++) {
		assert_unseal_fails(s, fp, CAIRN_BLOB_DATA, b.data, len, NO_LIMIT, "a prefix");
		assert_unseal_fails(s, fp, CAIRN_BLOB_DATA, b.data + b.len - len, len, NO_LIMIT,
		                    "a suffix");
	}
	/* One byte too many fails too. */
	assert_int_equal(cairn_buf_append_u8(&b, 0), 0);
	assert_unseal_fails(s, fp, CAIRN_BLOB_DATA, b.data, b.len, NO_LIMIT, "an extended blob");
	cairn_sealer_free(s);

	/* Unencrypted: nothing at all, and a cut zstd frame. */
	s = new_sealer(0);
	cairn_buf_clear(&b);
	assert_int_equal(cairn_seal(s, &b, fp, CAIRN_BLOB_DATA, plain, 5000), 0);
	assert_int_equal(b.data[0], CAIRN_SEAL_ZSTD);
	assert_unseal_fails(s, fp, CAIRN_BLOB_DATA, b.data, 0, NO_LIMIT, "an empty blob");
	for (size_t len = 1; len < b.len; len++)
		assert_unseal_fails(s, fp, CAIRN_BLOB_DATA, b.data, len, NO_LIMIT, "a cut frame");
	/* A frame with bytes after it. */
	assert_int_equal(cairn_buf_append_u8(&b, 0), 0);
	assert_unseal_fails(s, fp, CAIRN_BLOB_DATA, b.data, b.len, NO_LIMIT, "a frame and more");
	cairn_sealer_free(s);

	cairn_buf_free(&b);
	free(plain);
}

static void test_seal__unseal_rejects_an_unknown_flag(void **state)
{
	(void)state;
	uint8_t fp[CAIRN_FP_SIZE];
	make_fp(fp, 9);
	cairn_sealer *s = new_sealer(0);
	cairn_sealer *e = new_sealer(1);
	cairn_buf b = CAIRN_BUF_INIT, sealed = CAIRN_BUF_INIT;

	for (int flag = 2; flag < 256; flag += 37) {
		flag_body(&b, (uint8_t)flag, "body", 4);
		assert_unseal_fails(s, fp, CAIRN_BLOB_DATA, b.data, b.len, NO_LIMIT, "flag > 1");
		format_seal(&sealed, fp, CAIRN_BLOB_DATA, b.data, b.len);
		assert_unseal_fails(e, fp, CAIRN_BLOB_DATA, sealed.data, sealed.len, NO_LIMIT,
		                    "flag > 1, encrypted");
	}
	/* Flag 1 with a body that is not zstd. */
	flag_body(&b, CAIRN_SEAL_ZSTD, "not a zstd frame", 16);
	assert_unseal_fails(s, fp, CAIRN_BLOB_DATA, b.data, b.len, NO_LIMIT, "a bad frame");
	format_seal(&sealed, fp, CAIRN_BLOB_DATA, b.data, b.len);
	assert_unseal_fails(e, fp, CAIRN_BLOB_DATA, sealed.data, sealed.len, NO_LIMIT,
	                    "a bad frame, encrypted");
	/* Flag 1 and no frame at all. */
	flag_body(&b, CAIRN_SEAL_ZSTD, NULL, 0);
	assert_unseal_fails(s, fp, CAIRN_BLOB_DATA, b.data, b.len, NO_LIMIT, "an empty frame");

	cairn_buf_free(&b);
	cairn_buf_free(&sealed);
	cairn_sealer_free(s);
	cairn_sealer_free(e);
}

static void test_seal__unseal_enforces_max_plain(void **state)
{
	(void)state;
	const size_t len = 10000;
	uint8_t *incompressible = random_data(len);
	uint8_t *compressible = compressible_data(len);
	const uint8_t *plains[] = {incompressible, compressible};

	for (int enc = 0; enc <= 1; enc++) {
		cairn_sealer *s = new_sealer(enc);
		for (int k = 0; k < 2; k++) {
			cairn_buf b = CAIRN_BUF_INIT, out = CAIRN_BUF_INIT;
			assert_int_equal(cairn_seal(s, &b, NULL, CAIRN_BLOB_DATA, plains[k], len),
			                 0);
			/* Exactly the limit is fine; one byte over is not. */
			assert_int_equal(
			    cairn_unseal(s, &out, NULL, CAIRN_BLOB_DATA, b.data, b.len, len), 0);
			assert_int_equal(out.len, len);
			assert_unseal_fails(s, NULL, CAIRN_BLOB_DATA, b.data, b.len, len - 1,
			                    "a plaintext over max_plain");
			assert_unseal_fails(s, NULL, CAIRN_BLOB_DATA, b.data, b.len, 0,
			                    "a plaintext over max_plain 0");
			cairn_buf_free(&b);
			cairn_buf_free(&out);
		}
		cairn_sealer_free(s);
	}
	free(incompressible);
	free(compressible);
}

static void test_seal__unseal_refuses_a_zstd_bomb(void **state)
{
	(void)state;
	/* 64 MiB of zeros squeezed into a few kilobytes. */
	const size_t big = 64u << 20;
	uint8_t *zeros = calloc(1, big);
	assert_non_null(zeros);
	uint8_t fp[CAIRN_FP_SIZE];
	make_fp(fp, 10);
	cairn_buf frame = CAIRN_BUF_INIT, fb = CAIRN_BUF_INIT, sealed = CAIRN_BUF_INIT;
	cairn_sealer *plain_sealer = new_sealer(0);
	cairn_sealer *enc_sealer = new_sealer(1);

	for (int with_size = 1; with_size >= 0; with_size--) {
		zstd_frame(&frame, zeros, big, with_size);
		assert_true(frame.len < 64 * 1024);
		flag_body(&fb, CAIRN_SEAL_ZSTD, frame.data, frame.len);
		assert_unseal_fails(plain_sealer, fp, CAIRN_BLOB_DATA, fb.data, fb.len, 1 << 20,
		                    with_size ? "a bomb" : "a bomb that hides its size");
		format_seal(&sealed, fp, CAIRN_BLOB_DATA, fb.data, fb.len);
		assert_unseal_fails(
		    enc_sealer, fp, CAIRN_BLOB_DATA, sealed.data, sealed.len, 1 << 20,
		    with_size ? "an encrypted bomb" : "an encrypted bomb that hides its size");
	}

	/* The format requires the frame to record its size: a small frame
	 * without one is refused even within the limit. */
	zstd_frame(&frame, "hello hello hello hello hello", 29, 0);
	flag_body(&fb, CAIRN_SEAL_ZSTD, frame.data, frame.len);
	assert_unseal_fails(plain_sealer, fp, CAIRN_BLOB_DATA, fb.data, fb.len, NO_LIMIT,
	                    "a frame without its content size");
	assert_unseal_fails(plain_sealer, fp, CAIRN_BLOB_DATA, fb.data, fb.len, SIZE_MAX,
	                    "a frame without its content size, no limit");

	/* A frame that records a size within the limit but holds another
	 * frame's worth after it: two frames are not one. */
	cairn_buf two = CAIRN_BUF_INIT;
	zstd_frame(&frame, "first frame first frame", 23, 1);
	flag_body(&two, CAIRN_SEAL_ZSTD, frame.data, frame.len);
	assert_int_equal(cairn_buf_append(&two, frame.data, frame.len), 0);
	assert_unseal_fails(plain_sealer, fp, CAIRN_BLOB_DATA, two.data, two.len, NO_LIMIT,
	                    "two frames");
	/* A skippable frame after the real one decompresses to nothing, yet
	 * is still a second frame. */
	flag_body(&two, CAIRN_SEAL_ZSTD, frame.data, frame.len);
	static const uint8_t skippable[] = {0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'x', 'y', 'z'};
	assert_int_equal(cairn_buf_append(&two, skippable, sizeof(skippable)), 0);
	assert_unseal_fails(plain_sealer, fp, CAIRN_BLOB_DATA, two.data, two.len, NO_LIMIT,
	                    "a frame and a skippable frame");
	/* And one in front of it. */
	flag_body(&two, CAIRN_SEAL_ZSTD, skippable, sizeof(skippable));
	assert_int_equal(cairn_buf_append(&two, frame.data, frame.len), 0);
	assert_unseal_fails(plain_sealer, fp, CAIRN_BLOB_DATA, two.data, two.len, NO_LIMIT,
	                    "a skippable frame and a frame");
	cairn_buf_free(&two);

	/* The same seal path with a real blob: a big plaintext sealed by
	 * cairn, opened with a small limit. */
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_seal(enc_sealer, &b, fp, CAIRN_BLOB_DATA, zeros, 64u << 20), 0);
	assert_true(b.len < (1u << 20));
	assert_unseal_fails(enc_sealer, fp, CAIRN_BLOB_DATA, b.data, b.len, 1 << 20,
	                    "a large sealed blob");
	cairn_buf_free(&b);

	cairn_buf_free(&frame);
	cairn_buf_free(&fb);
	cairn_buf_free(&sealed);
	cairn_sealer_free(plain_sealer);
	cairn_sealer_free(enc_sealer);
	free(zeros);
}

static void test_seal__unseal_replaces_and_reuses_the_output(void **state)
{
	(void)state;
	cairn_sealer *s = new_sealer(1);
	cairn_buf b = CAIRN_BUF_INIT, out = CAIRN_BUF_INIT;
	assert_int_equal(cairn_seal(s, &b, NULL, CAIRN_BLOB_DATA, "xyz", 3), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cairn_unseal(s, &out, NULL, CAIRN_BLOB_DATA, b.data, b.len, 3), 0);
		assert_int_equal(out.len, 3);
		assert_memory_equal(out.data, "xyz", 3);
	}
	cairn_buf_free(&b);
	cairn_buf_free(&out);
	cairn_sealer_free(s);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seal__round_trips_compressible_data_encrypted_and_not),
	    cmocka_unit_test(test_seal__round_trips_incompressible_data_encrypted_and_not),
	    cmocka_unit_test(test_seal__round_trips_an_empty_plaintext),
	    cmocka_unit_test(test_seal__stores_incompressible_data_with_flag_0),
	    cmocka_unit_test(test_seal__follows_the_documented_layout),
	    cmocka_unit_test(test_seal__matches_the_format_vector_for_abc),
	    cmocka_unit_test(test_seal__appends_after_existing_bytes),
	    cmocka_unit_test(test_seal__bound_covers_every_sealed_size),
	    cmocka_unit_test(test_seal__every_zstd_level_round_trips),
	    cmocka_unit_test(test_seal__nonces_differ_between_seals),
	    cmocka_unit_test(test_seal__a_sealer_never_repeats_a_nonce),
	    cmocka_unit_test(test_seal__null_fingerprint_means_all_zeros),
	    cmocka_unit_test(test_seal__free_accepts_null),
	    cmocka_unit_test(test_seal__unseal_rejects_a_flipped_byte_anywhere),
	    cmocka_unit_test(test_seal__unseal_rejects_the_wrong_fingerprint_or_kind),
	    cmocka_unit_test(test_seal__unseal_rejects_truncated_input),
	    cmocka_unit_test(test_seal__unseal_rejects_an_unknown_flag),
	    cmocka_unit_test(test_seal__unseal_enforces_max_plain),
	    cmocka_unit_test(test_seal__unseal_refuses_a_zstd_bomb),
	    cmocka_unit_test(test_seal__unseal_replaces_and_reuses_the_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Blob sealing: zstd when it shrinks the data, then XChaCha20-Poly1305
 * with fingerprint || kind as associated data, so a blob cannot be passed
 * off as another chunk or as another kind of object. */
#include "cairn/seal.h"

#include "cairn/errors.h"

#include "crypto/aead.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define AD_SIZE (CAIRN_FP_SIZE + 1)
#define NONCE_POOL 64 /* nonces drawn per refill */

_Static_assert(CAIRN_SEAL_NONCE == CAIRN_AEAD_NONCE && CAIRN_SEAL_TAG == CAIRN_AEAD_TAG,
               "a sealed blob's nonce and tag are the AEAD's");

struct cairn_sealer {
	int encrypted;
	uint8_t key[CAIRN_AEAD_KEY];
	cairn_aead aead;
	/* Nonces are random, drawn from a keystream rather than one system
	 * call each. Nothing in them may be shared or counted: a prefix
	 * common to a pack's blobs would show where each blob begins, and a
	 * counter the order they were sealed in, which is what a pack hides.
	 * Nonces are public; the stream's key is not: at each refill it is
	 * replaced by the stream's next bytes, so every refill draws new
	 * nonces and no state kept reproduces those of earlier refills. */
	uint8_t nonces[NONCE_POOL * CAIRN_SEAL_NONCE];
	size_t nonces_used;
	uint8_t nonce_key[randombytes_SEEDBYTES];
	int level;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	cairn_buf scratch; /* flag || body after decryption */
};

void cairn_sealer_free(cairn_sealer *s)
{
	if (!s)
		return;
	sodium_memzero(s->key, sizeof(s->key));
	cairn_aead_free(&s->aead);
	sodium_memzero(s->nonce_key, sizeof(s->nonce_key));
	ZSTD_freeCCtx(s->cctx);
	ZSTD_freeDCtx(s->dctx);
	if (s->scratch.data)
		sodium_memzero(s->scratch.data, s->scratch.cap);
	cairn_buf_free(&s->scratch);
	free(s);
}

int cairn_sealer_new(cairn_sealer **out, const uint8_t key[32], int zstd_level)
{
	*out = NULL;
	if (sodium_init() < 0)
		return cairn_error_set(CAIRN_ERROR, "libsodium failed to initialise");
	cairn_sealer *s = calloc(1, sizeof(*s));
	if (!s)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	cairn_aead_init(&s->aead);
	if (key) {
		s->encrypted = 1;
		memcpy(s->key, key, sizeof(s->key));
		randombytes_buf(s->nonce_key, sizeof(s->nonce_key));
		s->nonces_used = NONCE_POOL;
	}
	s->level = zstd_level ? zstd_level : CAIRN_SEAL_LEVEL_DEFAULT;
	s->cctx = ZSTD_createCCtx();
	s->dctx = ZSTD_createDCtx();
	if (!s->cctx || !s->dctx ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, s->level))) {
		cairn_sealer_free(s);
		return cairn_error_set(CAIRN_ENOMEM, "cannot create zstd contexts");
	}
	*out = s;
	return 0;
}

size_t cairn_seal_bound(const cairn_sealer *s, size_t len)
{
	size_t n = 1 + len;
	if (s->encrypted)
		n += CAIRN_SEAL_NONCE + CAIRN_SEAL_TAG;
	return n;
}

static void next_nonce(cairn_sealer *s, uint8_t out[CAIRN_SEAL_NONCE])
{
	if (s->nonces_used == NONCE_POOL) {
		uint8_t stream[sizeof(s->nonces) + sizeof(s->nonce_key)];
		randombytes_buf_deterministic(stream, sizeof(stream), s->nonce_key);
		memcpy(s->nonces, stream, sizeof(s->nonces));
		memcpy(s->nonce_key, stream + sizeof(s->nonces), sizeof(s->nonce_key));
		sodium_memzero(stream, sizeof(stream));
		s->nonces_used = 0;
	}
	memcpy(out, s->nonces + s->nonces_used++ * CAIRN_SEAL_NONCE, CAIRN_SEAL_NONCE);
}

static void make_ad(uint8_t ad[AD_SIZE], const uint8_t *fp, uint8_t kind)
{
	if (fp)
		memcpy(ad, fp, CAIRN_FP_SIZE);
	else
		memset(ad, 0, CAIRN_FP_SIZE);
	ad[CAIRN_FP_SIZE] = kind;
}

/* Writes flag || body to dst (room for 1 + len bytes) and returns its
 * size: the zstd frame if it is smaller than the plaintext, else the
 * plaintext itself. */
static size_t pack_body(cairn_sealer *s, uint8_t *dst, const void *plain, size_t len)
{
	if (len > 0) {
		size_t z = ZSTD_compress2(s->cctx, dst + 1, len - 1, plain, len);
		/* A capacity of len - 1 makes zstd give up on anything that
		 * would not shrink, without a second pass. */
		if (!ZSTD_isError(z) && z < len) {
			dst[0] = CAIRN_SEAL_ZSTD;
			return 1 + z;
		}
	}
	dst[0] = CAIRN_SEAL_STORED;
	if (len)
		memcpy(dst + 1, plain, len);
	return 1 + len;
}

int cairn_seal(cairn_sealer *s, cairn_buf *out, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind,
               const void *plain, size_t len)
{
	int rc;

	if (!s->encrypted) {
		if ((rc = cairn_buf_reserve(out, 1 + len)))
			return rc;
		out->len += pack_body(s, out->data + out->len, plain, len);
		return 0;
	}

	if ((rc = cairn_buf_reserve(out, cairn_seal_bound(s, len))))
		return rc;
	uint8_t *nonce = out->data + out->len, *body = nonce + CAIRN_SEAL_NONCE;
	/* flag || body is built where its ciphertext goes and encrypted in
	 * place: no scratch copy of the blob. */
	size_t body_len = pack_body(s, body, plain, len);

	uint8_t ad[AD_SIZE];
	make_ad(ad, fp, kind);
	next_nonce(s, nonce);
	rc = cairn_aead_encrypt(&s->aead, body, body, body_len, ad, sizeof(ad), nonce, s->key);
	if (rc)
		return rc;
	out->len += CAIRN_SEAL_NONCE + body_len + CAIRN_SEAL_TAG;
	return 0;
}

/* Turns flag || body into the plaintext in out. */
static int unpack_body(cairn_sealer *s, cairn_buf *out, const uint8_t *src, size_t len,
                       size_t max_plain)
{
	int rc;

	if (len < 1)
		return cairn_error_set(CAIRN_ECORRUPT, "sealed blob is empty");
	const uint8_t *body = src + 1;
	size_t n = len - 1;
	if (src[0] == CAIRN_SEAL_STORED) {
		if (n > max_plain)
			return cairn_error_set(CAIRN_ECORRUPT,
			                       "blob larger than its recorded size");
		cairn_buf_clear(out);
		if ((rc = cairn_buf_append(out, body, n)))
			return rc;
		return 0;
	}
	if (src[0] != CAIRN_SEAL_ZSTD)
		return cairn_error_set(CAIRN_ECORRUPT, "unknown blob encoding %u", src[0]);
	unsigned long long size = ZSTD_getFrameContentSize(body, n);
	if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR)
		return cairn_error_set(CAIRN_ECORRUPT, "blob is not a sized zstd frame");
	if (size > max_plain)
		return cairn_error_set(CAIRN_ECORRUPT, "blob larger than its recorded size");
	if (ZSTD_findFrameCompressedSize(body, n) != n)
		return cairn_error_set(CAIRN_ECORRUPT, "blob holds more than one zstd frame");
	cairn_buf_clear(out);
	if ((rc = cairn_buf_reserve(out, (size_t)size + 1)))
		return rc;
	size_t got = ZSTD_decompressDCtx(s->dctx, out->data, (size_t)size, body, n);
	if (ZSTD_isError(got) || got != size)
		return cairn_error_set(CAIRN_ECORRUPT, "blob does not decompress: %s",
		                       ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame");
	out->len = got;
	return 0;
}

int cairn_unseal(cairn_sealer *s, cairn_buf *out, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind,
                 const void *sealed, size_t len, size_t max_plain)
{
	int rc;

	if (!s->encrypted) {
		rc = unpack_body(s, out, sealed, len, max_plain);
		if (rc)
			cairn_buf_clear(out);
		return rc;
	}
	if (len < CAIRN_SEAL_NONCE + CAIRN_SEAL_TAG + 1) {
		cairn_buf_clear(out);
		return cairn_error_set(CAIRN_ECORRUPT, "sealed blob is truncated (%zu bytes)", len);
	}
	const uint8_t *nonce = sealed;
	size_t clen = len - CAIRN_SEAL_NONCE;
	uint8_t ad[AD_SIZE];
	make_ad(ad, fp, kind);
	cairn_buf_clear(&s->scratch);
	if ((rc = cairn_buf_reserve(&s->scratch, clen)))
		return rc;
	rc = cairn_aead_decrypt(&s->aead, s->scratch.data, nonce + CAIRN_SEAL_NONCE, clen, ad,
	                        sizeof(ad), nonce, s->key);
	if (rc) {
		cairn_buf_clear(out);
		return rc == CAIRN_ECORRUPT
		           ? cairn_error_set(CAIRN_ECORRUPT, "blob fails authentication")
		           : rc;
	}
	rc = unpack_body(s, out, s->scratch.data, clen - CAIRN_SEAL_TAG, max_plain);
	if (rc)
		cairn_buf_clear(out);
	return rc;
}

/* Fingerprints with OpenSSL's libcrypto (util/libcrypto.h), whose SHA-256
 * uses the SHA extensions where the CPU has them. The HMAC inner and outer
 * states are hashed once per key and copied for each chunk, so a
 * fingerprint costs two struct copies on top of the hashing itself. */
#include "cairn/fingerprint.h"

#include "cairn/errors.h"

#include "crypto/libcrypto.h"

#include <openssl/crypto.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int cairn_fingerprint_init(void)
{
	return cairn_libcrypto_init();
}

int cairn_fingerprint_libcrypto_version(const char **out)
{
	int rc = cairn_fingerprint_init();
	*out = rc ? NULL : cairn_libcrypto.version(OPENSSL_VERSION_STRING);
	return rc;
}

struct cairn_fingerprinter {
	SHA256_CTX inner; /* after hashing key ^ ipad */
	SHA256_CTX outer; /* after hashing key ^ opad */
};

void cairn_fingerprinter_free(cairn_fingerprinter *f)
{
	if (!f)
		return;
	sodium_memzero(f, sizeof(*f));
	free(f);
}

static int pad_state(SHA256_CTX *ctx, const uint8_t key[32], uint8_t pad)
{
	uint8_t block[SHA256_CBLOCK];
	memset(block, pad, sizeof(block));
	for (size_t i = 0; i < 32; i++)
		block[i] ^= key[i];
	int ok = cairn_libcrypto.sha256_init(ctx) &&
	         cairn_libcrypto.sha256_update(ctx, block, sizeof(block));
	sodium_memzero(block, sizeof(block));
	return ok;
}

int cairn_fingerprinter_new(cairn_fingerprinter **out, const uint8_t key[32])
{
	*out = NULL;
	int rc = cairn_fingerprint_init();
	if (rc)
		return rc;
	cairn_fingerprinter *f = calloc(1, sizeof(*f));
	if (!f)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (!pad_state(&f->inner, key, 0x36) || !pad_state(&f->outer, key, 0x5c)) {
		cairn_fingerprinter_free(f);
		return cairn_error_set(CAIRN_ERROR, "SHA-256 is not available from libcrypto");
	}
	*out = f;
	return 0;
}

int cairn_fingerprint(cairn_fingerprinter *f, uint8_t out[CAIRN_FP_SIZE], const void *data,
                      size_t len)
{
	uint8_t inner[CAIRN_FP_SIZE];
	SHA256_CTX work = f->inner;
	int ok = cairn_libcrypto.sha256_update(&work, data, len) &&
	         cairn_libcrypto.sha256_final(inner, &work);
	work = f->outer;
	ok = ok && cairn_libcrypto.sha256_update(&work, inner, sizeof(inner)) &&
	     cairn_libcrypto.sha256_final(out, &work);
	sodium_memzero(&work, sizeof(work));
	return ok ? 0 : cairn_error_set(CAIRN_ERROR, "HMAC-SHA-256 failed");
}

int cairn_id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, CAIRN_ID_SIZE);
}

void cairn_sha256(uint8_t out[CAIRN_ID_SIZE], const void *data, size_t len)
{
	/* Not SHA256(): in OpenSSL 3 that one-shot goes through EVP. */
	SHA256_CTX ctx;
	if (cairn_fingerprint_init() || !cairn_libcrypto.sha256_init(&ctx) ||
	    !cairn_libcrypto.sha256_update(&ctx, data, len) ||
	    !cairn_libcrypto.sha256_final(out, &ctx))
		memset(out, 0, CAIRN_ID_SIZE); /* fails every later comparison */
}

struct digest {
	SHA256_CTX ctx;
	int (*fn)(void *ud, const uint8_t *p, size_t len);
	void *ud;
};

static int digest_update(void *ud, const uint8_t *p, size_t len)
{
	struct digest *d = ud;
	if (!cairn_libcrypto.sha256_update(&d->ctx, p, len))
		return cairn_error_set(CAIRN_ERROR, "SHA-256 failed");
	return d->fn ? d->fn(d->ud, p, len) : 0;
}

int cairn_sha256_iov_each(uint8_t out[CAIRN_ID_SIZE], const cairn_iovec *iov, size_t n,
                          int (*fn)(void *ud, const uint8_t *p, size_t len), void *ud)
{
	struct digest d = {.fn = fn, .ud = ud};
	int rc = cairn_fingerprint_init();
	if (rc)
		return rc;
	rc = cairn_libcrypto.sha256_init(&d.ctx) ? cairn_iov_each(iov, n, digest_update, &d)
	                                         : cairn_error_set(CAIRN_ERROR, "SHA-256 failed");
	if (!rc && !cairn_libcrypto.sha256_final(out, &d.ctx))
		rc = cairn_error_set(CAIRN_ERROR, "SHA-256 failed");
	return rc;
}

int cairn_sha256_iov(uint8_t out[CAIRN_ID_SIZE], const cairn_iovec *iov, size_t n)
{
	return cairn_sha256_iov_each(out, iov, n, NULL, NULL);
}

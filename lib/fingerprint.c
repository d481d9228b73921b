/* Fingerprints with OpenSSL's libcrypto, whose SHA-256 uses the SHA
 * extensions where the CPU has them. The HMAC inner and outer states are
 * hashed once per key and copied for each chunk, so a fingerprint costs
 * two context copies on top of the hashing itself. */
#include "cairn/fingerprint.h"

#include "cairn/errors.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define SHA256_BLOCK 64

struct cairn_fingerprinter {
	EVP_MD_CTX *inner; /* after hashing key ^ ipad */
	EVP_MD_CTX *outer; /* after hashing key ^ opad */
	EVP_MD_CTX *work;
};

void cairn_fingerprinter_free(cairn_fingerprinter *f)
{
	if (!f)
		return;
	EVP_MD_CTX_free(f->inner);
	EVP_MD_CTX_free(f->outer);
	EVP_MD_CTX_free(f->work);
	free(f);
}

static int pad_state(EVP_MD_CTX *ctx, const uint8_t key[32], uint8_t pad)
{
	uint8_t block[SHA256_BLOCK];
	memset(block, pad, sizeof(block));
	for (size_t i = 0; i < 32; i++)
		block[i] ^= key[i];
	int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(ctx, block, sizeof(block));
	OPENSSL_cleanse(block, sizeof(block));
	return ok;
}

int cairn_fingerprinter_new(cairn_fingerprinter **out, const uint8_t key[32])
{
	cairn_fingerprinter *f = calloc(1, sizeof(*f));
	*out = NULL;
	if (!f)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	f->inner = EVP_MD_CTX_new();
	f->outer = EVP_MD_CTX_new();
	f->work = EVP_MD_CTX_new();
	if (!f->inner || !f->outer || !f->work || !pad_state(f->inner, key, 0x36) ||
	    !pad_state(f->outer, key, 0x5c)) {
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
	unsigned int n = 0;

	if (!EVP_MD_CTX_copy_ex(f->work, f->inner) || !EVP_DigestUpdate(f->work, data, len) ||
	    !EVP_DigestFinal_ex(f->work, inner, &n) || !EVP_MD_CTX_copy_ex(f->work, f->outer) ||
	    !EVP_DigestUpdate(f->work, inner, sizeof(inner)) ||
	    !EVP_DigestFinal_ex(f->work, out, &n))
		return cairn_error_set(CAIRN_ERROR, "HMAC-SHA-256 failed");
	return 0;
}

void cairn_sha256(uint8_t out[CAIRN_ID_SIZE], const void *data, size_t len)
{
	unsigned int n = 0;
	/* Only fails when libcrypto cannot allocate; a zero id then fails
	 * every later comparison instead of passing one by accident. */
	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL))
		memset(out, 0, CAIRN_ID_SIZE);
}

static int digest_update(void *ctx, const uint8_t *p, size_t len)
{
	return EVP_DigestUpdate(ctx, p, len) ? 0 : cairn_error_set(CAIRN_ERROR, "SHA-256 failed");
}

int cairn_sha256_iov(uint8_t out[CAIRN_ID_SIZE], const cairn_iovec *iov, size_t n)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)
		     ? cairn_iov_each(iov, n, digest_update, ctx)
		     : cairn_error_set(CAIRN_ERROR, "SHA-256 failed");
	if (!rc && !EVP_DigestFinal_ex(ctx, out, NULL))
		rc = cairn_error_set(CAIRN_ERROR, "SHA-256 failed");
	EVP_MD_CTX_free(ctx);
	return rc;
}

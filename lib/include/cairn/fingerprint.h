/* Chunk fingerprints: HMAC-SHA-256 keyed with the repository's fingerprint
 * key, and plain SHA-256 for object ids. Both use OpenSSL's libcrypto
 * (SHA-NI where the CPU has it), loaded at the first use: a command that
 * opens a repository reaches its peak memory while it derives the key,
 * and libcrypto mapped by then would add 1.4 MiB to that peak. */
#ifndef CAIRN_FINGERPRINT_H
#define CAIRN_FINGERPRINT_H

#include "cairn/buf.h"

#include <stddef.h>
#include <stdint.h>

#define CAIRN_FP_SIZE 32
#define CAIRN_ID_SIZE 32 /* object ids: SHA-256 */
#define CAIRN_ID_HEX 64

/* Loads libcrypto, once per process; every function below does too.
 * Call it where a failure can be reported: 0, or CAIRN_ERROR naming the
 * file and the loader's reason, the same on every call. */
int cairn_fingerprint_init(void);
/* *out: the version of the libcrypto loaded (its storage). */
int cairn_fingerprint_libcrypto_version(const char **out);

/* Precomputed HMAC state for one key; one per thread (not thread-safe). */
typedef struct cairn_fingerprinter cairn_fingerprinter;

int cairn_fingerprinter_new(cairn_fingerprinter **out, const uint8_t key[32]);
void cairn_fingerprinter_free(cairn_fingerprinter *f); /* NULL is fine */
/* out = HMAC-SHA-256(key, data). 0 or CAIRN_ERROR. */
int cairn_fingerprint(cairn_fingerprinter *f, uint8_t out[CAIRN_FP_SIZE], const void *data,
                      size_t len);

/* Orders ids (and fingerprints, of the same size) byte by byte: for qsort
 * and bsearch over arrays of them. */
int cairn_id_cmp(const void *a, const void *b);
/* out = SHA-256(data); all zeros, which no id matches, if libcrypto
 * cannot be loaded. */
void cairn_sha256(uint8_t out[CAIRN_ID_SIZE], const void *data, size_t len);
/* out = SHA-256 of the concatenation of n pieces. */
int cairn_sha256_iov(uint8_t out[CAIRN_ID_SIZE], const cairn_iovec *iov, size_t n);
/* The same, handing the bytes to fn as they are hashed (see
 * cairn_iov_each); fn's first non-zero answer stops it and is returned. */
int cairn_sha256_iov_each(uint8_t out[CAIRN_ID_SIZE], const cairn_iovec *iov, size_t n,
                          int (*fn)(void *ud, const uint8_t *p, size_t len), void *ud);

#endif

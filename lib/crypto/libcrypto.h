/* OpenSSL's libcrypto, loaded the first time something needs it: a
 * command that opens a repository reaches its peak memory while it
 * derives the key, and libcrypto mapped by then would add 1.4 MiB to that
 * peak. Every call into libcrypto goes through the table cairn_libcrypto,
 * filled once by cairn_libcrypto_init().
 *
 * SHA-256 is used through the low-level SHA256_* functions (deprecated in
 * OpenSSL 3, kept by every 3.x release): they run the same assembly as
 * EVP's SHA-256 without EVP's first-use work, which loads the default
 * provider and reads the OpenSSL configuration file (about 1.7 MiB of
 * resident memory). Only the AEAD (util/aead.c) uses EVP, and only once a
 * blob big enough to gain from it is sealed. */
#ifndef CAIRN_UTIL_LIBCRYPTO_H
#define CAIRN_UTIL_LIBCRYPTO_H

#define OPENSSL_SUPPRESS_DEPRECATED

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

/* The file loaded: the libcrypto of OpenSSL 3. */
#define CAIRN_LIBCRYPTO "libcrypto.so.3"

/* The libcrypto functions cairn calls, with libcrypto's own signatures. */
typedef struct cairn_libcrypto_api {
	int (*sha256_init)(SHA256_CTX *c);
	int (*sha256_update)(SHA256_CTX *c, const void *data, size_t len);
	int (*sha256_final)(unsigned char *md, SHA256_CTX *c);
	const char *(*version)(int type);
	EVP_CIPHER *(*cipher_fetch)(OSSL_LIB_CTX *ctx, const char *algorithm,
	                            const char *properties);
	void (*cipher_free)(EVP_CIPHER *cipher);
	EVP_CIPHER_CTX *(*ctx_new)(void);
	void (*ctx_free)(EVP_CIPHER_CTX *ctx);
	int (*ctx_ctrl)(EVP_CIPHER_CTX *ctx, int type, int arg, void *ptr);
	int (*encrypt_init)(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, const unsigned char *key,
	                    const unsigned char *iv, const OSSL_PARAM params[]);
	int (*encrypt_update)(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl,
	                      const unsigned char *in, int inl);
	int (*encrypt_final)(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl);
	int (*decrypt_init)(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, const unsigned char *key,
	                    const unsigned char *iv, const OSSL_PARAM params[]);
	int (*decrypt_update)(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl,
	                      const unsigned char *in, int inl);
	int (*decrypt_final)(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl);
	unsigned long (*err_get)(void);
	void (*err_string)(unsigned long e, char *buf, size_t len);
	void (*err_clear)(void);
} cairn_libcrypto_api;

/* Valid once cairn_libcrypto_init() has returned 0. */
extern cairn_libcrypto_api cairn_libcrypto;

/* Loads libcrypto, once per process. 0, or CAIRN_ERROR naming the file
 * and the loader's reason, the same on every call. */
int cairn_libcrypto_init(void);

/* Opens the library file and fills *out with its functions; *out is left
 * alone on failure. What cairn_libcrypto_init() does first; tests give it
 * other files. */
int cairn_libcrypto__load(cairn_libcrypto_api *out, const char *file);

#endif

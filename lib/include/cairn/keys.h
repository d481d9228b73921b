/* Repository keys: a random 256-bit master key, sealed per password with
 * Argon2id (libsodium crypto_pwhash) and XChaCha20-Poly1305, stored as
 * keys/<id>. Subkeys for encryption and fingerprints are derived from the
 * master key with crypto_kdf. File layout: lib/crypto/keys_format.h and
 * docs/FORMAT.md. */
#ifndef CAIRN_KEYS_H
#define CAIRN_KEYS_H

#include "cairn/buf.h"

#include <stddef.h>
#include <stdint.h>

#define CAIRN_KEY_SIZE 32

/* Argon2id cost. The default is OWASP's recommended floor in memory
 * (19 MiB) with one pass more than its 2: every command pays it once, and
 * its memory sets the floor of every command's peak RSS (docs/SECURITY.md,
 * "Key derivation"). */
#define CAIRN_KDF_MEMLIMIT_DEFAULT (19u * 1024 * 1024)
#define CAIRN_KDF_OPSLIMIT_DEFAULT 3
typedef struct cairn_kdf_params {
	uint64_t opslimit;
	uint64_t memlimit; /* bytes */
} cairn_kdf_params;

/* Caps on what a key file may ask for, checked before any hashing: a key
 * file anyone who can write to the store may plant costs at most this
 * (docs/FORMAT.md §4.2). The cost is passes × memory: 16 GiB is 4 GiB
 * with 4 passes, or 256 MiB with 64. */
#define CAIRN_KDF_OPSLIMIT_MAX 64u
#define CAIRN_KDF_MEMLIMIT_MAX (4ull << 30)
#define CAIRN_KDF_COST_MAX (16ull << 30)

void cairn_kdf_params_default(cairn_kdf_params *out);
/* CAIRN_EINVAL unless within libsodium's bounds and the caps above. */
int cairn_kdf_params_check(const cairn_kdf_params *p);

/* Seals master under password; appends the key file's bytes to out. */
int cairn_key_seal(cairn_buf *out, const uint8_t master[CAIRN_KEY_SIZE], const char *password,
                   size_t password_len, const cairn_kdf_params *kdf);
/* Opens a key file. CAIRN_EAUTH for a wrong password, CAIRN_ECORRUPT for
 * a malformed file (including out-of-bounds KDF parameters). */
int cairn_key_open(uint8_t master_out[CAIRN_KEY_SIZE], const void *file, size_t len,
                   const char *password, size_t password_len);

/* Subkeys of a master key: encryption, fingerprints, and the key that
 * seals the repository's settings in config (subkey 3). */
void cairn_keys_derive(const uint8_t master[CAIRN_KEY_SIZE], uint8_t enc_out[CAIRN_KEY_SIZE],
                       uint8_t fp_out[CAIRN_KEY_SIZE]);
void cairn_keys_derive_config(const uint8_t master[CAIRN_KEY_SIZE],
                              uint8_t config_out[CAIRN_KEY_SIZE]);

#endif

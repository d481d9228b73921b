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

/* What a key file says of itself, readable without the password (and
 * authenticated only once the password opens it). */
typedef struct cairn_key_meta {
	int version;     /* of the file: 1 has no created, host or user */
	int64_t created; /* seconds since the epoch; 0: not recorded */
	char host[256];  /* "" when not recorded */
	char user[256];
	cairn_kdf_params kdf;
} cairn_key_meta;

/* Seals master under password; appends the key file's bytes to out: a
 * version 1 file (no meta). */
int cairn_key_seal(cairn_buf *out, const uint8_t master[CAIRN_KEY_SIZE], const char *password,
                   size_t password_len, const cairn_kdf_params *kdf);
/* The same as a version 2 file recording meta's created, host and user
 * (longer names cut at 255 bytes); meta NULL is cairn_key_seal. */
int cairn_key_seal_meta(cairn_buf *out, const uint8_t master[CAIRN_KEY_SIZE], const char *password,
                        size_t password_len, const cairn_kdf_params *kdf,
                        const cairn_key_meta *meta);
/* Reads a key file's header without the password: CAIRN_ECORRUPT with a
 * message for a file that is not a key file cairn_key_open would try. */
int cairn_key_info(cairn_key_meta *out, const void *file, size_t len);
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

/* ---- master key exports (pure) ----
 * The master key written out for safekeeping offline: a header line, a
 * line naming the repository, then 72 characters of Crockford's base32
 * (case and 0/O, 1/I/L confusions forgiven) in groups of four on three
 * lines. It carries the first CAIRN_KEY_EXPORT_REPO_ID bytes of the
 * repository id and a 32-bit checksum, so that a miscopied character is
 * caught (docs/FORMAT.md §4.3). Whoever holds it holds the repository's
 * data: docs/SECURITY.md, "Master key exports". */
#define CAIRN_KEY_EXPORT_REPO_ID 8

/* Appends the export of master for the repository repo_id to out. */
int cairn_key_export_encode(cairn_buf *out, const uint8_t repo_id[32],
                            const uint8_t master[CAIRN_KEY_SIZE]);
/* Reads an export back: the repository id's first bytes and the master
 * key. Lines that are blank, start with '#', or are the header and
 * repository lines are passed over; the others must hold only the
 * export's characters, spaces and '-'. CAIRN_EINVAL with a message
 * naming the line and character, the count, or a checksum that does not
 * match. */
int cairn_key_export_decode(const char *text, size_t len,
                            uint8_t repo_id_out[CAIRN_KEY_EXPORT_REPO_ID],
                            uint8_t master_out[CAIRN_KEY_SIZE]);

#endif

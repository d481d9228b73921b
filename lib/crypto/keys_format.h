/* The key file, keys/<id>: the master key sealed by one password.
 *
 *   offset size
 *    0      8   magic "CAIRNKEY"
 *    8      1   version (1)
 *    9      1   algorithm (1: Argon2id v1.3 + XChaCha20-Poly1305)
 *   10      8   Argon2id opslimit, u64 little-endian
 *   18      8   Argon2id memlimit in bytes, u64 little-endian
 *   26     16   salt
 *   42     24   nonce
 *   66     48   XChaCha20-Poly1305 ciphertext of the 32-byte master key
 *               and its 16-byte tag; associated data: bytes 0..65
 *  114          end
 *
 * Version 2 puts who made it between the nonce and the ciphertext, all
 * of it associated data:
 *   66      8   created, seconds since the epoch, i64 little-endian
 *   74      1   length of the host name (0..255), then its bytes
 *    .      1   length of the user name (0..255), then its bytes
 *    .     48   ciphertext and tag, as in version 1
 *
 * The key-encryption key is Argon2id(password, salt, opslimit, memlimit),
 * 32 bytes. */
#ifndef CAIRN_KEYS_FORMAT_H
#define CAIRN_KEYS_FORMAT_H

#define CAIRN_KEYFILE_MAGIC "CAIRNKEY"
#define CAIRN_KEYFILE_MAGIC_LEN 8
#define CAIRN_KEYFILE_VERSION 1
#define CAIRN_KEYFILE_VERSION_META 2
#define CAIRN_KEYFILE_ALG_ARGON2ID_XCHACHA 1
#define CAIRN_KEYFILE_SALT 16
#define CAIRN_KEYFILE_NONCE 24
#define CAIRN_KEYFILE_HEADER (8 + 1 + 1 + 8 + 8 + CAIRN_KEYFILE_SALT + CAIRN_KEYFILE_NONCE)
#define CAIRN_KEYFILE_SIZE (CAIRN_KEYFILE_HEADER + 32 + 16)
#define CAIRN_KEYFILE_BOX (32 + 16)
/* A version 2 file: at most 66 + 8 + 2 × 256 + 48 bytes. */
#define CAIRN_KEYFILE_META_MAX (CAIRN_KEYFILE_HEADER + 8 + 2 * 256 + CAIRN_KEYFILE_BOX)

/* A master key export (docs/FORMAT.md §4.3): version, the first bytes
 * of the repository id, the master key, a checksum (BLAKE2b of what
 * comes before it), as 72 characters of Crockford's base32. */
#define CAIRN_KEY_EXPORT_VERSION 1
#define CAIRN_KEY_EXPORT_CHECK 4
#define CAIRN_KEY_EXPORT_BYTES (1 + CAIRN_KEY_EXPORT_REPO_ID + 32 + CAIRN_KEY_EXPORT_CHECK)
#define CAIRN_KEY_EXPORT_CHARS (CAIRN_KEY_EXPORT_BYTES * 8 / 5)
#define CAIRN_KEY_EXPORT_HEADER "cairn master key export"
#define CAIRN_KEYS_KDF_CONTEXT "cairnkey"
#define CAIRN_KEYS_SUBKEY_ENC 1
#define CAIRN_KEYS_SUBKEY_FP 2
#define CAIRN_KEYS_SUBKEY_CONFIG 3

#endif

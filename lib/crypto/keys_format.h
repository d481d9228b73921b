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
 * The key-encryption key is Argon2id(password, salt, opslimit, memlimit),
 * 32 bytes. */
#ifndef CAIRN_KEYS_FORMAT_H
#define CAIRN_KEYS_FORMAT_H

#define CAIRN_KEYFILE_MAGIC "CAIRNKEY"
#define CAIRN_KEYFILE_MAGIC_LEN 8
#define CAIRN_KEYFILE_VERSION 1
#define CAIRN_KEYFILE_ALG_ARGON2ID_XCHACHA 1
#define CAIRN_KEYFILE_SALT 16
#define CAIRN_KEYFILE_NONCE 24
#define CAIRN_KEYFILE_HEADER (8 + 1 + 1 + 8 + 8 + CAIRN_KEYFILE_SALT + CAIRN_KEYFILE_NONCE)
#define CAIRN_KEYFILE_SIZE (CAIRN_KEYFILE_HEADER + 32 + 16)
#define CAIRN_KEYS_KDF_CONTEXT "cairnkey"
#define CAIRN_KEYS_SUBKEY_ENC 1
#define CAIRN_KEYS_SUBKEY_FP 2
#define CAIRN_KEYS_SUBKEY_CONFIG 3

#endif

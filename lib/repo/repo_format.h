/* The repository's config object: JSON, docs/FORMAT.md §3.
 *
 *   {"version":3,
 *    "id":"<64 hex>",
 *    "encryption":"xchacha20-poly1305",
 *    "sealed":"<hex: nonce, XChaCha20-Poly1305 of the settings, tag>"}
 *
 * where the settings are the JSON an unencrypted repository (and versions
 * 1 and 2) keep in the clear:
 *
 *   {"version":3,"id":"<64 hex>","encryption":"none",
 *    "chunker":{"polynomial":"<hex>","min":N,"avg":N,"max":N},
 *    "pack_size":N}
 *
 * Unknown members are ignored; a version other than 1 to 3 is refused
 * (2: the clients follow prune's rule, docs/FORMAT.md §16; 3: an
 * encrypted repository's settings are sealed). */
#ifndef CAIRN_REPO_FORMAT_H
#define CAIRN_REPO_FORMAT_H

#define CAIRN_CONFIG_KEY "config"
#define CAIRN_CONFIG_MAX (64u * 1024)
#define CAIRN_KEYS_PREFIX "keys/"
#define CAIRN_DATA_PREFIX "data/"
#define CAIRN_SNAPSHOTS_PREFIX "snapshots/"
#define CAIRN_INDEX_PREFIX "index/"
#define CAIRN_KEYFILE_MAX 4096u
#define CAIRN_INDEX_OBJECT_MAX (256u * 1024 * 1024)
#define CAIRN_ENCRYPTION_NAME "xchacha20-poly1305"
#define CAIRN_INDEX_SHARDS 16u
/* The associated data of the sealed settings: these 13 bytes, then the
 * repository's id. */
#define CAIRN_CONFIG_AD "cairn-config1"
#define CAIRN_CONFIG_AD_LEN 13
/* Opening a repository hashes (runs Argon2id for) at most this many key
 * files, and reads at most this many. */
#define CAIRN_KEYS_TRY_MAX 16u
#define CAIRN_KEYS_READ_MAX 256u

#endif

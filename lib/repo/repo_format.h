/* The repository's config object: plain JSON, no secrets.
 *
 *   {"version":2,
 *    "id":"<64 hex>",
 *    "encryption":"xchacha20-poly1305" | "none",
 *    "chunker":{"polynomial":"<hex>","min":N,"avg":N,"max":N},
 *    "pack_size":N}
 *
 * Unknown members are ignored; a version other than 1 or 2 is refused
 * (2: the clients follow prune's rule, docs/FORMAT.md §16). */
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

#endif

/* The store backend table, for implementors.
 *
 * A store holds objects under keys such as "config", "keys/<id>",
 * "data/<aa>/<id>". Objects are written once and never modified; a put is
 * atomic (a crash never leaves a torn object under its final name).
 * Backends must be safe to call from several threads at once. */
#ifndef CAIRN_SYS_STORE_H
#define CAIRN_SYS_STORE_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_store cairn_store;

/* Called for each key found; a non-zero return stops the listing and is
 * returned by list(). */
typedef int (*cairn_store_list_cb)(const char *key, uint64_t size, void *ud);

#define CAIRN_STORE_OPS_VERSION 1
#define CAIRN_PUT_ONCE 1u /* fail with CAIRN_EEXISTS if the key exists */
#define CAIRN_GET_ALL UINT64_MAX

struct cairn_store_ops {
	int version; /* CAIRN_STORE_OPS_VERSION */
	const char *name;
	int (*put)(cairn_store *s, const char *key, const void *data, size_t len, unsigned flags);
	/* Replaces out's contents with length bytes from offset (CAIRN_GET_ALL:
	 * to the end). A range past the end gives what there is (maybe 0
	 * bytes). CAIRN_ENOTFOUND if there is no such object. */
	int (*get)(cairn_store *s, const char *key, uint64_t offset, uint64_t length, cairn_buf *out);
	/* 0 with *size_out, or CAIRN_ENOTFOUND. */
	int (*stat)(cairn_store *s, const char *key, uint64_t *size_out);
	/* Every key that starts with prefix (e.g. "snapshots/"), any order. */
	int (*list)(cairn_store *s, const char *prefix, cairn_store_list_cb cb, void *ud);
	/* Removing a missing object is not an error. */
	int (*del)(cairn_store *s, const char *key);
	void (*free)(cairn_store *s);
};

struct cairn_store {
	const struct cairn_store_ops *ops;
};

/* The local-directory backend, rooted at path (created if create != 0). */
int cairn_store_local_open(cairn_store **out, const char *path, int create);

#endif

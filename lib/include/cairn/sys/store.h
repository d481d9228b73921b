/* The store backend table, for implementors.
 *
 * A store holds objects under keys such as "config", "keys/<id>",
 * "data/<aa>/<id>". Objects are written once and never modified; a put is
 * atomic (a crash never leaves a torn object under its final name).
 * Backends must be safe to call from several threads at once. */
#ifndef CAIRN_SYS_STORE_H
#define CAIRN_SYS_STORE_H

#include "cairn/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_store cairn_store;

/* Called for each key found; a non-zero return stops the listing and is
 * returned by list(). */
typedef int (*cairn_store_list_cb)(const char *key, uint64_t size, void *ud);

/* An object as a listing with times finds it. */
typedef struct cairn_store_item {
	const char *key;
	uint64_t size;
	int64_t mtime; /* seconds since the epoch by the store's clock (a local file's mtime,
	                  S3's LastModified); 0 if the backend cannot tell */
} cairn_store_item;
/* As cairn_store_list_cb: a non-zero return stops the listing. */
typedef int (*cairn_store_item_cb)(const cairn_store_item *item, void *ud);

/* Names an object after its id (the SHA-256 of its bytes): writes its key,
 * at most CAIRN_STORE_NAME_MAX bytes with the NUL, to key. */
#define CAIRN_STORE_NAME_MAX 80
typedef void (*cairn_store_name_fn)(char key[CAIRN_STORE_NAME_MAX], const uint8_t id[32]);

#define CAIRN_STORE_OPS_VERSION 2
#define CAIRN_PUT_ONCE 1u /* fail with CAIRN_EEXISTS if the key exists */
#define CAIRN_GET_ALL UINT64_MAX

struct cairn_store_ops {
	int version; /* CAIRN_STORE_OPS_VERSION */
	const char *name;
	int (*put)(cairn_store *s, const char *key, const void *data, size_t len, unsigned flags);
	/* Replaces out's contents with length bytes from offset (CAIRN_GET_ALL:
	 * to the end). A range past the end gives what there is (maybe 0
	 * bytes). CAIRN_ENOTFOUND if there is no such object. */
	int (*get)(cairn_store *s, const char *key, uint64_t offset, uint64_t length,
	           cairn_buf *out);
	/* 0 with *size_out, or CAIRN_ENOTFOUND. */
	int (*stat)(cairn_store *s, const char *key, uint64_t *size_out);
	/* Every key that starts with prefix (e.g. "snapshots/"), any order. */
	int (*list)(cairn_store *s, const char *prefix, cairn_store_list_cb cb, void *ud);
	/* Removing a missing object is not an error. */
	int (*del)(cairn_store *s, const char *key);
	void (*free)(cairn_store *s);
	/* Optional (NULL: cairn_store_putv joins the pieces and calls put):
	 * put of the concatenation of n pieces, without joining them first. */
	int (*putv)(cairn_store *s, const char *key, const cairn_iovec *iov, size_t n,
	            unsigned flags);
	/* Optional (NULL: cairn_store_putv_named hashes the pieces, then calls
	 * putv): put of the concatenation of n pieces under the key name()
	 * gives for id_out, the SHA-256 of those bytes, computed while they
	 * are written. */
	int (*putv_named)(cairn_store *s, const cairn_iovec *iov, size_t n,
	                  cairn_store_name_fn name, uint8_t id_out[32], unsigned flags);
	/* Optional (NULL: list, with mtime 0): list with each object's
	 * modification time; the same keys, filtering and stopping. */
	int (*list_items)(cairn_store *s, const char *prefix, cairn_store_item_cb cb, void *ud);
	/* Optional (NULL: the backend leaves no temporary objects): the
	 * temporary objects interrupted puts left behind, anywhere in the
	 * store, as items whose key del() accepts (local: "data/ab/.tmp-XXXX"),
	 * with size and mtime. Those of puts still running are listed too: the
	 * caller judges by mtime. */
	int (*list_temp)(cairn_store *s, cairn_store_item_cb cb, void *ud);
};

struct cairn_store {
	const struct cairn_store_ops *ops;
};

/* The local-directory backend, rooted at path (created if create != 0). */
int cairn_store_local_open(cairn_store **out, const char *path, int create);

/* ---- The S3 backend ----
 *
 * Location (what follows "s3:"):
 *   http[s]://HOST[:PORT]/BUCKET[/PREFIX][?OPTION&...]
 * (HOST/BUCKET... without a scheme means https). Options: style=path (the
 * default) or style=virtual (BUCKET.HOST), and max-keys=N, the page size
 * of listings (1..1000; the server's default when absent). */
#define CAIRN_S3_CONNECTIONS_DEFAULT 8
#define CAIRN_S3_CONNECTIONS_MAX 256

/* Opens the S3 store at location (the part after "s3:"); connections
 * bounds the requests in flight at once (0: the default). Credentials come
 * from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, the
 * region from AWS_DEFAULT_REGION (or AWS_REGION; default us-east-1). With
 * create != 0 a missing bucket is created. Opening sends no request
 * unless create is set. */
int cairn_store_s3_open(cairn_store **out, const char *location, int create, int connections);

#endif

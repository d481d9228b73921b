/* Opening a store by location, and the calls every backend answers. */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include "cairn/sys/store.h"

/* location: a path, file:///path, or s3:http[s]://host[:port]/bucket[/prefix]. */
int cairn_store_open(cairn_store **out, const char *location, int create);

typedef struct cairn_store_opts {
	int connections; /* network stores: requests in flight at once (0: default) */
	/* Bandwidth limits, bytes per second (0: none), shared by all the
	 * transfers of the store: the bytes of objects written (upload) and
	 * read (download), over the network or, for a local store, to and
	 * from its files. */
	uint64_t limit_upload, limit_download;
} cairn_store_opts;

/* As cairn_store_open, with options (NULL: the defaults). */
int cairn_store_open_ex(cairn_store **out, const char *location, int create,
                        const cairn_store_opts *opts);

static inline int cairn_store_put(cairn_store *s, const char *key, const void *data, size_t len,
                                  unsigned flags)
{
	return s->ops->put(s, key, data, len, flags);
}
/* Writes the concatenation of n pieces as one object. */
int cairn_store_putv(cairn_store *s, const char *key, const cairn_iovec *iov, size_t n,
                     unsigned flags);
/* Writes the concatenation of n pieces as one object named name(key, id),
 * id (returned in id_out) being the SHA-256 of its bytes: content-addressed
 * objects such as packs. */
int cairn_store_putv_named(cairn_store *s, const cairn_iovec *iov, size_t n,
                           cairn_store_name_fn name, uint8_t id_out[32], unsigned flags);
static inline int cairn_store_get(cairn_store *s, const char *key, uint64_t offset, uint64_t length,
                                  cairn_buf *out)
{
	return s->ops->get(s, key, offset, length, out);
}
static inline int cairn_store_stat(cairn_store *s, const char *key, uint64_t *size_out)
{
	return s->ops->stat(s, key, size_out);
}
static inline int cairn_store_list(cairn_store *s, const char *prefix, cairn_store_list_cb cb,
                                   void *ud)
{
	return s->ops->list(s, prefix, cb, ud);
}
/* As cairn_store_list, with each object's modification time by the
 * store's clock (0 where the backend cannot tell). */
int cairn_store_list_items(cairn_store *s, const char *prefix, cairn_store_item_cb cb, void *ud);
/* The temporary objects that interrupted (or running) puts left anywhere
 * in the store, with their size and modification time; cairn_store_del
 * removes one by the key given. 0 with nothing listed for a backend that
 * leaves none. */
int cairn_store_list_temp(cairn_store *s, cairn_store_item_cb cb, void *ud);
static inline int cairn_store_del(cairn_store *s, const char *key)
{
	return s->ops->del(s, key);
}
static inline void cairn_store_free(cairn_store *s)
{
	if (s)
		s->ops->free(s);
}

#endif

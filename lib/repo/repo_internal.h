/* What the files of lib/repo share: the repository handle and the queue
 * of registrations that pack_commit.c fills and flushes. */
#ifndef CAIRN_REPO_INTERNAL_H
#define CAIRN_REPO_INTERNAL_H

#include "cairn/repo.h"

#include <pthread.h>

/* Blobs of committed packs wait here to be registered in the index: one
 * transaction per shard for many packs rather than for each. A shard's
 * B-tree takes random fingerprints, so each transaction rewrites most of
 * its leaves whatever its size. */
struct pending {
	pthread_mutex_t lock;
	cairn_index_entry *entries;
	size_t n, cap;
	uint8_t (*objects)[CAIRN_ID_SIZE]; /* index/ objects of those entries */
	size_t n_objects, cap_objects;
};

/* Packs done records name whose rows the index kept (gc_io.c). A
 * reader may add to them while a backup's threads look into them. */
struct dead_packs {
	pthread_rwlock_t lock;
	uint8_t (*ids)[CAIRN_ID_SIZE]; /* sorted */
	size_t n, cap;
};

struct cairn_repo {
	cairn_store *store;
	cairn_index *index;
	int index_remote; /* a cairn-server rather than the embedded shards */
	cairn_repo_config config;
	uint8_t enc_key[CAIRN_KEY_SIZE];
	uint8_t fp_key[CAIRN_KEY_SIZE];
	char *location;
	struct pending pending;
	struct dead_packs dead;
	pthread_mutex_t refresh_lock; /* one cairn_repo_refresh_index at a time */
	int64_t refreshed_ns;         /* CLOCK_MONOTONIC of the last one */
};

/* The store key of a pack: data/<first 2 hex>/<64 hex>. */
void cairn_repo_pack_key(char out[80], const uint8_t pack_id[CAIRN_ID_SIZE]);

/* Writes an index/ object listing the n entries (pack_commit.c); id_out
 * gets its id. Registers nothing. */
int cairn_repo_put_index_object(cairn_repo *r, cairn_sealer *s, const cairn_index_entry *entries,
                                size_t n, uint8_t id_out[CAIRN_ID_SIZE]);

#endif

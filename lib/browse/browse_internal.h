/* The parts of a browse view (cairn/browse.h):
 *   layout.c    pure: the view's paths, the child of a directory a
 *               manifest path names, the chunk at an offset, read-ahead
 *   blobcache.c the cache of unsealed blobs (browse/blobcache.h)
 *   snapview.c  one snapshot: its index of directories (one pass over
 *               the manifest on first use), reading the manifest from a
 *               record's offset, directory listings
 *   browse.c    the view's top (ids/, snapshots/, hosts/, latest), the
 *               cache of listings, the public calls
 *   file.c      reading a file's content through the blob cache */
#ifndef CAIRN_BROWSE_INTERNAL_H
#define CAIRN_BROWSE_INTERNAL_H

#include "browse/blobcache.h"
#include "cairn/browse.h"
#include "cairn/manifest.h"
#include "cairn/snapshot.h"
#include "cairn/buf.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* ---- layout.c (pure) ---- */

enum browse_place {
	PLACE_NONE = 0,  /* not in the view */
	PLACE_ROOT,      /* / */
	PLACE_IDS,       /* /ids */
	PLACE_SNAPSHOTS, /* /snapshots */
	PLACE_HOSTS,     /* /hosts */
	PLACE_HOST,      /* /hosts/<host> */
	PLACE_LATEST,    /* /latest, a symlink */
	PLACE_SNAP,      /* inside a snapshot: /ids/<id>..., /snapshots/<time>...,
	                    /hosts/<host>/<time>... */
};

typedef struct browse_where {
	enum browse_place place;
	const char *host; /* PLACE_HOST, and PLACE_SNAP under hosts/ */
	size_t host_len;
	const char *snap; /* PLACE_SNAP: the id or time name */
	size_t snap_len;
	int by_id;        /* snap is an id (under ids/) */
	const char *rest; /* PLACE_SNAP: the path in the snapshot ("" for its root) */
} browse_where;

/* Where path (absolute, as FUSE gives it) is in the view. */
void browse_where_parse(const char *path, browse_where *out);

/* The child of dir (a manifest path, "/" included) that path names when
 * path lies below dir: 1 with *name and *len set and *direct (path is
 * that child itself), or 0 if path is not below dir. */
int browse_child_of(const char *dir, size_t dir_len, const char *path, const char **name,
                    size_t *len, int *direct);

/* The index i with starts[i] <= off < starts[i + 1] among n pieces
 * (starts has n + 1 entries, ascending; off < starts[n]). */
size_t browse_piece_at(const uint64_t *starts, size_t n, uint64_t off);

/* Sequential reading: the state of one open file. */
typedef struct browse_readahead {
	size_t last;  /* chunk read last, + 1 (0: none yet) */
	size_t ahead; /* chunks below this were asked for */
} browse_readahead;

/* After a read of chunks [first, last]: the chunks [*from, *to) to fetch
 * ahead, at most budget bytes beyond last, when the reads look
 * sequential (empty otherwise). */
void browse_readahead_plan(browse_readahead *ra, const uint64_t *starts, size_t n, size_t first,
                           size_t last, uint64_t budget, size_t *from, size_t *to);

/* A directory name from any bytes: "/" becomes "_", and "", "." and ".."
 * get a leading "_". out has room for len + 2 bytes. */
void browse_safe_name(char *out, const char *s, size_t len);

/* ---- snapview.c ---- */

/* A directory of a snapshot's tree, in path order. */
typedef struct dir_rec {
	uint64_t rec;   /* offset of its record (of its first descendant if synthetic) */
	uint64_t first; /* offset of the first record below it */
	uint64_t end;   /* offset after the last record below it */
	size_t path;    /* in the index's arena, NUL-terminated */
	uint32_t subdirs;
	uint8_t synthetic; /* not in the manifest: a parent of something that is */
} dir_rec;

typedef struct link_rec {
	size_t path; /* a hardlink target, in the arena */
	uint32_t links;
} link_rec;

/* What one pass over a manifest learns. */
typedef struct snap_index {
	dir_rec *dirs; /* dirs[0] is the root */
	size_t n_dirs, cap_dirs;
	link_rec *links; /* sorted by path */
	size_t n_links, cap_links;
	cairn_buf arena;
	cairn_entry root; /* the "/" entry, if the manifest has one (path NULL if not) */
	uint8_t version;  /* of the stream */
	uint64_t last_use;
} snap_index;

typedef struct snap_view {
	cairn_snapshot snap;
	size_t no; /* position in the view's list: part of its inode numbers */
	char id[CAIRN_ID_HEX + 1];
	char name[64];    /* under snapshots/ and hosts/<host>/ */
	size_t host;      /* in the view's hosts */
	uint64_t *starts; /* offsets of the manifest's chunks, n_manifest + 1 */
	snap_index *idx;  /* NULL until used, or after being dropped */
} snap_view;

/* One child in a directory listing. */
typedef struct browse_child {
	size_t name; /* in the listing's arena */
	size_t link; /* symlink or hardlink target in the arena, or SIZE_MAX */
	uint64_t rec;
	uint8_t synthetic;
	cairn_browse_attr a; /* a hardlink's own: its target's are looked up */
} browse_child;

/* The attributes a manifest entry gives (not ino and nlink). */
void browse_attr_from_entry(cairn_browse_attr *a, const cairn_entry *e);

typedef struct browse_listing {
	size_t snap, dir; /* whose */
	browse_child *c;  /* in name order */
	size_t n, cap;
	cairn_buf arena;
	size_t bytes;
	unsigned refs;
	struct browse_listing *prev, *next, *hnext;
} browse_listing;

/* Reads the manifest from a record's offset on. */
typedef struct mreader {
	cairn_blobcache *cache;
	const snap_view *s;
	uint8_t version;
	cairn_manifest_decoder dec;
	const cairn_cached_blob *blob; /* chunk `chunk`, while held */
	size_t chunk;
	uint64_t fed; /* stream offset after the last byte fed */
	uint64_t end; /* of the stream */
} mreader;

void mreader_init(mreader *m, cairn_blobcache *cache, const snap_view *s, uint8_t version);
int mreader_seek(mreader *m, uint64_t off);
/* 1 with *e (the caller clears it) and *rec (its offset) and *next (the
 * offset after it), 0 at the end of the stream, or an error. */
int mreader_next(mreader *m, cairn_entry *e, uint64_t *rec, uint64_t *next);
void mreader_free(mreader *m);

/* Builds s->idx (one pass over the manifest). */
int snap_index_build(cairn_blobcache *cache, snap_view *s);
void snap_index_free(snap_index *x);
size_t snap_index_bytes(const snap_index *x);
const char *snap_dir_path(const snap_index *x, size_t dir);
/* The directory of the index at path (a manifest path): its position,
 * or SIZE_MAX. */
size_t snap_dir_find(const snap_index *x, const char *path, size_t len);
/* How many hardlinks name path as their target. */
uint32_t snap_links_to(const snap_index *x, const char *path);
/* Lists directory dir of s into out (its fields zeroed first). */
int snap_list_dir(cairn_blobcache *cache, const snap_view *s, size_t dir, browse_listing *out);
/* The entry whose record is at rec (its chunks, xattrs, ...). */
int snap_read_entry(cairn_blobcache *cache, const snap_view *s, uint64_t rec, cairn_entry *out);
void browse_listing_clear(browse_listing *l);

/* ---- file.c ---- */

/* A file of a snapshot open for reading, from its entry's chunks. */
int browse_file_new(cairn_browse_file **out, cairn_blobcache *cache, cairn_entry *e,
                    uint64_t readahead);

/* ---- browse.c ---- */

#define BROWSE_LISTING_BUCKETS 1024

typedef struct reader_ctx {
	cairn_sealer *sealer;
	cairn_fingerprinter *fp;
	struct reader_ctx *next;
} reader_ctx;

struct cairn_browse {
	cairn_repo *repo;
	pthread_mutex_t mu;
	snap_view *snaps; /* oldest first */
	size_t n_snaps;
	char **hosts; /* safe names, sorted */
	size_t n_hosts;
	cairn_blobcache *cache;
	uint64_t readahead;
	uint32_t uid, gid;
	uint64_t clock; /* for the indexes' last use */
	size_t index_bytes;
	browse_listing *buckets[BROWSE_LISTING_BUCKETS];
	browse_listing *lru_head, *lru_tail; /* unreferenced listings */
	size_t listing_bytes;
	pthread_mutex_t pool_mu;
	reader_ctx *pool;
};

/* The host of that safe name, or SIZE_MAX; how many snapshots it has. */
size_t browse_host_find(const cairn_browse *b, const char *name, size_t len);
size_t browse_host_count(const cairn_browse *b, size_t host);
/* Makes s's index ready (under the lock), dropping others beyond a
 * budget. */
int browse_index_ready(cairn_browse *b, snap_view *s);
/* Directory dir of s, listed (held until released; under the lock). */
int browse_listing_get(cairn_browse *b, snap_view *s, size_t dir, browse_listing **out);
void browse_listing_release(cairn_browse *b, browse_listing *l); /* NULL is fine */
/* The child called name (len bytes) in l, or NULL. */
const browse_child *browse_listing_find(const browse_listing *l, const char *name, size_t len);

/* Inode numbers: the top's below 2^32; a snapshot's entries from
 * ((no + 1) << 41), twice the record's offset, + 1 if synthetic. */
#define BROWSE_INO_SNAP_SHIFT 41
uint64_t browse_ino(size_t snap_no, uint64_t rec, int synthetic);

#endif

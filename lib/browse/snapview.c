/* One snapshot of a browse view: reading its manifest from any record's
 * offset, the index of its directories (one pass, on first use), and
 * listing a directory from its place in the manifest, jumping over the
 * subtrees of its subdirectories. */
#include "browse/browse_internal.h"

#include "cairn/errors.h"
#include "format/manifest_format.h"
#include "util/path.h"

#include <stdlib.h>
#include <string.h>

/* Bytes fed to the decoder at a time, so that a jump within a chunk
 * copies little. */
#define FEED_MAX (64u << 10)
/* A subtree that ends closer than this is read through, not jumped. */
#define JUMP_MIN (16u << 10)

void mreader_init(mreader *m, cairn_blobcache *cache, const snap_view *s, uint8_t version)
{
	memset(m, 0, sizeof(*m));
	m->cache = cache;
	m->s = s;
	m->version = version;
	m->end = s->starts[s->snap.n_manifest];
	cairn_manifest_decoder_init(&m->dec);
}

void mreader_free(mreader *m)
{
	cairn_blobcache_release(m->cache, m->blob);
	m->blob = NULL;
	cairn_manifest_decoder_free(&m->dec);
}

/* Holds chunk i. */
static int hold_chunk(mreader *m, size_t i)
{
	if (m->blob && m->chunk == i)
		return 0;
	cairn_blobcache_release(m->cache, m->blob);
	m->blob = NULL;
	const cairn_chunk_ref *ref = &m->s->snap.manifest[i];
	int rc = cairn_blobcache_get(m->cache, ref->fp, CAIRN_BLOB_TREE, &m->blob);
	if (rc)
		return cairn_error_prefix(rc, "snapshot %.8s: manifest chunk %zu", m->s->id, i);
	if (m->blob->len != ref->length) {
		size_t len = m->blob->len;
		cairn_blobcache_release(m->cache, m->blob);
		m->blob = NULL;
		return cairn_error_set(CAIRN_ECORRUPT,
		                       "snapshot %.8s: manifest chunk %zu: %zu bytes, not %u",
		                       m->s->id, i, len, ref->length);
	}
	m->chunk = i;
	return 0;
}

int mreader_seek(mreader *m, uint64_t off)
{
	uint8_t header[CAIRN_MANIFEST_HEADER_SIZE];
	cairn_manifest_decoder_free(&m->dec);
	cairn_manifest_decoder_init(&m->dec);
	m->fed = off;
	if (off == 0)
		return 0;
	/* A stream that starts here, as far as the decoder knows. */
	memcpy(header, CAIRN_MANIFEST_MAGIC, CAIRN_MANIFEST_MAGIC_SIZE);
	header[CAIRN_MANIFEST_MAGIC_SIZE] = m->version;
	return cairn_manifest_feed(&m->dec, header, sizeof(header));
}

/* Feeds the next bytes: 1, 0 at the end of the stream, or an error. */
static int feed_more(mreader *m)
{
	if (m->fed >= m->end)
		return 0;
	size_t n_chunks = m->s->snap.n_manifest;
	size_t i = browse_piece_at(m->s->starts, n_chunks, m->fed);
	int rc = hold_chunk(m, i);
	if (rc)
		return rc;
	uint64_t at = m->fed - m->s->starts[i];
	uint64_t n = m->blob->len - at;
	if (n > FEED_MAX)
		n = FEED_MAX;
	if ((rc = cairn_manifest_feed(&m->dec, m->blob->data + at, (size_t)n)))
		return rc;
	m->fed += n;
	return 1;
}

int mreader_next(mreader *m, cairn_entry *e, uint64_t *rec, uint64_t *next)
{
	for (;;) {
		size_t unconsumed = m->dec.pending.len - m->dec.start;
		uint64_t at =
		    m->fed - unconsumed + (m->dec.header_done ? 0 : CAIRN_MANIFEST_HEADER_SIZE);
		int rc = cairn_manifest_next(&m->dec, e);
		if (rc < 0)
			return cairn_error_prefix(rc, "snapshot %.8s", m->s->id);
		if (rc == 1) {
			*rec = at;
			*next = m->fed - (m->dec.pending.len - m->dec.start);
			return 1;
		}
		if ((rc = feed_more(m)) < 0)
			return rc;
		if (rc == 0) {
			if (m->dec.pending.len != m->dec.start)
				return cairn_error_set(
				    CAIRN_ECORRUPT, "snapshot %.8s: manifest ends inside a record",
				    m->s->id);
			return 0;
		}
	}
}

/* ---- the index of directories ---- */

const char *snap_dir_path(const snap_index *x, size_t dir)
{
	return (const char *)x->arena.data + x->dirs[dir].path;
}

static int arena_add(cairn_buf *a, const char *s, size_t len, size_t *out)
{
	*out = a->len;
	int rc = cairn_buf_append(a, s, len);
	return rc ? rc : cairn_buf_append_u8(a, 0);
}

static int dir_push(snap_index *x, const char *path, size_t len, uint64_t rec, uint64_t first,
                    int synthetic, size_t *out)
{
	int rc;
	if (x->n_dirs == x->cap_dirs && (rc = cairn_array_grow((void **)&x->dirs, &x->cap_dirs,
	                                                       x->n_dirs + 1, sizeof(*x->dirs))))
		return rc;
	dir_rec *d = &x->dirs[x->n_dirs];
	memset(d, 0, sizeof(*d));
	if ((rc = arena_add(&x->arena, path, len, &d->path)))
		return rc;
	/* A synthetic directory's inode number comes from its place here
	 * (nested ones share their first descendant's offset). */
	d->rec = synthetic ? x->n_dirs : rec;
	d->first = first;
	d->synthetic = (uint8_t)synthetic;
	*out = x->n_dirs++;
	return 0;
}

/* The pass's stack of open directories. */
typedef struct pass {
	snap_index *x;
	size_t *stack;
	size_t depth, cap;
} pass;

static int stack_push(pass *p, size_t dir)
{
	int rc;
	if (p->depth == p->cap &&
	    (rc = cairn_array_grow((void **)&p->stack, &p->cap, p->depth + 1, sizeof(*p->stack))))
		return rc;
	p->stack[p->depth++] = dir;
	return 0;
}

/* Closes the open directories that e's path is not below, and opens
 * synthetic ones for its parents the manifest left out. */
static int pass_place(pass *p, const char *path, uint64_t rec)
{
	snap_index *x = p->x;
	while (p->depth > 1 && !cairn_path_is_below(path, snap_dir_path(x, p->stack[p->depth - 1])))
		x->dirs[p->stack[--p->depth]].end = rec;
	for (;;) {
		size_t top = p->stack[p->depth - 1];
		const char *name;
		size_t len, dir, tlen = strlen(snap_dir_path(x, top));
		int direct, rc;
		if (!browse_child_of(snap_dir_path(x, top), tlen, path, &name, &len, &direct))
			return cairn_error_set(CAIRN_ECORRUPT, "manifest: %s out of place", path);
		if (direct)
			return 0;
		x->dirs[top].subdirs++;
		if ((rc = dir_push(x, path, (size_t)(name + len - path), rec, rec, 1, &dir)) ||
		    (rc = stack_push(p, dir)))
			return rc;
	}
}

static int pass_entry(pass *p, cairn_entry *e, uint64_t rec, uint64_t next)
{
	snap_index *x = p->x;
	size_t dir;
	int rc;
	if (strcmp(e->path, "/") == 0) {
		x->dirs[0].rec = rec;
		x->dirs[0].first = next;
		x->dirs[0].synthetic = 0;
		cairn_entry_clear(&x->root);
		x->root = *e;
		memset(e, 0, sizeof(*e));
		return 0;
	}
	if ((rc = pass_place(p, e->path, rec)))
		return rc;
	if (e->type == CAIRN_ENTRY_DIR) {
		x->dirs[p->stack[p->depth - 1]].subdirs++;
		if ((rc = dir_push(x, e->path, strlen(e->path), rec, next, 0, &dir)) ||
		    (rc = stack_push(p, dir)))
			return rc;
	} else if (e->type == CAIRN_ENTRY_HARDLINK && e->link_target) {
		if (x->n_links == x->cap_links &&
		    (rc = cairn_array_grow((void **)&x->links, &x->cap_links, x->n_links + 1,
		                           sizeof(*x->links))))
			return rc;
		link_rec *l = &x->links[x->n_links++];
		l->links = 1;
		return arena_add(&x->arena, e->link_target, strlen(e->link_target), &l->path);
	}
	return 0;
}

static const char *sort_arena; /* for qsort; the index is built under the view's lock */

static int link_cmp(const void *a, const void *b)
{
	return cairn_path_cmp(sort_arena + ((const link_rec *)a)->path,
	                      sort_arena + ((const link_rec *)b)->path);
}

/* Sorts the hardlink targets and counts each once. */
static void links_merge(snap_index *x)
{
	size_t o = 0;
	if (!x->n_links)
		return;
	sort_arena = (const char *)x->arena.data;
	qsort(x->links, x->n_links, sizeof(*x->links), link_cmp);
	for (size_t i = 0; i < x->n_links; i++) {
		if (o && link_cmp(&x->links[o - 1], &x->links[i]) == 0)
			x->links[o - 1].links++;
		else
			x->links[o++] = x->links[i];
	}
	x->n_links = o;
}

static int index_pass(cairn_blobcache *cache, snap_view *s, snap_index *x)
{
	pass p = {x, NULL, 0, 0};
	mreader m;
	cairn_entry e = {0};
	uint64_t rec, next;
	size_t root;
	int rc;

	mreader_init(&m, cache, s, 0);
	if ((rc = dir_push(x, "/", 1, 0, CAIRN_MANIFEST_HEADER_SIZE, 1, &root)) ||
	    (rc = stack_push(&p, root)))
		goto out;
	while ((rc = mreader_next(&m, &e, &rec, &next)) == 1) {
		x->version = m.dec.version;
		rc = pass_entry(&p, &e, rec, next);
		cairn_entry_clear(&e);
		if (rc)
			goto out;
	}
	if (rc < 0)
		goto out;
	if (!m.dec.header_done) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "snapshot %.8s: empty manifest", s->id);
		goto out;
	}
	x->version = m.dec.version;
	while (p.depth)
		x->dirs[p.stack[--p.depth]].end = m.end;
	links_merge(x);
out:
	cairn_entry_clear(&e);
	mreader_free(&m);
	free(p.stack);
	return rc;
}

int snap_index_build(cairn_blobcache *cache, snap_view *s)
{
	snap_index *x = calloc(1, sizeof(*x));
	if (!x)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	int rc = index_pass(cache, s, x);
	if (rc) {
		snap_index_free(x);
		return rc;
	}
	s->idx = x;
	return 0;
}

void snap_index_free(snap_index *x)
{
	if (!x)
		return;
	free(x->dirs);
	free(x->links);
	cairn_buf_free(&x->arena);
	cairn_entry_clear(&x->root);
	free(x);
}

size_t snap_index_bytes(const snap_index *x)
{
	return sizeof(*x) + x->cap_dirs * sizeof(*x->dirs) + x->cap_links * sizeof(*x->links) +
	       x->arena.cap;
}

size_t snap_dir_find(const snap_index *x, const char *path, size_t len)
{
	size_t lo = 0, hi = x->n_dirs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *p = snap_dir_path(x, mid);
		int c = cairn_path_cmpn(p, strlen(p), path, len);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

uint32_t snap_links_to(const snap_index *x, const char *path)
{
	size_t lo = 0, hi = x->n_links;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cairn_path_cmp((const char *)x->arena.data + x->links[mid].path, path);
		if (c == 0)
			return x->links[mid].links;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* ---- listings ---- */

void browse_listing_clear(browse_listing *l)
{
	free(l->c);
	cairn_buf_free(&l->arena);
	l->c = NULL;
	l->n = l->cap = 0;
}

static int child_add(browse_listing *l, const char *name, size_t len, browse_child **out)
{
	int rc;
	if (l->n == l->cap &&
	    (rc = cairn_array_grow((void **)&l->c, &l->cap, l->n + 1, sizeof(*l->c))))
		return rc;
	browse_child *c = &l->c[l->n];
	memset(c, 0, sizeof(*c));
	c->link = SIZE_MAX;
	if ((rc = arena_add(&l->arena, name, len, &c->name)))
		return rc;
	l->n++;
	*out = c;
	return 0;
}

/* The child a manifest entry is. */
static int child_from_entry(browse_listing *l, const snap_view *s, const cairn_entry *e,
                            const char *name, size_t len, uint64_t rec)
{
	const snap_index *x = s->idx;
	browse_child *c;
	int rc = child_add(l, name, len, &c);
	if (rc)
		return rc;
	c->rec = rec;
	browse_attr_from_entry(&c->a, e);
	c->a.ino = browse_ino(s->no, rec, 0);
	c->a.nlink = 1;
	if (e->type == CAIRN_ENTRY_DIR) {
		size_t d = snap_dir_find(x, e->path, strlen(e->path));
		c->a.nlink = 2 + (d == SIZE_MAX ? 0 : x->dirs[d].subdirs);
	} else if (e->type == CAIRN_ENTRY_FILE) {
		c->a.nlink = 1 + snap_links_to(x, e->path);
	}
	if (e->link_target)
		return arena_add(&l->arena, e->link_target, strlen(e->link_target), &c->link);
	return 0;
}

void browse_attr_from_entry(cairn_browse_attr *a, const cairn_entry *e)
{
	a->type = e->type;
	a->mode = e->mode;
	a->uid = e->uid;
	a->gid = e->gid;
	a->mtime_ns = e->mtime_ns;
	a->ctime_ns = e->ctime_ns;
	a->size = e->size;
	a->rdev = e->rdev;
	/* A symlink's size is its target's length, as lstat says. */
	if (e->type == CAIRN_ENTRY_SYMLINK && e->link_target)
		a->size = strlen(e->link_target);
}

/* A directory the manifest left out, with the snapshot's time. */
static int child_synthetic(browse_listing *l, const snap_view *s, size_t dir, const char *name,
                           size_t len)
{
	browse_child *c;
	if (dir == SIZE_MAX)
		return cairn_error_set(CAIRN_ECORRUPT, "snapshot %.8s: directory %.*s out of place",
		                       s->id, (int)len, name);
	int rc = child_add(l, name, len, &c);
	if (rc)
		return rc;
	c->rec = s->idx->dirs[dir].rec;
	c->synthetic = 1;
	c->a.ino = browse_ino(s->no, c->rec, 1);
	c->a.type = CAIRN_ENTRY_DIR;
	c->a.mode = 0755;
	c->a.mtime_ns = c->a.ctime_ns = s->snap.time_ns;
	c->a.nlink = 2 + s->idx->dirs[dir].subdirs;
	return 0;
}

/* After a child directory: jumps over its subtree if it is long. */
static int skip_subtree(mreader *m, const snap_index *x, const char *path, size_t len,
                        uint64_t next)
{
	size_t d = snap_dir_find(x, path, len);
	if (d == SIZE_MAX || x->dirs[d].end <= next + JUMP_MIN)
		return 0;
	return mreader_seek(m, x->dirs[d].end);
}

int snap_list_dir(cairn_blobcache *cache, const snap_view *s, size_t dir, browse_listing *out)
{
	const snap_index *x = s->idx;
	const dir_rec *d = &x->dirs[dir];
	const char *dpath = snap_dir_path(x, dir), *name;
	size_t dlen = strlen(dpath), len, last_len = 0;
	const char *last = NULL;
	cairn_entry e = {0};
	uint64_t rec, next;
	mreader m;
	int rc, direct;

	mreader_init(&m, cache, s, x->version);
	if ((rc = mreader_seek(&m, d->first)))
		goto out;
	while ((rc = mreader_next(&m, &e, &rec, &next)) == 1 && rec < d->end) {
		if (!browse_child_of(dpath, dlen, e.path, &name, &len, &direct))
			break;
		size_t prefix = (size_t)(name + len - e.path);
		int seen = last && last_len == len && memcmp(last, name, len) == 0;
		rc = 0;
		if (direct)
			rc = child_from_entry(out, s, &e, name, len, rec);
		else if (!seen)
			rc = child_synthetic(out, s, snap_dir_find(x, e.path, prefix), name, len);
		if (!rc && (e.type == CAIRN_ENTRY_DIR || !direct))
			rc = skip_subtree(&m, x, e.path, prefix, next);
		cairn_entry_clear(&e);
		if (rc)
			goto out;
		/* Names point into the listing's arena, which may move. */
		last = (const char *)out->arena.data + out->c[out->n - 1].name;
		last_len = len;
	}
	if (rc > 0)
		rc = 0;
out:
	cairn_entry_clear(&e);
	mreader_free(&m);
	return rc;
}

int snap_read_entry(cairn_blobcache *cache, const snap_view *s, uint64_t rec, cairn_entry *out)
{
	uint64_t at, next;
	mreader m;
	mreader_init(&m, cache, s, s->idx->version);
	int rc = mreader_seek(&m, rec);
	if (!rc && (rc = mreader_next(&m, out, &at, &next)) == 0)
		rc = cairn_error_set(CAIRN_ECORRUPT, "snapshot %.8s: no entry at offset %llu",
		                     s->id, (unsigned long long)rec);
	mreader_free(&m);
	return rc < 0 ? rc : 0;
}

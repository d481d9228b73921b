/* The public calls of a browse view on paths: what a path is (the view's
 * own directories, a snapshot's root, or an entry of a snapshot found in
 * its parent's listing), and stat, list, readlink, xattrs and open on it. */
#include "browse/browse_internal.h"

#include "cairn/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The view's own inode numbers. */
enum {
	INO_ROOT = 1,
	INO_IDS,
	INO_SNAPSHOTS,
	INO_HOSTS,
	INO_LATEST,
	INO_HOST0 = 16,
};

/* What a path is. */
typedef struct found {
	enum browse_place place;
	cairn_browse_attr attr;
	snap_view *s;
	size_t dir;            /* s's directory, or SIZE_MAX */
	size_t host;           /* PLACE_HOST */
	uint64_t rec;          /* the entry's record, or UINT64_MAX (none) */
	browse_listing *l;     /* held while found is */
	const browse_child *c; /* in l */
	const char *link;      /* a symlink's target, in l */
} found;

static void found_release(cairn_browse *b, found *f)
{
	browse_listing_release(b, f->l);
	f->l = NULL;
}

static int not_found(const char *path)
{
	return cairn_error_set(CAIRN_ENOTFOUND, "%s: not found", path);
}

static void own_dir(const cairn_browse *b, cairn_browse_attr *a, uint64_t ino, size_t subdirs)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->type = CAIRN_ENTRY_DIR;
	a->mode = 0555;
	a->uid = b->uid;
	a->gid = b->gid;
	a->nlink = (uint32_t)(2 + subdirs);
	if (b->n_snaps)
		a->mtime_ns = a->ctime_ns = b->snaps[b->n_snaps - 1].snap.time_ns;
}

/* The root of snapshot s. */
static void snap_root_attr(const snap_view *s, cairn_browse_attr *a)
{
	const snap_index *x = s->idx;
	memset(a, 0, sizeof(*a));
	a->ino = browse_ino(s->no, 0, 1);
	a->type = CAIRN_ENTRY_DIR;
	a->nlink = 2 + x->dirs[0].subdirs;
	if (x->root.path) {
		browse_attr_from_entry(a, &x->root);
	} else {
		a->mode = 0755;
		a->mtime_ns = a->ctime_ns = s->snap.time_ns;
	}
}

/* The snapshot that where names, or NULL. */
static snap_view *snap_named(cairn_browse *b, const browse_where *w)
{
	size_t host = SIZE_MAX;
	if (w->host && (host = browse_host_find(b, w->host, w->host_len)) == SIZE_MAX)
		return NULL;
	for (size_t i = 0; i < b->n_snaps; i++) {
		snap_view *s = &b->snaps[i];
		const char *name = w->by_id ? s->id : s->name;
		if (strlen(name) != w->snap_len || memcmp(name, w->snap, w->snap_len) != 0)
			continue;
		if (host == SIZE_MAX || s->host == host)
			return s;
	}
	return NULL;
}

static int find_in_snap(cairn_browse *b, snap_view *s, const char *path, found *f, int depth);

/* A hardlink's attributes are its target's (which must be a file). */
static int follow_hardlink(cairn_browse *b, snap_view *s, const char *path, found *f, int depth)
{
	const char *target = (const char *)f->l->arena.data + f->c->link;
	found t = {0};
	int rc = depth ? CAIRN_ECORRUPT : find_in_snap(b, s, target, &t, 1);
	if (rc == 0 && t.attr.type != CAIRN_ENTRY_FILE) {
		found_release(b, &t);
		rc = CAIRN_ECORRUPT;
	}
	if (rc) {
		found_release(b, &t);
		return cairn_error_set(CAIRN_ECORRUPT,
		                       "snapshot %.8s: %s: hardlink to %s, not a file", s->id, path,
		                       target);
	}
	f->attr = t.attr;
	f->rec = t.rec;
	found_release(b, &t);
	return 0;
}

/* path: in the snapshot, "/" or "/a/b". */
static int find_in_snap(cairn_browse *b, snap_view *s, const char *path, found *f, int depth)
{
	const snap_index *x = s->idx;
	f->place = PLACE_SNAP;
	f->s = s;
	f->rec = UINT64_MAX;
	f->dir = SIZE_MAX;
	if (!path[0] || strcmp(path, "/") == 0) {
		f->dir = 0;
		snap_root_attr(s, &f->attr);
		return 0;
	}
	const char *slash = strrchr(path, '/');
	size_t parent_len = slash == path ? 1 : (size_t)(slash - path);
	size_t parent = snap_dir_find(x, path, parent_len);
	if (parent == SIZE_MAX)
		return not_found(path);
	int rc = browse_listing_get(b, s, parent, &f->l);
	if (rc)
		return rc;
	if (!(f->c = browse_listing_find(f->l, slash + 1, strlen(slash + 1))))
		return not_found(path);
	f->attr = f->c->a;
	if (!f->c->synthetic)
		f->rec = f->c->rec;
	if (f->c->a.type == CAIRN_ENTRY_DIR)
		f->dir = snap_dir_find(x, path, strlen(path));
	else if (f->c->link != SIZE_MAX)
		f->link = (const char *)f->l->arena.data + f->c->link;
	if (f->c->a.type == CAIRN_ENTRY_HARDLINK)
		return follow_hardlink(b, s, path, f, depth);
	return 0;
}

/* What path is; under the lock. Release f after. */
static int find(cairn_browse *b, const char *path, found *f)
{
	browse_where w;
	memset(f, 0, sizeof(*f));
	f->dir = SIZE_MAX;
	f->rec = UINT64_MAX;
	browse_where_parse(path, &w);
	f->place = w.place;
	switch (w.place) {
	case PLACE_ROOT:
		own_dir(b, &f->attr, INO_ROOT, 3);
		return 0;
	case PLACE_IDS:
	case PLACE_SNAPSHOTS:
		own_dir(b, &f->attr, w.by_id ? INO_IDS : INO_SNAPSHOTS, b->n_snaps);
		return 0;
	case PLACE_HOSTS:
		own_dir(b, &f->attr, INO_HOSTS, b->n_hosts);
		return 0;
	case PLACE_HOST:
		if ((f->host = browse_host_find(b, w.host, w.host_len)) == SIZE_MAX)
			return not_found(path);
		own_dir(b, &f->attr, INO_HOST0 + f->host, browse_host_count(b, f->host));
		return 0;
	case PLACE_LATEST:
		if (!b->n_snaps)
			return not_found(path);
		own_dir(b, &f->attr, INO_LATEST, 0);
		f->attr.type = CAIRN_ENTRY_SYMLINK;
		f->attr.mode = 0777;
		f->attr.nlink = 1;
		f->attr.size = 4 + CAIRN_ID_HEX;
		return 0;
	case PLACE_SNAP: {
		snap_view *s = snap_named(b, &w);
		int rc;
		if (!s)
			return not_found(path);
		if ((rc = browse_index_ready(b, s)))
			return rc;
		return find_in_snap(b, s, w.rest, f, 0);
	}
	default:
		return not_found(path);
	}
}

int cairn_browse_stat(cairn_browse *b, const char *path, cairn_browse_attr *out)
{
	found f;
	pthread_mutex_lock(&b->mu);
	int rc = find(b, path, &f);
	if (!rc)
		*out = f.attr;
	found_release(b, &f);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

/* ---- listing ---- */

typedef struct lister {
	cairn_browse_fill_fn fill;
	void *ud;
	uint64_t pos, from;
	int stop;
} lister;

static void emit(lister *ls, const char *name, const cairn_browse_attr *a)
{
	if (!ls->stop && ls->pos >= ls->from)
		ls->stop = ls->fill(ls->ud, name, a, ls->pos + 1);
	ls->pos++;
}

static void list_own(cairn_browse *b, found *f, lister *ls)
{
	static const char *const top[] = {"hosts", "ids", "latest", "snapshots"};
	static const uint64_t top_ino[] = {INO_HOSTS, INO_IDS, INO_LATEST, INO_SNAPSHOTS};
	cairn_browse_attr a = {0};
	a.type = CAIRN_ENTRY_DIR;
	if (f->place == PLACE_ROOT) {
		for (size_t i = 0; i < 4 && !ls->stop; i++) {
			if (top_ino[i] == INO_LATEST && !b->n_snaps)
				continue;
			a.ino = top_ino[i];
			a.type = top_ino[i] == INO_LATEST ? CAIRN_ENTRY_SYMLINK : CAIRN_ENTRY_DIR;
			emit(ls, top[i], &a);
		}
	} else if (f->place == PLACE_HOSTS) {
		for (size_t i = 0; i < b->n_hosts && !ls->stop; i++) {
			a.ino = INO_HOST0 + i;
			emit(ls, b->hosts[i], &a);
		}
	} else {
		for (size_t i = 0; i < b->n_snaps && !ls->stop; i++) {
			const snap_view *s = &b->snaps[i];
			if (f->place == PLACE_HOST && s->host != f->host)
				continue;
			a.ino = browse_ino(s->no, 0, 1);
			emit(ls, f->place == PLACE_IDS ? s->id : s->name, &a);
		}
	}
}

static int list_snap_dir(cairn_browse *b, found *f, lister *ls)
{
	browse_listing *l;
	int rc = browse_listing_get(b, f->s, f->dir, &l);
	if (rc)
		return rc;
	const char *dir = snap_dir_path(f->s->idx, f->dir);
	size_t dlen = strlen(dir);
	for (size_t i = 0; i < l->n && !ls->stop; i++) {
		const browse_child *c = &l->c[i];
		const char *name = (const char *)l->arena.data + c->name;
		cairn_browse_attr a = c->a;
		if (c->a.type == CAIRN_ENTRY_HARDLINK && ls->pos >= ls->from) {
			/* Its inode number is its target's. */
			char path[dlen + strlen(name) + 2];
			found t = {.l = l, .c = c};
			snprintf(path, sizeof(path), "%s/%s", dlen == 1 ? "" : dir, name);
			l->refs++;
			if (follow_hardlink(b, f->s, path, &t, 0) == 0)
				a = t.attr;
			found_release(b, &t);
		}
		emit(ls, name, &a);
	}
	browse_listing_release(b, l);
	return 0;
}

int cairn_browse_list(cairn_browse *b, const char *path, uint64_t from, cairn_browse_fill_fn fill,
                      void *ud)
{
	lister ls = {fill, ud, 0, from, 0};
	found f;
	pthread_mutex_lock(&b->mu);
	int rc = find(b, path, &f);
	if (!rc && f.attr.type != CAIRN_ENTRY_DIR)
		rc = cairn_error_set(CAIRN_EINVAL, "%s: not a directory", path);
	if (!rc) {
		cairn_browse_attr self = f.attr, parent = {0};
		parent.type = CAIRN_ENTRY_DIR;
		parent.ino = INO_ROOT;
		emit(&ls, ".", &self);
		emit(&ls, "..", &parent);
		if (f.place == PLACE_SNAP)
			rc = list_snap_dir(b, &f, &ls);
		else
			list_own(b, &f, &ls);
	}
	found_release(b, &f);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

/* ---- links, xattrs, files ---- */

int cairn_browse_readlink(cairn_browse *b, const char *path, char **out)
{
	found f;
	*out = NULL;
	pthread_mutex_lock(&b->mu);
	int rc = find(b, path, &f);
	if (!rc && f.attr.type != CAIRN_ENTRY_SYMLINK)
		rc = cairn_error_set(CAIRN_EINVAL, "%s: not a symlink", path);
	if (!rc) {
		const char *target = f.link;
		char latest[4 + CAIRN_ID_HEX + 1];
		if (f.place == PLACE_LATEST) {
			snprintf(latest, sizeof(latest), "ids/%s", b->snaps[b->n_snaps - 1].id);
			target = latest;
		}
		if (!target || !(*out = strdup(target)))
			rc = cairn_error_set(target ? CAIRN_ENOMEM : CAIRN_ECORRUPT, "%s: %s", path,
			                     target ? "out of memory" : "symlink without a target");
	}
	found_release(b, &f);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

/* The record of the entry at path (its chunks, xattrs): *e, the caller's
 * to clear, or path set to NULL when the entry has none (the view's own
 * directories, synthetic ones). */
static int read_record(cairn_browse *b, const char *path, cairn_entry *e, cairn_browse_attr *a)
{
	found f;
	memset(e, 0, sizeof(*e));
	pthread_mutex_lock(&b->mu);
	int rc = find(b, path, &f);
	if (!rc && a)
		*a = f.attr;
	if (!rc && f.rec != UINT64_MAX)
		rc = snap_read_entry(b->cache, f.s, f.rec, e);
	found_release(b, &f);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

int cairn_browse_xattrs(cairn_browse *b, const char *path, cairn_xattr **out, size_t *n_out)
{
	cairn_entry e;
	*out = NULL;
	*n_out = 0;
	int rc = read_record(b, path, &e, NULL);
	if (!rc) {
		*out = e.xattrs;
		*n_out = e.n_xattrs;
		e.xattrs = NULL;
		e.n_xattrs = 0;
	}
	cairn_entry_clear(&e);
	return rc;
}

int cairn_browse_file_open(cairn_browse *b, const char *path, cairn_browse_file **out)
{
	cairn_browse_attr a;
	cairn_entry e;
	*out = NULL;
	int rc = read_record(b, path, &e, &a);
	if (!rc && (a.type != CAIRN_ENTRY_FILE || e.type != CAIRN_ENTRY_FILE))
		rc = cairn_error_set(CAIRN_EINVAL, "%s: not a regular file", path);
	if (!rc)
		rc = browse_file_new(out, b->cache, &e, b->readahead);
	cairn_entry_clear(&e);
	return rc;
}

/* The main thread's walk: the tree depth-first in path order into the
 * ring, the files cache (the parent snapshot's manifest), and the
 * finished entries off the ring into the manifest. */
#include "backup/backup_internal.h"

#include "fs/exclude.h"
#include "fs/meta.h"
#include "fs/walk.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/hex.h"
#include "util/json.h"
#include "util/path.h"
#include "util/time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A cairn config is a few hundred bytes; a bigger file is not one. */
#define CONFIG_READ_MAX 8192

/* ---- hardlinks seen ---- */

static struct link *link_slot(struct link_map *m, uint64_t dev, uint64_t ino)
{
	size_t j = (ino * 0x9e3779b97f4a7c15ull ^ dev) & (m->cap - 1);
	while (m->items[j].path && (m->items[j].dev != dev || m->items[j].ino != ino))
		j = (j + 1) & (m->cap - 1);
	return &m->items[j];
}

/* The first path seen for (dev, ino), or NULL after recording path. */
static int link_lookup(struct link_map *m, uint64_t dev, uint64_t ino, const char *path,
                       const char **first)
{
	*first = NULL;
	if (2 * (m->count + 1) > m->cap) {
		struct link_map n = {.cap = m->cap ? 2 * m->cap : 256};
		if (!(n.items = calloc(n.cap, sizeof(*n.items))))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		for (size_t i = 0; i < m->cap; i++)
			if (m->items[i].path)
				*link_slot(&n, m->items[i].dev, m->items[i].ino) = m->items[i];
		n.count = m->count;
		free(m->items);
		*m = n;
	}
	struct link *l = link_slot(m, dev, ino);
	if (l->path) {
		*first = l->path;
		return 0;
	}
	if (!(l->path = strdup(path)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	l->dev = dev;
	l->ino = ino;
	m->count++;
	return 0;
}

void cairn_backup_links_free(struct link_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->items[i].path);
	free(m->items);
}

/* ---- reporting ---- */

static void report(struct backup *b, const char *path, const char *msg)
{
	if (b->opts->warn)
		b->opts->warn(b->opts->ud, path, msg);
}

static void tell_item(struct backup *b, const char *path, cairn_backup_change change, uint8_t type,
                      uint64_t size, const char *error)
{
	if (!b->opts->item)
		return;
	cairn_backup_item it = {path, change, type, size, error};
	b->opts->item(b->opts->ud, &it);
}

/* A path that could not be read: reported (the message is this
 * thread's last) and counted. */
static void path_failed(struct backup *b, const char *path)
{
	report(b, path, cairn_error_last());
	tell_item(b, path, CAIRN_BACKUP_FAILED, 0, 0, cairn_error_last());
	b->sum.errors++;
}

void cairn_backup_progress(struct backup *b, const char *current, int force)
{
	if (!b->opts->progress)
		return;
	int64_t t = cairn_now_ns(CLOCK_MONOTONIC);
	if (!force && t - b->last_progress < PROGRESS_NS)
		return;
	b->last_progress = t;
	cairn_progress p = {.files_done = b->files_done, .current = current};
	pthread_mutex_lock(&b->dedup_lock);
	p.bytes_done = b->bytes_read + b->bytes_skipped;
	pthread_mutex_unlock(&b->dedup_lock);
	cairn_backup_count_totals(b, &p.files_total, &p.bytes_total);
	b->opts->progress(b->opts->ud, &p);
}

/* ---- the manifest: entries in order, and its blobs ---- */

int cairn_backup_tree_sink(void *ud, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind,
                           const uint8_t *data, size_t len)
{
	struct worker *w = ud;
	w->n_pend = 0;
	int rc = cairn_array_grow((void **)&w->pend, &w->cap_pend, 1, sizeof(*w->pend));
	if (rc)
		return rc;
	memcpy(w->pend[0].fp, fp, CAIRN_FP_SIZE);
	w->pend[0].data = data;
	w->pend[0].len = (uint32_t)len;
	w->n_pend = 1;
	rc = cairn_dedup_pending(&w->b->dedup, &w->ask, w->pend, 1);
	if (!rc && w->pend[0].state == CHUNK_NEW)
		rc = cairn_backup_store_blob(w, fp, kind, data, len);
	w->n_pend = 0;
	return rc;
}

/* Tells of an entry leaving the ring, and counts what was done without
 * reading it. */
static void emitted(struct backup *b, const struct slot *s)
{
	const cairn_entry *e = &s->e;
	int sized = e->type == CAIRN_ENTRY_FILE || e->type == CAIRN_ENTRY_HARDLINK;
	if (sized && !s->needs_work)
		b->bytes_skipped += e->size;
	if (s->failed)
		tell_item(b, e->path, CAIRN_BACKUP_FAILED, e->type, sized ? e->size : 0,
		          s->warning ? s->warning : "could not be read");
	else
		tell_item(b, e->path, s->change, e->type, sized ? e->size : 0, NULL);
}

/* Emits the finished entries at the head of the ring. Called with the
 * lock held; drops it while working. */
static int drain(struct backup *b)
{
	while (b->head < b->tail) {
		struct slot *s = &b->ring[b->head % RING_SLOTS];
		if (!s->done)
			break;
		pthread_mutex_unlock(&b->lock);
		int rc = 0;
		if (s->warning)
			report(b, s->e.path, s->warning);
		emitted(b, s);
		if (s->failed) {
			b->sum.errors++;
		} else {
			switch (s->status) {
			case FILE_NEW:
				b->sum.files_new++;
				break;
			case FILE_CHANGED:
				b->sum.files_changed++;
				break;
			case FILE_UNCHANGED:
				b->sum.files_unchanged++;
				break;
			case NOT_A_FILE:
				if (s->e.type == CAIRN_ENTRY_DIR)
					b->sum.dirs++;
				else
					b->sum.others++;
				break;
			}
			if (s->e.type == CAIRN_ENTRY_FILE)
				b->sum.bytes_total += s->e.size;
			rc = cairn_tree_writer_add(b->tree, &s->e);
		}
		if (s->e.type == CAIRN_ENTRY_FILE || s->e.type == CAIRN_ENTRY_HARDLINK)
			b->files_done++;
		cairn_entry_clear(&s->e);
		free(s->warning);
		memset(s, 0, sizeof(*s));
		pthread_mutex_lock(&b->lock);
		if (rc)
			return rc;
		b->head++;
		/* Workers never look behind the head: those slots get reused. */
		if (b->dispatch < b->head)
			b->dispatch = b->head;
	}
	return 0;
}

/* Waits (with the lock held) for a worker to finish an entry, or for
 * the time to tell the progress. */
static void wait_done(struct backup *b)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += PROGRESS_NS;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	b->main_waiting = 1;
	pthread_cond_timedwait(&b->done_cv, &b->lock, &ts);
	b->main_waiting = 0;
}

/* Waits for room in the ring, then adds e (taken over) to it. */
static int enqueue(struct backup *b, cairn_entry *e, const struct stat *st, enum file_status status,
                   cairn_backup_change change, int needs_work)
{
	int rc = 0;
	pthread_mutex_lock(&b->lock);
	for (;;) {
		if (b->fatal)
			break;
		if ((rc = drain(b)))
			break;
		if (b->tail - b->head < RING_SLOTS)
			break;
		wait_done(b);
		pthread_mutex_unlock(&b->lock);
		cairn_backup_progress(b, NULL, 0);
		pthread_mutex_lock(&b->lock);
	}
	if (b->fatal || rc) {
		pthread_mutex_unlock(&b->lock);
		cairn_entry_clear(e);
		return rc ? rc : b->fatal;
	}
	struct slot *s = &b->ring[b->tail % RING_SLOTS];
	s->e = *e;
	memset(e, 0, sizeof(*e));
	if (needs_work)
		s->st = *st;
	s->status = status;
	s->change = change;
	s->needs_work = needs_work;
	/* A backup of standard input has that one file to read. */
	s->stream = needs_work && b->opts->stdin_name;
	s->done = !needs_work;
	b->tail++;
	if (needs_work && b->idle_workers)
		pthread_cond_signal(&b->work_cv);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/* ---- the walk, in path order ---- */

/* Moves the parent manifest forward to path; returns its entry there, or
 * NULL if the parent has no such path. */
static const cairn_entry *parent_find(struct backup *b, const char *path)
{
	while (b->parent && !b->parent_done) {
		if (b->parent_valid) {
			int c = cairn_path_cmp(b->parent_entry.path, path);
			if (c == 0)
				return &b->parent_entry;
			if (c > 0)
				return NULL;
			cairn_entry_clear(&b->parent_entry);
			b->parent_valid = 0;
		}
		int rc = cairn_tree_reader_next(b->parent, &b->parent_entry);
		if (rc == 1) {
			b->parent_valid = 1;
			continue;
		}
		if (rc < 0)
			report(b, "(parent snapshot)", cairn_error_last());
		b->parent_done = 1; /* without a files cache every file is read */
	}
	return NULL;
}

static int visit(struct backup *b, int dfd, const char *name, const char *path, dev_t top_dev,
                 int descend);

void cairn_backup_dir_list_free(struct dir_list *d)
{
	if (d->fd >= 0)
		close(d->fd);
	cairn_names_free(d->names, d->n);
	d->fd = -1;
	d->names = NULL;
	d->n = 0;
}

/* Opens and lists the directory path; one that cannot be read is
 * reported, and walked as empty (d->fd < 0). */
static void list_dir(struct backup *b, const char *path, struct dir_list *d)
{
	/* Opened once: its names are listed and its children looked up
	 * relative to it (a path walk of one component instead of the whole
	 * path, per entry), so both are of the same directory. */
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d->names = NULL;
	d->n = 0;
	int rc = d->fd < 0 ? cairn_error_set_errno(CAIRN_EIO, errno, "cannot open directory")
	                   : cairn_dir_names(d->fd, &d->names, &d->n);
	if (rc) {
		path_failed(b, path);
		cairn_backup_dir_list_free(d);
	}
}

/* The repository id in a cairn config's text (its clear part), or -1. */
static int config_id(const char *text, size_t len, uint8_t id[CAIRN_ID_SIZE])
{
	cairn_json *doc = NULL;
	const char *hex = NULL;
	int ok = cairn_json_parse(&doc, text, len) == 0 &&
	         cairn_json_get_string(doc, "id", &hex) == 0 && strlen(hex) == CAIRN_ID_HEX &&
	         cairn_hex_decode(id, CAIRN_ID_SIZE, hex) == 0;
	cairn_json_free(doc);
	cairn_error_clear();
	return ok ? 0 : -1;
}

/* 1 if the listed directory is the repository being backed up to: it
 * holds keys/ and a config with its id. Only such directories are read. */
int cairn_backup_is_this_repo(struct backup *b, const struct dir_list *d)
{
	char text[CONFIG_READ_MAX + 1];
	uint8_t id[CAIRN_ID_SIZE];
	struct stat st;
	if (!cairn_names_have(d->names, d->n, "config") ||
	    !cairn_names_have(d->names, d->n, "keys"))
		return 0;
	if (fstatat(d->fd, "keys", &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	int fd = openat(d->fd, "config", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
	                ? cairn_pread_all(fd, text, CONFIG_READ_MAX, 0)
	                : -1;
	close(fd);
	if (n <= 0 || n >= CONFIG_READ_MAX)
		return 0;
	text[n] = '\0';
	return config_id(text, (size_t)n, id) == 0 &&
	       memcmp(id, cairn_repo_config_get(b->repo)->id, CAIRN_ID_SIZE) == 0;
}

/* 1 if the listed directory is a cairn cache: the CACHEDIR.TAG it
 * holds is cairn's. */
int cairn_backup_is_cairn_cache(const struct dir_list *d)
{
	return cairn_names_have(d->names, d->n, CAIRN_CACHEDIR_TAG) &&
	       cairn_dir_has_tag(d->fd, CAIRN_CACHEDIR_TAG, CAIRN_CACHEDIR_TAG_CAIRN);
}

/* Whether the directory holds the tag of spec ("NAME" or
 * "NAME:header"). */
static int has_tag(const struct dir_list *d, const char *spec)
{
	char name[256];
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	if (n == 0 || n >= sizeof(name))
		return 0;
	memcpy(name, spec, n);
	name[n] = '\0';
	return cairn_names_have(d->names, d->n, name) &&
	       cairn_dir_has_tag(d->fd, name, colon ? colon + 1 : NULL);
}

static int is_tag_name(const char *name, const char *const *specs, size_t n_specs)
{
	for (size_t i = 0; i < n_specs; i++) {
		const char *colon = strchr(specs[i], ':');
		size_t n = colon ? (size_t)(colon - specs[i]) : strlen(specs[i]);
		if (strlen(name) == n && !memcmp(name, specs[i], n))
			return 1;
	}
	return 0;
}

/* A directory with a tag of --exclude-caches or --exclude-if-present
 * keeps only its tag files, as restic's do. */
void cairn_backup_keep_tags_only(struct backup *b, struct dir_list *d)
{
	const cairn_backup_opts *o = b->opts;
	static const char *const cache_spec[] = {CAIRN_CACHEDIR_TAG ":" CAIRN_CACHEDIR_SIGNATURE};
	const char *const *sets[2] = {o->exclude_caches ? cache_spec : NULL, o->exclude_if_present};
	size_t counts[2] = {o->exclude_caches ? 1 : 0, o->n_exclude_if_present};
	int tagged = 0;
	for (size_t s = 0; s < 2 && !tagged; s++)
		for (size_t i = 0; i < counts[s] && !tagged; i++)
			tagged = has_tag(d, sets[s][i]);
	if (!tagged)
		return;
	size_t k = 0;
	for (size_t i = 0; i < d->n; i++) {
		if (is_tag_name(d->names[i], sets[0], counts[0]) ||
		    is_tag_name(d->names[i], sets[1], counts[1]))
			d->names[k++] = d->names[i];
		else
			free(d->names[i]);
	}
	d->n = k;
}

/* Visits the listed children of path. */
static int visit_listed(struct backup *b, const char *path, struct dir_list *d, dev_t top_dev)
{
	int rc = 0;
	size_t plen = strlen(path);
	cairn_backup_keep_tags_only(b, d);
	for (size_t i = 0; i < d->n && !rc; i++) {
		size_t len = plen + 1 + strlen(d->names[i]) + 1;
		char *child = malloc(len);
		if (!child) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			break;
		}
		snprintf(child, len, "%s/%s", strcmp(path, "/") ? path : "", d->names[i]);
		rc = visit(b, d->fd, d->names[i], child, top_dev, 1);
		free(child);
	}
	return rc;
}

static int visit_children(struct backup *b, const char *path, dev_t top_dev)
{
	struct dir_list d;
	list_dir(b, path, &d);
	int rc = d.fd >= 0 ? visit_listed(b, path, &d, top_dev) : 0;
	cairn_backup_dir_list_free(&d);
	return rc;
}

/* What a step of visit decides about an entry, when it does not fail
 * (< 0). */
enum { ENTRY_KEEP = 0, ENTRY_SKIP = 1 };

/* Reads the symlink's target into e; one that cannot be read, or is
 * empty, is reported and skipped. */
static int read_link(struct backup *b, int dfd, const char *name, const struct stat *st,
                     cairn_entry *e)
{
	size_t cap = (size_t)st->st_size + 1 > 256 ? (size_t)st->st_size + 1 : 256;
	for (;;) {
		char *t = malloc(cap);
		if (!t)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		ssize_t n = readlinkat(dfd, name, t, cap);
		if (n < 0) {
			free(t);
			cairn_error_set_errno(CAIRN_EIO, errno, "cannot read link");
			path_failed(b, e->path);
			return ENTRY_SKIP;
		}
		if ((size_t)n < cap) {
			t[n] = '\0';
			e->link_target = t;
			break;
		}
		free(t);
		cap *= 2;
	}
	if (!*e->link_target) {
		report(b, e->path, "empty symlink target; skipped");
		return ENTRY_SKIP;
	}
	return ENTRY_KEEP;
}

/* A file seen before under another path (same dev and inode) becomes a
 * hardlink to that first path: *linked. */
static int link_to_first(struct backup *b, const struct stat *st, cairn_entry *e, int *linked)
{
	const char *first = NULL;
	int rc;
	*linked = 0;
	if (st->st_nlink > 1 &&
	    (rc = link_lookup(&b->links, st->st_dev, st->st_ino, e->path, &first)))
		return rc;
	if (!first)
		return 0;
	/* The size stays: listings show the link's size. */
	e->type = CAIRN_ENTRY_HARDLINK;
	if (!(e->link_target = strdup(first)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	*linked = 1;
	return 0;
}

/* The files cache: a file the parent snapshot has with the same size,
 * times and inode takes the parent's chunks and xattrs, unread. */
static enum file_status files_cache(struct backup *b, cairn_entry *e)
{
	const cairn_entry *p = parent_find(b, e->path);
	if (!(p && p->type == CAIRN_ENTRY_FILE && p->size == e->size &&
	      p->mtime_ns == e->mtime_ns && p->ctime_ns == e->ctime_ns && p->ino == e->ino))
		return p ? FILE_CHANGED : FILE_NEW;
	/* A chunk a prune may delete is not taken on trust: the file is read
	 * again, and what it needs is stored again. */
	for (size_t i = 0; i < p->n_chunks; i++)
		if (cairn_gc_view_chunk_condemned(&b->gc, p->chunks[i].fp))
			return FILE_CHANGED;
	e->chunks = b->parent_entry.chunks;
	e->n_chunks = b->parent_entry.n_chunks;
	b->parent_entry.chunks = NULL;
	b->parent_entry.n_chunks = 0;
	/* Setting an xattr or a flag changes the ctime: the parent's are
	 * still the file's, unless its manifest kept only some of them (read
	 * again in visit). */
	e->attrs_partial = p->attrs_partial;
	if (!p->attrs_partial) {
		e->xattrs = b->parent_entry.xattrs;
		e->n_xattrs = b->parent_entry.n_xattrs;
		e->flags = p->flags;
		b->parent_entry.xattrs = NULL;
		b->parent_entry.n_xattrs = 0;
	}
	/* Its chunks are taken: the parent entry is spent. */
	cairn_entry_clear(&b->parent_entry);
	b->parent_valid = 0;
	return FILE_UNCHANGED;
}

/* What e holds besides its metadata: a symlink's target, a hardlink's
 * first path, or for a file, whether the files cache vouches for it or a
 * worker must read it. */
static int entry_content(struct backup *b, int dfd, const char *name, const struct stat *st,
                         cairn_entry *e, enum file_status *status, int *needs_work)
{
	int linked, rc;
	if (e->type == CAIRN_ENTRY_SYMLINK)
		return read_link(b, dfd, name, st, e);
	if (e->type != CAIRN_ENTRY_FILE)
		return ENTRY_KEEP;
	if ((rc = link_to_first(b, st, e, &linked)) || linked)
		return rc;
	*status = files_cache(b, e);
	*needs_work = *status != FILE_UNCHANGED;
	return ENTRY_KEEP;
}

/* What the parent snapshot says of e: a file's status, or for another
 * entry whether the parent has it alike. */
static cairn_backup_change entry_change(struct backup *b, const cairn_entry *e,
                                        enum file_status status)
{
	if (status == FILE_NEW)
		return CAIRN_BACKUP_NEW;
	if (status == FILE_CHANGED)
		return CAIRN_BACKUP_CHANGED;
	if (status == FILE_UNCHANGED)
		return CAIRN_BACKUP_UNCHANGED;
	const cairn_entry *p = parent_find(b, e->path);
	if (!p)
		return CAIRN_BACKUP_NEW;
	int alike = p->type == e->type && p->mode == e->mode && p->mtime_ns == e->mtime_ns &&
	            p->uid == e->uid && p->gid == e->gid &&
	            (e->type == CAIRN_ENTRY_DIR || p->size == e->size) &&
	            !(p->link_target && e->link_target && strcmp(p->link_target, e->link_target)) &&
	            !p->link_target == !e->link_target;
	return alike ? CAIRN_BACKUP_UNCHANGED : CAIRN_BACKUP_CHANGED;
}

/* Visits path, which is name in directory dfd (AT_FDCWD: path itself). */
static int visit(struct backup *b, int dfd, const char *name, const char *path, dev_t top_dev,
                 int descend)
{
	cairn_entry e = {0};
	struct dir_list d = {.fd = -1};
	struct stat st;
	enum file_status status = NOT_A_FILE;
	int needs_work = 0, rc;
	const cairn_backup_opts *o = b->opts;

	/* A pattern may be for directories only: excludes are tried on
	 * what stat says, or on a name that cannot be looked at. */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (!cairn_patterns_match(b->excludes, path, 0)) {
			cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
			path_failed(b, path);
		}
		return 0;
	}
	if (cairn_patterns_match(b->excludes, path, S_ISDIR(st.st_mode)))
		return 0;
	cairn_backup_progress(b, path, 0);
	if (strcmp(path, "/") == 0) {
		/* "/" has no entry of its own: its children are the top. */
		return descend ? visit_children(b, path, top_dev) : 0;
	}
	if (cairn_entry_set_stat(&e, &st)) {
		report(b, path, "unknown file type; skipped");
		return 0;
	}
	if (!(e.path = strdup(path)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = entry_content(b, dfd, name, &st, &e, &status, &needs_work)))
		goto out;
	/* A file to read gets its xattrs and flags from its worker, through
	 * the descriptor it opens anyway. */
	if ((status != FILE_UNCHANGED || e.attrs_partial) && !needs_work &&
	    (rc = cairn_read_attrs(&e, path, -1)))
		goto out;
	/* A directory is listed before its entry goes in: the repository
	 * being backed up to, and cairn's caches, are left out whole. */
	if (e.type == CAIRN_ENTRY_DIR && descend && !(o->one_file_system && st.st_dev != top_dev)) {
		list_dir(b, path, &d);
		if (d.fd >= 0 && cairn_backup_is_this_repo(b, &d)) {
			report(b, path, "skipped: it is the repository being backed up to");
			goto out;
		}
		if (d.fd >= 0 && cairn_backup_is_cairn_cache(&d)) {
			report(b, path, "skipped: it is cairn's cache");
			goto out;
		}
	}
	if ((rc = enqueue(b, &e, &st, status, entry_change(b, &e, status), needs_work)))
		goto out;
	if (d.fd >= 0)
		rc = visit_listed(b, path, &d, top_dev);
out:
	cairn_backup_dir_list_free(&d);
	cairn_entry_clear(&e);
	return rc == ENTRY_SKIP ? 0 : rc;
}

/* Emits directory entries for the parents of path not emitted yet. */
static int visit_ancestors(struct backup *b, const char *path)
{
	/* Drop remembered ancestors that are not above this path. */
	while (b->n_ancestors) {
		const char *a = b->ancestors[b->n_ancestors - 1];
		size_t n = strlen(a);
		if (strncmp(path, a, n) == 0 && path[n] == '/')
			break;
		free(b->ancestors[--b->n_ancestors]);
	}
	for (const char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		size_t n = (size_t)(p - path);
		int seen = 0;
		for (size_t i = 0; i < b->n_ancestors; i++)
			if (strlen(b->ancestors[i]) == n && !strncmp(b->ancestors[i], path, n))
				seen = 1;
		if (seen)
			continue;
		char *a = strndup(path, n);
		char **v = realloc(b->ancestors, (b->n_ancestors + 1) * sizeof(*v));
		if (!a || !v) {
			free(a);
			if (v)
				b->ancestors = v;
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		}
		b->ancestors = v;
		b->ancestors[b->n_ancestors++] = a;
		int rc = visit(b, AT_FDCWD, a, a, 0, 0);
		if (rc)
			return rc;
	}
	return 0;
}

/* The one file of a backup of standard input: the user's, 0600,
 * modified now. */
static int visit_stdin(struct backup *b)
{
	cairn_entry e = {0};
	struct stat st = {.st_mode = S_IFREG | 0600, .st_nlink = 1};
	int64_t now = cairn_now_ns(CLOCK_REALTIME);
	st.st_uid = getuid();
	st.st_gid = getgid();
	st.st_mtim.tv_sec = now / 1000000000;
	st.st_mtim.tv_nsec = now % 1000000000;
	st.st_atim = st.st_ctim = st.st_mtim;
	if (cairn_entry_set_stat(&e, &st))
		return cairn_error_set(CAIRN_ERROR, "standard input: cannot describe it");
	if (!(e.path = strdup(b->paths[0])))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return enqueue(b, &e, &st, FILE_NEW, CAIRN_BACKUP_NEW, 1);
}

int cairn_backup_stdin_path(struct backup *b)
{
	const char *name = b->opts->stdin_name;
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return cairn_error_set(CAIRN_EINVAL,
		                       "--stdin-filename '%s': give one name, without '/'", name);
	if (!(b->paths = calloc(2, sizeof(char *))) || !(b->paths[0] = malloc(strlen(name) + 2)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	b->n_paths = 1;
	snprintf(b->paths[0], strlen(name) + 2, "/%s", name);
	return 0;
}

/* Visits each top path, after the directories above it. */
static int visit_top_paths(struct backup *b)
{
	int rc = 0;
	if (b->opts->stdin_name)
		return visit_stdin(b);
	for (size_t i = 0; i < b->n_paths && !rc; i++) {
		const char *path = b->paths[i];
		struct stat st;
		if (lstat(path, &st) != 0) {
			cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
			path_failed(b, path);
			continue;
		}
		if (!(rc = visit_ancestors(b, path)))
			rc = visit(b, AT_FDCWD, path, path, st.st_dev, 1);
	}
	return rc;
}

int cairn_backup_scan(struct backup *b, int *failed)
{
	int rc = visit_top_paths(b);
	/* Wait for the workers' last files. */
	pthread_mutex_lock(&b->lock);
	while (!rc && !b->fatal && b->head < b->tail) {
		if ((rc = drain(b)))
			break;
		if (b->head < b->tail) {
			/* The last files may be big: the progress goes on. */
			wait_done(b);
			pthread_mutex_unlock(&b->lock);
			cairn_backup_progress(b, NULL, 0);
			pthread_mutex_lock(&b->lock);
		}
	}
	*failed = b->fatal;
	pthread_mutex_unlock(&b->lock);
	return rc;
}

/* ---- the top paths, and the parent snapshot ---- */

static int by_path(const void *x, const void *y)
{
	return cairn_path_cmp(*(char *const *)x, *(char *const *)y);
}

/* Absolute, sorted, without duplicates or paths inside another given path. */
int cairn_backup_top_paths(const cairn_backup_opts *o, char ***out, size_t *n_out)
{
	char **v = calloc(o->n_paths + 1, sizeof(char *));
	size_t n = 0;
	int rc = 0;
	if (!v)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < o->n_paths && !rc; i++)
		if (!(rc = cairn_path_normalize(&v[n], NULL, o->paths[i])))
			n++;
	if (!rc)
		qsort(v, n, sizeof(*v), by_path);
	size_t k = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		if (k) {
			const char *prev = v[k - 1];
			size_t pl = strlen(prev);
			if (!strcmp(prev, v[i]) || !strcmp(prev, "/") ||
			    (!strncmp(v[i], prev, pl) && v[i][pl] == '/')) {
				free(v[i]);
				continue;
			}
		}
		v[k++] = v[i];
	}
	if (rc) {
		cairn_names_free(v, n);
		return rc;
	}
	*out = v;
	*n_out = k;
	return 0;
}

static int same_paths(const cairn_snapshot *s, char **paths, size_t n)
{
	if (s->n_paths != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->paths[i], paths[i]))
			return 0;
	return 1;
}

int cairn_backup_find_parent(cairn_repo *r, const char *host, char **paths, size_t n,
                             cairn_snapshot_skips *skips, cairn_snapshot *out)
{
	cairn_snapshot *list;
	size_t count;
	int rc = cairn_snapshot_list_readable(r, &list, &count, skips);
	if (rc)
		return rc;
	rc = CAIRN_ENOTFOUND;
	for (size_t i = count; i-- > 0;) {
		if (!strcmp(list[i].host, host) && same_paths(&list[i], paths, n)) {
			*out = list[i];
			memset(&list[i], 0, sizeof(list[i]));
			rc = 0;
			break;
		}
	}
	cairn_snapshot_list_free(list, count);
	return rc;
}

int cairn_backup_files_from_parse(char *text, size_t len, int nul_separated,
                                  int (*add)(void *ud, const char *path), void *ud)
{
	char sep = nul_separated ? '\0' : '\n';
	size_t pos = 0;
	while (pos < len) {
		char *line = text + pos;
		char *end = memchr(line, sep, len - pos);
		size_t n = end ? (size_t)(end - line) : len - pos;
		pos += n + (end ? 1 : 0);
		if (!nul_separated && n > 0 && line[n - 1] == '\r')
			n--;
		/* A last line without a separator: the caller leaves a byte
		 * after the text for its terminator. */
		line[n] = '\0';
		if (n == 0 || (!nul_separated && line[0] == '#'))
			continue;
		if (!nul_separated && memchr(line, '\0', n))
			return cairn_error_set(CAIRN_EINVAL, "a NUL byte in a line");
		int rc = add(ud, line);
		if (rc)
			return rc;
	}
	return 0;
}

/* Comparing two snapshots (cairn/diff.h): a merge of their manifests in
 * path order, entry against entry. */
#include "cairn/diff.h"

#include "cairn/errors.h"
#include "cairn/tree.h"
#include "inspect/content.h"
#include "util/path.h"

#include <stdlib.h>
#include <string.h>

static int chunk_cmp(const void *a, const void *b)
{
	const cairn_chunk_ref *x = a, *y = b;
	int c = memcmp(x->fp, y->fp, CAIRN_FP_SIZE);
	if (c)
		return c;
	return x->length < y->length ? -1 : x->length > y->length;
}

static int same_chunks(const cairn_entry *a, const cairn_entry *b)
{
	if (a->size != b->size || a->n_chunks != b->n_chunks)
		return 0;
	for (size_t i = 0; i < a->n_chunks; i++)
		if (chunk_cmp(&a->chunks[i], &b->chunks[i]))
			return 0;
	return 1;
}

/* The bytes of the chunks of b that a lacks, and of a that b lacks, as
 * multisets: sorted copies merged. */
static int chunk_bytes(const cairn_entry *a, const cairn_entry *b, cairn_diff_change *out)
{
	cairn_chunk_ref *x = NULL, *y = NULL;
	size_t i = 0, j = 0;
	if ((a->n_chunks && !(x = malloc(a->n_chunks * sizeof(*x)))) ||
	    (b->n_chunks && !(y = malloc(b->n_chunks * sizeof(*y))))) {
		free(x);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if (a->n_chunks) {
		memcpy(x, a->chunks, a->n_chunks * sizeof(*x));
		qsort(x, a->n_chunks, sizeof(*x), chunk_cmp);
	}
	if (b->n_chunks) {
		memcpy(y, b->chunks, b->n_chunks * sizeof(*y));
		qsort(y, b->n_chunks, sizeof(*y), chunk_cmp);
	}
	while (i < a->n_chunks || j < b->n_chunks) {
		int c = i == a->n_chunks ? 1 : j == b->n_chunks ? -1 : chunk_cmp(&x[i], &y[j]);
		if (c < 0) {
			out->bytes_removed += x[i++].length;
		} else if (c > 0) {
			out->bytes_added += y[j++].length;
		} else {
			i++;
			j++;
		}
	}
	free(x);
	free(y);
	return 0;
}

static int same_string(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_xattrs(const cairn_entry *a, const cairn_entry *b)
{
	if (a->n_xattrs != b->n_xattrs)
		return 0;
	for (size_t i = 0; i < a->n_xattrs; i++) {
		const cairn_xattr *x = &a->xattrs[i], *y = &b->xattrs[i];
		if (strcmp(x->name, y->name) || x->value_len != y->value_len ||
		    (x->value_len && memcmp(x->value, y->value, x->value_len)))
			return 0;
	}
	return 1;
}

static unsigned meta_diff(const cairn_entry *a, const cairn_entry *b)
{
	unsigned m = 0;
	if (a->mode != b->mode)
		m |= CAIRN_DIFF_META_MODE;
	if (a->uid != b->uid || a->gid != b->gid)
		m |= CAIRN_DIFF_META_OWNER;
	if (a->mtime_ns != b->mtime_ns)
		m |= CAIRN_DIFF_META_MTIME;
	if (!same_xattrs(a, b))
		m |= CAIRN_DIFF_META_XATTRS;
	if (a->flags != b->flags)
		m |= CAIRN_DIFF_META_FLAGS;
	return m;
}

/* The content bytes an entry holds: a regular file's size. */
static uint64_t content_size(const cairn_entry *e)
{
	return e->type == CAIRN_ENTRY_FILE ? e->size : 0;
}

static int same_content(const cairn_entry *a, const cairn_entry *b)
{
	switch (a->type) {
	case CAIRN_ENTRY_FILE:
		return same_chunks(a, b);
	case CAIRN_ENTRY_SYMLINK:
	case CAIRN_ENTRY_HARDLINK:
		return same_string(a->link_target, b->link_target);
	case CAIRN_ENTRY_CHARDEV:
	case CAIRN_ENTRY_BLOCKDEV:
		return a->rdev == b->rdev;
	default:
		return 1;
	}
}

int cairn_diff_entries(const cairn_entry *before, const cairn_entry *after, cairn_diff_change *out)
{
	memset(out, 0, sizeof(*out));
	out->before = before;
	out->after = after;
	out->meta = meta_diff(before, after);
	if (before->type != after->type) {
		out->kind = CAIRN_DIFF_TYPE;
		out->bytes_added = content_size(after);
		out->bytes_removed = content_size(before);
		return 0;
	}
	if (!same_content(before, after)) {
		out->kind = CAIRN_DIFF_CONTENT;
		return before->type == CAIRN_ENTRY_FILE ? chunk_bytes(before, after, out) : 0;
	}
	out->kind = out->meta ? CAIRN_DIFF_METADATA : CAIRN_DIFF_SAME;
	return 0;
}

/* ---- the merge ---- */

typedef struct stream {
	cairn_entry_source next;
	void *ud;
	cairn_entry cur;
	int have; /* cur holds an entry */
	const char *name;
} stream;

/* Moves s to its next entry, which must come after the current one. */
static int advance(stream *s)
{
	cairn_entry e = {0};
	int rc = s->next(s->ud, &e);
	if (rc < 0)
		return rc;
	if (rc == 1 && s->have && cairn_path_cmp(s->cur.path, e.path) >= 0) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "the %s manifest is out of order at %s",
		                     s->name, e.path);
		cairn_entry_clear(&e);
		return rc;
	}
	cairn_entry_clear(&s->cur);
	s->cur = e;
	s->have = rc == 1;
	return 0;
}

static void count_one(uint64_t *files, uint64_t *dirs, uint64_t *others, const cairn_entry *e)
{
	if (e->type == CAIRN_ENTRY_FILE || e->type == CAIRN_ENTRY_HARDLINK)
		(*files)++;
	else if (e->type == CAIRN_ENTRY_DIR)
		(*dirs)++;
	else
		(*others)++;
}

static void count(cairn_diff_totals *t, const cairn_diff_change *c)
{
	switch (c->kind) {
	case CAIRN_DIFF_ADDED:
		count_one(&t->files_added, &t->dirs_added, &t->others_added, c->after);
		break;
	case CAIRN_DIFF_REMOVED:
		count_one(&t->files_removed, &t->dirs_removed, &t->others_removed, c->before);
		break;
	case CAIRN_DIFF_CONTENT:
		t->changed_content++;
		break;
	case CAIRN_DIFF_TYPE:
		t->changed_type++;
		break;
	case CAIRN_DIFF_METADATA:
		t->changed_metadata++;
		break;
	case CAIRN_DIFF_SAME:
		return;
	}
	t->bytes_added += c->bytes_added;
	t->bytes_removed += c->bytes_removed;
}

/* The change at the head of the streams; which of them it used goes to
 * *used_a and *used_b. */
static int head_change(stream *a, stream *b, cairn_diff_change *c, int *used_a, int *used_b)
{
	int cmp = !a->have ? 1 : !b->have ? -1 : cairn_path_cmp(a->cur.path, b->cur.path);
	*used_a = cmp <= 0;
	*used_b = cmp >= 0;
	if (cmp == 0)
		return cairn_diff_entries(&a->cur, &b->cur, c);
	memset(c, 0, sizeof(*c));
	if (cmp < 0) {
		c->kind = CAIRN_DIFF_REMOVED;
		c->before = &a->cur;
		c->bytes_removed = content_size(&a->cur);
	} else {
		c->kind = CAIRN_DIFF_ADDED;
		c->after = &b->cur;
		c->bytes_added = content_size(&b->cur);
	}
	return 0;
}

int cairn_diff_streams(cairn_entry_source before, void *before_ud, cairn_entry_source after,
                       void *after_ud, cairn_diff_cb cb, void *ud, cairn_diff_totals *totals)
{
	stream a = {before, before_ud, {0}, 0, "first"};
	stream b = {after, after_ud, {0}, 0, "second"};
	cairn_diff_change c;
	int used_a, used_b, rc;

	memset(totals, 0, sizeof(*totals));
	if ((rc = advance(&a)) || (rc = advance(&b)))
		goto out;
	while (a.have || b.have) {
		if ((rc = head_change(&a, &b, &c, &used_a, &used_b)))
			goto out;
		count(totals, &c);
		if (c.kind != CAIRN_DIFF_SAME && (rc = cb(ud, &c)))
			goto out;
		if ((used_a && (rc = advance(&a))) || (used_b && (rc = advance(&b))))
			goto out;
	}
out:
	cairn_entry_clear(&a.cur);
	cairn_entry_clear(&b.cur);
	return rc;
}

/* A snapshot's manifest as a source of entries. */
typedef struct tree_source {
	cairn_tree_reader *t;
	const cairn_snapshot *snap;
} tree_source;

static int tree_next(void *ud, cairn_entry *out)
{
	tree_source *s = ud;
	int rc = cairn_tree_reader_next(s->t, out);
	return rc < 0 ? inspect_manifest_error(rc, s->snap) : rc;
}

int cairn_diff_snapshots(cairn_repo *r, const cairn_snapshot *before, const cairn_snapshot *after,
                         cairn_diff_cb cb, void *ud, cairn_diff_totals *totals)
{
	tree_source a = {NULL, before}, b = {NULL, after};
	int rc;
	memset(totals, 0, sizeof(*totals));
	if ((rc = cairn_tree_reader_open(&a.t, r, before))) {
		rc = inspect_manifest_error(rc, before);
		goto out;
	}
	if ((rc = cairn_tree_reader_open(&b.t, r, after))) {
		rc = inspect_manifest_error(rc, after);
		goto out;
	}
	rc = cairn_diff_streams(tree_next, &a, tree_next, &b, cb, ud, totals);
out:
	cairn_tree_reader_free(a.t);
	cairn_tree_reader_free(b.t);
	return rc;
}

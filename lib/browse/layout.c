/* The pure parts of a browse view: where a path is, which child of a
 * directory a manifest path names, which piece holds an offset, and what
 * to read ahead. */
#include "browse/browse_internal.h"

#include <string.h>

/* The component of path at *p (after any '/'): its start and length,
 * with *p moved past it. 0 at the end. */
static int component(const char **p, const char **start, size_t *len)
{
	const char *s = *p;
	while (*s == '/')
		s++;
	if (!*s)
		return 0;
	const char *e = strchr(s, '/');
	if (!e)
		e = s + strlen(s);
	*start = s;
	*len = (size_t)(e - s);
	*p = e;
	return 1;
}

static int is(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(s, word, len) == 0;
}

/* The snapshot part: name (len) and the rest of the path after it. */
static void in_snapshot(browse_where *o, const char *name, size_t len, const char *rest)
{
	o->place = PLACE_SNAP;
	o->snap = name;
	o->snap_len = len;
	o->rest = rest;
}

void browse_where_parse(const char *path, browse_where *o)
{
	const char *p = path, *top, *name;
	size_t top_len, len;
	memset(o, 0, sizeof(*o));
	if (!component(&p, &top, &top_len)) {
		o->place = PLACE_ROOT;
		return;
	}
	int more = component(&p, &name, &len);
	if (is(top, top_len, "latest")) {
		o->place = more ? PLACE_NONE : PLACE_LATEST;
	} else if (is(top, top_len, "ids") || is(top, top_len, "snapshots")) {
		o->by_id = top[0] == 'i';
		if (!more)
			o->place = o->by_id ? PLACE_IDS : PLACE_SNAPSHOTS;
		else
			in_snapshot(o, name, len, p);
	} else if (is(top, top_len, "hosts")) {
		if (!more) {
			o->place = PLACE_HOSTS;
			return;
		}
		o->host = name;
		o->host_len = len;
		if (!component(&p, &name, &len))
			o->place = PLACE_HOST;
		else
			in_snapshot(o, name, len, p);
	}
}

int browse_child_of(const char *dir, size_t dir_len, const char *path, const char **name,
                    size_t *len, int *direct)
{
	size_t skip = dir_len;
	if (dir_len == 1 && dir[0] == '/') {
		skip = 0; /* everything but "/" is below the root */
	} else if (strncmp(path, dir, dir_len) != 0) {
		return 0;
	}
	if (path[skip] != '/' || path[skip + 1] == '\0')
		return 0;
	const char *s = path + skip + 1;
	const char *e = strchr(s, '/');
	*name = s;
	*len = e ? (size_t)(e - s) : strlen(s);
	*direct = e == NULL;
	return 1;
}

size_t browse_piece_at(const uint64_t *starts, size_t n, uint64_t off)
{
	size_t lo = 0, hi = n; /* the answer is in [lo, hi) */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (starts[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void browse_readahead_plan(browse_readahead *ra, const uint64_t *starts, size_t n, size_t first,
                           size_t last, uint64_t budget, size_t *from, size_t *to)
{
	/* Sequential: this read starts in the chunk the last one ended in,
	 * the next one, or the one before (reads in flight at once may come
	 * a little out of order); a file's first read counts as a start. */
	int sequential = ra->last == 0 ? first == 0 : first + 2 >= ra->last && first <= ra->last;
	ra->last = last + 1;
	*from = *to = 0;
	if (!sequential) {
		ra->ahead = last + 1;
		return;
	}
	size_t a = ra->ahead > last + 1 ? ra->ahead : last + 1;
	size_t b = a;
	while (b < n && starts[b + 1] - starts[last + 1] <= budget)
		b++;
	/* Ask again only once a quarter of the window was read, so that
	 * requests go in batches. */
	if (b > a && (b - a) * 4 >= b - (last + 1)) {
		*from = a;
		*to = b;
		ra->ahead = b;
	}
}

void browse_safe_name(char *out, const char *s, size_t len)
{
	size_t o = 0;
	if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		out[o++] = '_';
	for (size_t i = 0; i < len; i++)
		out[o++] = s[i] == '/' ? '_' : s[i];
	out[o] = '\0';
}

uint64_t browse_ino(size_t snap_no, uint64_t rec, int synthetic)
{
	return ((uint64_t)(snap_no + 1) << BROWSE_INO_SNAP_SHIFT) | (rec << 1) |
	       (synthetic ? 1 : 0);
}

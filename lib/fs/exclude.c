/* Include and exclude patterns (cairn/pattern.h): restic's syntax, with
 * a trailing '/' for directories only.
 *
 * A pattern compiles to a sequence of parts, each a plain name, a glob
 * for one name, "**" (any number of components) or ANY (exactly one
 * component). Matching a path is matching the whole sequence of its
 * components: an unanchored pattern gets a leading "**", every pattern a
 * trailing "**" (it names what is below what it matches), and a pattern
 * for directories only, tried on what is not one, an ANY before that:
 * it can then only match a directory above the path. */
#include "fs/exclude.h"

#include "cairn/errors.h"
#include "util/buf.h"
#include "util/path.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

enum part_kind {
	PART_NAME,  /* plain: compared as it is */
	PART_GLOB,  /* fnmatch(3) over one name */
	PART_STARS, /* "**": any number of components */
	PART_ANY,   /* exactly one component */
};

typedef struct part {
	const char *s;
	enum part_kind kind;
} part;

typedef struct pattern {
	char *text;                /* as given */
	char *body;                /* the components, split in place */
	part *seq_dir, *seq_other; /* for a directory, for anything else */
	size_t n_dir, n_other;
	char *prefix; /* an anchored pattern's plain leading part, or NULL */
	int negated;
	uint64_t hits;
} pattern;

struct cairn_patterns {
	pattern *v;
	size_t n, cap;
	/* The path being matched, split into its components. */
	char *scratch;
	size_t scratch_cap;
	const char **comps;
	size_t comps_cap;
};

/* 0 if the glob s (one component) is well formed: every '[' closed,
 * no '\' at its end. */
static int glob_check(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\') {
			if (!*++s)
				return -1;
			continue;
		}
		if (*s != '[')
			continue;
		const char *q = s + 1;
		if (*q == '!' || *q == '^')
			q++;
		if (*q == ']')
			q++;
		while (*q && *q != ']') {
			if (q[0] == '[' && q[1] == ':') {
				const char *end = strstr(q + 2, ":]");
				if (!end)
					return -1;
				q = end + 2;
				continue;
			}
			q++;
		}
		if (!*q)
			return -1;
		s = q;
	}
	return 0;
}

static enum part_kind kind_of(const char *s)
{
	if (strcmp(s, "**") == 0)
		return PART_STARS;
	return strpbrk(s, "*?[\\") ? PART_GLOB : PART_NAME;
}

/* Builds a sequence: [**] parts [ANY] **, with runs of "**" as one. */
static int build_seq(part **out, size_t *n_out, const part *parts, size_t n, int lead, int any)
{
	part *seq = calloc(n + 3, sizeof(*seq));
	size_t k = 0;
	if (!seq)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (lead)
		seq[k++] = (part){"**", PART_STARS};
	for (size_t i = 0; i < n; i++)
		if (!(parts[i].kind == PART_STARS && k && seq[k - 1].kind == PART_STARS))
			seq[k++] = parts[i];
	if (any)
		seq[k++] = (part){"*", PART_ANY};
	if (!k || seq[k - 1].kind != PART_STARS)
		seq[k++] = (part){"**", PART_STARS};
	*out = seq;
	*n_out = k;
	return 0;
}

/* The plain leading components of an anchored pattern as a path
 * ("/home/u" for "/home/u/[a-c]*"), or NULL when it has none. */
static int plain_prefix(pattern *p, const part *parts, size_t n)
{
	cairn_buf b = CAIRN_BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < n && parts[i].kind == PART_NAME && !rc; i++)
		rc = cairn_buf_printf(&b, "/%s", parts[i].s);
	if (!rc && b.len && !(rc = cairn_buf_append_u8(&b, '\0'))) {
		p->prefix = (char *)b.data;
		return 0;
	}
	cairn_buf_free(&b);
	return rc;
}

/* Splits p->body into parts (dropping empty and "." components). */
static int split_parts(pattern *p, part **out, size_t *n_out)
{
	size_t cap = 1;
	for (const char *s = p->body; *s; s++)
		cap += *s == '/';
	part *parts = calloc(cap, sizeof(*parts));
	size_t n = 0;
	if (!parts)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (char *s = p->body, *next; s; s = next) {
		next = strchr(s, '/');
		if (next)
			*next++ = '\0';
		if (!*s || strcmp(s, ".") == 0)
			continue;
		parts[n] = (part){s, kind_of(s)};
		if (parts[n].kind == PART_GLOB && glob_check(s)) {
			free(parts);
			return cairn_error_set(CAIRN_EINVAL,
			                       "pattern %s: an unclosed '[' or a trailing '\\'",
			                       p->text);
		}
		n++;
	}
	*out = parts;
	*n_out = n;
	return 0;
}

static int compile(pattern *p, const char *text)
{
	part *parts = NULL;
	size_t n = 0;
	int rc;
	if (!(p->text = strdup(text)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	p->negated = text[0] == '!';
	const char *body = text + p->negated;
	size_t len = strlen(body);
	if (!len)
		return cairn_error_set(CAIRN_EINVAL, "pattern %s: '!' needs a pattern after it",
		                       text);
	int anchored = body[0] == '/';
	int dir_only = len > 1 && body[len - 1] == '/';
	if (!(p->body = strdup(body)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = split_parts(p, &parts, &n)) ||
	    (rc = build_seq(&p->seq_dir, &p->n_dir, parts, n, !anchored, 0)) ||
	    (rc = build_seq(&p->seq_other, &p->n_other, parts, n, !anchored, dir_only)))
		goto out;
	if (anchored)
		rc = plain_prefix(p, parts, n);
out:
	free(parts);
	return rc;
}

static void pattern_free(pattern *p)
{
	free(p->text);
	free(p->body);
	free(p->seq_dir);
	free(p->seq_other);
	free(p->prefix);
}

int cairn_patterns_new(cairn_patterns **out, const char *const *patterns, size_t n)
{
	cairn_patterns *p = calloc(1, sizeof(*p));
	int rc = 0;
	*out = NULL;
	if (!p)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && !rc; i++) {
		if (!patterns[i][0])
			continue;
		if ((rc = cairn_array_grow((void **)&p->v, &p->cap, p->n + 1, sizeof(*p->v))))
			break;
		memset(&p->v[p->n], 0, sizeof(*p->v));
		rc = compile(&p->v[p->n], patterns[i]);
		p->n++;
	}
	if (rc) {
		cairn_patterns_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void cairn_patterns_free(cairn_patterns *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		pattern_free(&p->v[i]);
	free(p->v);
	free(p->scratch);
	free(p->comps);
	free(p);
}

static int part_match(const part *p, const char *name)
{
	switch (p->kind) {
	case PART_NAME:
		return strcmp(p->s, name) == 0;
	case PART_GLOB:
		return fnmatch(p->s, name, FNM_PATHNAME) == 0;
	default:
		return 1;
	}
}

/* Whether seq matches all of comps: a "**" takes any number of
 * components, retried one further only from the last "**" met (which is
 * enough: what a later "**" can take, an earlier one need not). */
static int seq_match(const part *seq, size_t n, const char *const *comps, size_t nc)
{
	size_t pi = 0, ci = 0, star = (size_t)-1, star_ci = 0;
	while (ci < nc) {
		if (pi < n && seq[pi].kind == PART_STARS) {
			star = pi++;
			star_ci = ci;
		} else if (pi < n && part_match(&seq[pi], comps[ci])) {
			pi++;
			ci++;
		} else if (star != (size_t)-1) {
			pi = star + 1;
			ci = ++star_ci;
		} else {
			return 0;
		}
	}
	while (pi < n && seq[pi].kind == PART_STARS)
		pi++;
	return pi == n;
}

/* Splits path into p->comps; the number of components, or -1 (ENOMEM). */
static long split_path(cairn_patterns *p, const char *path)
{
	size_t len = strlen(path), n = 0;
	if (cairn_array_grow((void **)&p->scratch, &p->scratch_cap, len + 1, 1) ||
	    cairn_array_grow((void **)&p->comps, &p->comps_cap, len / 2 + 2, sizeof(*p->comps)))
		return -1;
	memcpy(p->scratch, path, len + 1);
	for (char *s = p->scratch, *next; s; s = next) {
		next = strchr(s, '/');
		if (next)
			*next++ = '\0';
		if (*s)
			p->comps[n++] = s;
	}
	return (long)n;
}

static int list_match(cairn_patterns *p, const char *path, int is_dir, int count)
{
	int result = 0;
	if (!p || !p->n)
		return 0;
	long nc = split_path(p, path);
	if (nc < 0)
		return 0;
	for (size_t i = 0; i < p->n; i++) {
		pattern *pt = &p->v[i];
		int m = is_dir ? seq_match(pt->seq_dir, pt->n_dir, p->comps, (size_t)nc)
		               : seq_match(pt->seq_other, pt->n_other, p->comps, (size_t)nc);
		if (!m)
			continue;
		result = !pt->negated;
		if (count)
			pt->hits++;
	}
	return result;
}

int cairn_patterns_match(cairn_patterns *p, const char *path, int is_dir)
{
	return list_match(p, path, is_dir, 1);
}

int cairn_patterns_test(cairn_patterns *p, const char *path, int is_dir)
{
	return list_match(p, path, is_dir, 0);
}

size_t cairn_patterns_count(const cairn_patterns *p)
{
	return p ? p->n : 0;
}

const char *cairn_patterns_text(const cairn_patterns *p, size_t i)
{
	return p->v[i].text;
}

uint64_t cairn_patterns_hits(const cairn_patterns *p, size_t i)
{
	return p->v[i].hits;
}

int cairn_patterns_negated(const cairn_patterns *p, size_t i)
{
	return p->v[i].negated;
}

int cairn_patterns_passed(const cairn_patterns *p, const char *path)
{
	if (!p)
		return 0;
	for (size_t i = 0; i < p->n; i++) {
		const pattern *pt = &p->v[i];
		if (pt->negated)
			continue;
		/* A subtree is contiguous in manifest order ('/' sorts first),
		 * so once path is past the prefix and outside it, no later path
		 * is inside. */
		if (!pt->prefix || cairn_path_cmp(path, pt->prefix) <= 0 ||
		    cairn_path_is_below(path, pt->prefix))
			return 0;
	}
	return 1;
}

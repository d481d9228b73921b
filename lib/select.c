#include "cairn/select.h"

#include "cairn/errors.h"
#include "cairn/retention.h"

#include <stdlib.h>
#include <string.h>

static int has_string(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

int cairn_snapshot_filter_match(const cairn_snapshot_filter *f, const cairn_snapshot *s)
{
	int ok = f->n_hosts == 0;
	for (size_t i = 0; !ok && i < f->n_hosts; i++)
		ok = s->host && strcmp(s->host, f->hosts[i]) == 0;
	if (!ok)
		return 0;
	ok = f->n_tags == 0;
	for (size_t i = 0; !ok && i < f->n_tags; i++)
		ok = cairn_tags_contain_all((const char *const *)s->tags, s->n_tags, f->tags[i]);
	if (!ok)
		return 0;
	for (size_t i = 0; i < f->n_paths; i++)
		if (!has_string(s->paths, s->n_paths, f->paths[i]))
			return 0;
	return 1;
}

int cairn_group_by_parse(const char *spec, unsigned *out)
{
	unsigned g = 0;
	const char *p = spec;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 4 && memcmp(p, "host", 4) == 0)
			g |= CAIRN_GROUP_BY_HOST;
		else if (len == 5 && memcmp(p, "paths", 5) == 0)
			g |= CAIRN_GROUP_BY_PATHS;
		else if (len == 4 && memcmp(p, "tags", 4) == 0)
			g |= CAIRN_GROUP_BY_TAGS;
		else if (len)
			return cairn_error_set(
			    CAIRN_EINVAL,
			    "cannot group by \"%.*s\": use host, paths and tags, "
			    "separated by commas",
			    (int)len, p);
		p += len;
		if (*p == ',')
			p++;
	}
	*out = g;
	return 0;
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the strings of v in sorted order, each ended by a NUL byte,
 * then one more NUL: no two different sets give the same bytes. */
static int append_set(cairn_buf *out, char *const *v, size_t n)
{
	int rc = 0;
	char **sorted = malloc((n ? n : 1) * sizeof(*sorted));
	if (!sorted)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	memcpy(sorted, v, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), by_string);
	for (size_t i = 0; !rc && i < n; i++)
		if (i == 0 || strcmp(sorted[i], sorted[i - 1]) != 0)
			rc = cairn_buf_append(out, sorted[i], strlen(sorted[i]) + 1);
	free(sorted);
	return rc ? rc : cairn_buf_append_u8(out, 0);
}

int cairn_snapshot_group_key(cairn_buf *out, const cairn_snapshot *s, unsigned group_by)
{
	int rc = 0;
	out->len = 0;
	if (group_by & CAIRN_GROUP_BY_HOST)
		rc = cairn_buf_append(out, s->host ? s->host : "",
		                      strlen(s->host ? s->host : "") + 1);
	if (!rc && (group_by & CAIRN_GROUP_BY_PATHS))
		rc = append_set(out, s->paths, s->n_paths);
	if (!rc && (group_by & CAIRN_GROUP_BY_TAGS))
		rc = append_set(out, s->tags, s->n_tags);
	return rc;
}

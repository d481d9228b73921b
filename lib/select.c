#include "cairn/select.h"

#include "cairn/errors.h"
#include "cairn/retention.h"
#include "util/hex.h"

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

int cairn_snapshot_filter_empty(const cairn_snapshot_filter *f)
{
	return !f || (f->n_hosts == 0 && f->n_tags == 0 && f->n_paths == 0);
}

/* " WORDS v[0] SEP v[1] SEP ..." */
static int describe_part(cairn_buf *out, const char *words, const char *const *v, size_t n,
                         const char *sep)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++)
		rc = cairn_buf_printf(out, "%s%s", i ? sep : words, v[i]);
	return rc;
}

int cairn_snapshot_filter_describe(cairn_buf *out, const cairn_snapshot_filter *f)
{
	size_t start = out->len;
	int rc = 0;
	if (cairn_snapshot_filter_empty(f))
		return cairn_buf_append_str(out, "");
	if (f->n_hosts)
		rc = describe_part(out, " of host ", f->hosts, f->n_hosts, " or ");
	if (!rc && f->n_tags)
		rc = describe_part(out, " tagged ", f->tags, f->n_tags, " or ");
	if (!rc && f->n_paths)
		rc = describe_part(out, f->n_paths == 1 ? " with path " : " with paths ", f->paths,
		                   f->n_paths, " and ");
	if (rc)
		return rc;
	/* No leading space: the caller puts its own. */
	memmove(out->data + start, out->data + start + 1, out->len - start - 1);
	out->len--;
	return cairn_buf_append_str(out, "");
}

size_t cairn_snapshot_filter_latest(const cairn_snapshot *list, size_t n,
                                    const cairn_snapshot_filter *f)
{
	for (size_t i = n; i-- > 0;)
		if (cairn_snapshot_filter_empty(f) || cairn_snapshot_filter_match(f, &list[i]))
			return i;
	return n;
}

/* CAIRN_ENOTFOUND saying what f asks for: of the snapshot name (its short
 * id), or (NULL) of the repository. */
static int no_match(const cairn_snapshot_filter *f, const char *name)
{
	cairn_buf what = CAIRN_BUF_INIT;
	int rc = cairn_snapshot_filter_describe(&what, f);
	if (rc)
		return rc;
	if (name)
		rc = cairn_error_set(CAIRN_ENOTFOUND, "snapshot %s is not one %s", name,
		                     (const char *)what.data);
	else
		rc = cairn_error_set(CAIRN_ENOTFOUND, "the repository has no snapshot %s",
		                     (const char *)what.data);
	cairn_buf_free(&what);
	return rc;
}

static int select_latest(cairn_repo *r, const cairn_snapshot_filter *f, cairn_snapshot *out,
                         cairn_snapshot_skips *skips)
{
	cairn_snapshot *list = NULL;
	size_t n = 0, before = skips ? skips->count : 0;
	int rc = cairn_snapshot_list_readable(r, &list, &n, skips);
	if (rc)
		return rc;
	size_t i = cairn_snapshot_filter_latest(list, n, f);
	if (i < n) {
		*out = list[i];
		memset(&list[i], 0, sizeof(list[i]));
	} else if (n && !cairn_snapshot_filter_empty(f)) {
		rc = no_match(f, NULL);
	} else if (skips && skips->count > before) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "the repository has no readable snapshots");
	} else {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "the repository has no snapshots");
	}
	cairn_snapshot_list_free(list, n);
	return rc;
}

int cairn_snapshot_select(cairn_repo *r, const char *name, const cairn_snapshot_filter *f,
                          cairn_snapshot *out, cairn_snapshot_skips *skips)
{
	uint8_t id[CAIRN_ID_SIZE];
	char hex[CAIRN_ID_HEX + 1];
	int rc;
	memset(out, 0, sizeof(*out));
	if (strcmp(name, "latest") == 0)
		return select_latest(r, f, out, skips);
	if ((rc = cairn_snapshot_resolve_readable(r, name, id, skips)) ||
	    (rc = cairn_snapshot_load(r, id, out)))
		return rc;
	if (cairn_snapshot_filter_empty(f) || cairn_snapshot_filter_match(f, out))
		return 0;
	cairn_snapshot_clear(out);
	cairn_hex_encode(hex, id, CAIRN_ID_SIZE);
	hex[8] = '\0';
	return no_match(f, hex);
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

#include "restore/restore_plan.h"

#include "cairn/errors.h"
#include "util/buf.h"
#include "util/path.h"

#include <stdlib.h>
#include <string.h>

int cairn_restore_path_check(const char *path)
{
	if (path[0] != '/')
		return cairn_error_set(CAIRN_ECORRUPT, "path is not absolute");
	if (path[1] == '\0')
		return 0;
	const char *p = path + 1;
	for (;;) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 0)
			return cairn_error_set(CAIRN_ECORRUPT, "path has an empty component");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return cairn_error_set(CAIRN_ECORRUPT, "path has a '.' or '..' component");
		if (!end)
			return 0;
		p = end + 1;
	}
}

int cairn_restore_select(cairn_patterns *includes, cairn_patterns *excludes, const char *path,
                         int is_dir, int count)
{
	int (*match)(cairn_patterns *, const char *, int) =
	    count ? cairn_patterns_match : cairn_patterns_test;
	if (includes && !match(includes, path, is_dir))
		return 0;
	return !(excludes && match(excludes, path, is_dir));
}

int cairn_restore_includes_passed(const cairn_patterns *includes, const char *path)
{
	return includes && cairn_patterns_passed(includes, path);
}

size_t cairn_restore_part_end(const cairn_chunk_ref *chunks, size_t n, size_t from, size_t refs,
                              uint64_t bytes, size_t max_refs, uint64_t max_bytes,
                              uint64_t *bytes_out)
{
	size_t to = from;
	uint64_t part = 0;
	while (to < n) {
		if (to > from && (refs + (to - from) >= max_refs || bytes + part >= max_bytes))
			break;
		if (!cairn_restore_is_hole(&chunks[to]))
			part += chunks[to].length;
		to++;
	}
	*bytes_out = part;
	return to;
}

static int use_cmp(const void *pa, const void *pb)
{
	const cairn_restore_use *a = pa, *b = pb;
	int c = memcmp(a->fp, b->fp, CAIRN_FP_SIZE);
	if (c)
		return c;
	if (a->file != b->file)
		return a->file < b->file ? -1 : 1;
	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

static int same_fp(const cairn_restore_use *uses, size_t i)
{
	return i > 0 && memcmp(uses[i].fp, uses[i - 1].fp, CAIRN_FP_SIZE) == 0;
}

int cairn_restore_group_uses(cairn_restore_use *uses, size_t n_uses, cairn_restore_need **needs,
                             size_t *cap, size_t *n_out)
{
	size_t n = 0, k = 0;
	int rc;
	*n_out = 0;
	if (n_uses) {
		qsort(uses, n_uses, sizeof(*uses), use_cmp);
		for (size_t i = 0; i < n_uses; i++)
			if (!same_fp(uses, i))
				n++;
	}
	if ((rc = cairn_array_grow((void **)needs, cap, n, sizeof(**needs))))
		return rc;
	for (size_t i = 0; i < n_uses; i++) {
		if (!same_fp(uses, i)) {
			memset(&(*needs)[k], 0, sizeof((*needs)[k]));
			(*needs)[k++].first = i;
		}
		(*needs)[k - 1].count++;
	}
	*n_out = n;
	return 0;
}

int cairn_restore_umask_parse(const char *status, unsigned *out)
{
	for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "Umask:", 6) != 0)
			continue;
		p += 6;
		while (*p == ' ' || *p == '\t')
			p++;
		unsigned v = 0;
		int digits = 0;
		for (; *p >= '0' && *p <= '7' && digits < 5; p++, digits++)
			v = v * 8 + (unsigned)(*p - '0');
		if (digits == 0 || (*p != '\n' && *p != '\0') || v > 07777)
			break;
		*out = v;
		return 0;
	}
	return cairn_error_set(CAIRN_ENOTFOUND, "no umask in the process status");
}

size_t cairn_restore_fd_budget(uint64_t spare, size_t n_batches, size_t max_files, size_t max_dirs,
                               size_t *dirs_out)
{
	uint64_t dirs = spare / 4 < max_dirs ? spare / 4 : max_dirs;
	uint64_t per = n_batches ? (spare - dirs) / n_batches : 0;
	*dirs_out = (size_t)dirs;
	if (per > max_files)
		per = max_files;
	return per ? (size_t)per : 1;
}

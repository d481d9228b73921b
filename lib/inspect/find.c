/* `cairn find`'s matching (cairn/find.h): the patterns, less what lies
 * below a directory already found. */
#include "cairn/find.h"

#include "cairn/errors.h"
#include "util/path.h"

#include <stdlib.h>
#include <string.h>

struct cairn_finder {
	cairn_patterns *p;
	char *found_dir; /* the last directory found in this manifest, or NULL */
};

int cairn_finder_new(cairn_finder **out, cairn_patterns *p)
{
	cairn_finder *f = calloc(1, sizeof(*f));
	*out = f;
	if (!f)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	f->p = p;
	return 0;
}

void cairn_finder_free(cairn_finder *f)
{
	if (!f)
		return;
	free(f->found_dir);
	free(f);
}

void cairn_finder_reset(cairn_finder *f)
{
	free(f->found_dir);
	f->found_dir = NULL;
}

int cairn_finder_match(cairn_finder *f, const cairn_entry *e)
{
	int is_dir = e->type == CAIRN_ENTRY_DIR;
	/* Path order puts what lies below a directory right after it. */
	if (f->found_dir && cairn_path_is_below(e->path, f->found_dir))
		return 0;
	if (!cairn_patterns_match(f->p, e->path, is_dir))
		return 0;
	if (is_dir) {
		char *dir = strdup(e->path);
		if (!dir)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		free(f->found_dir);
		f->found_dir = dir;
	}
	return 1;
}

int cairn_finder_passed(const cairn_finder *f, const cairn_entry *e)
{
	return cairn_patterns_passed(f->p, e->path);
}

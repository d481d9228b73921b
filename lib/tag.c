/* Changing the tags of snapshots (cairn/tag.h). */
#include "cairn/tag.h"
#include "cairn/forget.h"

#include "cairn/errors.h"
#include "util/hold.h"

#include <stdlib.h>
#include <string.h>

void cairn_tags_free(char **tags, size_t n)
{
	for (size_t i = 0; tags && i < n; i++)
		free(tags[i]);
	free(tags);
}

static int among(const char *t, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t, v[i]) == 0)
			return 1;
	return 0;
}

static int push(char ***v, size_t *n, const char *t)
{
	if (among(t, (const char *const *)*v, *n))
		return 0;
	char **grown = realloc(*v, (*n + 1) * sizeof(**v));
	if (!grown)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	*v = grown;
	if (!(grown[*n] = strdup(t)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	(*n)++;
	return 0;
}

static int check_change(const cairn_tag_change *c)
{
	if (c->has_set && (c->n_add || c->n_remove))
		return cairn_error_set(CAIRN_EINVAL, "tags can be set, or added and removed, "
		                                     "not both at once");
	const char *const *lists[3] = {c->add, c->remove, c->set};
	size_t counts[3] = {c->n_add, c->n_remove, c->n_set};
	for (int l = 0; l < 3; l++)
		for (size_t i = 0; i < counts[l]; i++)
			if (!lists[l][i][0])
				return cairn_error_set(CAIRN_EINVAL, "an empty tag");
	return 0;
}

/* Whether a and b hold the same tags, whatever their order. */
static int same_set(char *const *a, size_t na, char *const *b, size_t nb)
{
	for (size_t i = 0; i < na; i++)
		if (!among(a[i], (const char *const *)b, nb))
			return 0;
	for (size_t i = 0; i < nb; i++)
		if (!among(b[i], (const char *const *)a, na))
			return 0;
	return 1;
}

int cairn_tags_apply(const cairn_tag_change *c, char *const *tags, size_t n, char ***out,
                     size_t *n_out, int *changed_out)
{
	char **v = NULL;
	size_t k = 0;
	int rc = check_change(c);
	for (size_t i = 0; !rc && c->has_set && i < c->n_set; i++)
		rc = push(&v, &k, c->set[i]);
	for (size_t i = 0; !rc && !c->has_set && i < n; i++)
		if (!among(tags[i], c->remove, c->n_remove))
			rc = push(&v, &k, tags[i]);
	for (size_t i = 0; !rc && i < c->n_add; i++)
		rc = push(&v, &k, c->add[i]);
	if (rc) {
		cairn_tags_free(v, k);
		v = NULL;
		k = 0;
	}
	*out = v;
	*n_out = k;
	*changed_out = !rc && !same_set(tags, n, v, k);
	return rc;
}

int cairn_snapshot_retag(cairn_repo *r, const cairn_snapshot *s, const cairn_tag_change *c,
                         uint8_t new_id_out[CAIRN_ID_SIZE], int *changed_out)
{
	cairn_snapshot next = *s; /* shares s's strings but the tags */
	int rc = cairn_tags_apply(c, s->tags, s->n_tags, &next.tags, &next.n_tags, changed_out);
	memcpy(new_id_out, s->id, CAIRN_ID_SIZE);
	if (rc || !*changed_out)
		goto out;
	if (!s->has_original) {
		next.has_original = 1;
		memcpy(next.original, s->id, CAIRN_ID_SIZE);
	}
	/* The new record first: interrupted after it, both are listed. */
	if ((rc = cairn_snapshot_save(r, &next)))
		goto out;
	memcpy(new_id_out, next.id, CAIRN_ID_SIZE);
	cairn_hold("tag-written");
	rc = cairn_snapshot_forget(r, s->id);
	if (rc)
		cairn_error_prefix(rc, "snapshot %02x%02x%02x%02x has the new tags, but",
		                   next.id[0], next.id[1], next.id[2], next.id[3]);
out:
	cairn_tags_free(next.tags, next.n_tags);
	return rc;
}

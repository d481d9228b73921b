/* Changing a snapshot's tags: the new tag list (pure), and the record
 * written again with it. A snapshot record is content-addressed, so new
 * tags mean a new id; the new record names the first one it was made
 * from ("original"), and the old record is removed only once the new one
 * is stored (and in the index server's catalogue, if there is one). */
#ifndef CAIRN_TAG_H
#define CAIRN_TAG_H

#include "cairn/snapshot.h"

#include <stddef.h>

/* What to do to the tags: set them (replacing all; has_set with no
 * tags removes every tag), or add and remove some. */
typedef struct cairn_tag_change {
	const char *const *add;
	size_t n_add;
	const char *const *remove;
	size_t n_remove;
	const char *const *set;
	size_t n_set;
	int has_set;
} cairn_tag_change;

/* The tags of a snapshot tagged tags (n) after c: with has_set, the set
 * ones (each once, in order); else tags without the removed ones, then
 * the added ones not there yet. *out (count in *n_out) and its strings
 * are the caller's (cairn_tags_free); *changed_out is 1 if the set of
 * tags differs from before. CAIRN_EINVAL for a change that sets and
 * adds or removes, or an empty tag. */
int cairn_tags_apply(const cairn_tag_change *c, char *const *tags, size_t n, char ***out,
                     size_t *n_out, int *changed_out);
void cairn_tags_free(char **tags, size_t n);

/* Writes s again with its tags changed by c, then removes s's record:
 * new_id_out gets the new id (s's own if nothing changed, and then
 * nothing is written: *changed_out 0). A failure to remove the old
 * record after the new one is stored is reported (the snapshot is then
 * listed twice until it is forgotten), never the reverse. */
int cairn_snapshot_retag(cairn_repo *r, const cairn_snapshot *s, const cairn_tag_change *c,
                         uint8_t new_id_out[CAIRN_ID_SIZE], int *changed_out);

#endif

/* Reading and writing a snapshot's manifest through the repository: the
 * writer chunks the stream and stores it as TREE blobs; the reader fetches
 * them in order and yields entries, holding one chunk at a time. */
#ifndef CAIRN_TREE_H
#define CAIRN_TREE_H

#include "cairn/manifest.h"
#include "cairn/repo.h"
#include "cairn/snapshot.h"

typedef struct cairn_tree_reader cairn_tree_reader;

int cairn_tree_reader_open(cairn_tree_reader **out, cairn_repo *r, const cairn_snapshot *snap);
/* 1 and *out filled (caller clears), 0 at the end, or an error. */
int cairn_tree_reader_next(cairn_tree_reader *t, cairn_entry *out);
void cairn_tree_reader_free(cairn_tree_reader *t);

#endif

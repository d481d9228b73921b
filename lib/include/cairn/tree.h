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

/* Receives each chunk of the manifest stream (kind CAIRN_BLOB_TREE) to
 * deduplicate and store it. */
typedef int (*cairn_blob_sink)(void *ud, const uint8_t fp[CAIRN_FP_SIZE], uint8_t kind,
                               const uint8_t *data, size_t len);

typedef struct cairn_tree_writer cairn_tree_writer;

/* f is used by the writer only (one thread). */
int cairn_tree_writer_new(cairn_tree_writer **out, const cairn_chunker_params *params,
                          cairn_fingerprinter *f, cairn_blob_sink sink, void *ud);
/* Appends an entry; entries must come in path order. */
int cairn_tree_writer_add(cairn_tree_writer *w, const cairn_entry *e);
/* Ends the stream; *refs_out (the caller's) lists its chunks. */
int cairn_tree_writer_finish(cairn_tree_writer *w, cairn_chunk_ref **refs_out, size_t *n_out,
                             uint64_t *size_out);
void cairn_tree_writer_free(cairn_tree_writer *w);

#endif

/* A file's content read through the repository's blob reader, a window
 * of chunks at a time, for `cairn dump`: each window's chunks are
 * located in one index query, read in ranged reads of their packs
 * (cairn_repo_plan_reads), authenticated, and written in file order. A
 * chunk no place can give becomes zeros and the file is marked damaged.
 * Memory: one window (at most CONTENT_WINDOW bytes) and one range. */
#ifndef CAIRN_INSPECT_CONTENT_H
#define CAIRN_INSPECT_CONTENT_H

#include "cairn/dump.h"
#include "cairn/manifest.h"
#include "cairn/repo.h"
#include "cairn/snapshot.h"

#define CONTENT_WINDOW (8u << 20)
#define CONTENT_WINDOW_CHUNKS 1024u

typedef struct content_reader {
	cairn_repo *r;
	cairn_sealer *sealer;
	cairn_fingerprinter *fp;
	cairn_range_reader rr;
	cairn_buf raw, window, one;
	uint8_t (*fps)[CAIRN_FP_SIZE];
	size_t *chunk_of; /* window chunk of fps[i] */
	uint64_t *offset; /* of each window chunk in the window */
	cairn_index_entry *rows;
	uint8_t *found, *done;
	cairn_blob_loc *locs;
} content_reader;

int content_reader_init(content_reader *c, cairn_repo *r);
void content_reader_free(content_reader *c);

/* Writes e's content (e->size bytes) through write. *damaged is set, and
 * why gets the first reason, when some of it could not be read (those
 * bytes are zeros). 0, CAIRN_ENOMEM, or the write's error. */
int content_write(content_reader *c, const cairn_entry *e, cairn_write_fn write, void *ud,
                  int *damaged, char *why, size_t why_len);

/* What a tree reader's failure on snap's manifest means here: a chunk of
 * it that no place has (CAIRN_ENOTFOUND) is lost data, as a damaged one
 * is, so both are CAIRN_ECORRUPT naming the snapshot; other codes pass. */
int inspect_manifest_error(int rc, const cairn_snapshot *snap);

#endif

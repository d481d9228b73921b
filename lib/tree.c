/* Manifest streams through the repository. */
#include "cairn/tree.h"

#include "cairn/chunker.h"
#include "cairn/errors.h"
#include "util/path.h"

#include <stdlib.h>
#include <string.h>

struct cairn_tree_reader {
	cairn_repo *repo;
	const cairn_snapshot *snap;
	cairn_sealer *sealer;
	cairn_fingerprinter *fp;
	cairn_manifest_decoder dec;
	cairn_buf chunk;
	size_t next; /* manifest chunk to read next */
	char *last_path;
};

int cairn_tree_reader_open(cairn_tree_reader **out, cairn_repo *r, const cairn_snapshot *snap)
{
	cairn_tree_reader *t = calloc(1, sizeof(*t));
	int rc;
	*out = NULL;
	if (!t)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	t->repo = r;
	t->snap = snap;
	cairn_manifest_decoder_init(&t->dec);
	if ((rc = cairn_repo_sealer_new(r, &t->sealer, 0)) ||
	    (rc = cairn_repo_fingerprinter_new(r, &t->fp))) {
		cairn_tree_reader_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int cairn_tree_reader_next(cairn_tree_reader *t, cairn_entry *out)
{
	for (;;) {
		int rc = cairn_manifest_next(&t->dec, out);
		if (rc < 0)
			return cairn_error_prefix(rc, "manifest");
		if (rc == 1) {
			/* Paths must come strictly in order: consumers rely on it. */
			if (t->last_path && cairn_path_cmp(t->last_path, out->path) >= 0) {
				cairn_entry_clear(out);
				return cairn_error_set(CAIRN_ECORRUPT,
				                       "manifest: entries out of order");
			}
			free(t->last_path);
			if (!(t->last_path = strdup(out->path))) {
				cairn_entry_clear(out);
				return cairn_error_set(CAIRN_ENOMEM, "out of memory");
			}
			return 1;
		}
		if (t->next == t->snap->n_manifest) {
			rc = cairn_manifest_finish(&t->dec);
			return rc ? cairn_error_prefix(rc, "manifest") : 0;
		}
		const cairn_chunk_ref *ref = &t->snap->manifest[t->next++];
		rc = cairn_repo_read_blob(t->repo, t->sealer, t->fp, ref->fp, CAIRN_BLOB_TREE,
		                          &t->chunk);
		if (rc)
			return cairn_error_prefix(rc, "manifest chunk %zu", t->next - 1);
		if ((rc = cairn_manifest_feed(&t->dec, t->chunk.data, t->chunk.len)))
			return rc;
	}
}

void cairn_tree_reader_free(cairn_tree_reader *t)
{
	if (!t)
		return;
	cairn_manifest_decoder_free(&t->dec);
	cairn_sealer_free(t->sealer);
	cairn_fingerprinter_free(t->fp);
	cairn_buf_free(&t->chunk);
	free(t->last_path);
	free(t);
}

struct cairn_tree_writer {
	cairn_chunker chunker;
	cairn_fingerprinter *fp;
	cairn_blob_sink sink;
	void *ud;
	cairn_buf stream; /* bytes of the current, unfinished chunk and beyond */
	size_t scanned;   /* bytes of stream already given to the chunker */
	cairn_chunk_ref *refs;
	size_t n_refs, cap_refs;
	uint64_t size;
};

int cairn_tree_writer_new(cairn_tree_writer **out, const cairn_chunker_params *params,
                          cairn_fingerprinter *f, cairn_blob_sink sink, void *ud)
{
	cairn_tree_writer *w = calloc(1, sizeof(*w));
	int rc;
	*out = NULL;
	if (!w)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = cairn_chunker_init(&w->chunker, params)) ||
	    (rc = cairn_manifest_begin(&w->stream))) {
		cairn_tree_writer_free(w);
		return rc;
	}
	w->fp = f;
	w->sink = sink;
	w->ud = ud;
	*out = w;
	return 0;
}

/* Emits stream[from, from + len) as a chunk. */
static int emit(cairn_tree_writer *w, size_t from, size_t len)
{
	cairn_chunk_ref ref;
	int rc;
	if (w->n_refs == w->cap_refs) {
		size_t cap = w->cap_refs ? 2 * w->cap_refs : 16;
		void *p = realloc(w->refs, cap * sizeof(*w->refs));
		if (!p)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		w->refs = p;
		w->cap_refs = cap;
	}
	const uint8_t *chunk = w->stream.data + from;
	if ((rc = cairn_fingerprint(w->fp, ref.fp, chunk, len)))
		return rc;
	if ((rc = w->sink(w->ud, ref.fp, CAIRN_BLOB_TREE, chunk, len)))
		return rc;
	ref.length = (uint32_t)len;
	w->refs[w->n_refs++] = ref;
	w->size += len;
	return 0;
}

int cairn_tree_writer_add(cairn_tree_writer *w, const cairn_entry *e)
{
	size_t emitted = 0;
	int rc = cairn_manifest_encode(&w->stream, e);
	if (rc)
		return cairn_error_prefix(rc, "%s", e->path);
	while (!rc && w->scanned < w->stream.len) {
		size_t n = cairn_chunker_scan(&w->chunker, w->stream.data + w->scanned,
		                              w->stream.len - w->scanned);
		if (n == CAIRN_CHUNKER_NO_CUT) {
			w->scanned = w->stream.len;
			break;
		}
		w->scanned += n;
		rc = emit(w, emitted, w->scanned - emitted);
		emitted = w->scanned;
	}
	/* What was emitted leaves the stream once per entry, not once per
	 * chunk: an entry of a file of many chunks cuts many chunks. */
	memmove(w->stream.data, w->stream.data + emitted, w->stream.len - emitted);
	w->stream.len -= emitted;
	w->scanned -= emitted;
	return rc;
}

int cairn_tree_writer_finish(cairn_tree_writer *w, cairn_chunk_ref **refs_out, size_t *n_out,
                             uint64_t *size_out)
{
	int rc;
	if (w->stream.len && (rc = emit(w, 0, w->stream.len)))
		return rc;
	w->stream.len = 0;
	*refs_out = w->refs;
	*n_out = w->n_refs;
	*size_out = w->size;
	w->refs = NULL;
	w->n_refs = w->cap_refs = 0;
	return 0;
}

void cairn_tree_writer_free(cairn_tree_writer *w)
{
	if (!w)
		return;
	cairn_buf_free(&w->stream);
	free(w->refs);
	free(w);
}

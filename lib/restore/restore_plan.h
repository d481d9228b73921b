/* Pure planning for the restore engine: which manifest paths are safe to
 * create under the target, which ones the includes select, which blobs a
 * batch needs and where they go, and how the descriptors are shared out.
 * No I/O. (How blob reads are grouped into ranged reads of packs is the
 * repository's: cairn_repo_plan_reads.) */
#ifndef CAIRN_RESTORE_PLAN_H
#define CAIRN_RESTORE_PLAN_H

#include "cairn/fingerprint.h"
#include "cairn/manifest.h"
#include "cairn/pattern.h"
#include "cairn/sys/index.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 0 if path is absolute, has no trailing '/', and every component is
 * non-empty and neither "." nor ".."; "/" alone (the target itself) is
 * safe too. CAIRN_ECORRUPT otherwise, so that a manifest cannot name a
 * place outside the target. */
int cairn_restore_path_check(const char *path);

/* Whether a restore takes path (a directory if is_dir): 1 if the
 * includes (NULL: everything) name it and the excludes (NULL: nothing)
 * do not, 0 otherwise. A directory above what is taken is not taken
 * itself; it is created when something below it is. With count, the
 * patterns that match count a hit (cairn_patterns_match); the excludes
 * are tried only on what the includes take. */
int cairn_restore_select(cairn_patterns *includes, cairn_patterns *excludes, const char *path,
                         int is_dir, int count);

/* 1 if no path that comes after path in manifest order (cairn_path_cmp)
 * can be taken by the includes, so reading may stop. */
int cairn_restore_includes_passed(const cairn_patterns *includes, const char *path);

/* A chunk of all zero fingerprint is a hole: no blob, zeros. */
static inline int cairn_restore_is_hole(const cairn_chunk_ref *c)
{
	static const uint8_t zero[CAIRN_FP_SIZE];
	return memcmp(c->fp, zero, CAIRN_FP_SIZE) == 0;
}

/* How far the part of a file that starts at chunks[from] goes in a batch
 * that holds refs chunk refs and bytes content bytes already: at least
 * one chunk, then as long as the batch stays under max_refs refs and
 * max_bytes bytes (holes count as refs, not bytes). Returns the end of
 * the part (n if the file's rest fits); *bytes_out gets its bytes. */
size_t cairn_restore_part_end(const cairn_chunk_ref *chunks, size_t n, size_t from, size_t refs,
                              uint64_t bytes, size_t max_refs, uint64_t max_bytes,
                              uint64_t *bytes_out);

/* One place a blob goes: the offset of a chunk in one of a batch's files. */
typedef struct cairn_restore_use {
	uint8_t fp[CAIRN_FP_SIZE];
	uint32_t length;
	uint32_t file;
	uint64_t offset;
} cairn_restore_use;

/* A distinct fingerprint of a batch and every use of it:
 * uses[first, first + count). ie is where the index says it is. */
typedef struct cairn_restore_need {
	cairn_index_entry ie;
	size_t first, count;
} cairn_restore_need;

/* Sorts uses by (fingerprint, file, offset) and gives each distinct
 * fingerprint one need, in that order, zeroed but for first and count.
 * *needs (capacity *cap) grows as it must; *n_out is the number of needs.
 * 0 or CAIRN_ENOMEM. */
int cairn_restore_group_uses(cairn_restore_use *uses, size_t n_uses, cairn_restore_need **needs,
                             size_t *cap, size_t *n_out);

/* The umask from the text of /proc/self/status (its "Umask:" line, in
 * octal). 0 with *out, or CAIRN_ENOTFOUND when there is no such line or
 * it does not parse. */
int cairn_restore_umask_parse(const char *status, unsigned *out);

/* How the descriptors left to a restore are shared out: spare is how
 * many more the process may open, beyond what is kept for what opens
 * more later (index, store, the caller: cairn_fd_spare). A quarter of
 * them, at most max_dirs, holds directories open (*dirs_out); n_batches
 * batches of open files share the remainder. Returns the files per
 * batch: at least 1, at most max_files. */
size_t cairn_restore_fd_budget(uint64_t spare, size_t n_batches, size_t max_files, size_t max_dirs,
                               size_t *dirs_out);

#endif

/* Checking a repository (`cairn check`): that every snapshot record loads
 * and its manifest reads, that every chunk the snapshots reference has a
 * place in a pack that is there and long enough, and that the store's
 * index/ objects and the packs' trailers agree; with read_data, that the
 * blobs of the packs (all, or a subset) authenticate and match their
 * fingerprints. Each problem names the object and the snapshots and files
 * that need it. Memory: docs/MAINTENANCE.md, "Checking". */
#ifndef CAIRN_CHECK_H
#define CAIRN_CHECK_H

#include "cairn/fingerprint.h"
#include "cairn/progress.h"
#include "cairn/repo.h"

#include <stddef.h>
#include <stdint.h>

/* Which packs --read-data reads. */
enum cairn_check_read {
	CAIRN_CHECK_READ_NONE = 0, /* structure only */
	CAIRN_CHECK_READ_ALL,      /* every pack */
	CAIRN_CHECK_READ_PART,     /* the packs of part `part` of `parts` */
	CAIRN_CHECK_READ_PERCENT,  /* a random `percent` % of the packs */
};

typedef struct cairn_check_subset {
	enum cairn_check_read read;
	uint64_t part, parts; /* PART: 1 <= part <= parts */
	double percent;       /* PERCENT: 0 < percent <= 100 */
} cairn_check_subset;

/* Parses the value of --read-data-subset: "N/M" (1 <= N <= M) or "P%"
 * (0 < P <= 100, decimals allowed). CAIRN_EINVAL with a message naming
 * the option otherwise. */
int cairn_check_subset_parse(cairn_check_subset *out, const char *s);
/* 1 if the pack belongs to part `part` of `parts`: the first 8 bytes of
 * its id, big-endian, modulo parts, are part - 1. The parts 1..M of M
 * together hold every pack exactly once. */
int cairn_check_subset_in_part(uint64_t part, uint64_t parts, const uint8_t pack[CAIRN_ID_SIZE]);
/* How many of n packs `percent` % reads: rounded up, at least one when n
 * is not 0. */
size_t cairn_check_subset_count(double percent, size_t n);
/* Sets chosen[i] to 1 for each of the n packs ids[i] the subset reads, 0
 * for the others. PERCENT draws its packs with random(ud, bound), a
 * uniform number below bound; random NULL: libsodium's. */
void cairn_check_subset_choose(const cairn_check_subset *s, const uint8_t (*ids)[CAIRN_ID_SIZE],
                               size_t n, uint8_t *chosen,
                               uint32_t (*random)(void *ud, uint32_t bound), void *ud);

enum cairn_check_kind {
	CAIRN_CHECK_SNAPSHOT = 1,       /* snapshots/<id> does not load */
	CAIRN_CHECK_MANIFEST,           /* a snapshot's manifest does not read */
	CAIRN_CHECK_CHUNK_UNKNOWN,      /* referenced chunks the index does not know */
	CAIRN_CHECK_CHUNK_MISPLACED,    /* the index places chunks where their pack has none */
	CAIRN_CHECK_PACK_MISSING,       /* a pack the index places chunks in is not there */
	CAIRN_CHECK_PACK_SHORT,         /* a pack ends before a blob the index places in it */
	CAIRN_CHECK_PACK_TRAILER,       /* a pack's trailer does not read */
	CAIRN_CHECK_PACK_UNINDEXED,     /* blobs of a pack that no index/ object lists */
	CAIRN_CHECK_INDEX_OBJECT,       /* an index/ object does not load */
	CAIRN_CHECK_INDEX_PACK_MISSING, /* an index/ object lists blobs of a missing pack */
	CAIRN_CHECK_INDEX_ENTRY,        /* an index/ object lists a blob its pack does not hold */
	CAIRN_CHECK_PACK_ID,            /* read: a pack's bytes do not hash to its id */
	CAIRN_CHECK_BLOB,               /* read: a blob fails authentication or its fingerprint */
};

/* "snapshot", "manifest", "chunk-unknown", "pack-missing", ... */
const char *cairn_check_kind_name(enum cairn_check_kind kind);

#define CAIRN_CHECK_OBJECT_MAX 96
/* Files named per problem; the others are counted. */
#define CAIRN_CHECK_FILES_SHOWN 5

typedef struct cairn_check_problem {
	enum cairn_check_kind kind;
	/* "data/<aa>/<pack id>", "snapshots/<id>", "index/<id>", or "index"
	 * (the index the repository was opened with). */
	char object[CAIRN_CHECK_OBJECT_MAX];
	uint64_t offset; /* CAIRN_CHECK_BLOB: the blob's offset in its pack */
	char *detail;    /* what is wrong, as first found */
	uint64_t count;  /* chunks, blobs or entries concerned (at least 1) */
	/* The snapshots that need the object (their manifest or files), and
	 * the first CAIRN_CHECK_FILES_SHOWN distinct paths of files that do;
	 * files_total counts those files in all the snapshots. */
	uint8_t (*snapshots)[CAIRN_ID_SIZE];
	size_t n_snapshots, cap_snapshots;
	char *files[CAIRN_CHECK_FILES_SHOWN];
	size_t n_files;
	uint64_t files_total;
} cairn_check_problem;

typedef struct cairn_check_opts {
	cairn_check_subset subset; /* read NONE: structure only */
	int threads;               /* 0: the number of CPUs (at least 8 for a remote store) */
	cairn_progress_cb progress;
	void *ud;
} cairn_check_opts;

typedef struct cairn_check_result {
	uint64_t snapshots;     /* records in snapshots/ */
	uint64_t index_objects; /* objects in index/ */
	uint64_t packs;         /* packs in data/ */
	uint64_t pack_bytes;
	uint64_t chunks; /* distinct chunks the snapshots reference */
	uint64_t packs_unreferenced, bytes_unreferenced; /* no referenced chunk in them */
	uint64_t packs_read, bytes_read, blobs_read;     /* read: what was read */
	/* Healing: chunks snapshots need that are lost (written down for
	 * backups to store again), packs gone whose index rows were dropped,
	 * and lost records removed because their chunks are found again. */
	uint64_t lost_chunks, packs_forgotten, lost_retired;
	/* Healing is no part of the verdict: when it fails (a store this
	 * client may only read), why, and the check's findings stand. */
	char heal_error[256];
	cairn_check_problem *problems; /* by kind, then object and offset */
	size_t n_problems;
} cairn_check_result;

/* Checks the repository, and heals what can be healed (lib/check/heal.c):
 * the index forgets packs that are gone, and the chunks snapshots need
 * that are lost are written down (gc/<random>-lost) for the next backups
 * to store again. 0 when all is well, CAIRN_EPARTIAL when it found
 * problems (out->problems), or a fatal error (the store cannot be listed
 * or read). *out is the caller's to free in every case. */
int cairn_check(cairn_repo *r, const cairn_check_opts *opts, cairn_check_result *out);
void cairn_check_result_free(cairn_check_result *res);

#endif

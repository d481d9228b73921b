/* The index core's table in memory: every (fingerprint, pack) row of an
 * index, exact, with where in the pack the blob starts: what a backup
 * needs to know whether a chunk is stored and to check the claim against
 * the pack's trailer. SQLite holds the full rows (lengths, kinds); this
 * table answers "present?" without touching it.
 *
 * The fingerprint's top bits choose one of 2^bits partitions; each is a
 * sorted array of 40-byte records followed by a short unsorted tail of
 * recent additions, merged in when it grows past a sixteenth of the
 * sorted part. A record keeps the fingerprint's bytes after the first two
 * (the partition gives them), the pack as a number (packs are interned:
 * their ids are kept once), the blob's offset, flags, and two bytes left
 * for a writer's identity. About 42 bytes a row in all.
 *
 * Safe to use from several threads: partitions are guarded by striped
 * read-write locks. Loading (cairn_memtable_load_row) is not locked: each
 * loading thread must own the partitions it fills. */
#ifndef CAIRN_INDEX_MEMTABLE_H
#define CAIRN_INDEX_MEMTABLE_H

#include <stddef.h>
#include <stdint.h>

#define CAIRN_MEMTABLE_BITS_MIN 16
#define CAIRN_MEMTABLE_BITS_MAX 24
/* Pack numbers: 28 bits; the top bits of a record's pack word are flags. */
#define CAIRN_MEMTABLE_PACKS_MAX (1u << 28)
#define CAIRN_MEMTABLE_BAD (1u << 31)

typedef struct cairn_memtable cairn_memtable;

/* A row as the table gives it back. */
typedef struct cairn_memtable_row {
	uint32_t pack; /* the pack's number (cairn_memtable_pack_id) */
	uint32_t offset;
} cairn_memtable_row;

/* bits: the partitions' count's log2, clamped to [BITS_MIN, BITS_MAX];
 * about log2(rows / 128) suits a table of that many rows. */
int cairn_memtable_new(cairn_memtable **out, unsigned bits);
void cairn_memtable_free(cairn_memtable *mt);
/* The partition bits that suit a table expected to hold rows rows. */
unsigned cairn_memtable_bits_for(uint64_t rows);

/* The number of a pack id, given it one if it has none yet. */
int cairn_memtable_intern(cairn_memtable *mt, const uint8_t id[32], uint32_t *num);
/* The id of a pack number the table gave. */
const uint8_t *cairn_memtable_pack_id(const cairn_memtable *mt, uint32_t num);

/* Adds the row (fp, pack) unless the table has it; *added (may be NULL)
 * says which. */
int cairn_memtable_add(cairn_memtable *mt, const uint8_t fp[32], uint32_t pack, uint32_t offset,
                       int *added);
/* The row of fp a lookup gives: of those never marked bad, the one of
 * the lowest pack id (memcmp order, as the SQLite backend gives them). 1 and *row, or 0 when fp has
 * no such row. */
int cairn_memtable_find(cairn_memtable *mt, const uint8_t fp[32], cairn_memtable_row *row);
/* Marks the row (fp, pack) bad; 1 if the table had it. */
int cairn_memtable_mark_bad(cairn_memtable *mt, const uint8_t fp[32], uint32_t pack);
/* Removes every row of the n packs (ids the table never had are passed
 * over); *gone_out (may be NULL) gets how many went. */
int cairn_memtable_drop_packs(cairn_memtable *mt, const uint8_t (*ids)[32], size_t n,
                              uint64_t *gone_out);
/* Removes every row; pack numbers stay. */
void cairn_memtable_clear(cairn_memtable *mt);
uint64_t cairn_memtable_count(cairn_memtable *mt);
/* Bytes the table holds (records, partitions, packs). */
uint64_t cairn_memtable_bytes(cairn_memtable *mt);

/* Calls fn(ud, fp) for every row, partition by partition, under each
 * partition's read lock. */
void cairn_memtable_each(cairn_memtable *mt, void (*fn)(void *ud, const uint8_t fp[32]), void *ud);

/* Loading, side by side: a loader fills the partitions of the
 * fingerprints whose first byte is in [lo, hi), which no other loader and
 * no other call touches meanwhile. Rows come in fingerprint order, packs
 * in the loader's own numbering; finishing maps each row's pack p to
 * map[p] (map NULL: kept) and puts the rows in their partitions.
 * expected: the rows it will likely hold (room is made for them). */
typedef struct cairn_memtable_loader cairn_memtable_loader;

int cairn_memtable_loader_new(cairn_memtable_loader **out, cairn_memtable *mt, unsigned lo,
                              unsigned hi, size_t expected);
int cairn_memtable_loader_add(cairn_memtable_loader *ld, const uint8_t fp[32], uint32_t pack,
                              uint32_t offset, int bad);
int cairn_memtable_loader_finish(cairn_memtable_loader *ld, const uint32_t *map);
void cairn_memtable_loader_free(cairn_memtable_loader *ld);

/* Writes the whole table through put (0 or an error code), in a form
 * cairn_memtable_load_saved reads back; no other call may change the table
 * meanwhile. */
int cairn_memtable_save(cairn_memtable *mt, int (*put)(void *ud, const void *p, size_t n),
                        void *ud);
/* Reads a table cairn_memtable_save wrote, starting at offset base,
 * through read_at (n bytes at offset, or an error code; called from
 * several threads at once); CAIRN_ECORRUPT for bytes it could not have
 * written. */
int cairn_memtable_load_saved(cairn_memtable **out,
                              int (*read_at)(void *ud, void *p, size_t n, uint64_t offset),
                              void *ud, uint64_t base);

#endif

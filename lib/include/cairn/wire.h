/* The index protocol's HTTP bodies, shared by the remote index backend and
 * cairn-server (docs/SERVER.md describes every route); lib/format/wire.c
 * encodes and parses them. All integers are little-endian; every request
 * body is bounded by CAIRN_WIRE_BODY_MAX but a drop request's, by
 * CAIRN_WIRE_DROP_BODY_MAX, and a scan answer holds at most
 * CAIRN_WIRE_SCAN_MAX rows. The scan and drop routes came within
 * version 2: a server without them answers 404.
 *
 *   lookup request    N * fp[32]
 *   lookup answer     N * (u8 0                                 missing
 *                          | u8 1, pack[32], u32 offset,        present
 *                            u32 length, u32 raw_length, u8 kind,
 *                            u32 inner)
 *   register request  N * (fp[32], pack[32], u32 offset, u32 length,
 *                          u32 raw_length, u8 kind, u32 inner)
 *   snapshot ids      N * id[32]
 *   snapshot host     the name of the host that made the snapshot: 1 to
 *                     CAIRN_WIRE_HOST_MAX bytes, none of them NUL (the
 *                     body of POST .../snapshots/<id>, which came within
 *                     version 2: a server without it answers 405)
 *   scan request      u32 max (1 or more), then nothing (from the first
 *                     row) or fp[32], pack[32] (the rows after that one)
 *   scan answer       u8 end (1: no row follows the last one sent, 0: ask
 *                     again after it), then N register entries, N <= max,
 *                     in (fp, pack) order; N >= 1 unless end
 *   drop request      N * pack[32], 1 <= N <= CAIRN_WIRE_DROP_MAX
 *   rows request      N * fp[32], N <= CAIRN_WIRE_ROWS_FPS_MAX
 *   rows answer       N * (u8 count <= CAIRN_INDEX_ROWS_MAX, then count
 *                          register entries of that fingerprint, the one
 *                          a lookup gives first)
 *   reject request    N * (fp[32], pack[32]), 1 <= N
 *   presence request  N * fp[32] (a lookup for deduplication)
 *   presence answer   u16 P, P * pack[32], then
 *                     N * (u8 0 | u8 1, u16 pack (< P), u32 offset)
 * The rows, reject and presence routes came within version 2 too.
 */
#ifndef CAIRN_WIRE_H
#define CAIRN_WIRE_H

#include "cairn/sys/index.h"
#include "cairn/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Where a repository's routes are: "/v2/repos/<repo id>/...". Version 2
 * added inner (bundles) to the lookup answers and register entries; the
 * server answers the routes of version 1 with 404 and a reason. */
#define CAIRN_WIRE_VERSION 2
#define CAIRN_WIRE_REPOS "/v2/repos/"
#define CAIRN_WIRE_REPOS_V1 "/v1/repos/"

#define CAIRN_WIRE_BODY_MAX (1024 * 1024)
#define CAIRN_WIRE_FP_SIZE 32
#define CAIRN_WIRE_ENTRY_SIZE 81
#define CAIRN_WIRE_ANSWER_MISSING 0
#define CAIRN_WIRE_ANSWER_PRESENT 1
#define CAIRN_WIRE_ANSWER_SIZE 50 /* a present answer; a missing one is 1 byte */
/* Most fingerprints or entries one request may carry. */
#define CAIRN_WIRE_LOOKUP_MAX (CAIRN_WIRE_BODY_MAX / CAIRN_WIRE_FP_SIZE)
#define CAIRN_WIRE_REGISTER_MAX (CAIRN_WIRE_BODY_MAX / CAIRN_WIRE_ENTRY_SIZE)
/* Most rows one scan answer carries (the server gives no more, whatever
 * the client asks), and most packs one drop request names. */
#define CAIRN_WIRE_SCAN_MAX 65536
#define CAIRN_WIRE_SCAN_REQUEST_SIZE 68 /* with a cursor; 4 without */
#define CAIRN_WIRE_DROP_MAX 65536
/* A drop request is larger than other requests may be. */
#define CAIRN_WIRE_DROP_BODY_MAX (CAIRN_WIRE_DROP_MAX * 32)
/* Most fingerprints one rows request may ask about (its answer is at
 * most 1 + CAIRN_INDEX_ROWS_MAX entries each), and the size of one
 * rejected row. */
#define CAIRN_WIRE_ROWS_FPS_MAX 1024
#define CAIRN_WIRE_REJECT_SIZE 64
#define CAIRN_WIRE_REJECT_MAX (CAIRN_WIRE_BODY_MAX / CAIRN_WIRE_REJECT_SIZE)
/* The longest host name a snapshot registration carries. */
#define CAIRN_WIRE_HOST_MAX 255

/* 1 for the blob kinds an index entry may have: data and manifest chunks,
 * and data chunks in bundles (CAIRN_BLOB_DATA, _TREE, _BUNDLE). */
int cairn_wire_kind_valid(uint8_t kind);

/* Appends the register body of n entries. */
int cairn_wire_entries_encode(cairn_buf *out, const cairn_index_entry *entries, size_t n);
/* Parses a register body into out (room for len / CAIRN_WIRE_ENTRY_SIZE
 * entries); *n_out gets the count. CAIRN_EINVAL with a reason for a
 * length that is not a whole number of entries, an all-zero fingerprint,
 * an unknown kind, a zero length, a blob that ends past 4 GiB or a chunk
 * outside its bundle. */
int cairn_wire_entries_decode(const void *body, size_t len, cairn_index_entry *out, size_t *n_out);

/* Appends the lookup answer for n fingerprints. */
int cairn_wire_answers_encode(cairn_buf *out, const cairn_index_entry *entries,
                              const uint8_t *found, size_t n);
/* Parses the answer to a lookup of the n fingerprints fps: found[i] and,
 * when found, out[i] (with fp copied from fps[i]). CAIRN_ECORRUPT with a
 * reason when the body is not exactly n answers. */
int cairn_wire_answers_decode(const void *body, size_t len, const uint8_t (*fps)[32], size_t n,
                              cairn_index_entry *out, uint8_t *found);

/* A present answer in a presence body (a missing one is 1 byte), which
 * also lists each pack once (32 bytes). */
#define CAIRN_WIRE_PRESENT_SIZE 7
/* Appends the presence answer for n (<= CAIRN_WIRE_LOOKUP_MAX)
 * fingerprints: of each entry found, only pack and offset are sent. */
int cairn_wire_presence_encode(cairn_buf *out, const cairn_index_entry *entries,
                               const uint8_t *found, size_t n);
/* Parses the answer to a presence request for the n fingerprints fps:
 * found[i] and, when found, out[i] as a compact entry (fp, pack, offset;
 * the rest 0). CAIRN_ECORRUPT with a reason when the body is not a pack
 * list and exactly n answers naming packs of it. */
int cairn_wire_presence_decode(const void *body, size_t len, const uint8_t (*fps)[32], size_t n,
                               cairn_index_entry *out, uint8_t *found);

/* Appends a scan request: up to max rows after the row (after->fp,
 * after->pack), or from the first if after is NULL. */
int cairn_wire_scan_request_encode(cairn_buf *out, const cairn_index_entry *after, uint32_t max);
/* Parses a scan request: *max_out, and *has_after with after's fp and
 * pack. CAIRN_EINVAL with a reason for a body of another length than 4 or
 * CAIRN_WIRE_SCAN_REQUEST_SIZE, or a max of 0. */
int cairn_wire_scan_request_decode(const void *body, size_t len, cairn_index_entry *after,
                                   int *has_after, uint32_t *max_out);

/* Appends a scan answer of n rows; end says no row follows them. */
int cairn_wire_scan_answer_encode(cairn_buf *out, const cairn_index_entry *rows, size_t n, int end);
/* Parses the answer to a scan request for up to max rows after the row
 * after (NULL: from the first) into out (room for max rows): *n_out rows
 * and *end_out. CAIRN_ECORRUPT with a reason for a body that is not a
 * flag and whole entries, more than max rows, an entry that a register
 * body could not hold, rows out of (fp, pack) order or not after the
 * cursor, or no row without the end. */
int cairn_wire_scan_answer_decode(const void *body, size_t len, const cairn_index_entry *after,
                                  size_t max, cairn_index_entry *out, size_t *n_out, int *end_out);

/* Parses a drop request: *packs_out points into body, *n_out packs.
 * CAIRN_EINVAL with a reason for an empty body, one that is not whole
 * pack ids, or more than CAIRN_WIRE_DROP_MAX of them. */
int cairn_wire_packs_decode(const void *body, size_t len, const uint8_t (**packs_out)[32],
                            size_t *n_out);

/* Appends the rows answer for n fingerprints: fingerprint i's rows are
 * rows[i * max, i * max + counts[i]), counts[i] <= max <=
 * CAIRN_INDEX_ROWS_MAX. */
int cairn_wire_rows_encode(cairn_buf *out, const cairn_index_entry *rows, const uint8_t *counts,
                           size_t n, size_t max);
/* Parses the answer to a rows request for the n fingerprints fps: up to
 * max rows of fingerprint i into out[i * max ...], counts[i] of them
 * (rows past max are checked and passed over). CAIRN_ECORRUPT with a
 * reason for a body that is not exactly n answers, a count over
 * CAIRN_INDEX_ROWS_MAX, a row of another fingerprint or one a register
 * body could not hold. */
int cairn_wire_rows_decode(const void *body, size_t len, const uint8_t (*fps)[32], size_t n,
                           size_t max, cairn_index_entry *out, uint8_t *counts);

/* Checks a snapshot host body: CAIRN_EINVAL with a reason for an empty
 * one, one longer than CAIRN_WIRE_HOST_MAX or one holding a NUL byte. */
int cairn_wire_host_check(const void *body, size_t len);

/* Appends a reject request naming the rows (fp, pack) of n entries. */
int cairn_wire_rejects_encode(cairn_buf *out, const cairn_index_entry *rows, size_t n);
/* Parses a reject request into out (room for len / CAIRN_WIRE_REJECT_SIZE
 * entries; only fp and pack are set). CAIRN_EINVAL with a reason for an
 * empty body or one that is not whole rows. */
int cairn_wire_rejects_decode(const void *body, size_t len, cairn_index_entry *out, size_t *n_out);

#endif

/* Markers: how a backup (or a prune) tells every prune that it is
 * running, without blocking anyone. A marker is an object
 * markers/<kind>-<32 random hex> that its process writes when it starts
 * and writes again every refresh interval from a thread of its own; it is
 * deleted when the process ends. A prune judges a marker by the store's
 * clock: fresh while the store's time of its last write is within the
 * grace of the store's time now (the time of the prune's own marker,
 * written just before it lists them). A process whose marker has not
 * been written for half the grace, by its own clock (suspend included),
 * must assume a prune took it for dead (cairn_marker_check). */
#ifndef CAIRN_GC_MARKER_H
#define CAIRN_GC_MARKER_H

#include "cairn/repo.h"

#include <stddef.h>
#include <stdint.h>

#define CAIRN_MARKER_PREFIX "markers/"
#define CAIRN_MARKER_KEY_MAX 64
/* Defaults; CAIRN_MARKER_REFRESH and CAIRN_MARKER_GRACE (seconds) change
 * them for this process (every client of a repository should agree). */
#define CAIRN_MARKER_REFRESH_DEFAULT 300
#define CAIRN_MARKER_GRACE_DEFAULT 7200

enum cairn_marker_kind {
	CAIRN_MARKER_BACKUP,
	CAIRN_MARKER_PRUNE,
};

typedef struct cairn_marker_timing {
	int64_t refresh_s;
	int64_t grace_s; /* at least 4 refreshes */
} cairn_marker_timing;

/* The timing this process uses. */
void cairn_marker_timing_get(cairn_marker_timing *out);

typedef struct cairn_marker cairn_marker;

/* Writes a new marker and starts refreshing it. */
int cairn_marker_start(cairn_marker **out, cairn_repo *r, enum cairn_marker_kind kind);
/* Writes the marker again now. */
int cairn_marker_refresh(cairn_marker *m);
/* 0 if the marker was never left unwritten for more than half the grace
 * (by this process's clock, suspended time included); else CAIRN_ERROR
 * saying so: a prune may have taken this process for dead. */
int cairn_marker_check(cairn_marker *m);
/* Forgets the lapses so far: for an owner that has written the marker
 * again and then made sure no prune acted meanwhile (gc/view.h), so that
 * cairn_marker_check judges only what follows. */
void cairn_marker_forgive(cairn_marker *m);
const char *cairn_marker_key(const cairn_marker *m);
/* Stops refreshing and deletes the marker; NULL is fine. */
void cairn_marker_end(cairn_marker *m);

/* A marker as a listing found it. */
typedef struct cairn_marker_seen {
	char key[CAIRN_MARKER_KEY_MAX];
	enum cairn_marker_kind kind;
	int64_t mtime; /* store's clock; 0 unknown */
	int fresh;     /* within the grace of now (always, when a time is unknown) */
} cairn_marker_seen;

/* Refreshes self, then lists every other marker with its freshness by
 * the store's clock: now is self's time in the same listing. *out is
 * the caller's to free. */
int cairn_markers_list(cairn_repo *r, cairn_marker *self, cairn_marker_seen **out, size_t *n_out);

/* Whether a marker of that age is fresh: pure, for the rule's tests. */
int cairn_marker_is_fresh(int64_t mtime, int64_t now, int64_t grace_s);

#endif

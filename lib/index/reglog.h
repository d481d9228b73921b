/* The index core's registration log: registrations are on stable storage
 * before they are acknowledged, and merged into SQLite later, in sorted
 * batches.
 *
 * The log is a directory of segments "log-<16 hex digits>", appended to in
 * groups: "CXLG", u32 count, count register entries (cairn/wire.h), then
 * a 16-byte BLAKE2b of the group. Concurrent appends are written and
 * synced together (group commit): each caller waits for the one
 * fdatasync that covers its group. A crash can leave a torn last group;
 * replay stops there (it was never acknowledged). */
#ifndef CAIRN_INDEX_REGLOG_H
#define CAIRN_INDEX_REGLOG_H

#include "cairn/sys/index.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_reglog cairn_reglog;

/* Called with the entries of each group on stable storage, in order; under
 * the log's lock, so that a rotation sees every group before it. */
typedef int (*cairn_reglog_durable_cb)(void *ud, const cairn_index_entry *entries, size_t n);

/* Opens the log in dir (created if missing), starting a new segment after
 * any there; those are the caller's to replay (cairn_reglog_replay) and
 * remove. */
int cairn_reglog_open(cairn_reglog **out, const char *dir, cairn_reglog_durable_cb durable,
                      void *ud);
void cairn_reglog_free(cairn_reglog *log);
/* The directory the log is in. */
const char *cairn_reglog_dir(const cairn_reglog *log);

/* Appends n entries and returns once they are on stable storage (or the
 * write or the sync failed: CAIRN_EIO; the log refuses appends from then
 * on). */
int cairn_reglog_append(cairn_reglog *log, const cairn_index_entry *entries, size_t n);

/* Starts a new segment for what follows; *sealed gets the number of the
 * one closed, which holds every group made durable before. */
int cairn_reglog_rotate(cairn_reglog *log, uint64_t *sealed);
/* Removes segment seq (merged) and every older one. */
int cairn_reglog_remove_upto(cairn_reglog *log, uint64_t seq);

/* Reads every segment in dir (oldest first) up to and excluding segment
 * before (0: all), calling fn with each whole group's entries; a torn or
 * damaged group ends its segment. *last_out (may be NULL) gets the
 * highest segment number found (0 if none). */
int cairn_reglog_replay(const char *dir, uint64_t before,
                        int (*fn)(void *ud, const cairn_index_entry *entries, size_t n), void *ud,
                        uint64_t *last_out);

#endif

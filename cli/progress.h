/* The progress line of long commands: one line on stderr, rewritten in
 * place a few times a second, cleared at the end. Shown only on a
 * terminal, and never with --json or --quiet. */
#ifndef CAIRN_CLI_PROGRESS_H
#define CAIRN_CLI_PROGRESS_H

#include "cairn/progress.h"

/* Starts timing; the line is drawn only if wanted and stderr is a terminal. */
void cli_progress_start(int wanted);
/* Whether the line is drawn (after cli_progress_start): a command may
 * skip the work of what only the line shows. */
int cli_progress_active(void);
/* Matches cairn_progress_cb; redraws at most four times a second. */
void cli_progress_cb(void *ud, const cairn_progress *p);
/* Erases the line for good. */
void cli_progress_end(void);

/* Takes the stderr lock and erases the line, so that a message can be
 * written on stderr from any thread; the next update redraws the line. */
void cli_progress_lock(void);
void cli_progress_unlock(void);

#endif

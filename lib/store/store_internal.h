/* What the store front and its backends share: opening a backend with
 * the options of cairn_store_open_ex (the public openers of
 * cairn/sys/store.h take a few of them). */
#ifndef CAIRN_STORE_INTERNAL_H
#define CAIRN_STORE_INTERNAL_H

#include "cairn/store.h"

/* opts may be NULL: the defaults. */
int cairn_store__local_open(cairn_store **out, const char *path, int create,
                            const cairn_store_opts *opts);
int cairn_store__s3_open(cairn_store **out, const char *location, int create,
                         const cairn_store_opts *opts);

#endif

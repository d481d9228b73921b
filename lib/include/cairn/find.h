/* `cairn find`: which entries of a manifest a list of patterns
 * (cairn/pattern.h, restic's syntax) names. An entry is found when the
 * patterns name it and no directory above it was found: a directory that
 * matches stands for what lies below it, which is not listed again. */
#ifndef CAIRN_FIND_H
#define CAIRN_FIND_H

#include "cairn/manifest.h"
#include "cairn/pattern.h"

typedef struct cairn_finder cairn_finder;

/* The finder over patterns p (the caller's; it must outlive the finder). */
int cairn_finder_new(cairn_finder **out, cairn_patterns *p);
void cairn_finder_free(cairn_finder *f); /* NULL is fine */
/* Starts on another manifest. */
void cairn_finder_reset(cairn_finder *f);
/* Given the entries of one manifest in path order: 1 if e is found, 0 if
 * not, CAIRN_ENOMEM. Matches count as hits of p. */
int cairn_finder_match(cairn_finder *f, const cairn_entry *e);
/* 1 when no entry after e's path in this manifest can be found, so the
 * reader may stop. */
int cairn_finder_passed(const cairn_finder *f, const cairn_entry *e);

#endif

/* Include and exclude patterns, in restic's syntax: which paths of a
 * backup, a restore or a listing a list of patterns names.
 *
 * A pattern is matched component by component against an absolute path:
 * '*' matches any part of one name (never a '/'), '?' one character,
 * "[...]" one of a set ("[!...]" or "[^...]" one outside it), '\' makes
 * the next character plain, and a component "**" matches any number of
 * components, none included. A pattern that starts with '/' is anchored
 * at the root; any other matches at any depth ("*.gz", "cache/tmp"). A
 * pattern matches a path when it matches the path or one of the
 * directories above it, so a directory pattern names all that is below
 * it too. A trailing '/' makes the pattern match directories only
 * ("cache/"). A leading '!' negates: in a list, the last pattern that
 * matches a path decides, and a '!' one takes it back out ("*.log" then
 * "!keep.log"). Empty and "." components are dropped; matching is case
 * sensitive. */
#ifndef CAIRN_PATTERN_H
#define CAIRN_PATTERN_H

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_patterns cairn_patterns;

/* Compiles n patterns in order; empty ones are passed over. 0 with *out
 * (which the caller frees), CAIRN_EINVAL naming a malformed pattern (an
 * unclosed '[', a trailing '\', a '!' alone), or CAIRN_ENOMEM. */
int cairn_patterns_new(cairn_patterns **out, const char *const *patterns, size_t n);
void cairn_patterns_free(cairn_patterns *p);

/* Whether the list names path (absolute; is_dir: it is a directory): 1
 * if the last pattern that matches it is not a '!' one, 0 otherwise (and
 * for an empty or NULL list). Every pattern that matches path counts a
 * hit. One thread at a time. */
int cairn_patterns_match(cairn_patterns *p, const char *path, int is_dir);
/* The same answer, counting nothing. */
int cairn_patterns_test(cairn_patterns *p, const char *path, int is_dir);

/* How many patterns the list holds (empty ones passed over), pattern i
 * as it was given, and how many paths it has matched. */
size_t cairn_patterns_count(const cairn_patterns *p);
const char *cairn_patterns_text(const cairn_patterns *p, size_t i);
uint64_t cairn_patterns_hits(const cairn_patterns *p, size_t i);
/* Whether pattern i is a '!' one. */
int cairn_patterns_negated(const cairn_patterns *p, size_t i);

/* 1 if no path that comes after path in manifest order (cairn_path_cmp)
 * can be matched by a pattern of the list that is not a '!' one, so a
 * reader in that order may stop: only anchored patterns with a plain
 * leading part (as "/home/u" is of "/home/u/[a-c]*") let it. */
int cairn_patterns_passed(const cairn_patterns *p, const char *path);

#endif

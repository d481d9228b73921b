/* Reading the source tree: directory listings. */
#ifndef CAIRN_FS_WALK_H
#define CAIRN_FS_WALK_H

#include <stddef.h>
#include <stdint.h>

/* The names in the directory open as dfd (which stays open and is not
 * otherwise used), without "." and "..", sorted bytewise. *names_out (an
 * array of strings) is freed with cairn_names_free. */
int cairn_dir_names(int dfd, char ***names_out, size_t *n_out);
void cairn_names_free(char **names, size_t n);
/* 1 if the sorted names (from cairn_dir_names) hold name. */
int cairn_names_have(char *const *names, size_t n, const char *name);

/* A cache directory tag (https://bford.info/cachedir/): the file's name,
 * the signature it must begin with, and what cairn writes into one. */
#define CAIRN_CACHEDIR_TAG "CACHEDIR.TAG"
#define CAIRN_CACHEDIR_SIGNATURE "Signature: 8a477f597d28d172789f06886806bc55"
/* How cairn's own tag begins: its cache directories are known by it. */
#define CAIRN_CACHEDIR_TAG_CAIRN                                                                   \
	CAIRN_CACHEDIR_SIGNATURE "\n# This file is a cache directory tag created by cairn.\n"
#define CAIRN_CACHEDIR_TAG_TEXT                                                                    \
	CAIRN_CACHEDIR_TAG_CAIRN "# For information about cache directory tags, see:\n"            \
	                         "#\thttps://bford.info/cachedir/\n"

/* 1 if the len bytes of data begin with header (NULL or "": any data). */
int cairn_tag_header_ok(const uint8_t *data, size_t len, const char *header);
/* 1 if the directory open as dfd holds a regular file name (not
 * followed if a symlink) whose content begins with header (NULL or "":
 * any content); 0 if not or if it cannot be read. */
int cairn_dir_has_tag(int dfd, const char *name, const char *header);

#endif

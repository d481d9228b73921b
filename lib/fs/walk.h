/* Reading the source tree: directory listings. */
#ifndef CAIRN_FS_WALK_H
#define CAIRN_FS_WALK_H

#include <stddef.h>

/* The names in the directory open as dfd (which stays open and is not
 * otherwise used), without "." and "..", sorted bytewise. *names_out (an
 * array of strings) is freed with cairn_names_free. */
int cairn_dir_names(int dfd, char ***names_out, size_t *n_out);
void cairn_names_free(char **names, size_t n);

#endif

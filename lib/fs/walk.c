/* Reading the source tree: directory listings. */
#include "fs/walk.h"

#include "cairn/errors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void cairn_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int cairn_dir_names(int dfd, char ***names_out, size_t *n_out)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *d;
	int rc = 0;
	/* The listing reads through a duplicate, which closedir closes. */
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	*names_out = NULL;
	*n_out = 0;
	if (!dir) {
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot read directory");
		if (fd >= 0)
			close(fd);
		return rc;
	}
	for (;;) {
		errno = 0;
		if (!(d = readdir(dir))) {
			if (errno)
				rc = cairn_error_set_errno(CAIRN_EIO, errno,
				                           "cannot read directory");
			break;
		}
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			char **p = realloc(names, cap * sizeof(*names));
			if (!p) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				break;
			}
			names = p;
		}
		if (!(names[n] = strdup(d->d_name))) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	closedir(dir);
	if (rc) {
		cairn_names_free(names, n);
		return rc;
	}
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	*names_out = names;
	*n_out = n;
	return 0;
}

int cairn_names_have(char *const *names, size_t n, const char *name)
{
	return n && bsearch(&name, names, n, sizeof(*names), by_name) != NULL;
}

int cairn_tag_header_ok(const uint8_t *data, size_t len, const char *header)
{
	size_t hl = header ? strlen(header) : 0;
	return len >= hl && memcmp(data, header ? header : "", hl) == 0;
}

int cairn_dir_has_tag(int dfd, const char *name, const char *header)
{
	uint8_t buf[512];
	struct stat st;
	size_t hl = header ? strlen(header) : 0, got = 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
		return 0;
	if (!hl)
		return 1;
	if (hl > sizeof(buf))
		return 0;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	while (got < hl) {
		ssize_t n = read(fd, buf + got, hl - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return cairn_tag_header_ok(buf, got, header);
}

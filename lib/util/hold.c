#include "util/hold.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The PATH that spec ("NAME:PATH,NAME:PATH...") gives point, into path;
 * 0 if it names none. */
static int hold_path(const char *spec, const char *point, char *path, size_t size)
{
	size_t n = strlen(point);
	while (spec && *spec) {
		const char *end = strchr(spec, ',');
		size_t len = end ? (size_t)(end - spec) : strlen(spec);
		if (len > n + 1 && strncmp(spec, point, n) == 0 && spec[n] == ':' &&
		    len - n - 1 < size) {
			memcpy(path, spec + n + 1, len - n - 1);
			path[len - n - 1] = '\0';
			return 1;
		}
		spec = end ? end + 1 : NULL;
	}
	return 0;
}

void cairn_hold(const char *point)
{
	char path[4000], reached[4096];
	if (!hold_path(getenv("CAIRN_TEST_HOLD"), point, path, sizeof(path)))
		return;
	snprintf(reached, sizeof(reached), "%s.reached", path);
	int fd = open(reached, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	while (access(path, F_OK) != 0)
		usleep(20000);
}

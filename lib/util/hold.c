#include "util/hold.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cairn_hold(const char *point)
{
	const char *spec = getenv("CAIRN_TEST_HOLD");
	size_t n = strlen(point);
	if (!spec || strncmp(spec, point, n) != 0 || spec[n] != ':' || !spec[n + 1])
		return;
	const char *path = spec + n + 1;
	char reached[4096];
	snprintf(reached, sizeof(reached), "%s.reached", path);
	int fd = open(reached, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	while (access(path, F_OK) != 0)
		usleep(20000);
}

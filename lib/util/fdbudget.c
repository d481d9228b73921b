#include "util/fdbudget.h"

#include <dirent.h>
#include <sys/resource.h>

long cairn_open_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	long n = -1; /* the directory's own */
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2; /* "." and ".." */
}

uint64_t cairn_open_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	return rl.rlim_cur == RLIM_INFINITY ? (uint64_t)1 << 20 : (uint64_t)rl.rlim_cur;
}

uint64_t cairn_fd_spare(uint64_t reserve)
{
	long open_now = cairn_open_fd_count();
	uint64_t used = (open_now < 0 ? 64 : (uint64_t)open_now) + CAIRN_FD_MARGIN + reserve;
	uint64_t limit = cairn_open_fd_limit();
	return limit > used ? limit - used : 0;
}

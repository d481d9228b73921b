/* An LD_PRELOAD library that plays a racing local user against restore
 * (restore_race.sh): on the SWAP_CALL-th call (1 by default) that names
 * SWAP_NAME as its last component, it renames that entry to
 * SWAP_NAME.orig and puts a symlink to SWAP_TARGET in its place, just
 * before the call (SWAP_WHEN=before, the default) or just after it
 * (SWAP_WHEN=after: between a check and the calls that trust it). The
 * calls watched are those that look at or change an existing entry:
 * open without O_CREAT, stat, and every call that sets owner, mode,
 * times or extended attributes. It writes "swapped at CALL" to SWAP_LOG
 * when it swaps. */
/* The calls by their own names: with 64-bit offsets, glibc would name
 * fstatat and openat after their 64 forms, defined here too. */
#undef _FILE_OFFSET_BITS

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

static atomic_int calls;

static void *next(const char *sym)
{
	return dlsym(RTLD_NEXT, sym);
}

static const char *base(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Whether this call is the one to swap at. */
static int is_the_call(const char *path)
{
	const char *name = getenv("SWAP_NAME");
	if (!path || !name || strcmp(base(path), name) != 0)
		return 0;
	const char *want = getenv("SWAP_CALL");
	return atomic_fetch_add(&calls, 1) + 1 == (want ? atoi(want) : 1);
}

/* Renames dirfd/path to its .orig and puts the symlink there. */
static void swap(int dirfd, const char *path, const char *call)
{
	char orig[4096];
	const char *target = getenv("SWAP_TARGET"), *log = getenv("SWAP_LOG");
	int saved = errno;
	snprintf(orig, sizeof(orig), "%s.orig", path);
	if (!target || renameat(dirfd, path, dirfd, orig) != 0 ||
	    symlinkat(target, dirfd, path) != 0)
		abort();
	if (log) {
		FILE *f = fopen(log, "a");
		if (f) {
			fprintf(f, "swapped at %s\n", call);
			fclose(f);
		}
	}
	errno = saved;
}

static int before(void)
{
	const char *when = getenv("SWAP_WHEN");
	return !when || strcmp(when, "after") != 0;
}

/* Runs the real call, swapping before or after it if it is the one. */
#define WATCH(call, dirfd, path, ...)                                                              \
	do {                                                                                       \
		int hit = is_the_call(path), b = before();                                         \
		if (hit && b)                                                                      \
			swap(dirfd, path, #call);                                                  \
		int rc = real(__VA_ARGS__);                                                        \
		if (hit && !b)                                                                     \
			swap(dirfd, path, #call);                                                  \
		return rc;                                                                         \
	} while (0)

int openat(int dirfd, const char *path, int flags, ...)
{
	int (*real)(int, const char *, int, ...) = next("openat");
	va_list ap;
	va_start(ap, flags);
	mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
	va_end(ap);
	if (flags & O_CREAT)
		return real(dirfd, path, flags, mode);
	WATCH(openat, dirfd, path, dirfd, path, flags, mode);
}

/* The same call with 64-bit offsets, which openat has here. */
__typeof__(openat64) openat64 __attribute__((alias("openat")));

int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	int (*real)(int, const char *, struct stat *, int) = next("fstatat");
	WATCH(fstatat, dirfd, path, dirfd, path, st, flags);
}

int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	int (*real)(int, const char *, struct stat64 *, int) = next("fstatat64");
	WATCH(fstatat, dirfd, path, dirfd, path, st, flags);
}

int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags)
{
	int (*real)(int, const char *, uid_t, gid_t, int) = next("fchownat");
	WATCH(fchownat, dirfd, path, dirfd, path, uid, gid, flags);
}

int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
	int (*real)(int, const char *, mode_t, int) = next("fchmodat");
	WATCH(fchmodat, dirfd, path, dirfd, path, mode, flags);
}

int utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags)
{
	int (*real)(int, const char *, const struct timespec *, int) = next("utimensat");
	WATCH(utimensat, dirfd, path, dirfd, path, ts, flags);
}

int chmod(const char *path, mode_t mode)
{
	int (*real)(const char *, mode_t) = next("chmod");
	WATCH(chmod, AT_FDCWD, path, path, mode);
}

int lchown(const char *path, uid_t uid, gid_t gid)
{
	int (*real)(const char *, uid_t, gid_t) = next("lchown");
	WATCH(lchown, AT_FDCWD, path, path, uid, gid);
}

int setxattr(const char *path, const char *name, const void *value, size_t size, int flags)
{
	int (*real)(const char *, const char *, const void *, size_t, int) = next("setxattr");
	WATCH(setxattr, AT_FDCWD, path, path, name, value, size, flags);
}

int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)
{
	int (*real)(const char *, const char *, const void *, size_t, int) = next("lsetxattr");
	WATCH(lsetxattr, AT_FDCWD, path, path, name, value, size, flags);
}

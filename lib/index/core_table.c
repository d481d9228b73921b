/* The index core's table saved at a clean close (core_table.h).
 *
 * Loading the table from the shards reads every row through SQLite; a
 * clean close saves it whole to dir/table with, for each shard file, its
 * size and modification time then. An open reads it back instead when no
 * shard changed since (and the log holds nothing): after a crash the
 * shards were written after the save, and the table is loaded from them.
 * The file is removed once read. A damaged table can cost a chunk stored
 * twice, never one lost: clients check every location against its pack. */

#include "index/core_table.h"

#include "cairn/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TABLE_MAGIC "CXCT"
#define TABLE_VERSION 1

typedef struct shard_stamp {
	uint64_t size, mtime_ns;
} shard_stamp;

/* The stamps of the shard files; 0 if every shard is there and has no
 * write-ahead log left (closed cleanly). */
static int stamp_shards(const char *dir, unsigned nshards, shard_stamp *out)
{
	char path[4096];
	struct stat st;
	for (unsigned k = 0; k < nshards; k++) {
		snprintf(path, sizeof(path), "%s/shard-%02x.db-wal", dir, k);
		if (stat(path, &st) == 0 && st.st_size > 0)
			return -1;
		snprintf(path, sizeof(path), "%s/shard-%02x.db", dir, k);
		if (stat(path, &st) != 0)
			return -1;
		out[k].size = (uint64_t)st.st_size;
		out[k].mtime_ns =
		    (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
	}
	return 0;
}

static int file_put(void *ud, const void *p, size_t n)
{
	return fwrite(p, 1, n, ud) == n ? 0
	                                : cairn_error_set_errno(CAIRN_EIO, errno, "cannot write");
}

static int read_at(void *ud, void *p, size_t n, uint64_t offset)
{
	int fd = *(int *)ud;
	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)offset);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? cairn_error_set_errno(CAIRN_EIO, errno, "cannot read")
			             : cairn_error_set(CAIRN_ECORRUPT,
			                               "the saved index table is cut short");
		p = (uint8_t *)p + r;
		n -= (size_t)r;
		offset += (uint64_t)r;
	}
	return 0;
}

void cairn_core_table_save(const char *dir, unsigned nshards, cairn_memtable *mt)
{
	char path[4096], tmp[4200];
	shard_stamp *stamps = calloc(nshards, sizeof(*stamps));
	uint32_t head[4] = {0, TABLE_VERSION, nshards, 0};
	FILE *f = NULL;
	int rc = -1;
	snprintf(path, sizeof(path), "%s/table", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	memcpy(&head[0], TABLE_MAGIC, 4);
	if (!stamps || stamp_shards(dir, nshards, stamps) || !(f = fopen(tmp, "wb")))
		goto out;
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	rc = file_put(f, head, sizeof(head));
	if (!rc)
		rc = file_put(f, stamps, nshards * sizeof(*stamps));
	if (!rc)
		rc = cairn_memtable_save(mt, file_put, f);
	if (!rc && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	f = NULL;
	if (!rc && rename(tmp, path) != 0)
		rc = -1;
out:
	if (rc)
		unlink(tmp);
	cairn_error_clear();
	free(stamps);
}

cairn_memtable *cairn_core_table_load(const char *dir, unsigned nshards)
{
	cairn_memtable *mt = NULL;
	char path[4096];
	shard_stamp *now = calloc(nshards, sizeof(*now));
	shard_stamp *then = calloc(nshards, sizeof(*then));
	uint32_t head[4];
	snprintf(path, sizeof(path), "%s/table", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t stamps = nshards * sizeof(*then);
	if (fd < 0 || !now || !then || stamp_shards(dir, nshards, now))
		goto out;
	if (read_at(&fd, head, sizeof(head), 0) || memcmp(&head[0], TABLE_MAGIC, 4) ||
	    head[1] != TABLE_VERSION || head[2] != nshards ||
	    read_at(&fd, then, stamps, sizeof(head)) || memcmp(now, then, stamps) != 0)
		goto out;
	if (cairn_memtable_load_saved(&mt, read_at, &fd, sizeof(head) + stamps))
		mt = NULL;
out:
	if (fd >= 0)
		close(fd);
	/* Good for one open: what changes the shards from now on makes it
	 * stale. */
	unlink(path);
	cairn_error_clear();
	free(now);
	free(then);
	return mt;
}

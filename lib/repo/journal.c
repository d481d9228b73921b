/* What a client could not tell its index server while the server was out
 * of reach: the index/ objects whose blobs it did not register, and the
 * snapshots it did not add to the catalogue. A backup goes on without the
 * server (its lookups answer "missing"); these are written down in the
 * cache directory, one line each ("o <id hex>" or "s <id hex>"), and told
 * to the server by the next command that opens the repository and
 * reaches it: the objects imported (their blobs registered) and the
 * snapshots added. Both are idempotent, so a journal told twice (two
 * processes, or one killed halfway) does no harm; writers and the teller
 * take the file's lock, so that no line is lost between them. */
#include "repo/repo_internal.h"

#include "cairn/errors.h"
#include "cairn/index.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/hex.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_NAME "index-journal"
#define LINE_SIZE (2 + CAIRN_ID_HEX + 1)
/* A journal is ids of packs and snapshots: this is millions of them. */
#define JOURNAL_MAX (256u << 20)

static int journal_open(const cairn_repo *r, int flags, int *fd_out)
{
	cairn_buf path = CAIRN_BUF_INIT;
	int rc = r->cache_dir ? cairn_buf_printf(&path, "%s/" JOURNAL_NAME, r->cache_dir)
	                      : cairn_error_set(CAIRN_ENOTFOUND, "no cache directory");
	if (rc)
		return rc;
	int fd = open((const char *)path.data, flags | O_CLOEXEC, 0600);
	if (fd < 0)
		rc = errno == ENOENT
		         ? CAIRN_ENOTFOUND
		         : cairn_error_set_errno(CAIRN_EIO, errno, "%s", (const char *)path.data);
	else if (flock(fd, LOCK_EX) != 0)
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "lock %s", (const char *)path.data);
	if (rc && fd >= 0)
		close(fd);
	*fd_out = rc ? -1 : fd;
	cairn_buf_free(&path);
	return rc;
}

int cairn_repo_journal_add(cairn_repo *r, char kind, const uint8_t (*ids)[CAIRN_ID_SIZE], size_t n)
{
	cairn_buf lines = CAIRN_BUF_INIT;
	char hex[CAIRN_ID_HEX + 1];
	int fd, rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		cairn_hex_encode(hex, ids[i], CAIRN_ID_SIZE);
		rc = cairn_buf_printf(&lines, "%c %s\n", kind, hex);
	}
	if (!rc && n && !(rc = journal_open(r, O_WRONLY | O_CREAT, &fd))) {
		struct stat st;
		/* under the lock: the end is this writer's */
		if (fstat(fd, &st) != 0 ||
		    cairn_pwrite_all(fd, lines.data, lines.len, (uint64_t)st.st_size) != 0 ||
		    fsync(fd) != 0)
			rc = cairn_error_set_errno(CAIRN_EIO, errno, "%s/" JOURNAL_NAME,
			                           r->cache_dir);
		close(fd);
	}
	cairn_buf_free(&lines);
	return rc;
}

/* Tells the server one line of the journal. */
static int tell(cairn_repo *r, cairn_sealer *s, const char *line)
{
	uint8_t id[CAIRN_ID_SIZE];
	if (line[1] != ' ' || cairn_hex_decode(id, CAIRN_ID_SIZE, line + 2) != 0)
		return 0; /* a torn last line: what it named is in the store */
	if (line[0] == 's')
		return cairn_index_has_snapshots(r->index) ? cairn_index_snapshot_add(r->index, id)
		                                           : 0;
	if (line[0] != 'o')
		return 0;
	int rc = cairn_repo_import_object(r, s, id);
	/* gone since (a prune), or damaged (check reports it) */
	return rc == CAIRN_ENOTFOUND || rc == CAIRN_ECORRUPT ? 0 : rc;
}

int cairn_repo_journal_replay(cairn_repo *r, uint64_t *told_out)
{
	cairn_buf text = CAIRN_BUF_INIT;
	cairn_sealer *s = NULL;
	uint64_t told = 0;
	int fd, rc = journal_open(r, O_RDWR, &fd);
	*told_out = 0;
	if (rc == CAIRN_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "%s/" JOURNAL_NAME, r->cache_dir);
		goto out;
	}
	size_t size = st.st_size > JOURNAL_MAX ? JOURNAL_MAX : (size_t)st.st_size;
	if ((rc = cairn_buf_reserve(&text, size + 1)))
		goto out;
	ssize_t got = cairn_pread_all(fd, text.data, size, 0);
	if (got < 0) {
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "%s/" JOURNAL_NAME, r->cache_dir);
		goto out;
	}
	text.len = (size_t)got;
	if ((rc = cairn_repo_sealer_new(r, &s, 0)))
		goto out;
	for (size_t at = 0; at + LINE_SIZE <= text.len && !rc; at += LINE_SIZE, told++) {
		char line[LINE_SIZE + 1];
		memcpy(line, text.data + at, LINE_SIZE);
		line[LINE_SIZE - 1] = '\0';
		rc = tell(r, s, line);
	}
	/* All told: forget it. Else it stays whole, told again next time. */
	if (!rc && ftruncate(fd, 0) != 0)
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "%s/" JOURNAL_NAME, r->cache_dir);
	if (!rc)
		*told_out = told;
out:
	cairn_sealer_free(s);
	cairn_buf_free(&text);
	close(fd);
	return rc;
}

int cairn_repo_index_offline(cairn_repo *r, char *why, size_t n)
{
	return cairn_index_offline(r->index, why, n);
}

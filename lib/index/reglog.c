/* The index core's registration log (reglog.h). */
#include "index/reglog.h"

#include "cairn/buf.h"
#include "cairn/errors.h"
#include "cairn/wire.h"
#include "util/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "CXLG"
#define HEAD 8
#define HASH 16
/* Most entries a group may claim when read back. */
#define GROUP_MAX (1u << 20)

struct cairn_reglog {
	char *dir;
	int fd;
	uint64_t seq;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	cairn_buf staging; /* groups waiting for the next write */
	cairn_index_entry *staged;
	size_t nstaged, cap_staged;
	uint64_t groups, durable; /* groups staged, and made durable, so far */
	int flushing;
	int broken; /* an errno: a write or a sync failed */
	cairn_reglog_durable_cb on_durable;
	void *ud;
};

static int segment_path(char *out, size_t size, const char *dir, uint64_t seq)
{
	int n = snprintf(out, size, "%s/log-%016" PRIx64, dir, seq);
	return n > 0 && (size_t)n < size ? 0
	                                 : cairn_error_set(CAIRN_EINVAL, "%s: path too long", dir);
}

static int parse_segment(const char *name, uint64_t *seq)
{
	if (strncmp(name, "log-", 4) || strlen(name) != 20)
		return 0;
	char *end;
	*seq = strtoull(name + 4, &end, 16);
	return *end == '\0' && *seq > 0;
}

/* The segment numbers in dir, ascending. */
static int list_segments(const char *dir, uint64_t **out, size_t *n_out)
{
	uint64_t *seqs = NULL;
	size_t n = 0, cap = 0;
	*out = NULL;
	*n_out = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT
		           ? 0
		           : cairn_error_set_errno(CAIRN_EIO, errno, "cannot read %s", dir);
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d)) != NULL) {
		uint64_t s;
		if (!parse_segment(de->d_name, &s))
			continue;
		if ((rc = cairn_array_grow((void **)&seqs, &cap, n + 1, sizeof(*seqs))))
			break;
		seqs[n++] = s;
	}
	closedir(d);
	if (rc) {
		free(seqs);
		return rc;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && seqs[j - 1] > seqs[j]; j--) {
			uint64_t t = seqs[j];
			seqs[j] = seqs[j - 1];
			seqs[j - 1] = t;
		}
	*out = seqs;
	*n_out = n;
	return 0;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot open %s", dir);
	int rc = fsync(fd) ? cairn_error_set_errno(CAIRN_EIO, errno, "cannot sync %s", dir) : 0;
	close(fd);
	return rc;
}

/* Creates segment seq and makes its name durable. */
static int start_segment(const char *dir, uint64_t seq, int *fd_out)
{
	char path[4096];
	int rc = segment_path(path, sizeof(path), dir, seq);
	if (rc)
		return rc;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create %s", path);
	if ((rc = sync_dir(dir))) {
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

int cairn_reglog_open(cairn_reglog **out, const char *dir, cairn_reglog_durable_cb durable,
                      void *ud)
{
	uint64_t *seqs;
	size_t n;
	int rc;
	*out = NULL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create %s", dir);
	if ((rc = list_segments(dir, &seqs, &n)))
		return rc;
	uint64_t next = n ? seqs[n - 1] + 1 : 1;
	free(seqs);
	cairn_reglog *log = calloc(1, sizeof(*log));
	if (!log || !(log->dir = strdup(dir))) {
		free(log);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if ((rc = start_segment(dir, next, &log->fd))) {
		free(log->dir);
		free(log);
		return rc;
	}
	log->seq = next;
	log->on_durable = durable;
	log->ud = ud;
	pthread_mutex_init(&log->lock, NULL);
	pthread_cond_init(&log->cond, NULL);
	*out = log;
	return 0;
}

const char *cairn_reglog_dir(const cairn_reglog *log)
{
	return log->dir;
}

void cairn_reglog_free(cairn_reglog *log)
{
	if (!log)
		return;
	if (log->fd >= 0)
		close(log->fd);
	cairn_buf_free(&log->staging);
	free(log->staged);
	pthread_mutex_destroy(&log->lock);
	pthread_cond_destroy(&log->cond);
	free(log->dir);
	free(log);
}

static int stage(cairn_reglog *log, const cairn_index_entry *entries, size_t n)
{
	uint8_t head[HEAD], hash[HASH];
	size_t start = log->staging.len;
	uint32_t count = (uint32_t)n;
	memcpy(head, MAGIC, 4);
	for (int i = 0; i < 4; i++)
		head[4 + i] = (uint8_t)(count >> (8 * i));
	int rc = cairn_buf_append(&log->staging, head, HEAD);
	if (!rc)
		rc = cairn_wire_entries_encode(&log->staging, entries, n);
	if (!rc) {
		crypto_generichash(hash, HASH, log->staging.data + start, log->staging.len - start,
		                   NULL, 0);
		rc = cairn_buf_append(&log->staging, hash, HASH);
	}
	if (!rc && !(rc = cairn_array_grow((void **)&log->staged, &log->cap_staged,
	                                   log->nstaged + n, sizeof(*log->staged)))) {
		memcpy(log->staged + log->nstaged, entries, n * sizeof(*entries));
		log->nstaged += n;
	}
	if (rc)
		log->staging.len = start;
	return rc;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? errno : EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Writes and syncs what is staged, with the lock released meanwhile. */
static void flush(cairn_reglog *log)
{
	cairn_buf data = log->staging;
	cairn_index_entry *entries = log->staged;
	size_t n = log->nstaged;
	uint64_t upto = log->groups;
	int fd = log->fd;
	log->staging = (cairn_buf)CAIRN_BUF_INIT;
	log->staged = NULL;
	log->nstaged = log->cap_staged = 0;
	log->flushing = 1;
	pthread_mutex_unlock(&log->lock);

	int err = write_all(fd, data.data, data.len);
	if (!err && fdatasync(fd) != 0)
		err = errno;

	pthread_mutex_lock(&log->lock);
	log->flushing = 0;
	if (!err && log->on_durable && log->on_durable(log->ud, entries, n))
		err = ENOMEM;
	if (err)
		log->broken = err;
	else
		log->durable = upto;
	pthread_cond_broadcast(&log->cond);
	cairn_buf_free(&data);
	free(entries);
}

int cairn_reglog_append(cairn_reglog *log, const cairn_index_entry *entries, size_t n)
{
	int rc = 0;
	if (!n)
		return 0;
	pthread_mutex_lock(&log->lock);
	if (!log->broken && !(rc = stage(log, entries, n))) {
		uint64_t mine = ++log->groups;
		while (log->durable < mine && !log->broken) {
			if (log->flushing)
				pthread_cond_wait(&log->cond, &log->lock);
			else
				flush(log);
		}
	}
	if (!rc && log->broken)
		rc = cairn_error_set_errno(CAIRN_EIO, log->broken,
		                           "the index's registration log in %s cannot be written",
		                           log->dir);
	pthread_mutex_unlock(&log->lock);
	return rc;
}

int cairn_reglog_rotate(cairn_reglog *log, uint64_t *sealed)
{
	int fd, rc;
	pthread_mutex_lock(&log->lock);
	while (log->flushing)
		pthread_cond_wait(&log->cond, &log->lock);
	if (!(rc = start_segment(log->dir, log->seq + 1, &fd))) {
		close(log->fd);
		log->fd = fd;
		*sealed = log->seq++;
	}
	pthread_mutex_unlock(&log->lock);
	return rc;
}

int cairn_reglog_remove_upto(cairn_reglog *log, uint64_t seq)
{
	uint64_t *seqs;
	size_t n;
	char path[4096];
	int rc = list_segments(log->dir, &seqs, &n);
	for (size_t i = 0; !rc && i < n && seqs[i] <= seq; i++)
		if (!(rc = segment_path(path, sizeof(path), log->dir, seqs[i])) &&
		    unlink(path) != 0 && errno != ENOENT)
			rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot remove %s", path);
	free(seqs);
	return rc;
}

/* Reads the whole groups of one segment. */
static int replay_segment(const char *path,
                          int (*fn)(void *ud, const cairn_index_entry *entries, size_t n), void *ud)
{
	FILE *f = fopen(path, "rb");
	uint8_t *body = NULL, head[HEAD], hash[HASH], want[HASH];
	cairn_index_entry *entries = NULL;
	size_t cap = 0, cap_entries = 0;
	int rc = 0;
	if (!f)
		return errno == ENOENT
		           ? 0
		           : cairn_error_set_errno(CAIRN_EIO, errno, "cannot open %s", path);
	while (!rc && fread(head, 1, HEAD, f) == HEAD && !memcmp(head, MAGIC, 4)) {
		uint32_t count = 0;
		for (int i = 0; i < 4; i++)
			count |= (uint32_t)head[4 + i] << (8 * i);
		size_t len = (size_t)count * CAIRN_WIRE_ENTRY_SIZE, n;
		if (!count || count > GROUP_MAX)
			break;
		if ((rc = cairn_array_grow((void **)&body, &cap, HEAD + len, 1)) ||
		    (rc = cairn_array_grow((void **)&entries, &cap_entries, count,
		                           sizeof(*entries))))
			break;
		memcpy(body, head, HEAD);
		if (fread(body + HEAD, 1, len, f) != len || fread(hash, 1, HASH, f) != HASH)
			break;
		crypto_generichash(want, HASH, body, HEAD + len, NULL, 0);
		if (sodium_memcmp(want, hash, HASH) != 0 ||
		    cairn_wire_entries_decode(body + HEAD, len, entries, &n) != 0) {
			cairn_error_clear();
			break;
		}
		rc = fn(ud, entries, n);
	}
	if (!rc && ferror(f))
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot read %s", path);
	fclose(f);
	free(body);
	free(entries);
	return rc;
}

int cairn_reglog_replay(const char *dir, uint64_t before,
                        int (*fn)(void *ud, const cairn_index_entry *entries, size_t n), void *ud,
                        uint64_t *last_out)
{
	uint64_t *seqs;
	size_t n;
	char path[4096];
	int rc = list_segments(dir, &seqs, &n);
	if (rc)
		return rc;
	for (size_t i = 0; !rc && i < n && (!before || seqs[i] < before); i++)
		if (!(rc = segment_path(path, sizeof(path), dir, seqs[i])))
			rc = replay_segment(path, fn, ud);
	if (last_out)
		*last_out = n ? seqs[n - 1] : 0;
	free(seqs);
	return rc;
}

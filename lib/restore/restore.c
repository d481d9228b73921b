/* The restore engine.
 *
 * The main thread reads the manifest in path order and creates every entry
 * under the target (create.c), never following a symlink inside it
 * (beneath.c). It keeps a descriptor open for each directory on the way
 * down, so an entry is created with one call relative to its parent, and
 * for each new regular file until its content is written.
 *
 * Regular files go into batches (batch.c). A full batch is handed to a
 * pool of workers (workers.c) while the main thread goes on creating the
 * entries of the next one. One worker plans the batch: its chunk
 * fingerprints are looked up in the index in one go and the blobs grouped
 * into ranged pack reads. Then every worker takes ranges: it reads each
 * once, authenticates every blob and writes it into each file that uses
 * it. The worker that writes the last piece of a file gives it its size
 * and metadata (meta.c) and closes it. A directory's metadata is set when
 * the manifest leaves it, deepest first.
 *
 * A blob that fails to read or authenticate is never written: the places
 * that need it stay zeros, and each file concerned is reported once, when
 * the main thread collects its batch. */
#include "cairn/tree.h"
#include "restore/restore_internal.h"
#include "util/path.h"
#include "util/time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void restore_progress(restore *R, int force)
{
	const cairn_restore_opts *o = R->opts;
	if (!o->progress)
		return;
	int64_t now = cairn_now_ns(CLOCK_MONOTONIC);
	if (!force && now - R->last_progress < PROGRESS_NS)
		return;
	R->last_progress = now;
	cairn_progress p = {0};
	p.files_done = R->files_done;
	p.bytes_done = atomic_load(&R->bytes_written) + atomic_load(&R->bytes_lost);
	if (!R->includes && !R->excludes) {
		const cairn_summary *s = &R->snap->summary;
		p.files_total = s->files_new + s->files_changed + s->files_unchanged;
		p.bytes_total = s->bytes_total;
	}
	p.current = R->last_path.len ? (const char *)R->last_path.data : NULL;
	o->progress(o->ud, &p);
}

void restore_warnf(restore *R, const char *path, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;
	if (!R->opts->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	R->opts->warn(R->opts->ud, path, msg);
}

int restore_next_entry(restore *R, cairn_tree_reader *t, cairn_entry *e)
{
	int rc = cairn_tree_reader_next(t, e);
	if (rc >= 0 || (rc != CAIRN_ECORRUPT && rc != CAIRN_ENOTFOUND))
		return rc;
	/* A manifest that cannot be read to its end: what was read is
	 * restored, the rest is reported as missing. */
	restore_warnf(R, "(manifest)", "the rest of the snapshot cannot be read: %s",
	              cairn_error_last());
	R->res->errors++;
	return 0;
}

/* The umask, which open and mkdir apply to what they are asked for, read
 * without changing it (umask(2) would, for every thread). */
static int read_umask(mode_t *out)
{
	char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	unsigned m;
	if (cairn_restore_umask_parse(buf, &m) != 0)
		return -1;
	*out = (mode_t)m;
	return 0;
}

/* Creates the target and its missing parents. */
static int open_target(restore *R, const char *target)
{
	char *p = strdup(target);
	if (!p)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			int e = errno;
			int rc = cairn_error_set_errno(CAIRN_EIO, e, "cannot create %s", p);
			free(p);
			return rc;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(target, 0755) != 0 && errno != EEXIST)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create %s", target);
	R->root_fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (R->root_fd < 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot open %s", target);
	if (restore_dir_info_of(R, R->root_fd, &R->root_info) != 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat %s", target);
	return 0;
}

/* Compiles n patterns into *out, left NULL when there is none but
 * empty ones. */
static int compile_list(cairn_patterns **out, const char *const *v, size_t n)
{
	int rc = n ? cairn_patterns_new(out, v, n) : 0;
	if (!rc && !cairn_patterns_count(*out)) {
		cairn_patterns_free(*out);
		*out = NULL;
	}
	return rc;
}

/* Compiles the includes and excludes (NULL when none is given). */
static int compile_patterns(restore *R, const cairn_restore_opts *opts)
{
	int rc = compile_list(&R->includes, opts->includes, opts->n_includes);
	return rc ? rc : compile_list(&R->excludes, opts->excludes, opts->n_excludes);
}

/* Tells of each pattern that matched nothing; CAIRN_ENOTFOUND if no
 * include did, when there are some: nothing was restored. */
static int check_patterns(restore *R)
{
	size_t n_inc = cairn_patterns_count(R->includes), unmatched = 0, positive = 0;
	for (size_t i = 0; i < n_inc; i++) {
		if (cairn_patterns_hits(R->includes, i))
			continue;
		restore_warnf(R, NULL, "include pattern never matched: %s",
		              cairn_patterns_text(R->includes, i));
		if (!cairn_patterns_negated(R->includes, i))
			unmatched++;
	}
	for (size_t i = 0; i < n_inc; i++)
		positive += !cairn_patterns_negated(R->includes, i);
	for (size_t i = 0; i < cairn_patterns_count(R->excludes); i++)
		if (!cairn_patterns_hits(R->excludes, i))
			restore_warnf(R, NULL, "exclude pattern matched nothing: %s",
			              cairn_patterns_text(R->excludes, i));
	if (positive && unmatched == positive)
		return cairn_error_set(CAIRN_ENOTFOUND,
		                       "no include pattern matched: nothing to restore");
	return 0;
}

/* What the restore learns before it starts: who it runs as, what the
 * store is, and what the process's umask does to new entries. */
static void restore_init(restore *R, cairn_repo *r, const cairn_snapshot *snap,
                         const cairn_restore_opts *opts, cairn_restore_result *out)
{
	R->repo = r;
	R->remote = cairn_repo_store_is_remote(r);
	R->snap = snap;
	R->opts = opts;
	R->res = out;
	R->root_fd = -1;
	R->parent_fd = -1;
	R->orphan.fd = -1;
	R->euid = geteuid();
	R->egid = getegid();
	R->is_root = R->euid == 0;
	R->have_proc = access("/proc/self/fd", X_OK) == 0;
	R->umask_known = read_umask(&R->umask) == 0;
}

/* Creates every entry the manifest lists, in its order, until the
 * includes are behind. */
static int restore_entries(restore *R, cairn_tree_reader *t)
{
	cairn_entry e = {0};
	int rc = 0;
	while (!R->done && (rc = restore_next_entry(R, t, &e)) == 1)
		if ((rc = restore_entry(R, &e)))
			break;
	cairn_entry_clear(&e);
	return rc;
}

/* What is left once the manifest has been read: the directories still
 * open, the batches in flight, the hard link holders, the directories
 * that waited for them, then every file flag. */
static int finish_restore(restore *R)
{
	int rc;
	if ((rc = restore_leave_dirs(R, NULL)) || (rc = restore_queue_batch(R)) ||
	    (rc = restore_drain(R)) || (rc = restore_link_holders(R)) ||
	    (rc = restore_finish_waiting(R)) || (rc = restore_apply_flags(R)))
		return rc;
	R->last_path.len = 0;
	restore_progress(R, 1);
	return 0;
}

static void restore_free(restore *R)
{
	restore_batches_free(R);
	for (size_t i = 0; i < R->n_stack; i++) {
		if (R->stack[i].fd >= 0)
			close(R->stack[i].fd);
		cairn_entry_clear(&R->stack[i].e);
	}
	free(R->stack);
	for (size_t i = 0; i < R->n_waiting; i++)
		cairn_entry_clear(&R->waiting[i].e);
	free(R->waiting);
	restore_links_free(&R->links);
	restore_flags_free(R);
	cairn_patterns_free(R->includes);
	cairn_patterns_free(R->excludes);
	for (size_t i = 0; i < R->n_held; i++)
		cairn_entry_clear(&R->held[i]);
	free(R->held);
	cairn_buf_free(&R->last_path);
	free(R->parent_rel);
	if (R->parent_fd >= 0)
		close(R->parent_fd);
	if (R->root_fd >= 0)
		close(R->root_fd);
	free(R);
}

int cairn_restore(cairn_repo *r, const cairn_snapshot *snap, const cairn_restore_opts *opts,
                  cairn_restore_result *out)
{
	restore *R = calloc(1, sizeof(*R));
	cairn_tree_reader *t = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!R)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	restore_init(R, r, snap, opts, out);
	if (!opts->dry_run && (!opts->target || !opts->target[0])) {
		rc = cairn_error_set(CAIRN_EINVAL, "no target directory");
		goto out;
	}
	if ((rc = compile_patterns(R, opts)))
		goto out;
	if (opts->dry_run) {
		/* Only the manifest is read. */
		if (!(rc = cairn_tree_reader_open(&t, r, snap)) && !(rc = restore_entries(R, t)))
			rc = check_patterns(R);
		goto out;
	}
	if ((rc = open_target(R, opts->target)) || (rc = restore_pool_start(R)) ||
	    (rc = cairn_tree_reader_open(&t, r, snap)) || (rc = restore_batches_init(R)))
		goto out;
	restore_progress(R, 1);
	if (!(rc = restore_entries(R, t)) && !(rc = finish_restore(R)))
		rc = check_patterns(R);
out:
	cairn_tree_reader_free(t);
	restore_pool_stop(R);
	if (!opts->dry_run)
		out->bytes = atomic_load(&R->bytes_written);
	restore_free(R);
	if (!rc && out->errors)
		rc = cairn_error_set(CAIRN_EPARTIAL, "%llu entries could not be restored",
		                     (unsigned long long)out->errors);
	return rc;
}

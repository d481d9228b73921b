/* The backup engine: its steps in order (see backup_internal.h for how
 * the parts work together). */
#include "backup/backup_internal.h"

#include "cairn/forget.h"
#include "fs/walk.h"
#include "util/hex.h"
#include "util/hold.h"
#include "util/time.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void cairn_backup_fail(struct backup *b, int rc)
{
	pthread_mutex_lock(&b->lock);
	if (!b->fatal) {
		cairn_error_save(&b->fatal_error, rc);
		b->fatal = b->fatal_error.code;
	}
	b->stop = 1;
	pthread_cond_broadcast(&b->work_cv);
	pthread_cond_broadcast(&b->done_cv);
	pthread_cond_broadcast(&b->jobs.job_cv);
	pthread_mutex_unlock(&b->lock);
	/* a worker waiting for a free pack writer */
	pthread_mutex_lock(&b->commit_lock);
	pthread_cond_broadcast(&b->commit_cv);
	pthread_mutex_unlock(&b->commit_lock);
}

static int flush_index(void *repo)
{
	return cairn_repo_flush_index(repo);
}

static int strv_dup(const char *const *src, size_t n, char ***out)
{
	*out = calloc(n + 1, sizeof(char *));
	if (!*out)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (!((*out)[i] = strdup(src[i])))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return 0;
}

/* The index's word on a chunk is checked against its pack before the
 * chunk is skipped (cairn_repo_verify_locations). */
static int verify_locations(void *ud, void *sealer, const cairn_index_entry *e, size_t n,
                            uint8_t *ok)
{
	return cairn_repo_verify_locations(ud, sealer, e, n, ok);
}

static int backup_new(struct backup **out, cairn_repo *r, const cairn_backup_opts *opts)
{
	struct backup *b = calloc(1, sizeof(*b));
	*out = b;
	if (!b)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	b->started_ns = cairn_now_ns(CLOCK_MONOTONIC);
	b->repo = r;
	b->opts = opts;
	b->index = cairn_repo_index(r);
	b->pack_target = cairn_repo_config_get(r)->pack_target;
	b->spool_dir = getenv("TMPDIR");
	if (!b->spool_dir || !*b->spool_dir)
		b->spool_dir = "/var/tmp";
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->dedup_lock, NULL);
	cairn_dedup_init(&b->dedup, &b->dedup_lock, b->index, opts->dry_run, opts->dedup_generation,
	                 flush_index, r);
	b->dedup.verify = verify_locations;
	b->dedup.verify_ud = r;
	pthread_cond_init(&b->work_cv, NULL);
	pthread_cond_init(&b->done_cv, NULL);
	pthread_mutex_init(&b->commit_lock, NULL);
	pthread_cond_init(&b->commit_cv, NULL);
	return 0;
}

/* Fails, before anything is written, if not one of the paths can be
 * looked at: such a backup would be an empty snapshot that becomes the
 * latest. Some of them missing are reported by the walk. */
static int check_some_exist(struct backup *b)
{
	cairn_buf names = CAIRN_BUF_INIT;
	struct stat st;
	int rc = 0;
	for (size_t i = 0; i < b->n_paths; i++) {
		if (lstat(b->paths[i], &st) == 0)
			goto out;
		if ((rc = cairn_buf_printf(&names, "%s%s: %s", i ? "; " : "", b->paths[i],
		                           strerror(errno))))
			goto out;
	}
	rc = cairn_error_set(
	    CAIRN_ENOTFOUND, "nothing to back up: %s%s",
	    b->n_paths == 1 ? "" : "none of the paths can be read: ", (const char *)names.data);
out:
	cairn_buf_free(&names);
	return rc;
}

static int check_paths(struct backup *b)
{
	int rc;
	if (b->opts->stdin_name)
		rc = cairn_backup_stdin_path(b);
	else if (b->opts->n_paths == 0)
		return cairn_error_set(CAIRN_EINVAL, "nothing to back up: give one or more paths");
	else
		rc = cairn_backup_top_paths(b->opts, &b->paths, &b->n_paths);
	if (rc || (!b->opts->stdin_name && (rc = check_some_exist(b))) ||
	    (rc = cairn_patterns_new(&b->excludes, b->opts->excludes, b->opts->n_excludes)))
		return rc;
	return cairn_chunker_init(&b->chunker, &cairn_repo_config_get(b->repo)->chunker);
}

/* The snapshot record: time, host, user, paths, tags. */
static int snapshot_record(struct backup *b, cairn_snapshot *out)
{
	const cairn_backup_opts *opts = b->opts;
	int rc;
	out->time_ns = cairn_now_ns(CLOCK_REALTIME);
	char host[256];
	if (opts->host) {
		out->host = strdup(opts->host);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		out->host = strdup(host);
	}
	struct passwd *pw = getpwuid(getuid());
	out->user = strdup(pw ? pw->pw_name : "");
	if (!out->host || !out->user)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = strv_dup((const char *const *)b->paths, b->n_paths, &out->paths)))
		return rc;
	out->n_paths = b->n_paths;
	if ((rc = strv_dup(opts->tags, opts->n_tags, &out->tags)))
		return rc;
	out->n_tags = opts->n_tags;
	return 0;
}

static int view_gone(void *ud, const cairn_index_entry *e)
{
	return cairn_gc_view_entry_gone(ud, e);
}

/* Before anything is read: the marker, then what prune condemned or
 * deleted (gc/view.h). A dry run writes nothing a prune could lose. */
static int open_gc(struct backup *b)
{
	int rc;
	if (b->opts->dry_run)
		return 0;
	if ((rc = cairn_gc_view_open(&b->gc, b->repo)))
		return rc;
	b->dedup.gone = view_gone;
	b->dedup.gone_ud = &b->gc;
	return 0;
}

/* The parent snapshot is the files cache, chosen among the snapshots
 * whose records can be read: a damaged one is reported and passed over. */
static int open_parent(struct backup *b, cairn_snapshot *out)
{
	cairn_snapshot *parent = &b->parent_snapshot;
	cairn_snapshot_skips skips = {b->opts->warn, b->opts->ud, 0};
	int rc = cairn_backup_find_parent(b->repo, out->host, b->paths, b->n_paths, &skips, parent);
	b->snapshots_skipped = skips.count;
	if (rc == CAIRN_ENOTFOUND) {
		rc = 0;
	} else if (!rc) {
		out->has_parent = 1;
		memcpy(out->parent, parent->id, CAIRN_ID_SIZE);
		rc = cairn_tree_reader_open(&b->parent, b->repo, parent);
	}
	/* Tests stop here to forget and prune the parent meanwhile. */
	cairn_hold("backup-parent");
	return rc;
}

/* The ring, and the manifest written from the main thread. */
static int start_manifest(struct backup *b)
{
	int rc;
	b->ring = calloc(RING_SLOTS, sizeof(*b->ring));
	if (!b->ring)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = cairn_backup_worker_init(&b->main_ctx, b, 0)))
		return rc;
	return cairn_tree_writer_new(&b->tree, &b->chunker.params, b->main_ctx.fp,
	                             cairn_backup_tree_sink, &b->main_ctx);
}

static int start_workers(struct backup *b)
{
	int rc;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	b->n_workers = b->opts->threads > 0 ? b->opts->threads : (ncpu > 0 ? (int)ncpu : 1);
	if (b->n_workers > 64)
		b->n_workers = 64;
	b->workers = calloc((size_t)b->n_workers, sizeof(*b->workers));
	if (!b->workers)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = cairn_jobs_init(&b->jobs, (size_t)b->n_workers, &cairn_backup_job_ops, &b->lock,
	                          &b->work_cv, &b->idle_workers, &b->fatal)))
		return rc;
	for (int i = 0; i < b->n_workers; i++)
		if ((rc = cairn_backup_worker_init(&b->workers[i], b, 1)))
			return rc;
	cairn_backup_committer_start(b);
	b->batch_max = cairn_backup_batch_files_max(b);
	for (int i = 0; i < b->n_workers; i++) {
		if (pthread_create(&b->workers[i].thread, NULL, cairn_backup_worker_main,
		                   &b->workers[i]) != 0)
			return cairn_error_set(CAIRN_ERROR, "cannot start a worker thread");
		b->workers[i].started = 1;
	}
	return 0;
}

/* Tells the workers to commit their last packs and end. */
static void stop_workers(struct backup *b)
{
	pthread_mutex_lock(&b->lock);
	b->stop = 1;
	pthread_cond_broadcast(&b->work_cv);
	pthread_mutex_unlock(&b->lock);
}

static int finish_workers(struct backup *b)
{
	stop_workers(b);
	for (int i = 0; i < b->n_workers; i++)
		if (b->workers[i].started) {
			pthread_join(b->workers[i].thread, NULL);
			b->workers[i].started = 0;
		}
	cairn_backup_committer_stop(b);
	return b->fatal;
}

/* The manifest's last chunks and pack while the workers commit theirs
 * (not after a failure, which left the tree incomplete), then the end of
 * every thread. */
static int finish(struct backup *b, int rc, int failed, cairn_snapshot *out)
{
	stop_workers(b);
	if (!rc && !failed &&
	    !(rc = cairn_tree_writer_finish(b->tree, &out->manifest, &out->n_manifest,
	                                    &out->manifest_size)))
		rc = cairn_backup_flush_pack(&b->main_ctx, 1);
	if (!rc && !failed)
		cairn_backup_help_commit(b, b->main_ctx.sealer);
	if (finish_workers(b))
		/* A worker's failure explains whatever stopped the main thread. */
		rc = cairn_error_restore(&b->fatal_error);
	if (rc)
		return rc;
	return cairn_repo_flush_index(b->repo);
}

/* Writes the snapshot record if no prune can have taken the backup for
 * dead, and takes it back if one may have while it was on its way: that
 * prune may have deleted chunks it references. */
static int save_checked(struct backup *b, cairn_snapshot *out)
{
	int rc = cairn_gc_view_check(&b->gc);
	if (rc)
		return rc;
	/* Tests stop a backup here, as a slow store would. */
	cairn_hold("backup-saving");
	if ((rc = cairn_snapshot_save(b->repo, out)) || !(rc = cairn_gc_view_check(&b->gc)))
		return rc;
	cairn_error_saved lapsed;
	cairn_error_save(&lapsed, rc);
	char hex[CAIRN_ID_HEX + 1];
	cairn_hex_encode(hex, out->id, CAIRN_ID_SIZE);
	if (cairn_snapshot_forget(b->repo, out->id) != 0)
		/* Its own error says what is left of it. */
		return cairn_error_prefix(
		    rc,
		    "a prune may have taken this backup for dead, and snapshot "
		    "%s may reference chunks it deleted; taking it back failed",
		    hex);
	cairn_error_restore(&lapsed);
	return cairn_error_prefix(rc, "snapshot %s was written and taken back", hex);
}

/* Tells of each exclude pattern that matched nothing: a mistyped one
 * leaves out nothing, silently otherwise. */
static void warn_unmatched(struct backup *b)
{
	char msg[1200];
	for (size_t i = 0; b->opts->warn && i < cairn_patterns_count(b->excludes); i++) {
		if (cairn_patterns_hits(b->excludes, i))
			continue;
		snprintf(msg, sizeof(msg), "exclude pattern matched nothing: %s",
		         cairn_patterns_text(b->excludes, i));
		b->opts->warn(b->opts->ud, NULL, msg);
	}
}

/* Writes the snapshot record with its totals; CAIRN_EPARTIAL if some
 * paths, or some snapshot records, could not be read. */
static int save_snapshot(struct backup *b, cairn_snapshot *out)
{
	int rc;
	b->sum.bytes_read = b->bytes_read;
	b->sum.bytes_added = b->bytes_added;
	b->sum.blobs_added = b->blobs_added;
	b->sum.tree_blobs_added = b->tree_blobs_added;
	b->sum.duration_ns = (uint64_t)(cairn_now_ns(CLOCK_MONOTONIC) - b->started_ns);
	out->summary = b->sum;
	cairn_backup_progress(b, NULL, 1);
	warn_unmatched(b);
	if (b->dedup.rejected && b->opts->warn) {
		char msg[200];
		snprintf(msg, sizeof(msg),
		         "%zu location(s) the index gave did not match their packs' trailers; "
		         "those chunks were stored again",
		         b->dedup.rejected);
		b->opts->warn(b->opts->ud, "index", msg);
	}
	if (!b->opts->dry_run && (rc = save_checked(b, out)))
		return rc;
	/* The snapshot is in: the marker may go. */
	cairn_gc_view_close(&b->gc);
	if (b->sum.errors)
		return cairn_error_set(CAIRN_EPARTIAL, "%llu %s could not be read",
		                       (unsigned long long)b->sum.errors,
		                       b->sum.errors == 1 ? "path" : "paths");
	if (b->snapshots_skipped)
		return cairn_error_set(CAIRN_EPARTIAL,
		                       "%zu snapshot %s could not be read; the parent was "
		                       "chosen among the others",
		                       b->snapshots_skipped,
		                       b->snapshots_skipped == 1 ? "record" : "records");
	return 0;
}

/* Ends the threads, if any; after a failure, registers what the backup
 * did store, which is still worth finding next time. The failure rc it
 * met is the one to report. */
static void stop_threads(struct backup *b, int rc)
{
	cairn_error_saved saved;
	cairn_backup_count_stop(b);
	if (!b->workers)
		return;
	if (rc)
		cairn_error_save(&saved, rc);
	finish_workers(b);
	if (rc && !b->opts->dry_run)
		(void)cairn_repo_flush_index(b->repo);
	for (int i = 0; i < b->n_workers; i++)
		cairn_backup_worker_free(&b->workers[i]);
	free(b->workers);
	cairn_backup_committer_free(b);
	if (rc)
		cairn_error_restore(&saved);
}

static void backup_free(struct backup *b)
{
	if (b->jobs.lock)
		cairn_jobs_free(&b->jobs);
	if (b->ring) {
		for (size_t i = 0; i < RING_SLOTS; i++) {
			cairn_entry_clear(&b->ring[i].e);
			free(b->ring[i].warning);
		}
		free(b->ring);
	}
	cairn_backup_worker_free(&b->main_ctx);
	cairn_tree_writer_free(b->tree);
	cairn_tree_reader_free(b->parent);
	cairn_entry_clear(&b->parent_entry);
	cairn_snapshot_clear(&b->parent_snapshot);
	cairn_backup_links_free(&b->links);
	cairn_names_free(b->ancestors, b->n_ancestors);
	cairn_names_free(b->paths, b->n_paths);
	cairn_patterns_free(b->excludes);
	cairn_dedup_free(&b->dedup);
	cairn_gc_view_close(&b->gc);
	pthread_mutex_destroy(&b->lock);
	pthread_mutex_destroy(&b->dedup_lock);
	pthread_cond_destroy(&b->work_cv);
	pthread_cond_destroy(&b->done_cv);
	pthread_mutex_destroy(&b->commit_lock);
	pthread_cond_destroy(&b->commit_cv);
	free(b);
}

int cairn_backup(cairn_repo *r, const cairn_backup_opts *opts, cairn_snapshot *out)
{
	struct backup *b;
	int failed, rc;

	memset(out, 0, sizeof(*out));
	if ((rc = backup_new(&b, r, opts)))
		return rc;
	if ((rc = check_paths(b)) || (rc = snapshot_record(b, out)) || (rc = open_gc(b)) ||
	    (rc = open_parent(b, out)) || (rc = start_manifest(b)) || (rc = start_workers(b)))
		goto out;
	cairn_backup_count_start(b);
	rc = cairn_backup_scan(b, &failed);
	cairn_backup_count_stop(b);
	if ((rc = finish(b, rc, failed, out)))
		goto out;
	rc = save_snapshot(b, out);
out:
	stop_threads(b, rc);
	backup_free(b);
	if (rc && rc != CAIRN_EPARTIAL)
		cairn_snapshot_clear(out);
	return rc;
}

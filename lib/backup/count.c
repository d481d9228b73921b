/* The count of what a backup has to do: a second walk of the top paths,
 * on a thread of its own, that runs ahead of the reading and adds up the
 * regular files and their sizes (as restic's scanner does), so that the
 * progress can give totals and an ETA. It leaves out what the walk leaves
 * out, reads no file, and gives up past a number of entries: a huge tree
 * gets no totals rather than a long second walk. */
#include "backup/backup_internal.h"

#include "fs/walk.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int count_entry(struct backup *b, struct count *c, int dfd, const char *name,
                       const char *path, dev_t top_dev);

/* 1 when the count should end: told to, or past its entries. */
static int enough(struct count *c)
{
	return atomic_load_explicit(&c->stop, memory_order_relaxed) || ++c->entries > c->max;
}

/* Counts the children of the directory path; one that cannot be listed
 * counts nothing (the walk reports it). 1 to stop. */
static int count_dir(struct backup *b, struct count *c, const char *path, dev_t top_dev)
{
	struct dir_list d = {.fd = -1};
	int stop = 0;
	size_t plen = strlen(path);

	d.fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d.fd < 0 || cairn_dir_names(d.fd, &d.names, &d.n) || cairn_backup_is_this_repo(b, &d) ||
	    cairn_backup_is_cairn_cache(&d))
		goto out;
	cairn_backup_keep_tags_only(b, &d);
	for (size_t i = 0; i < d.n && !stop; i++) {
		size_t len = plen + 1 + strlen(d.names[i]) + 1;
		char *child = malloc(len);
		if (!child) {
			stop = 1;
			break;
		}
		snprintf(child, len, "%s/%s", strcmp(path, "/") ? path : "", d.names[i]);
		stop = count_entry(b, c, d.fd, d.names[i], child, top_dev);
		free(child);
	}
out:
	cairn_backup_dir_list_free(&d);
	cairn_error_clear();
	return stop;
}

/* Counts path (name in dfd) and what is below it. 1 to stop. */
static int count_entry(struct backup *b, struct count *c, int dfd, const char *name,
                       const char *path, dev_t top_dev)
{
	struct stat st;
	if (enough(c))
		return 1;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    cairn_patterns_test(c->excludes, path, S_ISDIR(st.st_mode)))
		return 0;
	if (S_ISREG(st.st_mode)) {
		c->files++;
		c->bytes += (uint64_t)st.st_size;
		return 0;
	}
	if (!S_ISDIR(st.st_mode) || (b->opts->one_file_system && st.st_dev != top_dev))
		return 0;
	return count_dir(b, c, path, top_dev);
}

static void *count_main(void *arg)
{
	struct backup *b = arg;
	struct count *c = &b->count;
	int stop = 0;
	for (size_t i = 0; i < b->n_paths && !stop; i++) {
		struct stat st;
		if (lstat(b->paths[i], &st) == 0)
			stop = count_entry(b, c, AT_FDCWD, b->paths[i], b->paths[i], st.st_dev);
	}
	atomic_store_explicit(&c->state, stop ? COUNT_GAVE_UP : COUNT_DONE, memory_order_release);
	return NULL;
}

void cairn_backup_count_start(struct backup *b)
{
	struct count *c = &b->count;
	const cairn_backup_opts *o = b->opts;
	atomic_init(&c->stop, 0);
	atomic_init(&c->state, COUNT_GAVE_UP);
	if (!o->progress || o->stdin_name)
		return;
	c->max = o->count_max ? o->count_max : CAIRN_BACKUP_COUNT_MAX;
	if (cairn_patterns_new(&c->excludes, o->excludes, o->n_excludes)) {
		cairn_error_clear();
		return;
	}
	atomic_store(&c->state, COUNT_RUNNING);
	if (pthread_create(&c->thread, NULL, count_main, b) == 0)
		c->started = 1;
	else
		atomic_store(&c->state, COUNT_GAVE_UP);
}

void cairn_backup_count_stop(struct backup *b)
{
	struct count *c = &b->count;
	if (c->started) {
		atomic_store(&c->stop, 1);
		pthread_join(c->thread, NULL);
		c->started = 0;
	}
	cairn_patterns_free(c->excludes);
	c->excludes = NULL;
}

void cairn_backup_count_totals(struct backup *b, uint64_t *files, uint64_t *bytes)
{
	struct count *c = &b->count;
	if (atomic_load_explicit(&c->state, memory_order_acquire) != COUNT_DONE)
		return;
	*files = c->files;
	*bytes = c->bytes;
}

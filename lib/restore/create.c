/* Creating entries, one at a time in manifest order, each with one call
 * relative to its parent's descriptor: directories, regular files (handed
 * to the batches for their content), symlinks, hard links, FIFOs,
 * sockets and devices. Nothing is created by following a symlink: a
 * directory is opened with O_NOFOLLOW | O_DIRECTORY, a file with
 * O_CREAT | O_EXCL | O_NOFOLLOW.
 *
 * A hard link whose first name the includes leave out becomes a regular
 * file that holds the group's content (its holder), which one more pass
 * over the manifest fills in at the end (restore_link_holders). */
#include "restore/restore_internal.h"

#include "cairn/tree.h"
#include "fs/meta.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static link_slot *link_find(link_table *t, const char *target)
{
	if (!t->cap)
		return NULL;
	for (size_t i = str_hash(target) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		if (!t->slots[i].target)
			return NULL;
		if (strcmp(t->slots[i].target, target) == 0)
			return &t->slots[i];
	}
}

/* Takes target and holder (either may be freed here on failure). */
static int link_put(link_table *t, char *target, char *holder, dev_t dev, ino_t ino)
{
	if ((t->n + 1) * 2 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		link_slot *s = calloc(cap, sizeof(*s));
		if (!s) {
			free(target);
			free(holder);
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		}
		for (size_t i = 0; i < t->cap; i++) {
			if (!t->slots[i].target)
				continue;
			size_t j = str_hash(t->slots[i].target) & (cap - 1);
			while (s[j].target)
				j = (j + 1) & (cap - 1);
			s[j] = t->slots[i];
		}
		free(t->slots);
		t->slots = s;
		t->cap = cap;
	}
	size_t j = str_hash(target) & (t->cap - 1);
	while (t->slots[j].target)
		j = (j + 1) & (t->cap - 1);
	t->slots[j] = (link_slot){target, holder, dev, ino};
	t->n++;
	return 0;
}

void restore_links_free(link_table *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		free(t->slots[i].target);
		free(t->slots[i].holder);
	}
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* Remembers that the file at path could not be restored, so that its hard
 * links are reported rather than linked to whatever is there. */
static int note_failed_file(restore *R, const char *path)
{
	if (link_find(&R->links, path))
		return 0;
	char *p = strdup(path);
	if (!p)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return link_put(&R->links, p, NULL, 0, 0);
}

/* Opens a new regular file name in pfd for writing, in place of whatever
 * was there. When the process runs out of descriptors, the batches in
 * flight are finished first, which closes theirs. -1 with an error set
 * (a fatal one in *fatal). */
static int create_open(restore *R, int pfd, const char *name, mode_t mode, int *fatal)
{
	int flags =
	    (R->opts->verify ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	*fatal = 0;
	/* A fresh target has nothing in the way: try first, clear after. */
	int fd = openat(pfd, name, flags, mode);
	if (fd < 0 && errno == EEXIST && restore_make_room(pfd, name) == 0)
		fd = openat(pfd, name, flags, mode);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && (R->fill || R->collected < R->ring)) {
		int rc;
		if ((rc = restore_queue_batch(R)) || (rc = restore_drain(R))) {
			*fatal = rc;
			return -1;
		}
		fd = openat(pfd, name, flags, mode);
	}
	if (fd < 0)
		cairn_error_set_errno(CAIRN_EIO, errno, "cannot create");
	return fd;
}

/* Creates an empty regular file of size bytes (all hole) in place of
 * whatever was at name, and closes it: the holder of a hard link group,
 * filled at the end. */
static int create_holder(int pfd, const char *name, dev_t *dev, ino_t *ino)
{
	int fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && restore_make_room(pfd, name) == 0)
		fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create");
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0)
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
	/* A strict umask must not keep it from being reopened. */
	else if ((st.st_mode & 0600) != 0600 && fchmod(fd, 0600) != 0)
		rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot make it writable");
	if (!rc) {
		*dev = st.st_dev;
		*ino = st.st_ino;
	}
	close(fd);
	return rc;
}

/* Makes a directory name in pfd, or keeps the one there; *fresh tells
 * which. What is not a directory is replaced. */
static int make_dir(int pfd, const char *name, mode_t mode, int *fresh)
{
	struct stat st;
	*fresh = 1;
	if (mkdirat(pfd, name, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create directory");
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
	if (S_ISDIR(st.st_mode)) {
		*fresh = 0;
		return 0;
	}
	if (unlinkat(pfd, name, 0) != 0 || mkdirat(pfd, name, mode) != 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot replace with a directory");
	return 0;
}

/* Opens the directory name in pfd for reading, first giving it the
 * owner's bits (to mode, or to its own mode and them when mode is 0) if
 * it lacks them: all through an O_PATH descriptor opened without
 * following a symlink, so that no symlink put in its place is followed.
 * -1 with an error set. */
static int open_dir_writable(restore *R, int pfd, const char *name, mode_t mode, struct stat *st)
{
	int fd = -1, pathfd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pathfd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return cairn_error_set(CAIRN_EIO, "replaced during the restore");
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot open");
	}
	if (fstat(pathfd, st) != 0) {
		cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
		goto out;
	}
	if (!mode && (st->st_mode & 0700) != 0700)
		mode = (st->st_mode & 07777) | 0700;
	if (mode && restore_path_fd_chmod(R, pathfd, mode) != 0) {
		cairn_error_set_errno(CAIRN_EIO, errno, "cannot make it writable");
		goto out;
	}
	if ((fd = openat(pathfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		cairn_error_set_errno(CAIRN_EIO, errno, "cannot open");
out:
	close(pathfd);
	return fd;
}

/* Creates (or keeps) the directory name in pfd and opens it; d->fd and
 * d->info tell what it is now. pinfo (NULL if unknown) is its parent's. */
static int create_dir(restore *R, int pfd, const dir_info *pinfo, const char *name, rdir *d)
{
	/* Its own mode comes last; until then its contents must be creatable,
	 * and its group must not have more than its ACL gives it. mkdir
	 * takes the permission and sticky bits. */
	mode_t mode = (cairn_entry_mode_without_acl(&d->e) & 01777) | 0700;
	struct stat st;
	int fresh, rc;
	if ((rc = make_dir(pfd, name, mode, &fresh)))
		return rc;
	/* The umask may have taken the owner's own bits. */
	mode_t chmod_to = fresh && (!R->umask_known || (R->umask & 0700)) ? mode : 0;
	if ((d->fd = open_dir_writable(R, pfd, name, chmod_to, &st)) < 0)
		return CAIRN_EIO;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	/* A new directory is the effective user's, and its group is the
	 * effective group if its parent's is. */
	d->chown = R->is_root && !(fresh && pinfo && pinfo->gid_egid && d->e.uid == R->euid &&
	                           d->e.gid == R->egid);
	if (fresh && pinfo && pinfo->plain && R->umask_known && !(R->umask & 0700)) {
		/* Nothing in the parent changes what mkdir was asked for. */
		d->info.mode = mode & ~R->umask;
		d->info.plain = 1;
		d->info.gid_egid = pinfo->gid_egid;
	} else if (restore_dir_info_of(R, d->fd, &d->info) != 0) {
		int e = errno;
		close(d->fd);
		d->fd = -1;
		return cairn_error_set_errno(CAIRN_EIO, e, "cannot stat");
	}
	return 0;
}

static int create_node(restore *R, int pfd, const dir_info *pinfo, const char *name,
                       const cairn_entry *e, int *chmod)
{
	int rc;
	*chmod = 1;
	if (e->type == CAIRN_ENTRY_SYMLINK) {
		rc = symlinkat(e->link_target, pfd, name);
		if (rc != 0 && errno == EEXIST && restore_make_room(pfd, name) == 0)
			rc = symlinkat(e->link_target, pfd, name);
		return rc ? cairn_error_set_errno(CAIRN_EIO, errno, "cannot create symlink") : 0;
	}
	mode_t type = e->type == CAIRN_ENTRY_FIFO      ? S_IFIFO
	              : e->type == CAIRN_ENTRY_SOCKET  ? S_IFSOCK
	              : e->type == CAIRN_ENTRY_CHARDEV ? S_IFCHR
	                                               : S_IFBLK;
	dev_t dev = (type == S_IFCHR || type == S_IFBLK) ? (dev_t)e->rdev : 0;
	mode_t mode = cairn_entry_mode_without_acl(e) & 0777;
	rc = mknodat(pfd, name, type | mode, dev);
	if (rc != 0 && errno == EEXIST && restore_make_room(pfd, name) == 0)
		rc = mknodat(pfd, name, type | mode, dev);
	if (rc)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot create");
	*chmod = !(pinfo && pinfo->plain && (mode & ~R->umask) == (e->mode & 07777));
	return 0;
}

/* A hard link: to its first name if that was restored; otherwise this
 * name holds the content (written once the manifest has been read). */
static int create_hardlink(restore *R, int pfd, const char *name, cairn_entry *e)
{
	const char *target = e->link_target, *src = target;
	if (!target || cairn_restore_path_check(target) || !strcmp(target, "/") ||
	    cairn_path_cmp(target, e->path) >= 0)
		return cairn_error_set(CAIRN_ECORRUPT, "hard link to an invalid first name");
	link_slot *s = link_find(&R->links, target);
	if (s && !s->holder)
		return cairn_error_set(CAIRN_EIO,
		                       "not restored: its first name %s was not restored", target);
	if (s) {
		src = s->holder;
	} else if ((R->includes || R->excludes) &&
	           !cairn_restore_select(R->includes, R->excludes, target, 0, 0)) {
		dev_t dev = 0;
		ino_t ino = 0;
		int rc = create_holder(pfd, name, &dev, &ino);
		if (rc)
			return rc;
		char *t = strdup(target), *h = strdup(e->path);
		if (!t || !h) {
			free(t);
			free(h);
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		}
		for (size_t i = 0; i < R->n_stack; i++)
			R->stack[i].holder = 1;
		return link_put(&R->links, t, h, dev, ino);
	}

	const char *sdir, *sname;
	size_t slen;
	restore_split_path(src, &sdir, &slen, &sname);
	char *rel = strndup(sdir, slen);
	if (!rel)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	int sfd = restore_open_beneath(R, rel, O_PATH | O_DIRECTORY, 0, 0);
	free(rel);
	if (sfd < 0)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot link to %s", src);
	int rc = linkat(sfd, sname, pfd, name, 0);
	if (rc != 0 && errno == EEXIST && restore_make_room(pfd, name) == 0)
		rc = linkat(sfd, sname, pfd, name, 0);
	int saved = errno;
	close(sfd);
	return rc ? cairn_error_set_errno(CAIRN_EIO, saved, "cannot link to %s", src) : 0;
}

/* Creates a regular file and hands it to the batches: 0, 1 if it could
 * not be created (the error says why), or a fatal error. */
static int restore_file(restore *R, int pfd, const dir_info *pinfo, const char *name,
                        cairn_entry *e)
{
	mode_t want = e->mode & 07777;
	/* Created with its permission bits, its mode is right already unless
	 * the umask, a default ACL or set-id bits say otherwise. Writing
	 * xattrs needs the owner's write bit until they are set; until its
	 * ACL is, its group gets no more than the ACL gives it. */
	mode_t mode = cairn_entry_mode_without_acl(e) & 0777;
	if (e->n_xattrs)
		mode |= 0200;
	int chmod = !(pinfo && pinfo->plain && (mode & ~R->umask) == want);
	int chown =
	    R->is_root && !(pinfo && pinfo->gid_egid && e->uid == R->euid && e->gid == R->egid);
	int fatal, rc;
	struct stat st;
	int fd = create_open(R, pfd, name, mode, &fatal);
	if (fd < 0)
		return fatal ? fatal : 1;
	R->res->files++;
	if (e->flags) {
		if (fstat(fd, &st) != 0) {
			cairn_error_set_errno(CAIRN_EIO, errno, "cannot stat");
			close(fd);
			return 1;
		}
		if ((rc = restore_keep_flags(R, e, st.st_dev, st.st_ino))) {
			close(fd);
			return rc;
		}
	}
	return restore_add_file(R, e, fd, chmod, chown);
}

/* Whether the entry is one to create: its path is safe and the patterns
 * select it. An unsafe path is reported and counted. Sets R->done once
 * the includes are behind. */
static int selected(restore *R, const cairn_entry *e)
{
	if (cairn_restore_path_check(e->path) != 0) {
		restore_warnf(R, e->path, "not restored: %s", cairn_error_last());
		R->res->errors++;
		return 0;
	}
	if (strcmp(e->path, "/") == 0)
		return 0; /* the target itself: left as it is */
	if (cairn_restore_select(R->includes, R->excludes, e->path, e->type == CAIRN_ENTRY_DIR, 1))
		return 1;
	if (cairn_restore_includes_passed(R->includes, e->path))
		R->done = 1;
	return 0;
}

/* Forgets the held directories that are not above path. */
static void drop_held(restore *R, const char *path)
{
	while (R->n_held && !cairn_path_is_below(path, R->held[R->n_held - 1].path))
		cairn_entry_clear(&R->held[--R->n_held]);
}

/* Holds a directory not taken itself (taking its entry), in case
 * something below it is. */
static int hold_dir(restore *R, cairn_entry *e)
{
	int rc = cairn_array_grow((void **)&R->held, &R->cap_held, R->n_held + 1, sizeof(*R->held));
	if (rc)
		return rc;
	R->held[R->n_held++] = *e;
	memset(e, 0, sizeof(*e));
	return 0;
}

/* Creates a directory and pushes it on the stack (taking its entry). */
static int push_dir(restore *R, int pfd, const dir_info *pinfo, const char *name, cairn_entry *e)
{
	int rc;
	if ((rc = cairn_array_grow((void **)&R->stack, &R->cap_stack, R->n_stack + 1,
	                           sizeof(*R->stack))))
		return rc;
	rdir *d = &R->stack[R->n_stack];
	memset(d, 0, sizeof(*d));
	d->e = *e;
	if ((rc = create_dir(R, pfd, pinfo, name, d))) {
		memset(&d->e, 0, sizeof(d->e)); /* still e's */
		return rc;
	}
	memset(e, 0, sizeof(*e));
	d->len = strlen(d->e.path);
	if ((rc = restore_keep_flags(R, &d->e, d->dev, d->ino))) {
		close(d->fd);
		cairn_entry_clear(&d->e);
		return rc;
	}
	/* Past this depth, directories are reached by path. */
	if (R->n_stack >= R->max_dir_fds) {
		close(d->fd);
		d->fd = -1;
	}
	R->n_stack++;
	R->res->dirs++;
	return 0;
}

/* A symlink, FIFO, socket or device, and its metadata: 0 (problems with
 * the metadata reported and counted), or an error. */
static int create_other(restore *R, int pfd, const dir_info *pinfo, const char *name,
                        const cairn_entry *e)
{
	int chmod, rc;
	if ((rc = create_node(R, pfd, pinfo, name, e, &chmod)))
		return rc;
	R->res->others++;
	rc = restore_apply_meta_at(R, pfd, name, e, chmod);
	if (rc == CAIRN_ENOMEM)
		return rc;
	if (rc)
		R->res->errors++;
	return 0;
}

/* Creates the entry name in pfd: 0, 1 if it could not be created (the
 * error says why), or a fatal error. */
static int create_entry(restore *R, int pfd, const dir_info *pinfo, const char *name,
                        cairn_entry *e)
{
	int rc;
	switch (e->type) {
	case CAIRN_ENTRY_DIR:
		rc = push_dir(R, pfd, pinfo, name, e);
		break;
	case CAIRN_ENTRY_FILE:
		return restore_file(R, pfd, pinfo, name, e);
	case CAIRN_ENTRY_HARDLINK:
		/* Counted as backup counts it: among the others. */
		if (!(rc = create_hardlink(R, pfd, name, e)))
			R->res->others++;
		break;
	case CAIRN_ENTRY_CHARDEV:
	case CAIRN_ENTRY_BLOCKDEV:
		if (!R->is_root) {
			restore_warnf(R, e->path, "device not created: that needs root");
			return 0;
		}
		rc = create_other(R, pfd, pinfo, name, e);
		break;
	case CAIRN_ENTRY_SYMLINK:
	case CAIRN_ENTRY_FIFO:
	case CAIRN_ENTRY_SOCKET:
		rc = create_other(R, pfd, pinfo, name, e);
		break;
	default:
		rc = cairn_error_set(CAIRN_ECORRUPT, "unknown entry type %u", e->type);
		break;
	}
	return rc == CAIRN_ENOMEM ? rc : rc != 0;
}

/* Reports an entry that could not be created, and remembers a file that
 * was not, for its hard links. 0 or CAIRN_ENOMEM. */
static int entry_failed(restore *R, const cairn_entry *e)
{
	restore_warnf(R, e->path, "not restored: %s", cairn_error_last());
	R->res->errors++;
	return e->type == CAIRN_ENTRY_FILE ? note_failed_file(R, e->path) : 0;
}

/* What a dry run counts of an entry it would create. */
static void count_dry(restore *R, const cairn_entry *e)
{
	switch (e->type) {
	case CAIRN_ENTRY_DIR:
		R->res->dirs++;
		break;
	case CAIRN_ENTRY_FILE:
		R->res->files++;
		R->res->bytes += e->size;
		break;
	default:
		R->res->others++;
		break;
	}
	if (R->opts->dry_list)
		R->opts->dry_list(R->opts->ud, e->path);
}

/* Creates one entry the restore takes (taking it). Problems with the
 * entry are reported and counted; only fatal errors are returned. */
static int create_taken(restore *R, cairn_entry *e)
{
	const char *name;
	const dir_info *pinfo;
	dir_info pcopy;
	int rc;

	if (R->opts->dry_run) {
		count_dry(R, e);
		return 0;
	}
	cairn_buf_clear(&R->last_path);
	if ((rc = cairn_buf_append_str(&R->last_path, e->path)) ||
	    (rc = restore_leave_dirs(R, e->path)))
		return rc;
	int pfd = restore_parent_dir(R, e->path, 1, &name, &pinfo);
	if (pfd == CAIRN_ENOMEM)
		return pfd;
	if (pfd < 0)
		return entry_failed(R, e);
	/* The stack may move when a directory is pushed. */
	if (pinfo) {
		pcopy = *pinfo;
		pinfo = &pcopy;
	}
	if ((rc = create_entry(R, pfd, pinfo, name, e)) == 1)
		rc = entry_failed(R, e);
	return rc;
}

/* Restores one manifest entry (taking it): first the held directories
 * above it if it is taken, or holds it if it is a directory that is
 * not. */
int restore_entry(restore *R, cairn_entry *e)
{
	int rc = 0;
	int take = selected(R, e);
	drop_held(R, e->path);
	if (!take) {
		if (e->type == CAIRN_ENTRY_DIR && !R->done && strcmp(e->path, "/") != 0 &&
		    !cairn_restore_path_check(e->path))
			rc = hold_dir(R, e);
		goto out;
	}
	for (size_t i = 0; i < R->n_held && !rc; i++)
		rc = create_taken(R, &R->held[i]);
	for (size_t i = 0; i < R->n_held; i++)
		cairn_entry_clear(&R->held[i]);
	R->n_held = 0;
	if (!rc)
		rc = create_taken(R, e);
out:
	cairn_entry_clear(e);
	restore_progress(R, 0);
	return rc;
}

static int by_target(const void *a, const void *b)
{
	return cairn_path_cmp((*(link_slot *const *)a)->target, (*(link_slot *const *)b)->target);
}

/* Opens a holder for writing again, checking that it is still the one
 * created. -1 with a message in why. */
static int open_holder(restore *R, const link_slot *s, char *why, size_t why_len)
{
	int flags = (R->opts->verify ? O_RDWR : O_WRONLY) | O_NOFOLLOW;
	int fd = restore_open_beneath(R, s->holder + 1, flags, 0, 0);
	struct stat st;
	if (fd < 0) {
		snprintf(why, why_len, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_dev != s->dev || st.st_ino != s->ino) {
		snprintf(why, why_len, "replaced during the restore");
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes the content of hard link groups whose first name was not
 * restored into the name that stands in for it. */
int restore_link_holders(restore *R)
{
	link_slot **v = NULL;
	cairn_tree_reader *t = NULL;
	cairn_entry e = {0};
	size_t n = 0, k = 0;
	int rc = 0;

	for (size_t i = 0; i < R->links.cap; i++)
		if (R->links.slots[i].target && R->links.slots[i].holder)
			n++;
	if (n == 0)
		return 0;
	if (!(v = malloc(n * sizeof(*v))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	n = 0;
	for (size_t i = 0; i < R->links.cap; i++)
		if (R->links.slots[i].target && R->links.slots[i].holder)
			v[n++] = &R->links.slots[i];
	qsort(v, n, sizeof(*v), by_target);

	if ((rc = cairn_tree_reader_open(&t, R->repo, R->snap)))
		goto out;
	while (k < n) {
		if ((rc = restore_next_entry(R, t, &e)) != 1)
			break;
		rc = 0;
		while (k < n && cairn_path_cmp(v[k]->target, e.path) < 0) {
			restore_warnf(R, v[k]->holder,
			              "no content: its first name %s is not in the snapshot",
			              v[k]->target);
			R->res->errors++;
			k++;
		}
		if (k < n && strcmp(v[k]->target, e.path) == 0) {
			link_slot *s = v[k++];
			if (e.type != CAIRN_ENTRY_FILE) {
				restore_warnf(R, s->holder,
				              "no content: its first name %s is not a file",
				              s->target);
				R->res->errors++;
			} else {
				char why[256];
				int fd = open_holder(R, s, why, sizeof(why));
				if (fd >= 0 && ftruncate(fd, (off_t)e.size) != 0) {
					snprintf(why, sizeof(why), "cannot set the size: %s",
					         strerror(errno));
					close(fd);
					fd = -1;
				}
				if (fd >= 0) {
					char *p = strdup(s->holder);
					if (!p) {
						close(fd);
						rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
						break;
					}
					free(e.path);
					e.path = p;
					if ((rc = restore_keep_flags(R, &e, s->dev, s->ino))) {
						close(fd);
						break;
					}
					if ((rc = restore_add_file(R, &e, fd, 1, R->is_root)))
						break;
					continue;
				}
				restore_warnf(R, s->holder, "no content: %s", why);
				R->res->errors++;
			}
		}
		cairn_entry_clear(&e);
	}
	for (; !rc && k < n; k++) {
		restore_warnf(R, v[k]->holder, "no content: its first name %s was not found",
		              v[k]->target);
		R->res->errors++;
	}
	if (!rc && !(rc = restore_queue_batch(R)))
		rc = restore_drain(R);
out:
	cairn_entry_clear(&e);
	cairn_tree_reader_free(t);
	free(v);
	return rc;
}

/* cairn mount DIR: the repository's snapshots as a read-only FUSE file
 * system (cairn/browse.h does the browsing), in the foreground until it
 * is unmounted (fusermount3 -u DIR) or told to stop (SIGINT, SIGTERM,
 * SIGHUP), which unmounts it. */
#include "cmd.h"
#include "common.h"
#include "output.h"
#include "select.h"

#include "cairn/browse.h"
#include "cairn/errors.h"
#include "util/units.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
	OPT_CACHE_SIZE = CLI_OPT_OWN,
	OPT_ALLOW_OTHER,
};

static const struct option options[] = {
    {"cache-size", required_argument, NULL, OPT_CACHE_SIZE},
    {"allow-other", no_argument, NULL, OPT_ALLOW_OTHER},
    CLI_FILTER_HOST,
    CLI_FILTER_TAG,
    CLI_FILTER_PATH,
    {NULL, 0, NULL, 0},
};

typedef struct mount_args {
	const char *dir;
	uint64_t cache_bytes;
	int allow_other;
	cli_filter filter;
} mount_args;

/* The options and DIR: 0, or the exit status after reporting. */
static int parse_args(cli_ctx *ctx, int argc, char **argv, mount_args *a)
{
	int c, status;
	while ((c = cli_getopt(ctx, argc, argv, options)) != -1) {
		if (c == CLI_OPT_EXIT)
			return ctx->exit_code ? ctx->exit_code : -1;
		if (c == OPT_CACHE_SIZE) {
			if (cairn_size_parse(optarg, &a->cache_bytes) ||
			    a->cache_bytes < (1u << 20))
				return cli_usage_error(
				    ctx, "--cache-size: not a size of 1M or more: %s", optarg);
		} else if (c == OPT_ALLOW_OTHER) {
			a->allow_other = 1;
		} else if ((status = cli_filter_option(ctx, &a->filter, c, optarg))) {
			return status;
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(ctx, optind == argc ? "mount needs a directory"
		                                           : "mount takes one directory");
	a->dir = argv[optind];
	return 0;
}

#ifdef CAIRN_HAVE_FUSE

#define FUSE_USE_VERSION 312
#include <fuse.h>

/* How long the kernel may keep what it was told: snapshots do not change. */
#define CACHE_SECONDS 3600.0

/* A library code as an errno value. */
static int err_of(int rc)
{
	switch (rc) {
	case CAIRN_ENOTFOUND:
		return ENOENT;
	case CAIRN_EINVAL:
		return EINVAL;
	case CAIRN_ENOMEM:
		return ENOMEM;
	default:
		return EIO;
	}
}

static cairn_browse *view(void)
{
	return fuse_get_context()->private_data;
}

static void *m_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->use_ino = 1;
	cfg->readdir_ino = 1;
	cfg->kernel_cache = 1;
	cfg->entry_timeout = cfg->attr_timeout = CACHE_SECONDS;
	cfg->negative_timeout = CACHE_SECONDS;
	return fuse_get_context()->private_data;
}

static mode_t type_bits(uint8_t type)
{
	switch (type) {
	case CAIRN_ENTRY_DIR:
		return S_IFDIR;
	case CAIRN_ENTRY_SYMLINK:
		return S_IFLNK;
	case CAIRN_ENTRY_FIFO:
		return S_IFIFO;
	case CAIRN_ENTRY_CHARDEV:
		return S_IFCHR;
	case CAIRN_ENTRY_BLOCKDEV:
		return S_IFBLK;
	case CAIRN_ENTRY_SOCKET:
		return S_IFSOCK;
	default:
		return S_IFREG;
	}
}

static struct timespec timespec_of(int64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += 1000000000;
	}
	return ts;
}

static void to_stat(const cairn_browse_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = type_bits(a->type) | (a->mode & 07777);
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_rdev = a->rdev;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_mtim = timespec_of(a->mtime_ns);
	st->st_ctim = timespec_of(a->ctime_ns);
	st->st_atim = st->st_mtim;
}

/* A failure the user should hear of: damaged or missing data. */
static int report(const char *path, int rc)
{
	if (rc != CAIRN_ENOTFOUND && rc != CAIRN_EINVAL)
		cli_error("%s: %s", path, cairn_error_last());
	return -err_of(rc);
}

static int m_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	cairn_browse_attr a;
	int rc = cairn_browse_stat(view(), path, &a);
	if (rc)
		return report(path, rc);
	to_stat(&a, st);
	return 0;
}

static int m_readlink(const char *path, char *buf, size_t size)
{
	char *target;
	int rc = cairn_browse_readlink(view(), path, &target);
	if (rc)
		return report(path, rc);
	snprintf(buf, size, "%s", target);
	free(target);
	return 0;
}

typedef struct dir_fill {
	void *buf;
	fuse_fill_dir_t filler;
} dir_fill;

static int fill_one(void *ud, const char *name, const cairn_browse_attr *a, uint64_t next)
{
	dir_fill *d = ud;
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_ino = a->ino;
	st.st_mode = type_bits(a->type);
	return d->filler(d->buf, name, &st, (off_t)next, 0);
}

static int m_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                     struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	dir_fill d = {buf, filler};
	int rc = cairn_browse_list(view(), path, (uint64_t)off, fill_one, &d);
	return rc ? report(path, rc) : 0;
}

/* An open file, its path for messages, and whether its damage was told
 * already. */
typedef struct open_file {
	cairn_browse_file *f;
	char *path;
	int told;
} open_file;

static int m_open(const char *path, struct fuse_file_info *fi)
{
	open_file *o;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	if (!(o = calloc(1, sizeof(*o))) || !(o->path = strdup(path))) {
		free(o);
		return -ENOMEM;
	}
	int rc = cairn_browse_file_open(view(), path, &o->f);
	if (rc) {
		free(o->path);
		free(o);
		return report(path, rc);
	}
	fi->fh = (uint64_t)(uintptr_t)o;
	fi->keep_cache = 1;
	return 0;
}

static int m_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	open_file *o = (open_file *)(uintptr_t)fi->fh;
	int64_t n = cairn_browse_file_read(o->f, buf, size, (uint64_t)off);
	if (n >= 0)
		return (int)n;
	/* Once for each opening: a reader retries, the kernel reads ahead. */
	if (!__atomic_exchange_n(&o->told, 1, __ATOMIC_SEQ_CST))
		return report(o->path, (int)n);
	return -err_of((int)n);
}

static int m_release(const char *path, struct fuse_file_info *fi)
{
	open_file *o = (open_file *)(uintptr_t)fi->fh;
	cairn_browse_file_close(o->f);
	free(o->path);
	free(o);
	return 0;
}

static int m_getxattr(const char *path, const char *name, char *value, size_t size)
{
	cairn_xattr *x;
	size_t n;
	int rc = cairn_browse_xattrs(view(), path, &x, &n), res = -ENODATA;
	if (rc)
		return report(path, rc);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(x[i].name, name) != 0)
			continue;
		if (size && size < x[i].value_len)
			res = -ERANGE;
		else if ((res = (int)x[i].value_len) && size)
			memcpy(value, x[i].value, x[i].value_len);
		break;
	}
	cairn_entry e = {.xattrs = x, .n_xattrs = n};
	cairn_entry_clear(&e);
	return res;
}

static int m_listxattr(const char *path, char *list, size_t size)
{
	cairn_xattr *x;
	size_t n, total = 0;
	int rc = cairn_browse_xattrs(view(), path, &x, &n);
	if (rc)
		return report(path, rc);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(x[i].name) + 1;
		if (size && total + len > size) {
			total = SIZE_MAX;
			break;
		}
		if (size)
			memcpy(list + total, x[i].name, len);
		total += len;
	}
	cairn_entry e = {.xattrs = x, .n_xattrs = n};
	cairn_entry_clear(&e);
	return total == SIZE_MAX ? -ERANGE : (int)total;
}

static int m_statfs(const char *path, struct statvfs *st)
{
	memset(st, 0, sizeof(*st));
	st->f_bsize = st->f_frsize = 4096;
	st->f_namemax = 255;
	return 0;
}

static const struct fuse_operations ops = {
    .init = m_init,
    .getattr = m_getattr,
    .readlink = m_readlink,
    .readdir = m_readdir,
    .open = m_open,
    .read = m_read,
    .release = m_release,
    .getxattr = m_getxattr,
    .listxattr = m_listxattr,
    .statfs = m_statfs,
};

/* Mounts the view at a->dir and serves it until unmounted. */
static int serve(cli_ctx *ctx, cairn_browse *b, const mount_args *a)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *loop = NULL;
	struct fuse *f = NULL;
	int mounted = 0, handlers = 0, status = CLI_EXIT_FATAL;
	const char *opts = a->allow_other
	                       ? "ro,fsname=cairn,subtype=cairn,allow_other,default_permissions"
	                       : "ro,fsname=cairn,subtype=cairn";

	if (fuse_opt_add_arg(&args, "cairn") || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, opts) || !(loop = fuse_loop_cfg_create())) {
		cli_error("out of memory");
		goto out;
	}
	if (!(f = fuse_new(&args, &ops, sizeof(ops), b))) {
		cli_error("cannot set up FUSE");
		goto out;
	}
	if (fuse_mount(f, a->dir) != 0) {
		cli_error("cannot mount on %s (see the message above)", a->dir);
		goto out;
	}
	mounted = 1;
	/* libfuse leaves alone a signal that is ignored, as SIGINT is in a
	 * script's background job: either of these asks to unmount. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (fuse_set_signal_handlers(fuse_get_session(f)) != 0) {
		cli_error("cannot handle signals");
		goto out;
	}
	handlers = 1;
	if (!ctx->quiet)
		cli_note("%zu %s mounted at %s; unmount with fusermount3 -u or Ctrl-C",
		         cairn_browse_count(b),
		         cli_plural(cairn_browse_count(b), "snapshot", "snapshots"), a->dir);
	fuse_loop_cfg_set_clone_fd(loop, 0);
	fuse_loop_cfg_set_idle_threads(loop, 8);
	/* libfuse's signal handlers end the loop with the signal's number. */
	int rc = fuse_loop_mt(f, loop);
	if (rc == 0 || rc == SIGINT || rc == SIGTERM || rc == SIGHUP)
		status = CLI_EXIT_OK;
	else
		cli_error("the FUSE session of %s ended with an error (%d)", a->dir, rc);
out:
	if (handlers)
		fuse_remove_signal_handlers(fuse_get_session(f));
	if (mounted)
		fuse_unmount(f);
	if (f)
		fuse_destroy(f);
	fuse_loop_cfg_destroy(loop);
	fuse_opt_free_args(&args);
	return status;
}

int cmd_mount(cli_ctx *ctx, int argc, char **argv)
{
	mount_args a = {.filter = CLI_FILTER_INIT};
	cairn_snapshot_skips skips = {cli_warn_cb, NULL, 0};
	cairn_browse_opts o = {0};
	cairn_repo *repo = NULL;
	cairn_browse *b = NULL;
	int rc, status = parse_args(ctx, argc, argv, &a);

	if (status)
		goto out;
	if (access(a.dir, F_OK) != 0) {
		cli_error("%s: %s", a.dir, strerror(errno));
		status = CLI_EXIT_FATAL;
		goto out;
	}
	if ((status = cli_repo_open(ctx, &repo)) != 0)
		goto out;
	o.cache_bytes = (size_t)a.cache_bytes;
	o.filter = cli_filter_get(&a.filter);
	o.skips = &skips;
	o.uid = getuid();
	o.gid = getgid();
	if ((rc = cairn_browse_open(&b, repo, &o))) {
		status = cli_fail(rc);
		goto out;
	}
	status = serve(ctx, b, &a);
out:
	cairn_browse_free(b);
	cairn_repo_free(repo);
	cli_filter_free(&a.filter);
	return status < 0 ? CLI_EXIT_OK : status;
}

#else

int cmd_mount(cli_ctx *ctx, int argc, char **argv)
{
	mount_args a = {.filter = CLI_FILTER_INIT};
	int status = parse_args(ctx, argc, argv, &a);
	cli_filter_free(&a.filter);
	if (status)
		return status < 0 ? CLI_EXIT_OK : status;
	cli_error("this cairn was built without FUSE (libfuse3): mount is not available");
	return CLI_EXIT_FATAL;
}

#endif

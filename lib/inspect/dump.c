/* `cairn dump` (cairn/dump.h): the entry at a path, and for a directory
 * everything below it as a tar stream (format/tar.h), read in path order
 * from the manifest. */
#include "cairn/dump.h"

#include "cairn/errors.h"
#include "cairn/tree.h"
#include "format/tar.h"
#include "inspect/content.h"
#include "util/hex.h"
#include "util/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

typedef struct dump_run {
	cairn_repo *r;
	const cairn_snapshot *snap;
	const cairn_dump_opts *o;
	cairn_dump_result *out;
	const char *root; /* the path dumped, normalised */
	content_reader content;
	cairn_buf hdr;
} dump_run;

static void warn(dump_run *d, const char *path, const char *why)
{
	if (d->o->warn)
		d->o->warn(d->o->warn_ud, path, why);
}

static int flush_header(dump_run *d)
{
	int rc = d->hdr.len ? d->o->write(d->o->write_ud, d->hdr.data, d->hdr.len) : 0;
	cairn_buf_clear(&d->hdr);
	return rc;
}

/* Reads snap's manifest up to path: 1 and *out (the caller clears it)
 * if it has an entry there, 0 if not. */
static int find_entry(dump_run *d, const char *path, cairn_entry *out)
{
	cairn_tree_reader *t = NULL;
	int rc = cairn_tree_reader_open(&t, d->r, d->snap);
	if (rc)
		return inspect_manifest_error(rc, d->snap);
	while ((rc = cairn_tree_reader_next(t, out)) == 1) {
		int cmp = cairn_path_cmp(out->path, path);
		if (cmp == 0)
			break;
		cairn_entry_clear(out);
		if (cmp > 0) {
			rc = 0;
			break;
		}
	}
	cairn_tree_reader_free(t);
	return rc < 0 ? inspect_manifest_error(rc, d->snap) : rc;
}

/* The content of e (a regular file) under the name path; a damaged file
 * is told and counted, its lost bytes written as zeros. */
static int write_content(dump_run *d, const cairn_entry *e, const char *path)
{
	char why[1024];
	int damaged;
	int rc =
	    content_write(&d->content, e, d->o->write, d->o->write_ud, &damaged, why, sizeof(why));
	if (rc)
		return rc;
	d->out->bytes += e->size;
	if (damaged) {
		d->out->damaged++;
		warn(d, path, why);
	}
	return 0;
}

/* The entry a hard link to a file outside the dumped tree stands for:
 * its first path's, or (lost) one of its size without content. */
static int link_content(dump_run *d, const cairn_entry *e, cairn_entry *target)
{
	int rc = find_entry(d, e->link_target, target);
	if (rc < 0)
		return rc;
	if (rc == 1 && target->type == CAIRN_ENTRY_FILE)
		return 0;
	cairn_entry_clear(target);
	target->type = CAIRN_ENTRY_FILE;
	target->size = e->size; /* no chunks: written as zeros, and told */
	return 0;
}

static void member_of(cairn_tar_member *m, const cairn_entry *e)
{
	memset(m, 0, sizeof(*m));
	m->type = cairn_tar_type_of(e->type);
	m->name = e->path + 1;
	m->mode = e->mode;
	m->uid = e->uid;
	m->gid = e->gid;
	m->mtime_ns = e->mtime_ns;
	m->xattrs = e->xattrs;
	m->n_xattrs = e->n_xattrs;
	if (e->type == CAIRN_ENTRY_SYMLINK)
		m->linkname = e->link_target;
	if (e->type == CAIRN_ENTRY_CHARDEV || e->type == CAIRN_ENTRY_BLOCKDEV) {
		m->devmajor = major(e->rdev);
		m->devminor = minor(e->rdev);
	}
}

/* One tar member: its header, and a file's content padded to a block. */
static int tar_member(dump_run *d, const cairn_entry *e)
{
	static const uint8_t zeros[CAIRN_TAR_BLOCK];
	cairn_tar_member m;
	cairn_entry target = {0};
	const cairn_entry *content = e;
	int rc = 0;

	member_of(&m, e);
	if (!e->path[1])
		return 0; /* "/": the archive's root is where it is extracted */
	if (!m.type) {
		d->out->skipped++;
		warn(d, e->path, "left out: a tar stream cannot hold a socket");
		return 0;
	}
	if (e->type == CAIRN_ENTRY_HARDLINK && cairn_path_is_within(e->link_target, d->root)) {
		m.linkname = e->link_target + 1;
	} else if (e->type == CAIRN_ENTRY_HARDLINK) {
		if ((rc = link_content(d, e, &target)))
			goto out;
		content = &target;
		m.type = CAIRN_TAR_FILE;
	}
	if (m.type == CAIRN_TAR_FILE)
		m.size = content->size;
	if ((rc = cairn_tar_header(&d->hdr, &m)) || (rc = flush_header(d)))
		goto out;
	d->out->members++;
	if (m.type == CAIRN_TAR_FILE && !(rc = write_content(d, content, e->path)) &&
	    cairn_tar_padding(m.size))
		rc = d->o->write(d->o->write_ud, zeros, cairn_tar_padding(m.size));
out:
	cairn_entry_clear(&target);
	return rc;
}

/* The tar stream of e and everything after it within the dumped path. */
static int write_tar(dump_run *d, cairn_tree_reader *t, cairn_entry *e, int have)
{
	int rc = 0;
	while (have && cairn_path_is_within(e->path, d->root)) {
		if ((rc = tar_member(d, e)))
			return rc;
		cairn_entry_clear(e);
		if ((have = cairn_tree_reader_next(t, e)) < 0)
			return inspect_manifest_error(have, d->snap);
	}
	if ((rc = cairn_tar_end(&d->hdr)))
		return rc;
	return flush_header(d);
}

/* A regular file, or a hard link to one, alone: its bytes. */
static int write_file(dump_run *d, const cairn_entry *e)
{
	cairn_entry target = {0};
	int rc = 0;
	if (e->type == CAIRN_ENTRY_HARDLINK && (rc = link_content(d, e, &target)))
		return rc;
	rc = write_content(d, e->type == CAIRN_ENTRY_HARDLINK ? &target : e, e->path);
	cairn_entry_clear(&target);
	return rc;
}

/* Moves t to the first entry at or after the dumped path: 1 and *e, or
 * 0 at the end of the manifest. */
static int seek(dump_run *d, cairn_tree_reader *t, cairn_entry *e)
{
	int rc;
	while ((rc = cairn_tree_reader_next(t, e)) == 1) {
		if (cairn_path_cmp(e->path, d->root) >= 0)
			return 1;
		cairn_entry_clear(e);
	}
	return rc < 0 ? inspect_manifest_error(rc, d->snap) : rc;
}

static int not_found(dump_run *d)
{
	char hex[CAIRN_ID_HEX + 1];
	cairn_hex_encode(hex, d->snap->id, CAIRN_ID_SIZE);
	return cairn_error_set(CAIRN_ENOTFOUND, "%s: no such file or directory in snapshot %.8s",
	                       d->root, hex);
}

int cairn_dump(cairn_repo *r, const cairn_snapshot *snap, const char *path,
               const cairn_dump_opts *o, cairn_dump_result *out)
{
	dump_run d = {.r = r, .snap = snap, .o = o, .out = out};
	cairn_tree_reader *t = NULL;
	cairn_entry e = {0};
	char *root = NULL;
	int have, rc;

	memset(out, 0, sizeof(*out));
	if ((rc = cairn_path_normalize(&root, "/", path)) ||
	    (rc = content_reader_init(&d.content, r)) ||
	    (rc = cairn_tree_reader_open(&t, r, snap))) {
		rc = inspect_manifest_error(rc, snap); /* the others give neither code */
		goto out;
	}
	d.root = root;
	if ((have = seek(&d, t, &e)) < 0) {
		rc = have;
		goto out;
	}
	int whole = strcmp(root, "/") == 0, at = have && strcmp(e.path, root) == 0;
	if (!whole && !at) {
		rc = not_found(&d);
		goto out;
	}
	out->type = at ? e.type : CAIRN_ENTRY_DIR;
	if (!whole && (e.type == CAIRN_ENTRY_FILE || e.type == CAIRN_ENTRY_HARDLINK))
		rc = write_file(&d, &e);
	else
		rc = write_tar(&d, t, &e, have);
out:
	cairn_entry_clear(&e);
	cairn_tree_reader_free(t);
	content_reader_free(&d.content);
	cairn_buf_free(&d.hdr);
	free(root);
	return rc;
}

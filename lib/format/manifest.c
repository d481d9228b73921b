#include "cairn/manifest.h"

#include "cairn/errors.h"
#include "format/manifest_format.h"

#include <stdlib.h>
#include <string.h>

void cairn_entry_clear(cairn_entry *e)
{
	free(e->path);
	free(e->link_target);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		free(e->xattrs[i].name);
		free(e->xattrs[i].value);
	}
	free(e->xattrs);
	free(e->chunks);
	memset(e, 0, sizeof(*e));
}

/* ---- rules shared by the encoder and the decoder --------------------- */

static int type_valid(uint8_t type)
{
	return type >= CAIRN_ENTRY_FILE && type <= CAIRN_ENTRY_SOCKET;
}

/* An absolute path of 1..PATH_MAX bytes without NUL whose components are
 * neither empty nor "." or "..": restore joins it under a target
 * directory, so it must not be able to climb out of it. "/" alone is the
 * root. */
static const char *path_problem(const uint8_t *p, size_t n)
{
	if (n == 0 || n > CAIRN_MANIFEST_PATH_MAX)
		return "path length out of range";
	if (p[0] != '/')
		return "path is not absolute";
	if (memchr(p, '\0', n))
		return "path contains a NUL byte";
	if (n == 1)
		return NULL;
	size_t start = 1;
	for (size_t i = 1; i <= n; i++) {
		if (i < n && p[i] != '/')
			continue;
		size_t clen = i - start;
		if (clen == 0)
			return "path has an empty component";
		if ((clen == 1 && p[start] == '.') ||
		    (clen == 2 && p[start] == '.' && p[start + 1] == '.'))
			return "path has a '.' or '..' component";
		start = i + 1;
	}
	return NULL;
}

static const char *link_problem(uint8_t type, const uint8_t *p, size_t n)
{
	if (type != CAIRN_ENTRY_SYMLINK && type != CAIRN_ENTRY_HARDLINK)
		return n ? "link target on an entry that is not a link" : NULL;
	if (n == 0)
		return "link without a target";
	if (type == CAIRN_ENTRY_HARDLINK) {
		const char *why = path_problem(p, n);
		return why ? "hardlink target is not a valid path" : NULL;
	}
	if (n > CAIRN_MANIFEST_LINK_MAX)
		return "symlink target too long";
	if (memchr(p, '\0', n))
		return "symlink target contains a NUL byte";
	return NULL;
}

/* File flags: only the bits kept, and only on what chattr can set them. */
static const char *flags_problem(uint8_t type, uint64_t flags)
{
	if (flags & ~(uint64_t)CAIRN_MANIFEST_FLAGS_MASK)
		return "unknown file flags";
	if (flags && type != CAIRN_ENTRY_FILE && type != CAIRN_ENTRY_DIR)
		return "file flags on an entry that is neither a file nor a directory";
	return NULL;
}

/* ---- encoder --------------------------------------------------------- */

int cairn_manifest_begin(cairn_buf *out)
{
	uint8_t h[CAIRN_MANIFEST_HEADER_SIZE];
	memcpy(h, CAIRN_MANIFEST_MAGIC, CAIRN_MANIFEST_MAGIC_SIZE);
	h[CAIRN_MANIFEST_MAGIC_SIZE] = CAIRN_MANIFEST_VERSION;
	return cairn_buf_append(out, h, sizeof(h));
}

static int check_entry(const cairn_entry *e)
{
	const char *path = e->path ? e->path : "";
	const char *why = NULL;
	size_t link_len = e->link_target ? strlen(e->link_target) : 0;

	if (!type_valid(e->type))
		why = "unknown type";
	else if ((why = path_problem((const uint8_t *)path, strlen(path))) != NULL)
		;
	else if (e->mode & ~CAIRN_MANIFEST_MODE_MASK)
		why = "mode has bits beyond 07777";
	else if ((why = link_problem(e->type, (const uint8_t *)e->link_target, link_len)) != NULL)
		;
	else if (e->n_xattrs && !e->xattrs)
		why = "xattr list missing";
	else if (e->n_chunks && !e->chunks)
		why = "chunk list missing";
	else if (e->type != CAIRN_ENTRY_FILE && e->n_chunks)
		why = "content chunks on an entry that is not a file";
	else if ((why = flags_problem(e->type, e->flags)) != NULL)
		;
	else if (e->n_xattrs > CAIRN_MANIFEST_XATTR_COUNT_MAX)
		why = "too many xattrs";
	if (why)
		goto bad;
	size_t total = 0;
	for (size_t i = 0; i < e->n_xattrs; i++) {
		const cairn_xattr *x = &e->xattrs[i];
		size_t nlen = x->name ? strlen(x->name) : 0;
		if (nlen == 0 || nlen > CAIRN_MANIFEST_XATTR_NAME_MAX)
			why = "xattr name length out of range";
		else if (x->value_len > CAIRN_MANIFEST_XATTR_VALUE_MAX)
			why = "xattr value too long";
		else if (x->value_len && !x->value)
			why = "xattr value missing";
		else if ((total += nlen + x->value_len) > CAIRN_MANIFEST_XATTR_TOTAL_MAX)
			why = "xattrs too large in all";
		if (why)
			goto bad;
	}
	if (e->type == CAIRN_ENTRY_FILE) {
		uint64_t sum = 0;
		for (size_t i = 0; i < e->n_chunks; i++) {
			if (e->chunks[i].length == 0) {
				why = "empty chunk";
				goto bad;
			}
			sum += e->chunks[i].length; /* n_chunks * 2^32 cannot wrap 64 bits here */
		}
		if (sum != e->size) {
			why = "chunk lengths do not add up to the size";
			goto bad;
		}
	}
	return 0;
bad:
	return cairn_error_set(CAIRN_EINVAL, "manifest: cannot encode %s: %s", path, why);
}

static int encode_body(cairn_buf *out, const cairn_entry *e)
{
	const char *link = e->link_target ? e->link_target : "";
	int rc;

	if ((rc = cairn_buf_append_u8(out, e->type)) != 0 ||
	    (rc = cairn_buf_append_bytes(out, e->path, strlen(e->path))) != 0 ||
	    (rc = cairn_buf_append_varint(out, e->mode)) != 0 ||
	    (rc = cairn_buf_append_varint(out, e->uid)) != 0 ||
	    (rc = cairn_buf_append_varint(out, e->gid)) != 0 ||
	    (rc = cairn_buf_append_svarint(out, e->mtime_ns)) != 0 ||
	    (rc = cairn_buf_append_svarint(out, e->ctime_ns)) != 0 ||
	    (rc = cairn_buf_append_varint(out, e->size)) != 0 ||
	    (rc = cairn_buf_append_varint(out, e->dev)) != 0 ||
	    (rc = cairn_buf_append_varint(out, e->ino)) != 0 ||
	    (rc = cairn_buf_append_varint(out, e->rdev)) != 0 ||
	    (rc = cairn_buf_append_bytes(out, link, strlen(link))) != 0 ||
	    (rc = cairn_buf_append_varint(out, e->n_xattrs)) != 0)
		return rc;
	for (size_t i = 0; i < e->n_xattrs; i++) {
		const cairn_xattr *x = &e->xattrs[i];
		if ((rc = cairn_buf_append_bytes(out, x->name, strlen(x->name))) != 0 ||
		    (rc = cairn_buf_append_bytes(out, x->value, x->value_len)) != 0)
			return rc;
	}
	if ((rc = cairn_buf_append_varint(out, e->flags)) != 0 ||
	    (rc = cairn_buf_append_varint(out, e->n_chunks)) != 0)
		return rc;
	for (size_t i = 0; i < e->n_chunks; i++)
		if ((rc = cairn_buf_append(out, e->chunks[i].fp, CAIRN_FP_SIZE)) != 0 ||
		    (rc = cairn_buf_append_varint(out, e->chunks[i].length)) != 0)
			return rc;
	return 0;
}

int cairn_manifest_encode(cairn_buf *out, const cairn_entry *e)
{
	size_t start = out->len;
	uint8_t prefix[CAIRN_MANIFEST_VARINT_MAX];
	cairn_buf lenbuf = {prefix, 0, sizeof(prefix)};
	int rc;

	if ((rc = check_entry(e)) != 0)
		return rc;
	/* The body goes straight into out and is then moved up behind its
	 * length, saving a copy through a scratch buffer. */
	if ((rc = encode_body(out, e)) != 0)
		goto out;
	size_t body_len = out->len - start;
	if (body_len > CAIRN_MANIFEST_RECORD_MAX) {
		rc = cairn_error_set(CAIRN_EINVAL, "manifest: record for %s is %zu bytes, over %u",
		                     e->path, body_len, CAIRN_MANIFEST_RECORD_MAX);
		goto out;
	}
	cairn_buf_append_varint(&lenbuf, body_len); /* fits the fixed buffer */
	if ((rc = cairn_buf_reserve(out, lenbuf.len)) != 0)
		goto out;
	memmove(out->data + start + lenbuf.len, out->data + start, body_len);
	memcpy(out->data + start, prefix, lenbuf.len);
	out->len += lenbuf.len;
	rc = 0;
out:
	if (rc)
		out->len = start;
	return rc;
}

/* ---- decoder --------------------------------------------------------- */

static int corrupt(const char *path, const char *why)
{
	if (path)
		return cairn_error_set(CAIRN_ECORRUPT, "manifest: record for %s: %s", path, why);
	return cairn_error_set(CAIRN_ECORRUPT, "manifest: record: %s", why);
}

static char *dup_bytes(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		if (n)
			memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* The xattrs of a record: each name and value within its limit, the
 * count and their bytes in all within the entry's. */
static int decode_xattrs(cairn_reader *r, cairn_entry *e)
{
	const uint8_t *p;
	size_t plen, total = 0;
	uint64_t count = cairn_read_varint(r);
	if (r->failed || count > cairn_reader_left(r) / CAIRN_MANIFEST_XATTR_MIN)
		return corrupt(e->path, "xattr count exceeds the record");
	if (count > CAIRN_MANIFEST_XATTR_COUNT_MAX)
		return corrupt(e->path, "too many xattrs");
	if (!count)
		return 0;
	if (!(e->xattrs = calloc(count, sizeof(*e->xattrs))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	/* Counted in full up front: the slots are zeroed, so clearing the
	 * entry after a failure frees a half-read xattr too. */
	e->n_xattrs = (size_t)count;
	for (size_t i = 0; i < count; i++) {
		cairn_xattr *x = &e->xattrs[i];
		p = cairn_read_bytes(r, CAIRN_MANIFEST_XATTR_NAME_MAX, &plen);
		if (r->failed || plen == 0 || memchr(p, '\0', plen))
			return corrupt(e->path, "bad xattr name");
		total += plen;
		if (!(x->name = dup_bytes(p, plen)))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		p = cairn_read_bytes(r, CAIRN_MANIFEST_XATTR_VALUE_MAX, &plen);
		if (r->failed)
			return corrupt(e->path, "bad xattr value");
		if ((total += plen) > CAIRN_MANIFEST_XATTR_TOTAL_MAX)
			return corrupt(e->path, "xattrs too large in all");
		if (!(x->value = malloc(plen ? plen : 1)))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		if (plen)
			memcpy(x->value, p, plen);
		x->value_len = plen;
	}
	return 0;
}

/* The content of a record: chunks only for a file, adding up to its
 * size. */
static int decode_chunks(cairn_reader *r, cairn_entry *e)
{
	uint64_t count = cairn_read_varint(r);
	if (r->failed || count > cairn_reader_left(r) / CAIRN_MANIFEST_CHUNK_MIN)
		return corrupt(e->path, "chunk count exceeds the record");
	if (count && e->type != CAIRN_ENTRY_FILE)
		return corrupt(e->path, "content chunks on an entry that is not a file");
	if (count && !(e->chunks = malloc(count * sizeof(*e->chunks))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	uint64_t sum = 0;
	for (; e->n_chunks < count; e->n_chunks++) {
		cairn_chunk_ref *c = &e->chunks[e->n_chunks];
		const uint8_t *p = cairn_read_raw(r, CAIRN_FP_SIZE);
		uint64_t v = cairn_read_varint(r);
		if (r->failed || v == 0 || v > UINT32_MAX)
			return corrupt(e->path, "bad chunk");
		memcpy(c->fp, p, CAIRN_FP_SIZE);
		c->length = (uint32_t)v;
		sum += v; /* at most record size / 33 terms below 2^32: no wrap */
	}
	if (e->type == CAIRN_ENTRY_FILE && sum != e->size)
		return corrupt(e->path, "chunk lengths do not add up to the size");
	return 0;
}

/* The fixed fields after the path: mode to rdev. */
static int decode_stat(cairn_reader *r, cairn_entry *e)
{
	uint64_t v = cairn_read_varint(r);
	if (v & ~(uint64_t)CAIRN_MANIFEST_MODE_MASK)
		goto bad;
	e->mode = (uint32_t)v;
	v = cairn_read_varint(r);
	if (v > UINT32_MAX)
		goto bad;
	e->uid = (uint32_t)v;
	v = cairn_read_varint(r);
	if (v > UINT32_MAX)
		goto bad;
	e->gid = (uint32_t)v;
	e->mtime_ns = cairn_read_svarint(r);
	e->ctime_ns = cairn_read_svarint(r);
	e->size = cairn_read_varint(r);
	e->dev = cairn_read_varint(r);
	e->ino = cairn_read_varint(r);
	e->rdev = cairn_read_varint(r);
	if (!r->failed)
		return 0;
bad:
	return corrupt(e->path, "bad or truncated metadata field");
}

/* The file flags of a version 2 record. */
static int decode_flags(cairn_reader *r, cairn_entry *e)
{
	uint64_t v = cairn_read_varint(r);
	const char *why = r->failed ? "bad file flags" : flags_problem(e->type, v);
	if (why)
		return corrupt(e->path, why);
	e->flags = (uint32_t)v;
	return 0;
}

static int decode_body(const uint8_t *body, size_t n, uint8_t version, cairn_entry *e)
{
	cairn_reader r;
	const uint8_t *p;
	size_t plen;
	const char *why;
	int rc;

	memset(e, 0, sizeof(*e));
	cairn_reader_init(&r, body, n);
	e->type = cairn_read_u8(&r);
	if (r.failed)
		return corrupt(NULL, "empty");
	if (!type_valid(e->type))
		return corrupt(NULL, "unknown entry type");
	p = cairn_read_bytes(&r, CAIRN_MANIFEST_PATH_MAX, &plen);
	if (r.failed)
		return corrupt(NULL, "bad path length");
	if ((why = path_problem(p, plen)) != NULL)
		return corrupt(NULL, why);
	if (!(e->path = dup_bytes(p, plen)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = decode_stat(&r, e)) != 0)
		goto fail;

	p = cairn_read_bytes(&r, CAIRN_MANIFEST_LINK_MAX, &plen);
	if (r.failed) {
		rc = corrupt(e->path, "bad or truncated metadata field");
		goto fail;
	}
	if ((why = link_problem(e->type, p, plen)) != NULL) {
		rc = corrupt(e->path, why);
		goto fail;
	}
	if (plen && !(e->link_target = dup_bytes(p, plen))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto fail;
	}
	e->attrs_partial = version == CAIRN_MANIFEST_VERSION_V1;
	if ((rc = decode_xattrs(&r, e)) != 0 ||
	    (!e->attrs_partial && (rc = decode_flags(&r, e)) != 0) ||
	    (rc = decode_chunks(&r, e)) != 0)
		goto fail;
	if (cairn_reader_left(&r)) {
		rc = corrupt(e->path, "trailing bytes in the record");
		goto fail;
	}
	return 0;
fail:
	cairn_entry_clear(e);
	return rc;
}

void cairn_manifest_decoder_init(cairn_manifest_decoder *d)
{
	cairn_buf_init(&d->pending);
	d->start = 0;
	d->header_done = 0;
	d->version = 0;
}

void cairn_manifest_decoder_free(cairn_manifest_decoder *d)
{
	cairn_buf_free(&d->pending);
	cairn_manifest_decoder_init(d);
}

int cairn_manifest_feed(cairn_manifest_decoder *d, const void *data, size_t len)
{
	/* Drop what was consumed first, so pending never holds more than the
	 * unfinished record plus this feed. */
	if (d->start) {
		size_t left = d->pending.len - d->start;
		memmove(d->pending.data, d->pending.data + d->start, left);
		d->pending.len = left;
		d->start = 0;
	}
	return cairn_buf_append(&d->pending, data, len);
}

/* Parses the varint at p. 1 with *v and *n (its size) set, 0 if it may
 * continue past avail, or CAIRN_ECORRUPT. */
static int peek_varint(const uint8_t *p, size_t avail, uint64_t *v, size_t *n)
{
	size_t lim = avail < CAIRN_MANIFEST_VARINT_MAX ? avail : CAIRN_MANIFEST_VARINT_MAX;
	for (size_t i = 0; i < lim; i++) {
		if (p[i] & 0x80)
			continue;
		cairn_reader r;
		cairn_reader_init(&r, p, i + 1);
		*v = cairn_read_varint(&r);
		if (r.failed)
			break;
		*n = i + 1;
		return 1;
	}
	if (lim < CAIRN_MANIFEST_VARINT_MAX)
		return 0;
	return cairn_error_set(CAIRN_ECORRUPT, "manifest: bad record length");
}

/* The stream's header at p (avail bytes): 1 once read (the version
 * kept), 0 if more bytes are needed, or CAIRN_ECORRUPT as soon as a byte
 * is wrong. */
static int read_header(cairn_manifest_decoder *d, const uint8_t *p, size_t avail)
{
	size_t k = avail < CAIRN_MANIFEST_MAGIC_SIZE ? avail : CAIRN_MANIFEST_MAGIC_SIZE;
	if (k && memcmp(p, CAIRN_MANIFEST_MAGIC, k) != 0)
		return cairn_error_set(CAIRN_ECORRUPT, "manifest: not a manifest stream");
	if (avail < CAIRN_MANIFEST_HEADER_SIZE)
		return 0;
	uint8_t version = p[CAIRN_MANIFEST_MAGIC_SIZE];
	if (version < CAIRN_MANIFEST_VERSION_V1 || version > CAIRN_MANIFEST_VERSION)
		return cairn_error_set(CAIRN_ECORRUPT, "manifest: unknown version %u", version);
	d->version = version;
	d->header_done = 1;
	d->start += CAIRN_MANIFEST_HEADER_SIZE;
	return 1;
}

int cairn_manifest_next(cairn_manifest_decoder *d, cairn_entry *out)
{
	/* Nothing fed yet: no buffer to point into. */
	if (!d->pending.data)
		return 0;
	const uint8_t *p = d->pending.data + d->start;
	size_t avail = d->pending.len - d->start;
	uint64_t body_len = 0;
	size_t n = 0;
	int rc;

	if (!d->header_done) {
		if ((rc = read_header(d, p, avail)) <= 0)
			return rc;
		p += CAIRN_MANIFEST_HEADER_SIZE;
		avail -= CAIRN_MANIFEST_HEADER_SIZE;
	}
	if (avail == 0)
		return 0;
	rc = peek_varint(p, avail, &body_len, &n);
	if (rc <= 0)
		return rc;
	if (body_len == 0 || body_len > CAIRN_MANIFEST_RECORD_MAX)
		return cairn_error_set(CAIRN_ECORRUPT, "manifest: record length %llu out of range",
		                       (unsigned long long)body_len);
	if (avail - n < body_len)
		return 0;
	if ((rc = decode_body(p + n, (size_t)body_len, d->version, out)) != 0)
		return rc;
	d->start += n + (size_t)body_len;
	return 1;
}

int cairn_manifest_finish(cairn_manifest_decoder *d)
{
	if (!d->header_done)
		return cairn_error_set(CAIRN_ECORRUPT, "manifest: stream ends before its header");
	if (d->start != d->pending.len)
		return cairn_error_set(CAIRN_ECORRUPT,
		                       "manifest: stream ends inside a record (%zu bytes left)",
		                       d->pending.len - d->start);
	return 0;
}

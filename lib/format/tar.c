/* POSIX tar headers (format/tar.h): ustar blocks, and pax extended
 * headers for what ustar cannot hold. */
#include "format/tar.h"

#include "cairn/errors.h"

#include <stdio.h>
#include <string.h>

#define NAME_LEN 100
#define PREFIX_LEN 155
#define ID_MAX 07777777ull             /* 7 octal digits */
#define SIZE_MAX_USTAR 077777777777ull /* 11 octal digits */
#define PAX_NAME "././@PaxHeader"

/* Writes v as width - 1 octal digits and a NUL; 0 if it does not fit. */
static int octal(uint8_t *field, size_t width, uint64_t v)
{
	field[width - 1] = '\0';
	for (size_t i = width - 1; i-- > 0;) {
		field[i] = (uint8_t)('0' + (v & 7));
		v >>= 3;
	}
	return v == 0;
}

static int has_high_bytes(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* Puts name into the header's name and prefix fields if ustar can hold
 * it there: 1 if it did. */
static int split_name(uint8_t *h, const char *name, size_t len)
{
	if (len <= NAME_LEN) {
		memcpy(h, name, len);
		return 1;
	}
	/* The last '/' that leaves a prefix of at most 155 bytes and a
	 * non-empty name of at most 100. */
	for (size_t p = len - 1; p > 0; p--) {
		if (name[p] != '/')
			continue;
		if (len - p - 1 > NAME_LEN)
			return 0;
		if (p <= PREFIX_LEN && len - p - 1 > 0) {
			memcpy(h + 345, name, p);
			memcpy(h, name + p + 1, len - p - 1);
			return 1;
		}
	}
	return 0;
}

/* Appends one pax record "LEN KEY=VALUE\n" (LEN counts the whole
 * record, its own digits included). */
static int pax_record(cairn_buf *b, const char *key, const void *value, size_t vlen)
{
	size_t n = strlen(key) + vlen + 3, digits = 1, total;
	char len[24];
	for (size_t v = n; v >= 10; v /= 10)
		digits++;
	total = n + digits;
	if (snprintf(len, sizeof(len), "%zu", total) != (int)digits)
		total++; /* the length's own digits pushed it over a power of ten */
	int rc;
	if ((rc = cairn_buf_printf(b, "%zu %s=", total, key)) ||
	    (rc = cairn_buf_append(b, value, vlen)) || (rc = cairn_buf_append_u8(b, '\n')))
		return rc;
	return 0;
}

static int pax_number(cairn_buf *b, const char *key, uint64_t v)
{
	char s[24];
	int n = snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
	return pax_record(b, key, s, (size_t)n);
}

/* "SECONDS[.NANOSECONDS]", negative before 1970. */
static int pax_time(cairn_buf *b, const char *key, int64_t ns)
{
	char s[48];
	uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
	int n = a % 1000000000u ? snprintf(s, sizeof(s), "%s%llu.%09llu", ns < 0 ? "-" : "",
	                                   (unsigned long long)(a / 1000000000u),
	                                   (unsigned long long)(a % 1000000000u))
	                        : snprintf(s, sizeof(s), "%s%llu", ns < 0 ? "-" : "",
	                                   (unsigned long long)(a / 1000000000u));
	return pax_record(b, key, s, (size_t)n);
}

/* The records m needs beyond what its ustar block holds (none: empty). */
static int pax_records(cairn_buf *rec, const cairn_tar_member *m, const char *name, size_t len,
                       int name_fits)
{
	int rc = 0;
	if ((!name_fits || has_high_bytes(name)))
		rc = pax_record(rec, "path", name, len);
	if (!rc && m->linkname && (strlen(m->linkname) > NAME_LEN || has_high_bytes(m->linkname)))
		rc = pax_record(rec, "linkpath", m->linkname, strlen(m->linkname));
	if (!rc && m->size > SIZE_MAX_USTAR)
		rc = pax_number(rec, "size", m->size);
	if (!rc && m->uid > ID_MAX)
		rc = pax_number(rec, "uid", m->uid);
	if (!rc && m->gid > ID_MAX)
		rc = pax_number(rec, "gid", m->gid);
	if (!rc && (m->mtime_ns < 0 || m->mtime_ns % 1000000000 ||
	            (uint64_t)(m->mtime_ns / 1000000000) > SIZE_MAX_USTAR))
		rc = pax_time(rec, "mtime", m->mtime_ns);
	for (size_t i = 0; !rc && i < m->n_xattrs; i++) {
		cairn_buf key = CAIRN_BUF_INIT;
		rc = cairn_buf_printf(&key, "SCHILY.xattr.%s", m->xattrs[i].name);
		if (!rc)
			rc = pax_record(rec, (const char *)key.data, m->xattrs[i].value,
			                m->xattrs[i].value_len);
		cairn_buf_free(&key);
	}
	return rc;
}

/* Fills the checksum of a finished block and appends it to out. */
static int append_block(cairn_buf *out, uint8_t *h)
{
	unsigned sum = 0;
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < CAIRN_TAR_BLOCK; i++)
		sum += h[i];
	octal(h + 148, 7, sum);
	h[155] = ' ';
	return cairn_buf_append(out, h, CAIRN_TAR_BLOCK);
}

/* The fields every block has: mode, ids, size, time, type, magic. */
static void fill_common(uint8_t *h, uint32_t mode, uint32_t uid, uint32_t gid, uint64_t size,
                        int64_t mtime_ns, char type)
{
	int64_t sec = mtime_ns / 1000000000;
	if (mtime_ns < 0 && mtime_ns % 1000000000)
		sec--;
	octal(h + 100, 8, mode & 07777);
	octal(h + 108, 8, uid > ID_MAX ? 0 : uid);
	octal(h + 116, 8, gid > ID_MAX ? 0 : gid);
	octal(h + 124, 12, size > SIZE_MAX_USTAR ? 0 : size);
	octal(h + 136, 12,
	      sec < 0                          ? 0
	      : (uint64_t)sec > SIZE_MAX_USTAR ? SIZE_MAX_USTAR
	                                       : (uint64_t)sec);
	h[156] = (uint8_t)type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
}

static int append_pax(cairn_buf *out, const cairn_tar_member *m, const cairn_buf *rec)
{
	uint8_t h[CAIRN_TAR_BLOCK] = {0};
	static const uint8_t zeros[CAIRN_TAR_BLOCK];
	int rc;
	memcpy(h, PAX_NAME, sizeof(PAX_NAME) - 1);
	fill_common(h, 0644, 0, 0, rec->len, m->mtime_ns < 0 ? 0 : m->mtime_ns, 'x');
	if ((rc = append_block(out, h)) || (rc = cairn_buf_append(out, rec->data, rec->len)))
		return rc;
	return cairn_buf_append(out, zeros, cairn_tar_padding(rec->len));
}

int cairn_tar_header(cairn_buf *out, const cairn_tar_member *m)
{
	uint8_t h[CAIRN_TAR_BLOCK] = {0};
	cairn_buf name = CAIRN_BUF_INIT, rec = CAIRN_BUF_INIT;
	int rc;

	if (!m->name || !m->name[0])
		return cairn_error_set(CAIRN_EINVAL, "a tar member needs a name");
	if ((rc = cairn_buf_append_str(&name, m->name)) ||
	    (m->type == CAIRN_TAR_DIR && (rc = cairn_buf_append_str(&name, "/"))))
		goto out;
	const char *n = (const char *)name.data;
	int fits = !has_high_bytes(n) && split_name(h, n, name.len);
	if (!fits)
		memcpy(h, n, name.len < NAME_LEN ? name.len : NAME_LEN);
	if ((rc = pax_records(&rec, m, n, name.len, fits)))
		goto out;
	if (rec.len && (rc = append_pax(out, m, &rec)))
		goto out;
	fill_common(h, m->mode, m->uid, m->gid, m->type == CAIRN_TAR_FILE ? m->size : 0,
	            m->mtime_ns, (char)m->type);
	if (m->linkname) {
		size_t l = strlen(m->linkname);
		memcpy(h + 157, m->linkname, l < NAME_LEN ? l : NAME_LEN);
	}
	if (m->type == CAIRN_TAR_CHARDEV || m->type == CAIRN_TAR_BLOCKDEV) {
		octal(h + 329, 8, m->devmajor & ID_MAX);
		octal(h + 337, 8, m->devminor & ID_MAX);
	}
	rc = append_block(out, h);
out:
	cairn_buf_free(&name);
	cairn_buf_free(&rec);
	return rc;
}

size_t cairn_tar_padding(uint64_t size)
{
	return (size_t)((CAIRN_TAR_BLOCK - size % CAIRN_TAR_BLOCK) % CAIRN_TAR_BLOCK);
}

int cairn_tar_end(cairn_buf *out)
{
	static const uint8_t zeros[2 * CAIRN_TAR_BLOCK];
	return cairn_buf_append(out, zeros, sizeof(zeros));
}

enum cairn_tar_type cairn_tar_type_of(uint8_t entry_type)
{
	switch (entry_type) {
	case CAIRN_ENTRY_FILE:
		return CAIRN_TAR_FILE;
	case CAIRN_ENTRY_DIR:
		return CAIRN_TAR_DIR;
	case CAIRN_ENTRY_SYMLINK:
		return CAIRN_TAR_SYMLINK;
	case CAIRN_ENTRY_HARDLINK:
		return CAIRN_TAR_HARDLINK;
	case CAIRN_ENTRY_FIFO:
		return CAIRN_TAR_FIFO;
	case CAIRN_ENTRY_CHARDEV:
		return CAIRN_TAR_CHARDEV;
	case CAIRN_ENTRY_BLOCKDEV:
		return CAIRN_TAR_BLOCKDEV;
	default:
		return 0;
	}
}

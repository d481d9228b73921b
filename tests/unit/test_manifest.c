#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/manifest.h"
#include "format/manifest_format.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building entries -------------------------------------------------- */

static char *dup_str(const char *s)
{
	char *p = strdup(s);
	assert_non_null(p);
	return p;
}

static void add_xattr(cairn_entry *e, const char *name, const void *value, size_t len)
{
	cairn_xattr *x = realloc(e->xattrs, (e->n_xattrs + 1) * sizeof(*x));
	assert_non_null(x);
	e->xattrs = x;
	x = &e->xattrs[e->n_xattrs++];
	x->name = dup_str(name);
	x->value = malloc(len ? len : 1);
	assert_non_null(x->value);
	if (len)
		memcpy(x->value, value, len);
	x->value_len = len;
}

/* A chunk whose fingerprint is derived from seed; seed 0 gives a hole. */
static void add_chunk(cairn_entry *e, uint8_t seed, uint32_t length)
{
	cairn_chunk_ref *c = realloc(e->chunks, (e->n_chunks + 1) * sizeof(*c));
	assert_non_null(c);
	e->chunks = c;
	c = &e->chunks[e->n_chunks++];
	for (int i = 0; i < CAIRN_FP_SIZE; i++)
		c->fp[i] = seed ? (uint8_t)(seed * 31 + i) : 0;
	c->length = length;
	e->size += length;
}

static void init_entry(cairn_entry *e, uint8_t type, const char *path)
{
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->path = dup_str(path);
	e->mode = type == CAIRN_ENTRY_DIR ? 0755 : 0644;
	e->uid = 1000;
	e->gid = 100;
	e->mtime_ns = 1700000000123456789ll;
	e->ctime_ns = 1700000001987654321ll;
	e->dev = 2049;
	e->ino = 123456;
}

/* Every entry type, and the awkward corners of each field. */
static size_t sample_entries(cairn_entry *out)
{
	size_t n = 0;
	cairn_entry *e;

	e = &out[n++];
	init_entry(e, CAIRN_ENTRY_DIR, "/");
	e->mode = 01777;
	e->uid = 0;
	e->gid = 0;

	e = &out[n++];
	init_entry(e, CAIRN_ENTRY_DIR, "/dir");
	e->flags = CAIRN_MANIFEST_FLAG_IMMUTABLE | CAIRN_MANIFEST_FLAG_NODUMP;
	add_xattr(e, "user.comment", "hello", 5);
	add_xattr(e, "security.selinux", "system_u:object_r:etc_t:s0\0", 27);
	add_xattr(e, "user.empty", NULL, 0);

	e = &out[n++];
	init_entry(e, CAIRN_ENTRY_FILE, "/dir/data.bin");
	add_chunk(e, 1, 1048576);
	add_chunk(e, 0, 65536); /* a hole */
	add_chunk(e, 2, 1);
	add_chunk(e, 3, UINT32_MAX);
	add_xattr(e, "user.bin", "\x00\x01\xff\x80\n", 5);
	add_xattr(e, "system.posix_acl_access", "\x02\0\0\0\x01\0\x06\0\xff\xff\xff\xff", 12);
	add_xattr(e, "trusted.x", "1", 1);
	e->mode = 04755;
	e->flags = CAIRN_MANIFEST_FLAGS_MASK;

	e = &out[n++];
	init_entry(e, CAIRN_ENTRY_FILE, "/dir/empty");

	e = &out[n++];
	init_entry(e, CAIRN_ENTRY_FILE, "/dir/line\nbreak\rand\ttab");
	add_chunk(e, 4, 10);

	e = &out[n++];
	init_entry(e, CAIRN_ENTRY_FILE, "/dir/not-utf8-\xff\xfe\xc3(\x80");
	add_chunk(e, 5, 77);
	e->mtime_ns = -1;
	e->ctime_ns = INT64_MIN;

	e = &out[n++];
	init_entry(e, CAIRN_ENTRY_HARDLINK, "/dir/not-utf8-\xff\xfe\xc3(\x80-link");
	e->link_target = dup_str("/dir/not-utf8-\xff\xfe\xc3(\x80");
	e->size = 77;

	e = &out[n++];
	init_entry(e, CAIRN_ENTRY_SYMLINK, "/dir/sym");
	e->link_target = dup_str("../relative/\n\xff target/./..//");
	e->mode = 0777;
	e->size = 30;
	e->mtime_ns = INT64_MAX;

	e = &out[n++];
	init_entry(e, CAIRN_ENTRY_FIFO, "/dir/fifo");
	e->uid = UINT32_MAX;
	e->gid = UINT32_MAX;

	e = &out[n++];
	init_entry(e, CAIRN_ENTRY_CHARDEV, "/dev/null");
	e->rdev = 0x103;
	e->mode = 0666;

	e = &out[n++];
	init_entry(e, CAIRN_ENTRY_BLOCKDEV, "/dev/sda");
	e->rdev = UINT64_MAX;
	e->dev = UINT64_MAX;
	e->ino = UINT64_MAX;

	e = &out[n++];
	init_entry(e, CAIRN_ENTRY_SOCKET, "/run/sock");
	e->size = UINT64_MAX;
	e->mtime_ns = 0;
	e->ctime_ns = 0;
	add_xattr(e, "user.x", "y", 1);

	return n;
}

static void clear_entries(cairn_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cairn_entry_clear(&e[i]);
}

static void assert_entries_equal(const cairn_entry *a, const cairn_entry *b)
{
	assert_int_equal(a->type, b->type);
	assert_string_equal(a->path, b->path);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_true(a->mtime_ns == b->mtime_ns);
	assert_true(a->ctime_ns == b->ctime_ns);
	assert_true(a->size == b->size);
	assert_true(a->dev == b->dev);
	assert_true(a->ino == b->ino);
	assert_true(a->rdev == b->rdev);
	if (a->link_target || b->link_target) {
		assert_non_null(a->link_target);
		assert_non_null(b->link_target);
		assert_string_equal(a->link_target, b->link_target);
	}
	assert_int_equal(a->n_xattrs, b->n_xattrs);
	for (size_t i = 0; i < a->n_xattrs; i++) {
		assert_string_equal(a->xattrs[i].name, b->xattrs[i].name);
		assert_int_equal(a->xattrs[i].value_len, b->xattrs[i].value_len);
		if (a->xattrs[i].value_len)
			assert_memory_equal(a->xattrs[i].value, b->xattrs[i].value,
			                    a->xattrs[i].value_len);
	}
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->attrs_partial, b->attrs_partial);
	assert_int_equal(a->n_chunks, b->n_chunks);
	for (size_t i = 0; i < a->n_chunks; i++) {
		assert_memory_equal(a->chunks[i].fp, b->chunks[i].fp, CAIRN_FP_SIZE);
		assert_int_equal(a->chunks[i].length, b->chunks[i].length);
	}
}

static void encode_stream(cairn_buf *out, const cairn_entry *e, size_t n)
{
	assert_int_equal(cairn_manifest_begin(out), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(cairn_manifest_encode(out, &e[i]), 0);
}

/* Decodes stream fed in pieces whose sizes cycle through feeds (NULL: all
 * at once), takes entries out after every feed, and checks them against
 * want. Returns what finish says. */
static int decode_and_compare(const uint8_t *stream, size_t len, const size_t *feeds,
                              size_t n_feeds, const cairn_entry *want, size_t n_want)
{
	cairn_manifest_decoder d;
	cairn_entry got;
	size_t pos = 0, f = 0, n_got = 0;
	int rc;

	cairn_manifest_decoder_init(&d);
	while (pos < len) {
		size_t feed = feeds ? feeds[f++ % n_feeds] : len;
		if (feed > len - pos)
			feed = len - pos;
		assert_int_equal(cairn_manifest_feed(&d, stream + pos, feed), 0);
		pos += feed;
		while ((rc = cairn_manifest_next(&d, &got)) == 1) {
			assert_true(n_got < n_want);
			assert_entries_equal(&got, &want[n_got]);
			n_got++;
			cairn_entry_clear(&got);
		}
		assert_int_equal(rc, 0);
	}
	assert_int_equal(n_got, n_want);
	rc = cairn_manifest_finish(&d);
	cairn_manifest_decoder_free(&d);
	return rc;
}

/* Feeds all of stream and returns the first non-1 result of next. */
static int decode_first_error(const void *stream, size_t len)
{
	cairn_manifest_decoder d;
	cairn_entry got;
	int rc;

	cairn_manifest_decoder_init(&d);
	assert_int_equal(cairn_manifest_feed(&d, stream, len), 0);
	while ((rc = cairn_manifest_next(&d, &got)) == 1)
		cairn_entry_clear(&got);
	if (rc == 0)
		rc = cairn_manifest_finish(&d);
	cairn_manifest_decoder_free(&d);
	return rc;
}

/* ---- hand-made records, to reach the decoder's checks directly --------- */

typedef struct raw_xattr {
	const char *name; /* NULL: name_len bytes of 'n' */
	size_t name_len;
	size_t value_len; /* bytes of 'v' */
} raw_xattr;

typedef struct raw_entry {
	uint8_t type;
	const char *path;
	size_t path_len;
	uint64_t mode, uid, gid;
	int64_t mtime, ctime;
	uint64_t size, dev, ino, rdev;
	const char *link;
	size_t link_len;
	uint64_t n_xattrs; /* as written; xattrs_written of them follow */
	raw_xattr xattrs[2];
	size_t xattrs_written;
	size_t xattrs_repeated; /* more copies of xattrs[0] after them */
	uint64_t flags;         /* written in a version 2 record */
	int v1;                 /* a version 1 stream: no flags field */
	uint64_t n_chunks;      /* as written; chunks_written of them follow */
	uint64_t chunk_len[3];
	size_t chunks_written;
	size_t trailing;        /* extra zero bytes at the end of the body */
	int64_t body_len_delta; /* added to the true body length in the prefix */
} raw_entry;

/* A valid file of two chunks; each test changes one thing. */
static raw_entry raw_file(void)
{
	raw_entry r;
	memset(&r, 0, sizeof(r));
	r.type = CAIRN_ENTRY_FILE;
	r.path = "/f";
	r.path_len = 2;
	r.mode = 0644;
	r.uid = 1;
	r.gid = 2;
	r.mtime = -5;
	r.ctime = 5;
	r.size = 300;
	r.n_xattrs = 1;
	r.xattrs[0] = (raw_xattr){"user.a", 6, 3};
	r.xattrs_written = 1;
	r.n_chunks = 2;
	r.chunk_len[0] = 100;
	r.chunk_len[1] = 200;
	r.chunks_written = 2;
	return r;
}

static void append_filled(cairn_buf *b, uint8_t byte, size_t n)
{
	assert_int_equal(cairn_buf_reserve(b, n), 0);
	memset(b->data + b->len, byte, n);
	b->len += n;
}

static void build_stream(cairn_buf *out, const raw_entry *r)
{
	cairn_buf body = CAIRN_BUF_INIT;

	if (r->v1)
		assert_int_equal(cairn_buf_append(out, "CAIRNMF\x01", CAIRN_MANIFEST_HEADER_SIZE),
		                 0);
	else
		assert_int_equal(cairn_manifest_begin(out), 0);
	cairn_buf_append_u8(&body, r->type);
	cairn_buf_append_bytes(&body, r->path, r->path_len);
	cairn_buf_append_varint(&body, r->mode);
	cairn_buf_append_varint(&body, r->uid);
	cairn_buf_append_varint(&body, r->gid);
	cairn_buf_append_svarint(&body, r->mtime);
	cairn_buf_append_svarint(&body, r->ctime);
	cairn_buf_append_varint(&body, r->size);
	cairn_buf_append_varint(&body, r->dev);
	cairn_buf_append_varint(&body, r->ino);
	cairn_buf_append_varint(&body, r->rdev);
	cairn_buf_append_bytes(&body, r->link, r->link_len);
	cairn_buf_append_varint(&body, r->n_xattrs);
	for (size_t i = 0; i < r->xattrs_written + r->xattrs_repeated; i++) {
		const raw_xattr *x = &r->xattrs[i < r->xattrs_written ? i : 0];
		cairn_buf_append_varint(&body, x->name_len);
		if (x->name)
			cairn_buf_append(&body, x->name, x->name_len);
		else
			append_filled(&body, 'n', x->name_len);
		cairn_buf_append_varint(&body, x->value_len);
		append_filled(&body, 'v', x->value_len);
	}
	if (!r->v1)
		cairn_buf_append_varint(&body, r->flags);
	cairn_buf_append_varint(&body, r->n_chunks);
	for (size_t i = 0; i < r->chunks_written; i++) {
		append_filled(&body, (uint8_t)(0x10 + i), CAIRN_FP_SIZE);
		cairn_buf_append_varint(&body, r->chunk_len[i]);
	}
	append_filled(&body, 0, r->trailing);

	cairn_buf_append_varint(out, (uint64_t)((int64_t)body.len + r->body_len_delta));
	cairn_buf_append(out, body.data, body.len);
	cairn_buf_free(&body);
}

static int decode_raw(const raw_entry *r)
{
	cairn_buf b = CAIRN_BUF_INIT;
	build_stream(&b, r);
	cairn_error_clear();
	int rc = decode_first_error(b.data, b.len);
	if (rc == CAIRN_ECORRUPT)
		assert_non_null(strstr(cairn_error_last(), "manifest"));
	cairn_buf_free(&b);
	return rc;
}

#define assert_raw_rejected(r)                                                                     \
	do {                                                                                       \
		raw_entry r_ = (r);                                                                \
		if (decode_raw(&r_) != CAIRN_ECORRUPT)                                             \
			fail_msg("decoder accepted a bad record (line %d)", __LINE__);             \
	} while (0)

/* ---- round trips ------------------------------------------------------- */

static void test_manifest__round_trips_every_entry_type(void **state)
{
	(void)state;
	cairn_entry e[16];
	size_t n = sample_entries(e);
	cairn_buf b = CAIRN_BUF_INIT;

	encode_stream(&b, e, n);
	assert_memory_equal(b.data, "CAIRNMF\x02", CAIRN_MANIFEST_HEADER_SIZE);
	assert_int_equal(decode_and_compare(b.data, b.len, NULL, 0, e, n), 0);
	cairn_buf_free(&b);
	clear_entries(e, n);
}

static void test_manifest__decoding_one_byte_at_a_time_gives_the_same_entries(void **state)
{
	(void)state;
	cairn_entry e[16];
	size_t n = sample_entries(e);
	cairn_buf b = CAIRN_BUF_INIT;
	static const size_t one[] = {1};
	static const size_t odd[] = {3, 1, 7, 2, 64, 5, 1000};

	encode_stream(&b, e, n);
	assert_int_equal(decode_and_compare(b.data, b.len, one, 1, e, n), 0);
	assert_int_equal(decode_and_compare(b.data, b.len, odd, 7, e, n), 0);
	cairn_buf_free(&b);
	clear_entries(e, n);
}

static void test_manifest__encoding_is_deterministic(void **state)
{
	(void)state;
	cairn_entry e[16];
	size_t n = sample_entries(e);
	cairn_buf a = CAIRN_BUF_INIT, b = CAIRN_BUF_INIT;

	encode_stream(&a, e, n);
	encode_stream(&b, e, n);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	cairn_buf_free(&a);
	cairn_buf_free(&b);
	clear_entries(e, n);
}

static void test_manifest__round_trips_many_entries_with_bounded_memory(void **state)
{
	(void)state;
	const size_t n = 2000;
	cairn_entry *e = calloc(n, sizeof(*e));
	assert_non_null(e);
	cairn_buf b = CAIRN_BUF_INIT;
	char path[64];
	size_t largest = 0;

	assert_int_equal(cairn_manifest_begin(&b), 0);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/d%03zu/file-%zu", i / 100, i);
		init_entry(&e[i], CAIRN_ENTRY_FILE, path);
		for (size_t k = 0; k < i % 5; k++)
			add_chunk(&e[i], (uint8_t)(i + k + 1), (uint32_t)(i * 1000 + k + 1));
		size_t before = b.len;
		assert_int_equal(cairn_manifest_encode(&b, &e[i]), 0);
		if (b.len - before > largest)
			largest = b.len - before;
	}

	/* Feed in pieces of 100 bytes and take entries out as they come: the
	 * decoder keeps at most the unfinished record and the last feed. */
	cairn_manifest_decoder d;
	cairn_entry got;
	size_t n_got = 0;
	int rc;
	cairn_manifest_decoder_init(&d);
	for (size_t pos = 0; pos < b.len; pos += 100) {
		size_t feed = b.len - pos < 100 ? b.len - pos : 100;
		assert_int_equal(cairn_manifest_feed(&d, b.data + pos, feed), 0);
		assert_true(d.pending.len - d.start <= largest + 100 + CAIRN_MANIFEST_HEADER_SIZE);
		assert_true(d.pending.len <= largest + 100 + CAIRN_MANIFEST_HEADER_SIZE);
		while ((rc = cairn_manifest_next(&d, &got)) == 1) {
			assert_entries_equal(&got, &e[n_got]);
			n_got++;
			cairn_entry_clear(&got);
		}
		assert_int_equal(rc, 0);
	}
	assert_int_equal(n_got, n);
	assert_int_equal(cairn_manifest_finish(&d), 0);
	cairn_manifest_decoder_free(&d);

	cairn_buf_free(&b);
	clear_entries(e, n);
	free(e);
}

static void test_manifest__round_trips_the_largest_fields_allowed(void **state)
{
	(void)state;
	cairn_entry e;
	cairn_buf b = CAIRN_BUF_INIT;
	char *path = malloc(CAIRN_MANIFEST_PATH_MAX + 1);
	char name[CAIRN_MANIFEST_XATTR_NAME_MAX + 1];
	uint8_t *value = malloc(CAIRN_MANIFEST_XATTR_VALUE_MAX);
	assert_non_null(path);
	assert_non_null(value);

	/* "/aaaa...a/bbb...b" of exactly PATH_MAX bytes. */
	memset(path, 'a', CAIRN_MANIFEST_PATH_MAX);
	path[0] = '/';
	path[CAIRN_MANIFEST_PATH_MAX / 2] = '/';
	path[CAIRN_MANIFEST_PATH_MAX] = '\0';
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	for (size_t i = 0; i < CAIRN_MANIFEST_XATTR_VALUE_MAX; i++)
		value[i] = (uint8_t)i;

	init_entry(&e, CAIRN_ENTRY_SYMLINK, path);
	free(e.link_target);
	e.link_target = dup_str(path + 1);
	e.link_target[0] = 'z'; /* PATH_MAX - 1 bytes, relative */
	add_xattr(&e, name, value, CAIRN_MANIFEST_XATTR_VALUE_MAX);

	assert_int_equal(cairn_manifest_begin(&b), 0);
	assert_int_equal(cairn_manifest_encode(&b, &e), 0);
	assert_int_equal(decode_and_compare(b.data, b.len, NULL, 0, &e, 1), 0);
	cairn_buf_free(&b);
	cairn_entry_clear(&e);
	free(path);
	free(value);
}

static void test_manifest__entry_clear_zeroes_and_accepts_an_empty_entry(void **state)
{
	(void)state;
	cairn_entry e;
	memset(&e, 0, sizeof(e));
	cairn_entry_clear(&e);
	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	add_chunk(&e, 1, 5);
	add_xattr(&e, "user.k", "v", 1);
	cairn_entry_clear(&e);
	assert_null(e.path);
	assert_null(e.chunks);
	assert_null(e.xattrs);
	assert_int_equal(e.n_chunks, 0);
	assert_int_equal(e.n_xattrs, 0);
	assert_int_equal(e.size, 0);
}

/* ---- the stream's framing ---------------------------------------------- */

static void test_manifest__truncated_stream_fails_at_finish(void **state)
{
	(void)state;
	cairn_entry e[16];
	size_t n = sample_entries(e);
	cairn_buf b = CAIRN_BUF_INIT;
	size_t *boundary = calloc(n + 1, sizeof(*boundary));
	assert_non_null(boundary);

	assert_int_equal(cairn_manifest_begin(&b), 0);
	boundary[0] = b.len;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(cairn_manifest_encode(&b, &e[i]), 0);
		boundary[i + 1] = b.len;
	}

	/* Every prefix decodes without error as far as it goes; finish then
	 * accepts it only if it ends exactly between records. */
	for (size_t len = 0; len < b.len; len++) {
		size_t complete = 0;
		int whole = 0;
		for (size_t i = 0; i <= n; i++) {
			if (boundary[i] <= len)
				complete = i;
			whole |= boundary[i] == len;
		}
		int rc = decode_and_compare(b.data, len, NULL, 0, e, complete);
		if (whole)
			assert_int_equal(rc, 0);
		else if (rc != CAIRN_ECORRUPT)
			fail_msg("finish accepted a stream cut at byte %zu of %zu", len, b.len);
	}
	free(boundary);
	cairn_buf_free(&b);
	clear_entries(e, n);
}

static void test_manifest__truncated_prefix_yields_only_whole_records(void **state)
{
	(void)state;
	cairn_entry e[16];
	size_t n = sample_entries(e);
	cairn_buf b = CAIRN_BUF_INIT;
	encode_stream(&b, e, n);

	/* Cut one byte short: every record but the last comes out. */
	assert_int_equal(decode_and_compare(b.data, b.len - 1, NULL, 0, e, n - 1), CAIRN_ECORRUPT);
	cairn_buf_free(&b);
	clear_entries(e, n);
}

static void test_manifest__empty_stream_and_header_only_stream(void **state)
{
	(void)state;
	cairn_manifest_decoder d;
	cairn_entry got;

	cairn_manifest_decoder_init(&d);
	assert_int_equal(cairn_manifest_next(&d, &got), 0);
	assert_int_equal(cairn_manifest_finish(&d), CAIRN_ECORRUPT);
	cairn_manifest_decoder_free(&d);

	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_manifest_begin(&b), 0);
	assert_int_equal(b.len, CAIRN_MANIFEST_HEADER_SIZE);
	assert_int_equal(decode_and_compare(b.data, b.len, NULL, 0, NULL, 0), 0);
	/* Part of the header is not a stream. */
	assert_int_equal(decode_and_compare(b.data, b.len - 1, NULL, 0, NULL, 0), CAIRN_ECORRUPT);
	cairn_buf_free(&b);
}

static void test_manifest__rejects_a_bad_magic(void **state)
{
	(void)state;
	assert_int_equal(decode_first_error("CAIRNMX\x01", 8), CAIRN_ECORRUPT);
	assert_int_equal(decode_first_error("cairnmf\x01", 8), CAIRN_ECORRUPT);
	assert_int_equal(decode_first_error("CAIRNKEY", 8), CAIRN_ECORRUPT);
	assert_int_equal(decode_first_error("\x28\xb5\x2f\xfd", 4), CAIRN_ECORRUPT);

	/* A wrong first byte is reported at once, not after eight bytes. */
	cairn_manifest_decoder d;
	cairn_entry got;
	cairn_manifest_decoder_init(&d);
	assert_int_equal(cairn_manifest_feed(&d, "X", 1), 0);
	assert_int_equal(cairn_manifest_next(&d, &got), CAIRN_ECORRUPT);
	cairn_manifest_decoder_free(&d);
}

static void test_manifest__rejects_an_unknown_version(void **state)
{
	(void)state;
	cairn_error_clear();
	assert_int_equal(decode_first_error("CAIRNMF\x03", 8), CAIRN_ECORRUPT);
	assert_non_null(strstr(cairn_error_last(), "version"));
	assert_int_equal(decode_first_error("CAIRNMF\x00", 8), CAIRN_ECORRUPT);
	assert_int_equal(decode_first_error("CAIRNMF\xff", 8), CAIRN_ECORRUPT);
	/* Both known versions are streams. */
	assert_int_equal(decode_first_error("CAIRNMF\x01", 8), 0);
	assert_int_equal(decode_first_error("CAIRNMF\x02", 8), 0);
}

static void test_manifest__rejects_a_zero_record_length(void **state)
{
	(void)state;
	assert_int_equal(decode_first_error("CAIRNMF\x01\x00", 9), CAIRN_ECORRUPT);
}

static void test_manifest__rejects_an_oversized_record_before_reading_it(void **state)
{
	(void)state;
	cairn_buf b = CAIRN_BUF_INIT;
	cairn_manifest_decoder d;
	cairn_entry got;

	assert_int_equal(cairn_manifest_begin(&b), 0);
	assert_int_equal(cairn_buf_append_varint(&b, (uint64_t)CAIRN_MANIFEST_RECORD_MAX + 1), 0);
	cairn_manifest_decoder_init(&d);
	assert_int_equal(cairn_manifest_feed(&d, b.data, b.len), 0);
	assert_int_equal(cairn_manifest_next(&d, &got), CAIRN_ECORRUPT);
	cairn_manifest_decoder_free(&d);

	/* The largest allowed length only waits for more bytes. */
	cairn_buf_clear(&b);
	assert_int_equal(cairn_manifest_begin(&b), 0);
	assert_int_equal(cairn_buf_append_varint(&b, CAIRN_MANIFEST_RECORD_MAX), 0);
	cairn_manifest_decoder_init(&d);
	assert_int_equal(cairn_manifest_feed(&d, b.data, b.len), 0);
	assert_int_equal(cairn_manifest_next(&d, &got), 0);
	assert_int_equal(cairn_manifest_finish(&d), CAIRN_ECORRUPT);
	cairn_manifest_decoder_free(&d);

	cairn_buf_clear(&b);
	assert_int_equal(cairn_manifest_begin(&b), 0);
	assert_int_equal(cairn_buf_append_varint(&b, UINT64_MAX), 0);
	assert_int_equal(decode_first_error(b.data, b.len), CAIRN_ECORRUPT);
	cairn_buf_free(&b);
}

static void test_manifest__rejects_an_overlong_length_varint(void **state)
{
	(void)state;
	/* Eleven bytes of continuation: no valid varint is that long. */
	static const uint8_t eleven[] = {'C',  'A',  'I',  'R',  'N',  'M',  'F',  1,    0x80, 0x80,
	                                 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
	assert_int_equal(decode_first_error(eleven, sizeof(eleven)), CAIRN_ECORRUPT);
	/* Ten continuation bytes are already enough to tell: next says so
	 * rather than wait for more. */
	cairn_manifest_decoder d;
	cairn_entry got;
	cairn_manifest_decoder_init(&d);
	assert_int_equal(cairn_manifest_feed(&d, eleven, 18), 0);
	assert_int_equal(cairn_manifest_next(&d, &got), CAIRN_ECORRUPT);
	cairn_manifest_decoder_free(&d);
	/* Nine are not: the tenth may still end it. */
	cairn_manifest_decoder_init(&d);
	assert_int_equal(cairn_manifest_feed(&d, eleven, 17), 0);
	assert_int_equal(cairn_manifest_next(&d, &got), 0);
	cairn_manifest_decoder_free(&d);
	/* Bits beyond 64 in the tenth byte. */
	static const uint8_t wide[] = {'C',  'A',  'I',  'R',  'N',  'M',  'F',  1,    0xff,
	                               0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
	assert_int_equal(decode_first_error(wide, sizeof(wide)), CAIRN_ECORRUPT);
}

static void test_manifest__rejects_a_record_length_that_misframes_the_body(void **state)
{
	(void)state;
	raw_entry r = raw_file();
	assert_int_equal(decode_raw(&r), 0);

	/* One byte short: the body's last field is cut. */
	r.body_len_delta = -1;
	assert_raw_rejected(r);
	/* One byte long, the next byte swallowed: trailing bytes. */
	r = raw_file();
	r.trailing = 1;
	assert_raw_rejected(r);
	/* Longer than what follows: a truncated stream. */
	r = raw_file();
	r.body_len_delta = 5;
	assert_raw_rejected(r);
}

static void test_manifest__flipped_length_bits_never_crash(void **state)
{
	(void)state;
	cairn_entry e[16];
	size_t n = sample_entries(e);
	cairn_buf b = CAIRN_BUF_INIT;
	encode_stream(&b, e, n);

	/* Flip every bit of the stream in turn: decoding fails cleanly or
	 * yields entries, never reads out of bounds (the sanitizer build
	 * checks that). */
	int rejected = 0;
	for (size_t i = 0; i < b.len; i++)
		for (int bit = 0; bit < 8; bit++) {
			b.data[i] ^= (uint8_t)(1u << bit);
			int rc = decode_first_error(b.data, b.len);
			assert_true(rc == 0 || rc == CAIRN_ECORRUPT);
			rejected += rc == CAIRN_ECORRUPT;
			b.data[i] ^= (uint8_t)(1u << bit);
		}
	assert_true(rejected > 0);
	cairn_buf_free(&b);
	clear_entries(e, n);
}

/* ---- the decoder's field checks ---------------------------------------- */

static void test_manifest__decoder_rejects_bad_types_and_paths(void **state)
{
	(void)state;
	raw_entry r;
	static const struct {
		const char *path;
		size_t len;
	} bad_paths[] = {
	    {"", 0},   {"f", 1},   {"/a\0b", 4},  {"//", 2},      {"/a//b", 5}, {"/a/", 3},
	    {"/.", 2}, {"/..", 3}, {"/a/./b", 6}, {"/a/../b", 7}, {"/a/..", 5}, {"./a", 3},
	};

	r = raw_file();
	r.type = 0;
	assert_raw_rejected(r);
	r.type = CAIRN_ENTRY_SOCKET + 1;
	assert_raw_rejected(r);
	r.type = 0xff;
	assert_raw_rejected(r);

	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		r = raw_file();
		r.path = bad_paths[i].path;
		r.path_len = bad_paths[i].len;
		if (decode_raw(&r) != CAIRN_ECORRUPT)
			fail_msg("decoder accepted path %zu", i);
	}
	/* Names that merely start with dots are fine. */
	r = raw_file();
	r.path = "/.a/..b/...";
	r.path_len = 11;
	assert_int_equal(decode_raw(&r), 0);

	/* Longer than the limit. */
	char *longp = malloc(CAIRN_MANIFEST_PATH_MAX + 1);
	assert_non_null(longp);
	memset(longp, 'p', CAIRN_MANIFEST_PATH_MAX + 1);
	longp[0] = '/';
	r = raw_file();
	r.path = longp;
	r.path_len = CAIRN_MANIFEST_PATH_MAX + 1;
	assert_raw_rejected(r);
	r.path_len = CAIRN_MANIFEST_PATH_MAX;
	assert_int_equal(decode_raw(&r), 0);
	free(longp);
}

static void test_manifest__decoder_rejects_out_of_range_metadata(void **state)
{
	(void)state;
	raw_entry r;

	r = raw_file();
	r.mode = 010000;
	assert_raw_rejected(r);
	r = raw_file();
	r.mode = 0170644; /* S_IFREG bits: the type lives in the type byte */
	assert_raw_rejected(r);
	r = raw_file();
	r.uid = (uint64_t)UINT32_MAX + 1;
	assert_raw_rejected(r);
	r = raw_file();
	r.gid = UINT64_MAX;
	assert_raw_rejected(r);
	r = raw_file();
	r.uid = UINT32_MAX;
	r.gid = UINT32_MAX;
	r.mode = 07777;
	assert_int_equal(decode_raw(&r), 0);
}

static void test_manifest__decoder_rejects_bad_link_targets(void **state)
{
	(void)state;
	raw_entry r;

	/* A target on something that is not a link. */
	r = raw_file();
	r.link = "/x";
	r.link_len = 2;
	assert_raw_rejected(r);

	/* Links without a target. */
	r = raw_file();
	r.type = CAIRN_ENTRY_SYMLINK;
	r.n_chunks = 0;
	r.chunks_written = 0;
	assert_raw_rejected(r);
	r.type = CAIRN_ENTRY_HARDLINK;
	assert_raw_rejected(r);

	/* A hardlink must point at a valid path; a symlink may hold anything
	 * but NUL. */
	r.link = "relative";
	r.link_len = 8;
	assert_raw_rejected(r);
	r.link = "/a/../b";
	r.link_len = 7;
	assert_raw_rejected(r);
	r.link = "/a/b";
	r.link_len = 4;
	assert_int_equal(decode_raw(&r), 0);
	r.type = CAIRN_ENTRY_SYMLINK;
	r.link = "../x\n";
	r.link_len = 5;
	assert_int_equal(decode_raw(&r), 0);
	r.link = "a\0b";
	r.link_len = 3;
	assert_raw_rejected(r);

	char *longt = malloc(CAIRN_MANIFEST_LINK_MAX + 1);
	assert_non_null(longt);
	memset(longt, 't', CAIRN_MANIFEST_LINK_MAX + 1);
	r.link = longt;
	r.link_len = CAIRN_MANIFEST_LINK_MAX + 1;
	assert_raw_rejected(r);
	free(longt);
}

static void test_manifest__decoder_rejects_bad_xattrs(void **state)
{
	(void)state;
	raw_entry r;

	/* A count larger than the record could hold. */
	r = raw_file();
	r.n_xattrs = 1000000;
	assert_raw_rejected(r);
	r.n_xattrs = UINT64_MAX;
	assert_raw_rejected(r);
	/* A count of two with one written. */
	r = raw_file();
	r.n_xattrs = 2;
	assert_raw_rejected(r);

	r = raw_file();
	r.xattrs[0] = (raw_xattr){"", 0, 1};
	assert_raw_rejected(r);
	r.xattrs[0] = (raw_xattr){"a\0b", 3, 1};
	assert_raw_rejected(r);
	r.xattrs[0] = (raw_xattr){NULL, CAIRN_MANIFEST_XATTR_NAME_MAX + 1, 1};
	assert_raw_rejected(r);
	r.xattrs[0] = (raw_xattr){NULL, CAIRN_MANIFEST_XATTR_NAME_MAX, 1};
	assert_int_equal(decode_raw(&r), 0);
	r.xattrs[0] = (raw_xattr){"user.big", 8, CAIRN_MANIFEST_XATTR_VALUE_MAX + 1};
	assert_raw_rejected(r);
	r.xattrs[0] = (raw_xattr){"user.big", 8, CAIRN_MANIFEST_XATTR_VALUE_MAX};
	assert_int_equal(decode_raw(&r), 0);
}

static void test_manifest__decoder_frees_a_half_read_xattr(void **state)
{
	(void)state;
	/* The second xattr's name is read, then its value fails: nothing may
	 * leak (the sanitizer build checks). */
	raw_entry r = raw_file();
	r.n_xattrs = 2;
	r.xattrs[1] = (raw_xattr){"user.b", 6, CAIRN_MANIFEST_XATTR_VALUE_MAX + 1};
	r.xattrs_written = 2;
	assert_raw_rejected(r);
	r.xattrs[0] = (raw_xattr){"user.a", 6, CAIRN_MANIFEST_XATTR_VALUE_MAX + 1};
	r.xattrs_written = 1;
	r.n_xattrs = 1;
	assert_raw_rejected(r);
}

static void test_manifest__decoder_rejects_bad_chunks(void **state)
{
	(void)state;
	raw_entry r;

	r = raw_file();
	r.n_chunks = 1000000;
	assert_raw_rejected(r);
	r.n_chunks = UINT64_MAX;
	assert_raw_rejected(r);
	r = raw_file();
	r.n_chunks = 3; /* two written */
	assert_raw_rejected(r);

	r = raw_file();
	r.chunk_len[1] = 0;
	r.size = 100;
	assert_raw_rejected(r);
	r = raw_file();
	r.chunk_len[1] = (uint64_t)UINT32_MAX + 1;
	r.size = 100 + (uint64_t)UINT32_MAX + 1;
	assert_raw_rejected(r);

	/* Lengths that do not add up to the size, either way. */
	r = raw_file();
	r.size = 299;
	assert_raw_rejected(r);
	r.size = 301;
	assert_raw_rejected(r);
	r.size = 0;
	assert_raw_rejected(r);

	/* Content on a directory. */
	r = raw_file();
	r.type = CAIRN_ENTRY_DIR;
	assert_raw_rejected(r);
	r.n_chunks = 0;
	r.chunks_written = 0;
	assert_int_equal(decode_raw(&r), 0);
}

static void test_manifest__decoder_rejects_every_truncated_body(void **state)
{
	(void)state;
	raw_entry r = raw_file();
	cairn_buf b = CAIRN_BUF_INIT;
	build_stream(&b, &r);
	size_t body = b.len - CAIRN_MANIFEST_HEADER_SIZE - 1; /* one-byte length prefix */
	assert_true(body < 128);

	/* Same bytes, but the length claims fewer: each short body fails. */
	for (size_t len = 1; len < body; len++) {
		b.data[CAIRN_MANIFEST_HEADER_SIZE] = (uint8_t)len;
		int rc = decode_first_error(b.data, CAIRN_MANIFEST_HEADER_SIZE + 1 + len);
		if (rc != CAIRN_ECORRUPT)
			fail_msg("accepted a body cut to %zu of %zu bytes", len, body);
	}
	cairn_buf_free(&b);
}

/* ---- the encoder's checks ---------------------------------------------- */

static void check_encode_rejects(const cairn_entry *e, const char *what)
{
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_manifest_begin(&b), 0);
	assert_int_equal(cairn_buf_append(&b, "tail", 4), 0);
	size_t len = b.len;
	cairn_error_clear();
	if (cairn_manifest_encode(&b, e) != CAIRN_EINVAL)
		fail_msg("encoder accepted %s", what);
	assert_true(strlen(cairn_error_last()) > 0);
	/* Nothing was appended. */
	assert_int_equal(b.len, len);
	assert_memory_equal(b.data + len - 4, "tail", 4);
	cairn_buf_free(&b);
}

static void assert_encode_rejects(cairn_entry *e, const char *what)
{
	check_encode_rejects(e, what);
	cairn_entry_clear(e);
}

static void test_manifest__encode_rejects_unrepresentable_entries(void **state)
{
	(void)state;
	cairn_entry e;
	static const char *bad_paths[] = {"",   "relative", "/a/",    "//",      "/a//b",
	                                  "/.", "/..",      "/a/./b", "/a/../b", "/a/.."};

	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		init_entry(&e, CAIRN_ENTRY_DIR, bad_paths[i]);
		assert_encode_rejects(&e, bad_paths[i]);
	}
	init_entry(&e, CAIRN_ENTRY_DIR, "/x");
	free(e.path);
	e.path = NULL;
	assert_encode_rejects(&e, "a NULL path");

	char *longp = malloc(CAIRN_MANIFEST_PATH_MAX + 2);
	assert_non_null(longp);
	memset(longp, 'p', CAIRN_MANIFEST_PATH_MAX + 1);
	longp[0] = '/';
	longp[CAIRN_MANIFEST_PATH_MAX + 1] = '\0';
	init_entry(&e, CAIRN_ENTRY_DIR, longp);
	assert_encode_rejects(&e, "a path over the limit");

	init_entry(&e, 0, "/x");
	assert_encode_rejects(&e, "type 0");
	init_entry(&e, 9, "/x");
	assert_encode_rejects(&e, "type 9");

	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	e.mode = 0100644;
	assert_encode_rejects(&e, "mode with file-type bits");

	init_entry(&e, CAIRN_ENTRY_SYMLINK, "/x");
	assert_encode_rejects(&e, "a symlink without a target");
	init_entry(&e, CAIRN_ENTRY_SYMLINK, "/x");
	e.link_target = dup_str("");
	assert_encode_rejects(&e, "a symlink with an empty target");
	init_entry(&e, CAIRN_ENTRY_HARDLINK, "/x");
	assert_encode_rejects(&e, "a hardlink without a target");
	init_entry(&e, CAIRN_ENTRY_HARDLINK, "/x");
	e.link_target = dup_str("y");
	assert_encode_rejects(&e, "a hardlink to a relative path");
	init_entry(&e, CAIRN_ENTRY_SYMLINK, "/x");
	longp[0] = 'l';
	e.link_target = dup_str(longp);
	assert_encode_rejects(&e, "a symlink target over the limit");
	free(longp);
	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	e.link_target = dup_str("/y");
	assert_encode_rejects(&e, "a link target on a file");

	init_entry(&e, CAIRN_ENTRY_DIR, "/x");
	add_chunk(&e, 1, 10);
	assert_encode_rejects(&e, "chunks on a directory");
	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	add_chunk(&e, 1, 10);
	e.size = 11;
	assert_encode_rejects(&e, "chunks that do not add up to the size");
	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	e.size = 1;
	assert_encode_rejects(&e, "a size without chunks");
	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	add_chunk(&e, 1, 10);
	add_chunk(&e, 2, 0);
	assert_encode_rejects(&e, "an empty chunk");
	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	e.n_chunks = 1;
	assert_encode_rejects(&e, "a chunk count without chunks");

	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	add_xattr(&e, "", "v", 1);
	assert_encode_rejects(&e, "an empty xattr name");
	char name[CAIRN_MANIFEST_XATTR_NAME_MAX + 2];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	add_xattr(&e, name, "v", 1);
	assert_encode_rejects(&e, "an xattr name over the limit");
	uint8_t *big = calloc(1, CAIRN_MANIFEST_XATTR_VALUE_MAX + 1);
	assert_non_null(big);
	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	add_xattr(&e, "user.big", big, CAIRN_MANIFEST_XATTR_VALUE_MAX + 1);
	assert_encode_rejects(&e, "an xattr value over the limit");
	free(big);
	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	add_xattr(&e, "user.a", "v", 1);
	free(e.xattrs[0].name);
	e.xattrs[0].name = NULL;
	assert_encode_rejects(&e, "a NULL xattr name");
	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	add_xattr(&e, "user.a", "v", 1);
	free(e.xattrs[0].value);
	e.xattrs[0].value = NULL;
	assert_encode_rejects(&e, "an xattr value pointer missing");
	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	e.n_xattrs = 1;
	check_encode_rejects(&e, "an xattr count without xattrs");
	e.n_xattrs = 0;
	cairn_entry_clear(&e);
}

static void test_manifest__encode_appends_after_existing_bytes(void **state)
{
	(void)state;
	cairn_entry e[16];
	size_t n = sample_entries(e);
	cairn_buf b = CAIRN_BUF_INIT;

	/* A rejected entry between good ones leaves the stream intact. */
	assert_int_equal(cairn_manifest_begin(&b), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(cairn_manifest_encode(&b, &e[i]), 0);
		cairn_entry bad;
		init_entry(&bad, CAIRN_ENTRY_DIR, "no-slash");
		assert_int_equal(cairn_manifest_encode(&b, &bad), CAIRN_EINVAL);
		cairn_entry_clear(&bad);
	}
	assert_int_equal(decode_and_compare(b.data, b.len, NULL, 0, e, n), 0);
	cairn_buf_free(&b);
	clear_entries(e, n);
}

/* ---- version 2: file flags and the xattr budget ------------------------- */

/* The entry of the example in docs/FORMAT.md §10.5: a symlink. */
static void format_example(cairn_entry *e)
{
	init_entry(e, CAIRN_ENTRY_SYMLINK, "/etc/l");
	e->link_target = dup_str("t");
	e->mode = 0777;
	e->mtime_ns = 1700000000123456789ll;
	e->ctime_ns = -1;
	e->dev = 2049;
	e->ino = 300;
}

/* That example, byte for byte. */
static void test_manifest__encodes_the_format_example_byte_for_byte(void **state)
{
	(void)state;
	static const uint8_t want[] = {'C',  'A',  'I',  'R',  'N',  'M',  'F',  0x02, 0x22,
	                               0x03, 0x06, '/',  'e',  't',  'c',  '/',  'l',  0xff,
	                               0x03, 0xe8, 0x07, 0x64, 0xaa, 0xb4, 0xae, 0xd8, 0xc7,
	                               0xbf, 0xce, 0x97, 0x2f, 0x01, 0x00, 0x81, 0x10, 0xac,
	                               0x02, 0x00, 0x01, 't',  0x00, 0x00, 0x00};
	cairn_entry e;
	cairn_buf b = CAIRN_BUF_INIT;
	format_example(&e);
	encode_stream(&b, &e, 1);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	cairn_buf_free(&b);
	cairn_entry_clear(&e);
}

static void test_manifest__reads_a_version_1_stream_as_partial_attributes(void **state)
{
	(void)state;
	/* The same symlink as written before file flags: no flags byte. */
	static const uint8_t v1[] = {
	    'C',  'A',  'I',  'R',  'N',  'M',  'F',  0x01, 0x21, 0x03, 0x06, '/',  'e',  't',
	    'c',  '/',  'l',  0xff, 0x03, 0xe8, 0x07, 0x64, 0xaa, 0xb4, 0xae, 0xd8, 0xc7, 0xbf,
	    0xce, 0x97, 0x2f, 0x01, 0x00, 0x81, 0x10, 0xac, 0x02, 0x00, 0x01, 't',  0x00, 0x00};
	cairn_entry want;
	format_example(&want);
	want.attrs_partial = 1;
	assert_int_equal(decode_and_compare(v1, sizeof(v1), NULL, 0, &want, 1), 0);
	cairn_entry_clear(&want);

	/* A file with xattrs, in a version 1 stream: flags 0. */
	raw_entry r = raw_file();
	r.v1 = 1;
	assert_int_equal(decode_raw(&r), 0);
	/* A flags field there is a byte too many. */
	r.trailing = 1;
	assert_raw_rejected(r);
}

static void test_manifest__round_trips_flags_and_the_largest_xattrs_allowed(void **state)
{
	(void)state;
	cairn_entry e[2];
	cairn_buf b = CAIRN_BUF_INIT;
	char name[32];
	/* As many xattrs as allowed, on a directory with every flag. */
	init_entry(&e[0], CAIRN_ENTRY_DIR, "/a");
	e[0].flags = CAIRN_MANIFEST_FLAGS_MASK;
	for (unsigned i = 0; i < CAIRN_MANIFEST_XATTR_COUNT_MAX; i++) {
		snprintf(name, sizeof(name), "user.%u", i);
		add_xattr(&e[0], name, name, strlen(name));
	}
	/* As many bytes as allowed: values of 64 KiB and a last one that
	 * fills the budget to the byte. */
	init_entry(&e[1], CAIRN_ENTRY_FILE, "/b");
	e[1].flags = CAIRN_MANIFEST_FLAG_APPEND;
	uint8_t *value = malloc(CAIRN_MANIFEST_XATTR_VALUE_MAX);
	assert_non_null(value);
	for (size_t i = 0; i < CAIRN_MANIFEST_XATTR_VALUE_MAX; i++)
		value[i] = (uint8_t)(i * 7);
	size_t total = 0;
	for (unsigned i = 0; total < CAIRN_MANIFEST_XATTR_TOTAL_MAX; i++) {
		snprintf(name, sizeof(name), "trusted.big%02u", i);
		size_t left = CAIRN_MANIFEST_XATTR_TOTAL_MAX - total - strlen(name);
		size_t len =
		    left < CAIRN_MANIFEST_XATTR_VALUE_MAX ? left : CAIRN_MANIFEST_XATTR_VALUE_MAX;
		add_xattr(&e[1], name, value, len);
		total += strlen(name) + len;
	}
	assert_int_equal(total, CAIRN_MANIFEST_XATTR_TOTAL_MAX);

	encode_stream(&b, e, 2);
	assert_int_equal(decode_and_compare(b.data, b.len, NULL, 0, e, 2), 0);
	cairn_buf_free(&b);

	/* One byte, or one xattr, more is refused. */
	e[1].xattrs[e[1].n_xattrs - 1].value_len++;
	check_encode_rejects(&e[1], "xattrs over the entry's budget");
	e[1].xattrs[e[1].n_xattrs - 1].value_len--;
	add_xattr(&e[0], "user.one-more", "x", 1);
	check_encode_rejects(&e[0], "one xattr more than allowed");
	free(value);
	clear_entries(e, 2);
}

static void test_manifest__encode_rejects_unknown_or_misplaced_flags(void **state)
{
	(void)state;
	cairn_entry e;
	init_entry(&e, CAIRN_ENTRY_FILE, "/x");
	e.flags = 0x00080000; /* ext4's extents flag: not one kept */
	assert_encode_rejects(&e, "a flag that is not kept");
	init_entry(&e, CAIRN_ENTRY_SYMLINK, "/x");
	e.link_target = dup_str("t");
	e.flags = CAIRN_MANIFEST_FLAG_NODUMP;
	assert_encode_rejects(&e, "flags on a symlink");
	init_entry(&e, CAIRN_ENTRY_FIFO, "/x");
	e.flags = CAIRN_MANIFEST_FLAG_IMMUTABLE;
	assert_encode_rejects(&e, "flags on a FIFO");
}

/* A file with n copies of x decodes; with one more it is refused. */
static void assert_limit_of_repeated_xattrs(raw_xattr x, size_t n)
{
	raw_entry r = raw_file();
	r.xattrs[0] = x;
	r.n_xattrs = n;
	r.xattrs_repeated = n - 1;
	assert_int_equal(decode_raw(&r), 0);
	r.n_xattrs++;
	r.xattrs_repeated++;
	assert_raw_rejected(r);
}

static void test_manifest__decoder_rejects_bad_flags_and_oversized_xattrs(void **state)
{
	(void)state;
	raw_entry r;

	r = raw_file();
	r.flags = CAIRN_MANIFEST_FLAG_IMMUTABLE | CAIRN_MANIFEST_FLAG_APPEND;
	assert_int_equal(decode_raw(&r), 0);
	r.flags = 0x00080000;
	assert_raw_rejected(r);
	r.flags = (uint64_t)1 << 32;
	assert_raw_rejected(r);
	r.flags = UINT64_MAX;
	assert_raw_rejected(r);
	/* On a FIFO. */
	r = raw_file();
	r.type = CAIRN_ENTRY_FIFO;
	r.n_chunks = r.chunks_written = r.size = 0;
	assert_int_equal(decode_raw(&r), 0);
	r.flags = CAIRN_MANIFEST_FLAG_NODUMP;
	assert_raw_rejected(r);

	/* One xattr more than allowed, each of them small; values within
	 * their own limit, over the entry's in all. */
	size_t per = 8 + CAIRN_MANIFEST_XATTR_VALUE_MAX;
	assert_limit_of_repeated_xattrs((raw_xattr){"user.a", 6, 0},
	                                CAIRN_MANIFEST_XATTR_COUNT_MAX);
	assert_limit_of_repeated_xattrs((raw_xattr){"user.big", 8, CAIRN_MANIFEST_XATTR_VALUE_MAX},
	                                CAIRN_MANIFEST_XATTR_TOTAL_MAX / per);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_manifest__round_trips_every_entry_type),
	    cmocka_unit_test(test_manifest__decoding_one_byte_at_a_time_gives_the_same_entries),
	    cmocka_unit_test(test_manifest__encoding_is_deterministic),
	    cmocka_unit_test(test_manifest__round_trips_many_entries_with_bounded_memory),
	    cmocka_unit_test(test_manifest__round_trips_the_largest_fields_allowed),
	    cmocka_unit_test(test_manifest__entry_clear_zeroes_and_accepts_an_empty_entry),
	    cmocka_unit_test(test_manifest__truncated_stream_fails_at_finish),
	    cmocka_unit_test(test_manifest__truncated_prefix_yields_only_whole_records),
	    cmocka_unit_test(test_manifest__empty_stream_and_header_only_stream),
	    cmocka_unit_test(test_manifest__rejects_a_bad_magic),
	    cmocka_unit_test(test_manifest__rejects_an_unknown_version),
	    cmocka_unit_test(test_manifest__rejects_a_zero_record_length),
	    cmocka_unit_test(test_manifest__rejects_an_oversized_record_before_reading_it),
	    cmocka_unit_test(test_manifest__rejects_an_overlong_length_varint),
	    cmocka_unit_test(test_manifest__rejects_a_record_length_that_misframes_the_body),
	    cmocka_unit_test(test_manifest__flipped_length_bits_never_crash),
	    cmocka_unit_test(test_manifest__decoder_rejects_bad_types_and_paths),
	    cmocka_unit_test(test_manifest__decoder_rejects_out_of_range_metadata),
	    cmocka_unit_test(test_manifest__decoder_rejects_bad_link_targets),
	    cmocka_unit_test(test_manifest__decoder_rejects_bad_xattrs),
	    cmocka_unit_test(test_manifest__decoder_frees_a_half_read_xattr),
	    cmocka_unit_test(test_manifest__decoder_rejects_bad_chunks),
	    cmocka_unit_test(test_manifest__encodes_the_format_example_byte_for_byte),
	    cmocka_unit_test(test_manifest__reads_a_version_1_stream_as_partial_attributes),
	    cmocka_unit_test(test_manifest__round_trips_flags_and_the_largest_xattrs_allowed),
	    cmocka_unit_test(test_manifest__encode_rejects_unknown_or_misplaced_flags),
	    cmocka_unit_test(test_manifest__decoder_rejects_bad_flags_and_oversized_xattrs),
	    cmocka_unit_test(test_manifest__decoder_rejects_every_truncated_body),
	    cmocka_unit_test(test_manifest__encode_rejects_unrepresentable_entries),
	    cmocka_unit_test(test_manifest__encode_appends_after_existing_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

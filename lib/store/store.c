/* Opening a store by location: picks the backend from the location's
 * scheme. A location without a scheme is a local directory. */
#include "cairn/store.h"

#include "store/store_internal.h"

#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "util/hex.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int open_file_uri(cairn_store **out, const char *location, const char *rest, int create,
                         const cairn_store_opts *opts);
static int open_s3(cairn_store **out, const char *location, const char *rest, int create,
                   const cairn_store_opts *opts);

/* rest is the location after the prefix. */
static const struct scheme {
	const char *prefix;
	int (*open)(cairn_store **out, const char *location, const char *rest, int create,
	            const cairn_store_opts *opts);
} schemes[] = {
    {"file://", open_file_uri},
    {"s3:", open_s3},
};

/* file:///path, with RFC 8089 percent escapes (a space is "%20"). Only an
 * empty or "localhost" authority names this machine. */
static int open_file_uri(cairn_store **out, const char *location, const char *rest, int create,
                         const cairn_store_opts *opts)
{
	if (strncmp(rest, "localhost/", 10) == 0)
		rest += 9;
	if (rest[0] != '/')
		return cairn_error_set(
		    CAIRN_EINVAL, "store location '%s': a file URI must be file:///absolute/path",
		    location);

	size_t n = strlen(rest);
	char *path = malloc(n + 1);
	if (!path)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (rest[i] != '%') {
			path[j++] = rest[i];
			continue;
		}
		/* The NUL terminator is not a hex digit, so this never reads past it. */
		int hi = cairn_hex_digit(rest[i + 1]);
		int lo = hi >= 0 ? cairn_hex_digit(rest[i + 2]) : -1;
		if (lo < 0 || (hi == 0 && lo == 0)) {
			free(path);
			return cairn_error_set(CAIRN_EINVAL,
			                       "store location '%s': bad escape '%%%.2s'", location,
			                       rest + i + 1);
		}
		path[j++] = (char)(hi << 4 | lo);
		i += 2;
	}
	path[j] = '\0';

	int rc = cairn_store__local_open(out, path, create, opts);
	free(path);
	return rc;
}

static int open_s3(cairn_store **out, const char *location, const char *rest, int create,
                   const cairn_store_opts *opts)
{
	return cairn_store__s3_open(out, rest, create, opts);
}

/* An RFC 3986 scheme ("name:"). Single letters are left alone so that a
 * drive-letter-like relative path is not mistaken for a URI. */
static int has_scheme(const char *s)
{
	if (!isalpha((unsigned char)s[0]))
		return 0;
	size_t i = 1;
	while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
		i++;
	return s[i] == ':' && i >= 2;
}

int cairn_store_open(cairn_store **out, const char *location, int create)
{
	return cairn_store_open_ex(out, location, create, NULL);
}

int cairn_store_open_ex(cairn_store **out, const char *location, int create,
                        const cairn_store_opts *opts)
{
	*out = NULL;
	if (!location || !location[0])
		return cairn_error_set(CAIRN_EINVAL, "empty store location");

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].prefix);
		if (strncasecmp(location, schemes[i].prefix, n) == 0)
			return schemes[i].open(out, location, location + n, create, opts);
	}
	if (has_scheme(location))
		return cairn_error_set(CAIRN_EINVAL,
		                       "unsupported store location '%s' (a local path containing "
		                       "':' can be written as ./%s)",
		                       location, location);
	return cairn_store__local_open(out, location, create, opts);
}

int cairn_store_putv(cairn_store *s, const char *key, const cairn_iovec *iov, size_t n,
                     unsigned flags)
{
	if (s->ops->putv)
		return s->ops->putv(s, key, iov, n, flags);
	/* Joined in memory: pieces of a file (a spooled pack) are read in. */
	cairn_buf b = CAIRN_BUF_INIT;
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += iov[i].len;
	int rc = cairn_buf_reserve(&b, total);
	for (size_t i = 0; !rc && i < n; i++)
		if (!(rc = cairn_iov_read(&iov[i], 0, b.data + b.len, iov[i].len)))
			b.len += iov[i].len;
	if (!rc)
		rc = s->ops->put(s, key, b.data, b.len, flags);
	cairn_buf_free(&b);
	return rc;
}

int cairn_store_putv_named(cairn_store *s, const cairn_iovec *iov, size_t n,
                           cairn_store_name_fn name, uint8_t id_out[32], unsigned flags)
{
	char key[CAIRN_STORE_NAME_MAX];
	if (s->ops->putv_named)
		return s->ops->putv_named(s, iov, n, name, id_out, flags);
	int rc = cairn_sha256_iov(id_out, iov, n);
	if (rc)
		return rc;
	name(key, id_out);
	return cairn_store_putv(s, key, iov, n, flags);
}

/* For a backend without list_items: its plain listing, with mtime 0. */
typedef struct plain_items {
	cairn_store_item_cb cb;
	void *ud;
} plain_items;

static int plain_item(const char *key, uint64_t size, void *ud)
{
	const plain_items *p = ud;
	cairn_store_item item = {.key = key, .size = size, .mtime = 0};
	return p->cb(&item, p->ud);
}

int cairn_store_list_items(cairn_store *s, const char *prefix, cairn_store_item_cb cb, void *ud)
{
	if (s->ops->list_items)
		return s->ops->list_items(s, prefix, cb, ud);
	plain_items p = {.cb = cb, .ud = ud};
	return s->ops->list(s, prefix, plain_item, &p);
}

int cairn_store_list_temp(cairn_store *s, cairn_store_item_cb cb, void *ud)
{
	return s->ops->list_temp ? s->ops->list_temp(s, cb, ud) : 0;
}

/* Finding the key file that opens with the password, and what a client
 * remembers of a repository in its cache directory (docs/FORMAT.md §4.2
 * and §13): whether it has seen it encrypted, unencrypted, with sealed
 * settings, and which key file opened it last. */
#include "repo/repo_internal.h"

#include "cairn/errors.h"
#include "fs/walk.h"
#include "repo/repo_format.h"
#include "util/fileio.h"
#include "util/hex.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Marks the base cache directory (made if need be) as a cache for other
 * tools (CACHEDIR.TAG), unless a valid tag is there. Best effort: a
 * cache that cannot be written fails where it is used. */
static void cache_tag(const char *base)
{
	char path[4096], tmp[4096];
	static const char text[] = CAIRN_CACHEDIR_TAG_TEXT;
	int dfd = -1, fd = -1;
	if (cairn_mkdir_p(base, 0700) ||
	    (dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    cairn_dir_has_tag(dfd, CAIRN_CACHEDIR_TAG, CAIRN_CACHEDIR_SIGNATURE))
		goto out;
	snprintf(path, sizeof(path), "%s/%s", base, CAIRN_CACHEDIR_TAG);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%ld", base, CAIRN_CACHEDIR_TAG, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		goto out;
	if (cairn_pwrite_all(fd, text, sizeof(text) - 1, 0) != 0 || close(fd) != 0 ||
	    rename(tmp, path) != 0)
		unlink(tmp);
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	cairn_error_clear();
}

int cairn_repo_cache_path(cairn_buf *out, const char *base, const uint8_t id[CAIRN_ID_SIZE])
{
	char hex[CAIRN_ID_HEX + 1];
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int rc;
	cairn_hex_encode(hex, id, CAIRN_ID_SIZE);
	if (base && *base)
		rc = cairn_buf_printf(out, "%s", base);
	else if (xdg && *xdg)
		rc = cairn_buf_printf(out, "%s/cairn", xdg);
	else if (home && *home)
		rc = cairn_buf_printf(out, "%s/.cache/cairn", home);
	else
		return cairn_error_set(
		    CAIRN_EINVAL, "no cache directory: set HOME, XDG_CACHE_HOME or --cache-dir");
	if (rc)
		return rc;
	cache_tag((const char *)out->data);
	return cairn_buf_printf(out, "/%s", hex);
}

static const char *const seen_names[] = {"seen-encrypted", "seen-unencrypted", "seen-sealed"};

unsigned cairn_repo_seen_load(const char *dir)
{
	unsigned seen = 0;
	char path[4096];
	for (unsigned i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, seen_names[i]);
		if (access(path, F_OK) == 0)
			seen |= 1u << i;
	}
	return seen;
}

int cairn_repo_seen_record(const char *dir, unsigned seen)
{
	char path[4096];
	int rc = cairn_mkdir_p(dir, 0700);
	for (unsigned i = 0; !rc && i < 3; i++) {
		if (!(seen & (1u << i)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, seen_names[i]);
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			rc = cairn_error_set_errno(CAIRN_EIO, errno, "cannot write %s", path);
		else
			close(fd);
	}
	return rc;
}

/* The id of the key file that opened the repository last, if the cache
 * has one: 0, or CAIRN_ENOTFOUND. */
static int last_key_load(const char *dir, uint8_t id[CAIRN_ID_SIZE])
{
	char path[4096], hex[CAIRN_ID_HEX + 2] = {0};
	snprintf(path, sizeof(path), "%s/key", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return CAIRN_ENOTFOUND;
	size_t n = fread(hex, 1, CAIRN_ID_HEX, f);
	fclose(f);
	hex[n] = '\0';
	return n == CAIRN_ID_HEX && cairn_hex_decode(id, CAIRN_ID_SIZE, hex) == 0 ? 0
	                                                                          : CAIRN_ENOTFOUND;
}

int cairn_repo_last_key_record(const char *dir, const uint8_t id[CAIRN_ID_SIZE])
{
	char path[4096], tmp[4096], hex[CAIRN_ID_HEX + 1];
	cairn_hex_encode(hex, id, CAIRN_ID_SIZE);
	snprintf(path, sizeof(path), "%s/key", dir);
	snprintf(tmp, sizeof(tmp), "%s/.key.%ld", dir, (long)getpid());
	int rc = cairn_mkdir_p(dir, 0700);
	if (rc)
		return rc;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return cairn_error_set_errno(CAIRN_EIO, errno, "cannot write %s", tmp);
	int bad = fprintf(f, "%s\n", hex) < 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return cairn_error_set_errno(CAIRN_EIO, e, "cannot write %s", path);
	}
	return 0;
}

/* Puts the key file that opened the repository last first, the others in
 * the store's order after it: 1 if it is among them. */
static int last_first(uint8_t (*ids)[CAIRN_ID_SIZE], size_t n, const char *dir)
{
	uint8_t last[CAIRN_ID_SIZE];
	if (last_key_load(dir, last))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (memcmp(ids[i], last, CAIRN_ID_SIZE) != 0)
			continue;
		memmove(ids[1], ids[0], i * CAIRN_ID_SIZE);
		memcpy(ids[0], last, CAIRN_ID_SIZE);
		return 1;
	}
	return 0;
}

/* Puts the one key file whose id starts with hint (hex) first: 1 if
 * there is exactly one. */
static int hint_first(uint8_t (*ids)[CAIRN_ID_SIZE], size_t n, const char *hint)
{
	char hex[CAIRN_ID_HEX + 1];
	size_t found = n, len = hint ? strlen(hint) : 0;
	if (!len || !cairn_hex_is_prefix(hint, CAIRN_ID_HEX))
		return 0;
	for (size_t i = 0; i < n; i++) {
		cairn_hex_encode(hex, ids[i], CAIRN_ID_SIZE);
		if (strncmp(hex, hint, len) != 0)
			continue;
		if (found != n)
			return 0;
		found = i;
	}
	if (found == n)
		return 0;
	uint8_t id[CAIRN_ID_SIZE];
	memcpy(id, ids[found], CAIRN_ID_SIZE);
	memmove(ids[1], ids[0], found * CAIRN_ID_SIZE);
	memcpy(ids[0], id, CAIRN_ID_SIZE);
	return 1;
}

struct key_search {
	cairn_repo *r;
	const cairn_open_opts *opts;
	size_t read, tried;
	cairn_buf file;
};

static void key_warn(struct key_search *ks, const char *key, const char *message)
{
	if (ks->opts->warn)
		ks->opts->warn(ks->opts->warn_ud, key, message);
}

/* 0 if the key file id opened (master_out filled), 1 to try the next,
 * or an error. */
static int try_key(struct key_search *ks, const uint8_t id[CAIRN_ID_SIZE],
                   uint8_t master_out[CAIRN_KEY_SIZE])
{
	char key[sizeof(CAIRN_KEYS_PREFIX) + CAIRN_ID_HEX], hex[CAIRN_ID_HEX + 1];
	uint8_t check[CAIRN_ID_SIZE];
	cairn_hex_encode(hex, id, CAIRN_ID_SIZE);
	snprintf(key, sizeof(key), "%s%s", CAIRN_KEYS_PREFIX, hex);
	ks->file.len = 0;
	int rc = cairn_store_get(cairn_repo_store(ks->r), key, 0, CAIRN_KEYFILE_MAX, &ks->file);
	if (rc == CAIRN_ENOTFOUND)
		return 1; /* deleted since the listing */
	if (rc)
		return rc;
	ks->read++;
	cairn_sha256(check, ks->file.data, ks->file.len);
	if (memcmp(check, id, CAIRN_ID_SIZE) != 0) {
		key_warn(ks, key, "its name is not the SHA-256 of its content: skipped");
		return 1;
	}
	if (ks->tried == CAIRN_KEYS_TRY_MAX)
		return cairn_error_set(CAIRN_EAUTH,
		                       "the password opens none of the %u key files tried under "
		                       "keys/, and there are more: refusing to try further",
		                       CAIRN_KEYS_TRY_MAX);
	rc = cairn_key_open(master_out, ks->file.data, ks->file.len, ks->opts->password,
	                    ks->opts->password_len);
	if (rc == CAIRN_EAUTH) {
		ks->tried++;
		return 1;
	}
	if (rc == CAIRN_ECORRUPT) {
		key_warn(ks, key, cairn_error_last());
		return 1;
	}
	return rc;
}

int cairn_repo_find_key(cairn_repo *r, const cairn_open_opts *opts, const char *dir,
                        uint8_t master_out[CAIRN_KEY_SIZE], uint8_t id_out[CAIRN_ID_SIZE])
{
	struct key_search ks = {.r = r, .opts = opts};
	uint8_t(*ids)[CAIRN_ID_SIZE] = NULL;
	size_t n = 0, i;
	int rc = cairn_repo_list_ids(r, CAIRN_KEYS_PREFIX, &ids, &n);
	if (rc)
		return rc;
	int remembered = last_first(ids, n, dir);
	if (hint_first(ids, n, opts->key_hint))
		remembered = 0;
	for (i = 0, rc = 1; i < n && rc == 1; i++) {
		if (ks.read == CAIRN_KEYS_READ_MAX) {
			rc = cairn_error_set(CAIRN_ECORRUPT,
			                     "%s: more than %u files under keys/: refusing to read "
			                     "further",
			                     r->location, CAIRN_KEYS_READ_MAX);
			break;
		}
		rc = try_key(&ks, ids[i], master_out);
	}
	/* Written again only when another key file opened it. */
	if (rc == 0 && !(remembered && i == 1))
		rc = cairn_repo_last_key_record(dir, ids[i - 1]);
	if (rc == 0)
		memcpy(id_out, ids[i - 1], CAIRN_ID_SIZE);
	else if (rc == 1 && !ks.tried)
		rc = cairn_error_set(CAIRN_ECORRUPT, "%s: no usable keys in keys/", r->location);
	else if (rc == 1)
		rc = cairn_error_set(CAIRN_EAUTH, "wrong password for the repository at %s",
		                     r->location);
	if (rc)
		sodium_memzero(master_out, CAIRN_KEY_SIZE);
	cairn_buf_free(&ks.file);
	free(ids);
	return rc;
}

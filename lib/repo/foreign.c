/* What is at a location that holds no cairn repository: another tool's
 * repository (restic, borg, kopia), named so that whoever points cairn at
 * one learns what it is, and a place that already holds something, where
 * init writes nothing. */
#include "repo/repo_internal.h"

#include "cairn/errors.h"
#include "cairn/store.h"
#include "repo/repo_format.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Bytes read from the start of an object to recognise it. */
#define PEEK 64

/* The first bytes of key (at most PEEK) in out, NUL-terminated; "" if it
 * cannot be read. */
static void peek(cairn_store *s, const char *key, char out[PEEK + 1])
{
	cairn_buf b = CAIRN_BUF_INIT;
	out[0] = '\0';
	if (cairn_store_get(s, key, 0, PEEK, &b) == 0 && b.len <= PEEK) {
		memcpy(out, b.data, b.len);
		out[b.len] = '\0';
	}
	cairn_buf_free(&b);
}

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

struct first_key {
	char key[256];
};

static int take_first(const char *key, uint64_t size, void *ud)
{
	struct first_key *f = ud;
	(void)size;
	snprintf(f->key, sizeof(f->key), "%s", key);
	return 1; /* stop: one is enough */
}

static int take_first_item(const cairn_store_item *item, void *ud)
{
	return take_first(item->key, item->size, ud);
}

/* restic: a config (sealed binary: its first bytes are random, nothing
 * can be told from them) and key files that are JSON objects (cairn's
 * start with "CAIRNKEY"). */
static int is_restic(cairn_store *s)
{
	struct first_key k = {""};
	char key[PEEK + 1];
	uint64_t size;
	if (cairn_store_stat(s, CAIRN_CONFIG_KEY, &size) != 0)
		return 0;
	if (cairn_store_list(s, CAIRN_KEYS_PREFIX, take_first, &k) != 1)
		return 0;
	peek(s, k.key, key);
	return *skip_space(key) == '{';
}

static const char *foreign_tool(cairn_store *s)
{
	char config[PEEK + 1], readme[PEEK + 1];
	uint64_t size;
	peek(s, CAIRN_CONFIG_KEY, config);
	peek(s, "README", readme);
	if (strncmp(readme, "This is a Borg Backup repository", 32) == 0 ||
	    strncmp(skip_space(config), "[repository]", 12) == 0)
		return "borg";
	if (cairn_store_stat(s, "kopia.repository.f", &size) == 0)
		return "kopia";
	if (is_restic(s))
		return "restic";
	return NULL;
}

const char *cairn_repo_foreign(cairn_store *s)
{
	cairn_error_saved saved;
	cairn_error_save(&saved, 0);
	const char *tool = foreign_tool(s);
	cairn_error_restore(&saved);
	return tool;
}

int cairn_repo_foreign_error(cairn_store *s, const char *location, int rc)
{
	const char *tool;
	if (rc != CAIRN_ENOREPO && rc != CAIRN_ECORRUPT)
		return rc;
	if (!(tool = cairn_repo_foreign(s)))
		return rc;
	return cairn_error_set(CAIRN_ENOREPO, "%s looks like a %s repository, not a cairn one",
	                       location, tool);
}

/* Whether location is a local directory (a path, or a file:// URI
 * without escapes) with anything in it, hidden names and empty
 * directories included: the store's listing sees objects only. */
static int local_dir_has_entries(const char *location)
{
	int found = 0;
	if (strncasecmp(location, "s3:", 3) == 0)
		return 0;
	if (strncasecmp(location, "file://", 7) == 0) {
		location += 7;
		if (strncmp(location, "localhost/", 10) == 0)
			location += 9;
		if (strchr(location, '%'))
			return 0;
	}
	DIR *d = opendir(location);
	if (!d)
		return 0;
	for (struct dirent *e; !found && (e = readdir(d));)
		found = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return found;
}

int cairn_repo_init_place(cairn_store *s, const char *location)
{
	struct first_key k = {""};
	const char *tool = cairn_repo_foreign(s);
	uint64_t size;
	int rc;
	if (tool)
		return cairn_error_set(CAIRN_EEXISTS,
		                       "%s looks like a %s repository, not a cairn one", location,
		                       tool);
	rc = cairn_store_stat(s, CAIRN_CONFIG_KEY, &size);
	if (rc == 0)
		return cairn_error_set(CAIRN_EEXISTS, "a repository already exists at %s",
		                       location);
	if (rc != CAIRN_ENOTFOUND)
		return rc;
	rc = cairn_store_list(s, "", take_first, &k);
	if (rc == 0)
		rc = cairn_store_list_temp(s, take_first_item, &k);
	if (rc < 0)
		return rc;
	if (rc == 1 || local_dir_has_entries(location))
		return cairn_error_set(CAIRN_EEXISTS,
		                       "%s is not empty and is not a cairn repository: give a new "
		                       "or empty directory (or S3 prefix)",
		                       location);
	return 0;
}

int cairn_repo_init_check(const char *location)
{
	cairn_store *s = NULL;
	int rc = cairn_store_open(&s, location, 0);
	if (rc == CAIRN_ENOREPO) {
		/* Nothing there yet: init creates it. */
		cairn_error_clear();
		return 0;
	}
	if (!rc)
		rc = cairn_repo_init_place(s, location);
	if (rc == CAIRN_ENOREPO) {
		/* An S3 bucket that is not there yet. */
		cairn_error_clear();
		rc = 0;
	}
	cairn_store_free(s);
	return rc;
}

/* The key files of an open repository (keys/<id>): listing them, adding
 * and removing one, changing the password of the one in use, and the
 * master key's export for safekeeping offline. A key file is written
 * before one is removed, so an interrupted change leaves two keys that
 * open the repository, never none (lib/repo/key_manage.c). */
#ifndef CAIRN_KEYRING_H
#define CAIRN_KEYRING_H

#include "cairn/keys.h"
#include "cairn/repo.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_key_entry {
	uint8_t id[CAIRN_ID_SIZE];
	cairn_key_meta meta; /* zeroed if !valid */
	int valid;           /* a key file its name matches (else passed over when opening) */
	int in_use;          /* the key file this handle opened with */
} cairn_key_entry;

/* Every file under keys/ named by an id, in the store's order (at most
 * CAIRN_KEYS_READ_MAX are read). *out (count in *n_out) is the caller's
 * to free. CAIRN_EINVAL for an unencrypted repository. */
int cairn_repo_key_list(cairn_repo *r, cairn_key_entry **out, size_t *n_out);
/* Seals the master key under a new password with the default key
 * derivation (cairn_kdf_params_default) and who made it; id_out gets the
 * new key file's id. */
int cairn_repo_key_add(cairn_repo *r, const char *password, size_t password_len,
                       uint8_t id_out[CAIRN_ID_SIZE]);
/* Removes the key file whose id starts with prefix. CAIRN_ENOTFOUND or
 * CAIRN_EINVAL (ambiguous) with a message; CAIRN_EINVAL for the last
 * valid key file. *was_in_use says whether it opened this handle. */
int cairn_repo_key_remove(cairn_repo *r, const char *prefix, uint8_t id_out[CAIRN_ID_SIZE],
                          int *was_in_use);
/* Writes a key file for the new password, then removes the one in use:
 * interrupted in between, both open the repository. The cache remembers
 * the new one. CAIRN_EINVAL if the handle was not opened by a key file. */
int cairn_repo_key_passwd(cairn_repo *r, const char *password, size_t password_len,
                          uint8_t id_out[CAIRN_ID_SIZE]);
/* Appends the master key's export (cairn_key_export_encode) to out. */
int cairn_repo_key_export(cairn_repo *r, cairn_buf *out);
/* The id of the key file that opened r, or NULL (unencrypted, or opened
 * by an export). */
const uint8_t *cairn_repo_key_in_use(const cairn_repo *r);

#endif

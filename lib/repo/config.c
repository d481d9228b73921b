/* The repository's config object (docs/FORMAT.md §3): its text, the
 * settings sealed in it under the master key (version 3 of an encrypted
 * repository), and what a client that remembers the repository accepts
 * of it. Pure: no I/O. */
#include "repo/repo_internal.h"

#include "cairn/errors.h"
#include "repo/repo_format.h"
#include "util/hex.h"
#include "util/json.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define BOX_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define BOX_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

/* Every setting, as the clear config of versions 1 and 2 had them. */
static int settings_to_json(cairn_buf *out, const cairn_repo_config *c)
{
	char id[CAIRN_ID_HEX + 1];
	cairn_hex_encode(id, c->id, sizeof(c->id));
	return cairn_buf_printf(
	    out,
	    "{\"version\":%d,\"id\":\"%s\",\"encryption\":\"%s\","
	    "\"chunker\":{\"polynomial\":\"%llx\",\"min\":%u,\"avg\":%u,\"max\":%u},"
	    "\"pack_size\":%u}\n",
	    c->version, id, c->encrypted ? CAIRN_ENCRYPTION_NAME : "none",
	    (unsigned long long)c->chunker.poly, c->chunker.min, c->chunker.avg, c->chunker.max,
	    c->pack_target);
}

static int get_u32(const cairn_json *obj, const char *key, uint32_t *out)
{
	uint64_t v;
	int rc = cairn_json_get_uint(obj, key, &v);
	if (rc)
		return rc;
	if (v > UINT32_MAX)
		return cairn_error_set(CAIRN_ECORRUPT, "%s out of range", key);
	*out = (uint32_t)v;
	return 0;
}

/* version, id and encryption: what is in the clear in every version. */
static int parse_public(cairn_repo_config *c, const cairn_json *doc)
{
	const char *s;
	int64_t version;
	int rc;
	if ((rc = cairn_json_get_int(doc, "version", &version)))
		return rc;
	if (version < CAIRN_REPO_VERSION_MIN || version > CAIRN_REPO_VERSION)
		return cairn_error_set(
		    CAIRN_ECORRUPT,
		    "repository format version %lld is not supported (this cairn "
		    "reads versions %d to %d)",
		    (long long)version, CAIRN_REPO_VERSION_MIN, CAIRN_REPO_VERSION);
	c->version = (int)version;
	if ((rc = cairn_json_get_string(doc, "id", &s)))
		return rc;
	if ((rc = cairn_hex_decode(c->id, sizeof(c->id), s)))
		return rc;
	if ((rc = cairn_json_get_string(doc, "encryption", &s)))
		return rc;
	if (strcmp(s, CAIRN_ENCRYPTION_NAME) == 0)
		c->encrypted = 1;
	else if (strcmp(s, "none") == 0)
		c->encrypted = 0;
	else
		return cairn_error_set(CAIRN_ECORRUPT, "unknown encryption \"%s\"", s);
	return 0;
}

/* chunker and pack_size. */
static int parse_private(cairn_repo_config *c, const cairn_json *doc)
{
	const char *s;
	char *end;
	int rc;
	const cairn_json *ch = cairn_json_get(doc, "chunker");
	if (!ch || ch->type != CAIRN_JSON_OBJECT)
		return cairn_error_set(CAIRN_ECORRUPT, "no chunker parameters");
	if ((rc = cairn_json_get_string(ch, "polynomial", &s)))
		return rc;
	errno = 0;
	c->chunker.poly = strtoull(s, &end, 16);
	if (errno || *end || end == s)
		return cairn_error_set(CAIRN_ECORRUPT, "bad chunker polynomial \"%s\"", s);
	if ((rc = get_u32(ch, "min", &c->chunker.min)) ||
	    (rc = get_u32(ch, "avg", &c->chunker.avg)) ||
	    (rc = get_u32(ch, "max", &c->chunker.max)))
		return rc;
	if (cairn_chunker_params_check(&c->chunker))
		return CAIRN_ECORRUPT;
	if ((rc = get_u32(doc, "pack_size", &c->pack_target)))
		return rc;
	if (c->pack_target < 1024 * 1024 || c->pack_target > 1024u * 1024 * 1024)
		return cairn_error_set(CAIRN_ECORRUPT, "pack_size %u out of range", c->pack_target);
	return 0;
}

int cairn_config_is_sealed(const cairn_repo_config *c)
{
	return c->encrypted && c->version >= CAIRN_REPO_VERSION_SEALED;
}

/* The associated data of the sealed settings: the repository's id, so
 * that they cannot be taken from another repository of the same key. */
static void box_ad(uint8_t ad[CAIRN_CONFIG_AD_LEN + CAIRN_ID_SIZE], const uint8_t id[CAIRN_ID_SIZE])
{
	memcpy(ad, CAIRN_CONFIG_AD, CAIRN_CONFIG_AD_LEN);
	memcpy(ad + CAIRN_CONFIG_AD_LEN, id, CAIRN_ID_SIZE);
}

static int seal_settings(cairn_buf *hex_out, const cairn_repo_config *c,
                         const uint8_t key[CAIRN_KEY_SIZE])
{
	cairn_buf plain = CAIRN_BUF_INIT, box = CAIRN_BUF_INIT;
	uint8_t ad[CAIRN_CONFIG_AD_LEN + CAIRN_ID_SIZE];
	int rc = settings_to_json(&plain, c);
	if (rc || (rc = cairn_buf_reserve(&box, BOX_NONCE + plain.len + BOX_TAG)) ||
	    (rc = cairn_buf_reserve(hex_out, 2 * (BOX_NONCE + plain.len + BOX_TAG) + 1)))
		goto out;
	box_ad(ad, c->id);
	randombytes_buf(box.data, BOX_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(box.data + BOX_NONCE, NULL, plain.data,
	                                           plain.len, ad, sizeof(ad), NULL, box.data, key);
	box.len = BOX_NONCE + plain.len + BOX_TAG;
	cairn_hex_encode((char *)hex_out->data + hex_out->len, box.data, box.len);
	hex_out->len += 2 * box.len;
out:
	sodium_memzero(plain.data, plain.len);
	cairn_buf_free(&plain);
	cairn_buf_free(&box);
	return rc;
}

int cairn_config_format(cairn_buf *out, const cairn_repo_config *c,
                        const uint8_t key[CAIRN_KEY_SIZE])
{
	cairn_buf box = CAIRN_BUF_INIT;
	char id[CAIRN_ID_HEX + 1];
	int rc;
	if (!cairn_config_is_sealed(c))
		return settings_to_json(out, c);
	if ((rc = seal_settings(&box, c, key)))
		goto out;
	cairn_hex_encode(id, c->id, sizeof(c->id));
	rc = cairn_buf_printf(out,
	                      "{\"version\":%d,\"id\":\"%s\",\"encryption\":\"%s\",\"sealed\":\"",
	                      c->version, id, CAIRN_ENCRYPTION_NAME);
	if (!rc)
		rc = cairn_buf_append(out, box.data, box.len);
	if (!rc)
		rc = cairn_buf_append(out, "\"}\n", 3);
out:
	cairn_buf_free(&box);
	return rc;
}

int cairn_config_parse(cairn_repo_config *c, cairn_buf *box, const char *text, size_t len)
{
	cairn_json *doc = NULL;
	const char *s;
	int rc = cairn_json_parse(&doc, text, len);
	memset(c, 0, sizeof(*c));
	box->len = 0;
	if (rc || (rc = parse_public(c, doc)))
		goto out;
	if (!cairn_config_is_sealed(c)) {
		rc = parse_private(c, doc);
		goto out;
	}
	/* Whatever else the clear text says of the settings is ignored. */
	if ((rc = cairn_json_get_string(doc, "sealed", &s)))
		goto out;
	size_t n = strlen(s) / 2;
	if (n < BOX_NONCE + BOX_TAG || n > CAIRN_CONFIG_MAX) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "the sealed settings are %zu bytes long", n);
		goto out;
	}
	if ((rc = cairn_buf_reserve(box, n)))
		goto out;
	if ((rc = cairn_hex_decode(box->data, n, s)))
		goto out;
	box->len = n;
out:
	cairn_json_free(doc);
	return rc;
}

static int same_public(const cairn_repo_config *a, const cairn_repo_config *b)
{
	return a->version == b->version && a->encrypted == b->encrypted &&
	       memcmp(a->id, b->id, CAIRN_ID_SIZE) == 0;
}

int cairn_config_unseal(cairn_repo_config *c, const cairn_buf *box,
                        const uint8_t key[CAIRN_KEY_SIZE])
{
	cairn_buf plain = CAIRN_BUF_INIT;
	cairn_repo_config inner = {0};
	cairn_json *doc = NULL;
	uint8_t ad[CAIRN_CONFIG_AD_LEN + CAIRN_ID_SIZE];
	unsigned long long n;
	int rc;
	if (box->len < BOX_NONCE + BOX_TAG)
		return cairn_error_set(CAIRN_ECORRUPT, "no sealed settings");
	if ((rc = cairn_buf_reserve(&plain, box->len)))
		return rc;
	box_ad(ad, c->id);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data, &n, NULL, box->data + BOX_NONCE,
	                                               box->len - BOX_NONCE, ad, sizeof(ad),
	                                               box->data, key) != 0) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "the sealed settings do not open with the "
		                                     "repository's key: they were altered");
		goto out;
	}
	plain.len = (size_t)n;
	if ((rc = cairn_json_parse(&doc, (const char *)plain.data, plain.len)) ||
	    (rc = parse_public(&inner, doc)) || (rc = parse_private(&inner, doc)))
		goto out;
	if (!same_public(&inner, c)) {
		rc = cairn_error_set(CAIRN_ECORRUPT, "the clear version, id or encryption differs "
		                                     "from the sealed settings: it was altered");
		goto out;
	}
	c->chunker = inner.chunker;
	c->pack_target = inner.pack_target;
out:
	cairn_json_free(doc);
	sodium_memzero(plain.data, plain.len);
	cairn_buf_free(&plain);
	return rc;
}

int cairn_config_check_seen(const cairn_repo_config *c, unsigned seen, int have_password)
{
	if (!c->encrypted && (seen & CAIRN_SEEN_ENCRYPTED))
		return cairn_error_set(
		    CAIRN_ECORRUPT, "config says this repository is unencrypted, but this client "
		                    "has seen it encrypted: refusing to write it in the clear");
	if (!c->encrypted && have_password && !(seen & CAIRN_SEEN_UNENCRYPTED))
		return cairn_error_set(CAIRN_ECORRUPT,
		                       "config: this repository claims to be unencrypted; run "
		                       "without a password if that is right");
	if (c->encrypted && !cairn_config_is_sealed(c) && (seen & CAIRN_SEEN_SEALED))
		return cairn_error_set(
		    CAIRN_ECORRUPT,
		    "config has its settings in the clear, but this client has "
		    "seen them sealed: refusing settings anyone could have written");
	return 0;
}

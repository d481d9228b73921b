/* The repository's config object, as any client reads it from a store:
 * its JSON text (docs/FORMAT.md §3), and the settings sealed in it. With
 * the first input byte even, the rest is the config text: it is parsed,
 * checked against what a client may have seen, its sealed settings opened
 * with a fixed key (they never open: the fuzzer cannot forge the AEAD),
 * and a clear config formatted and parsed again to the same settings.
 * With it odd, the rest is the plaintext of the sealed settings, sealed
 * here under the fixed key so that their parser is reached. */
#include "repo/repo_format.h"
#include "repo/repo_internal.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t key[CAIRN_KEY_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8};

/* The settings in data sealed as cairn_config_format seals them, for a
 * version 3 encrypted repository whose id is all 0x11. */
static void unseal_settings(const uint8_t *data, size_t len)
{
	size_t nonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	size_t tag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
	cairn_repo_config c = {.version = CAIRN_REPO_VERSION_SEALED, .encrypted = 1};
	memset(c.id, 0x11, sizeof(c.id));
	uint8_t ad[CAIRN_CONFIG_AD_LEN + CAIRN_ID_SIZE];
	memcpy(ad, CAIRN_CONFIG_AD, CAIRN_CONFIG_AD_LEN);
	memcpy(ad + CAIRN_CONFIG_AD_LEN, c.id, CAIRN_ID_SIZE);
	cairn_buf box = CAIRN_BUF_INIT;
	if (cairn_buf_reserve(&box, nonce + len + tag))
		abort();
	memset(box.data, 0, nonce);
	crypto_aead_xchacha20poly1305_ietf_encrypt(box.data + nonce, NULL, data, len, ad,
	                                           sizeof(ad), NULL, box.data, key);
	box.len = nonce + len + tag;
	if (cairn_config_unseal(&c, &box, key) == 0 && cairn_chunker_params_check(&c.chunker))
		abort();
	cairn_buf_free(&box);
}

static void parse_text(const uint8_t *data, size_t len)
{
	cairn_repo_config c, again;
	cairn_buf box = CAIRN_BUF_INIT, text = CAIRN_BUF_INIT, box2 = CAIRN_BUF_INIT;
	if (cairn_config_parse(&c, &box, (const char *)data, len))
		goto out;
	for (unsigned seen = 0; seen < 8; seen++)
		(void)cairn_config_check_seen(&c, seen, seen & 1);
	if (cairn_config_is_sealed(&c)) {
		if (cairn_config_unseal(&c, &box, key) == 0)
			abort();
		goto out;
	}
	/* A clear config reads back as it was parsed. */
	if (cairn_config_format(&text, &c, key) ||
	    cairn_config_parse(&again, &box2, (const char *)text.data, text.len) ||
	    again.version != c.version || again.encrypted != c.encrypted ||
	    memcmp(again.id, c.id, sizeof(c.id)) != 0 || again.pack_target != c.pack_target ||
	    memcmp(&again.chunker, &c.chunker, sizeof(c.chunker)) != 0)
		abort();
out:
	cairn_buf_free(&box);
	cairn_buf_free(&box2);
	cairn_buf_free(&text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (sodium_init() < 0)
		abort();
	if (len < 1)
		return 0;
	if (data[0] & 1)
		unseal_settings(data + 1, len - 1);
	else
		parse_text(data + 1, len - 1);
	return 0;
}

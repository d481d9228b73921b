/* Master key exports: the master key as text a person can copy on paper
 * and type back in (docs/FORMAT.md §4.3). Crockford's base32, whose
 * alphabet leaves out I, L, O and U; a 32-bit checksum catches a
 * miscopied character. */
#include "cairn/keys.h"

#include "cairn/errors.h"
#include "crypto/keys_format.h"
#include "util/hex.h"

#include <sodium.h>
#include <string.h>

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Characters a line holds: six groups of four. */
#define LINE_CHARS 24

/* The value of a base32 character, forgiving case and the letters that
 * look like digits; -1 for any other. */
static int b32_value(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		c = (unsigned char)(c - 'a' + 'A');
	if (c == 'O')
		c = '0';
	else if (c == 'I' || c == 'L')
		c = '1';
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

static void checksum(uint8_t out[CAIRN_KEY_EXPORT_CHECK], const uint8_t *data, size_t len)
{
	crypto_generichash(out, CAIRN_KEY_EXPORT_CHECK, data, len, NULL, 0);
}

int cairn_key_export_encode(cairn_buf *out, const uint8_t repo_id[32],
                            const uint8_t master[CAIRN_KEY_SIZE])
{
	uint8_t raw[CAIRN_KEY_EXPORT_BYTES];
	char hex[65];
	size_t n = 0;
	int rc;
	raw[n++] = CAIRN_KEY_EXPORT_VERSION;
	memcpy(raw + n, repo_id, CAIRN_KEY_EXPORT_REPO_ID);
	n += CAIRN_KEY_EXPORT_REPO_ID;
	memcpy(raw + n, master, CAIRN_KEY_SIZE);
	n += CAIRN_KEY_SIZE;
	checksum(raw + n, raw, n);
	cairn_hex_encode(hex, repo_id, 32);
	rc = cairn_buf_printf(out, "%s %d\nrepository %s\n", CAIRN_KEY_EXPORT_HEADER,
	                      CAIRN_KEY_EXPORT_VERSION, hex);
	uint32_t acc = 0;
	int bits = 0;
	size_t chars = 0;
	for (size_t i = 0; !rc && i < sizeof(raw); i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (!rc && bits >= 5) {
			bits -= 5;
			char c = alphabet[(acc >> bits) & 31];
			const char *sep = "";
			if (chars % LINE_CHARS == LINE_CHARS - 1)
				sep = "\n";
			else if (chars % 4 == 3)
				sep = "-";
			chars++;
			rc = cairn_buf_printf(out, "%c%s", c, sep);
		}
	}
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(&acc, sizeof(acc));
	return rc;
}

/* Whether the line (n bytes) is one the decoder passes over. */
static int skipped_line(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	if (i == n || s[i] == '#')
		return 1;
	size_t h = strlen(CAIRN_KEY_EXPORT_HEADER);
	return (n - i >= h && memcmp(s + i, CAIRN_KEY_EXPORT_HEADER, h) == 0) ||
	       (n - i >= 11 && memcmp(s + i, "repository ", 11) == 0);
}

/* Takes the characters of one line into raw (*chars so far). */
static int take_line(uint8_t *raw, size_t *chars, const char *s, size_t n, unsigned line)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '-')
			continue;
		int v = b32_value(c);
		if (v < 0)
			return cairn_error_set(
			    CAIRN_EINVAL,
			    "line %u, character %zu: '%c' is not a character of an "
			    "export",
			    line, i + 1, c >= 0x21 && c < 0x7f ? c : '?');
		if (*chars == CAIRN_KEY_EXPORT_CHARS)
			return cairn_error_set(CAIRN_EINVAL,
			                       "line %u: the export is longer than %d "
			                       "characters",
			                       line, CAIRN_KEY_EXPORT_CHARS);
		size_t bit = *chars * 5;
		for (int b = 4; b >= 0; b--, bit++)
			if (v & (1 << b))
				raw[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
		(*chars)++;
	}
	return 0;
}

int cairn_key_export_decode(const char *text, size_t len,
                            uint8_t repo_id_out[CAIRN_KEY_EXPORT_REPO_ID],
                            uint8_t master_out[CAIRN_KEY_SIZE])
{
	uint8_t raw[CAIRN_KEY_EXPORT_BYTES] = {0}, check[CAIRN_KEY_EXPORT_CHECK];
	size_t chars = 0, at = 0;
	unsigned line = 0;
	int rc = 0;
	while (!rc && at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
		line++;
		if (!skipped_line(text + at, n))
			rc = take_line(raw, &chars, text + at, n, line);
		at += n + 1;
	}
	if (!rc && chars != CAIRN_KEY_EXPORT_CHARS)
		rc = cairn_error_set(CAIRN_EINVAL,
		                     "the export has %zu characters: %d were expected (a group "
		                     "left out or copied twice?)",
		                     chars, CAIRN_KEY_EXPORT_CHARS);
	size_t body = sizeof(raw) - CAIRN_KEY_EXPORT_CHECK;
	if (!rc) {
		checksum(check, raw, body);
		if (sodium_memcmp(check, raw + body, sizeof(check)) != 0)
			rc =
			    cairn_error_set(CAIRN_EINVAL, "the export's checksum does not match: a "
			                                  "character is miscopied");
	}
	if (!rc && raw[0] != CAIRN_KEY_EXPORT_VERSION)
		rc = cairn_error_set(CAIRN_EINVAL, "export version %u is not supported", raw[0]);
	if (!rc) {
		memcpy(repo_id_out, raw + 1, CAIRN_KEY_EXPORT_REPO_ID);
		memcpy(master_out, raw + 1 + CAIRN_KEY_EXPORT_REPO_ID, CAIRN_KEY_SIZE);
	}
	sodium_memzero(raw, sizeof(raw));
	return rc;
}

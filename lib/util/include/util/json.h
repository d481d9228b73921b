/* Minimal JSON: a writer that appends to a cairn_buf, and a parser into a
 * small tree. Strings are byte strings: bytes that are not valid UTF-8 are
 * written as \udcXX (XX the byte) and read back to the same byte, so any
 * path round-trips. The parser bounds depth and size. */
#ifndef CAIRN_UTIL_JSON_H
#define CAIRN_UTIL_JSON_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at p (at most n bytes), or 0 if
 * p does not start one (RFC 3629: no overlong forms or surrogates). */
size_t cairn_utf8_sequence(const uint8_t *p, size_t n);

/* Writer helpers (each returns 0 or CAIRN_ENOMEM). */
int cairn_json_string(cairn_buf *b, const char *s); /* "..." escaped */
int cairn_json_string_n(cairn_buf *b, const char *s, size_t n);
int cairn_json_key(cairn_buf *b, int *first, const char *key); /* [,]"key": */
int cairn_json_uint(cairn_buf *b, uint64_t v);
int cairn_json_int(cairn_buf *b, int64_t v);
/* ["...", ...]: the n strings of v, escaped. */
int cairn_json_strings(cairn_buf *b, char *const *v, size_t n);

enum cairn_json_type {
	CAIRN_JSON_NULL,
	CAIRN_JSON_BOOL,
	CAIRN_JSON_NUMBER,
	CAIRN_JSON_STRING,
	CAIRN_JSON_ARRAY,
	CAIRN_JSON_OBJECT,
};

typedef struct cairn_json cairn_json;
struct cairn_json {
	enum cairn_json_type type;
	int boolean;
	double number;
	int64_t integer; /* exact value when the number is an integer that fits */
	int is_integer;
	char *string; /* STRING: NUL-terminated bytes; OBJECT members: key */
	size_t string_len;
	cairn_json *children; /* ARRAY elements / OBJECT members, in order */
	size_t n_children;
	char **keys; /* OBJECT: keys[i] names children[i] */
};

/* Parses text (exactly one value, surrounded by whitespace only).
 * CAIRN_ECORRUPT with a message giving the byte offset on bad input. */
int cairn_json_parse(cairn_json **out, const char *text, size_t len);
void cairn_json_free(cairn_json *v); /* NULL is fine */
/* The member named key of an object, or NULL. */
const cairn_json *cairn_json_get(const cairn_json *obj, const char *key);
/* Typed lookups: 0 and the value, or CAIRN_ECORRUPT naming key if missing
 * or of another type. */
int cairn_json_get_string(const cairn_json *obj, const char *key, const char **out);
int cairn_json_get_int(const cairn_json *obj, const char *key, int64_t *out);
int cairn_json_get_uint(const cairn_json *obj, const char *key, uint64_t *out);

#endif

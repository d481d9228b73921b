/* What the files of the S3 backend share: the store's state, one signed
 * request (request.c), locations (location.c) and the small XML reader
 * (xml.c). Internal to lib/store/s3 and its unit test. */
#ifndef CAIRN_STORE_S3_INTERNAL_H
#define CAIRN_STORE_S3_INTERNAL_H

#include "cairn/store.h"
#include "net/http.h"
#include "util/ratelimit.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Longest key, the prefix included. */
#define CAIRN_S3_KEY_MAX 1024

/* ---- locations (location.c) ----
 *
 * Location (what follows "s3:"):
 *   http[s]://HOST[:PORT]/BUCKET[/PREFIX][?OPTION&...]
 * (HOST/BUCKET... without a scheme means https). Options: style=path (the
 * default) or style=virtual (BUCKET.HOST), and max-keys=N, the page size
 * of listings (1..1000; the server's default when absent). */
typedef struct cairn_s3_location {
	char *scheme; /* "http" or "https" */
	char *host;   /* host[:port] as written; an IPv6 address in brackets */
	char *bucket;
	char *prefix;      /* "" or a key prefix ending in '/' */
	int virtual_host;  /* address the bucket as a subdomain of host */
	unsigned max_keys; /* 0: the server's default */
} cairn_s3_location;

int cairn_s3__location_parse(cairn_s3_location *out, const char *location);
void cairn_s3__location_free(cairn_s3_location *loc);
/* Appends s percent-encoded for a SigV4 canonical request: every byte but
 * A-Z a-z 0-9 - . _ ~ (and '/' if keep_slash) as %XX. */
int cairn_s3__escape(cairn_buf *out, const char *s, int keep_slash);
/* 1 for the bytes a bucket (or region) name may hold. */
int cairn_s3__name_char_ok(unsigned char c);

/* ---- the XML of S3's answers (xml.c) ---- */

/* Parses one page of a ListObjectsV2 answer: cb gets each object as an
 * item, its key and size and, if with_mtime, its LastModified (else mtime
 * 0); a non-zero return stops and is returned. *truncated and next_token
 * (a NUL-terminated string, empty if none) tell whether and how to go on.
 * CAIRN_ECORRUPT for an answer that is not a listing, or (with_mtime) an
 * entry whose LastModified is missing or not a time. */
int cairn_s3__list_parse(const char *xml, size_t len, int with_mtime, cairn_store_item_cb cb,
                         void *ud, int *truncated, cairn_buf *next_token);
/* "Code: Message" from an S3 error document, with entities decoded and
 * control characters replaced, truncated to fit out (size > 0); "" if the
 * body is not an error document. */
void cairn_s3__error_message(char *out, size_t size, const char *body, size_t len);
/* The decimal number in s[0..n), maybe with white space around it. 0, or
 * -1 if it is not one or does not fit. */
int cairn_s3__parse_u64(const char *s, size_t n, uint64_t *out);
/* The ISO 8601 time in s[0..n) as S3 writes LastModified
 * (2026-12-07T10:37:36.000Z: the fraction optional, "Z" or an offset
 * +hh:mm or -hh:mm), maybe with white space around it, in seconds since
 * the epoch (the fraction dropped). 0, or -1 if it is not one. */
int cairn_s3__parse_time(const char *s, size_t n, int64_t *out);

/* ---- the store and its requests (s3.c, request.c) ---- */

typedef struct cairn_s3_store {
	cairn_store base;
	cairn_s3_location loc;
	char *display;  /* s3:scheme://host/bucket/prefix, for messages */
	char *base_url; /* scheme://host/bucket or scheme://bucket.host */
	char *sigv4;    /* "aws:amz:REGION:s3" */
	char *region;
	char *access_key, *secret_key;
	char *token_header; /* "x-amz-security-token: ...", or NULL */
	char *ca_bundle;
	long timeout; /* seconds */

	cairn_http_client http;

	/* Set once the server has refused If-None-Match as unsupported. */
	atomic_int no_conditional;
	/* --limit-upload, --limit-download: the bodies sent and received */
	cairn_ratelimit up, down;
	long buffer_size; /* of uploads and downloads, smaller under a limit */
} cairn_s3_store;

typedef struct cairn_s3_request {
	/* in */
	const char *method;     /* GET PUT HEAD DELETE */
	const char *verb;       /* for messages: "read", "write", ... */
	const char *key;        /* under the prefix; NULL for the bucket itself */
	const char *query;      /* canonical: sorted, escaped; NULL for none */
	const cairn_iovec *iov; /* the body of a PUT, in pieces (n_iov of them) */
	size_t n_iov;
	size_t body_len;
	int has_body;
	const uint8_t *body_sha; /* the body's SHA-256 if known, else NULL */
	int if_none_match;
	int ranged;
	uint64_t offset, length; /* of the range; length UINT64_MAX: to the end */
	cairn_buf *out;          /* the body of a 2xx answer; NULL: dropped */
	uint64_t out_max;

	/* out */
	long status;
	int attempts;
	int maybe_applied;       /* a failed try may still have reached the server */
	uint64_t content_length; /* of a HEAD answer; UINT64_MAX if not given */
	char detail[512];        /* the server's "Code: Message", or curl's reason */
	char code[64];           /* the server's error code */
} cairn_s3_request;

/* Runs r until it gets an answer that retrying would not change. 0 with
 * r->status set (any HTTP status), or a code with the message set. */
int cairn_s3_perform(cairn_s3_store *s, cairn_s3_request *r);
/* The error for a request that ended with an unwanted HTTP status. */
int cairn_s3_fail_status(cairn_s3_store *s, const cairn_s3_request *r, const char *what);
/* HEAD answers have no body: asks again with GET for the server's reason. */
void cairn_s3_explain_head(cairn_s3_store *s, cairn_s3_request *head);

#endif

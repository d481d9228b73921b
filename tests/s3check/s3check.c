/* cairn-s3check: tries every behaviour of an S3-compatible store that
 * cairn's S3 store relies on, through that store itself (cairn/store.h),
 * and prints a line for each: PASS, FAIL or SKIP, its name, and what was
 * seen. docs/S3.md says why each one matters.
 *
 *   cairn-s3check [--via LOCATION --via-log FILE] ENDPOINT
 *
 * ENDPOINT is an S3 location as cairn takes it,
 * s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX], with the credentials in the
 * AWS_* variables. Every object is written under a new prefix,
 * "s3check-<random>/", and deleted at the end.
 *
 * --via names the same bucket and prefix behind tests/s3proxy.py --marked
 * (scripts/s3-check starts it), which logs every request to FILE and
 * answers the first request for a marked key itself (500, 503 SlowDown, a
 * HEAD's 404): retries, If-None-Match and the HTTP statuses are checked
 * through it, and skipped without it.
 *
 * Exit status: 0 when nothing failed, 1 when something did, 2 for a bad
 * command line. */
#include "cairn/errors.h"
#include "cairn/store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RANGE_SIZE (64 * 1024 + 17)
#define PACK_SIZE (16 * 1024 * 1024 + 1) /* more than a pack */
#define LIST_KEYS 5
#define PARALLEL_THREADS 8
#define PARALLEL_OBJECTS 16

typedef enum { RESULT_PASS, RESULT_FAIL, RESULT_SKIP } result;

typedef struct s3check {
	const char *endpoint;
	const char *via_location, *via_log;
	cairn_store *s;    /* the endpoint */
	cairn_store *via;  /* the endpoint through the proxy, or NULL */
	char via_off[256]; /* why the checks through the proxy are skipped */
	char run[64];      /* "s3check-<hex>/": the prefix of every key written */
	int failed;
} s3check;

static void report(s3check *c, result r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(s3check *c, result r, const char *name, const char *fmt, ...)
{
	static const char *const words[] = {"PASS", "FAIL", "SKIP"};
	va_list ap;
	printf("%s %-21s ", words[r], name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (r == RESULT_FAIL)
		c->failed = 1;
}

/* The key of name under the run's prefix, valid until the next call on
 * this thread. */
static const char *key(const s3check *c, const char *name)
{
	static __thread char out[256];
	snprintf(out, sizeof(out), "%s%s", c->run, name);
	return out;
}

/* Bytes that differ from object to object: a pattern seeded by seed. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static uint8_t *pattern(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n ? n : 1);
	if (p)
		fill(p, n, seed);
	return p;
}

/* The library's message, from the failed key on (the location before it
 * is the same in every message). */
static const char *why(void)
{
	const char *m = cairn_error_last(), *at = strstr(m, "s3check-");
	if (at && (at = strchr(at, ':')))
		return at + 2;
	return m;
}

static int same(const cairn_buf *b, const uint8_t *want, size_t n)
{
	return b->len == n && (n == 0 || memcmp(b->data, want, n) == 0);
}

/* ---- the proxy's log ---- */

static long log_mark(const s3check *c)
{
	struct stat st;
	return c->via_log && stat(c->via_log, &st) == 0 ? (long)st.st_size : 0;
}

/* The statuses of the requests logged since mark with this method and a
 * target containing needle, in order ("503 200"), and the error code of
 * the last one that had one. */
static void log_seen(const s3check *c, long mark, const char *method, const char *needle,
                     char *statuses, size_t size, char code[64])
{
	FILE *f = fopen(c->via_log, "r");
	char line[4096], m[16], target[3072], cd[64], how[16];
	int status;
	statuses[0] = '\0';
	code[0] = '\0';
	if (!f)
		return;
	fseek(f, mark, SEEK_SET);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%15s %3071s %d %63s %15s", m, target, &status, cd, how) != 5 ||
		    strcmp(m, method) != 0 || !strstr(target, needle))
			continue;
		size_t len = strlen(statuses);
		snprintf(statuses + len, size - len, "%s%d", len ? " " : "", status);
		if (strcmp(cd, "-") != 0)
			snprintf(code, 64, "%s", cd);
	}
	fclose(f);
}

/* ---- signing, and the four verbs ---- */

/* A store at the endpoint that signs with a wrong secret. */
static int open_wrong_secret(const s3check *c, cairn_store **out)
{
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
	char *saved = sk ? strdup(sk) : NULL, wrong[512];
	snprintf(wrong, sizeof(wrong), "%s-not-the-secret", sk ? sk : "");
	setenv("AWS_SECRET_ACCESS_KEY", wrong, 1);
	int rc = cairn_store_open(out, c->endpoint, 0);
	if (saved)
		setenv("AWS_SECRET_ACCESS_KEY", saved, 1);
	free(saved);
	return rc;
}

static void check_wrong_secret(s3check *c)
{
	cairn_store *bad = NULL;
	cairn_buf b = CAIRN_BUF_INIT;
	int rc = open_wrong_secret(c, &bad);
	if (!rc)
		rc = cairn_store_get(bad, key(c, "verbs"), 0, CAIRN_GET_ALL, &b);
	const char *m = cairn_error_last();
	if (rc == 0)
		report(c, RESULT_FAIL, "sigv4-wrong-secret",
		       "a request signed with a wrong secret was answered: the server does not "
		       "check signatures");
	else if (!strstr(m, "(HTTP 403"))
		report(c, RESULT_FAIL, "sigv4-wrong-secret", "refused, but not with 403: %s",
		       why());
	else
		report(c, RESULT_PASS, "sigv4-wrong-secret", "refused: %s", why());
	/* The 403's body names the reason; without one cairn says "no reason given". */
	if (rc != 0 && strstr(m, "(HTTP 403"))
		report(c, strstr(m, "no reason given") ? RESULT_FAIL : RESULT_PASS,
		       "error-body-403", "%s",
		       strstr(m, "no reason given") ? "the 403 had no <Error><Code>"
		                                    : "the 403's <Error> was read (above)");
	cairn_store_free(bad);
	cairn_buf_free(&b);
	cairn_error_clear();
}

/* PUT, GET, HEAD and DELETE of one object; 0 if PUT works at all. */
static int check_verbs(s3check *c)
{
	const size_t n = 100 * 1024 + 13;
	uint8_t *data = pattern(n, 1);
	cairn_buf b = CAIRN_BUF_INIT;
	const char *k = key(c, "verbs");
	uint64_t size = 0;
	int rc = cairn_store_put(c->s, k, data, n, 0);
	if (rc) {
		report(c, RESULT_FAIL, "sigv4-put", "a signed PUT failed: %s", why());
		goto out;
	}
	report(c, RESULT_PASS, "sigv4-put", "a signed PUT of %zu bytes was accepted", n);
	rc = cairn_store_get(c->s, k, 0, CAIRN_GET_ALL, &b);
	if (rc || !same(&b, data, n))
		report(c, RESULT_FAIL, "get", "%s", rc ? why() : "the bytes read back differ");
	else
		report(c, RESULT_PASS, "get", "the %zu bytes read back are those written", n);
	rc = cairn_store_stat(c->s, k, &size);
	if (rc || size != n)
		report(c, RESULT_FAIL, "head", "%s", rc ? why() : "HEAD gives another size");
	else
		report(c, RESULT_PASS, "head", "HEAD gives the size, %" PRIu64, size);
	check_wrong_secret(c);

	const char *step = NULL;
	if ((rc = cairn_store_del(c->s, k)))
		step = why();
	else if ((rc = cairn_store_stat(c->s, k, &size)) != CAIRN_ENOTFOUND)
		step = "HEAD still finds the object after DELETE";
	else if ((rc = cairn_store_get(c->s, k, 0, CAIRN_GET_ALL, &b)) != CAIRN_ENOTFOUND)
		step = "GET still finds the object after DELETE";
	else if ((rc = cairn_store_del(c->s, k)))
		step = "DELETE of a missing object failed";
	if (step)
		report(c, RESULT_FAIL, "delete", "%s", step);
	else
		report(c, RESULT_PASS, "delete",
		       "gone at once for HEAD and GET (404); a second DELETE succeeds");
	rc = 0;
out:
	free(data);
	cairn_buf_free(&b);
	cairn_error_clear();
	return rc;
}

/* ---- ranged reads ---- */

typedef struct range_case {
	const char *name;
	uint64_t offset, length; /* CAIRN_GET_ALL: to the end */
	size_t want_at, want_len;
	const char *status; /* what a server that honours Range answers */
} range_case;

static void check_ranges(s3check *c)
{
	const size_t n = RANGE_SIZE;
	const range_case cases[] = {
	    {"range-a-b", 1000, 5000, 1000, 5000, "206"},
	    {"range-open-ended", n - 777, CAIRN_GET_ALL, n - 777, 777, "206"},
	    {"range-across-end", n - 10, 100, n - 10, 10, "206"},
	    {"range-past-end", n + 10, 10, 0, 0, "416"},
	};
	uint8_t *data = pattern(n, 2);
	cairn_buf b = CAIRN_BUF_INIT;
	const char *k = key(c, "range");
	if (cairn_store_put(c->s, k, data, n, 0)) {
		report(c, RESULT_FAIL, "range", "cannot write the object: %s", why());
		goto out;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const range_case *rc = &cases[i];
		char statuses[64] = "", code[64];
		long mark = log_mark(c);
		int err = cairn_store_get(c->s, k, rc->offset, rc->length, &b);
		if (err || !same(&b, data + rc->want_at, rc->want_len)) {
			report(c, RESULT_FAIL, rc->name, "bytes %" PRIu64 "+%zu: %s", rc->offset,
			       rc->want_len, err ? why() : "other bytes came back");
			continue;
		}
		if (c->via) {
			mark = log_mark(c);
			err = cairn_store_get(c->via, k, rc->offset, rc->length, &b);
			log_seen(c, mark, "GET", k, statuses, sizeof(statuses), code);
		}
		if (!c->via || err)
			report(c, RESULT_PASS, rc->name, "%zu bytes from %" PRIu64 " as asked",
			       rc->want_len, rc->offset);
		else if (strcmp(statuses, rc->status) == 0)
			report(c, RESULT_PASS, rc->name, "%zu bytes from %" PRIu64 " (HTTP %s)",
			       rc->want_len, rc->offset, statuses);
		else
			report(c, RESULT_PASS, rc->name,
			       "%zu bytes from %" PRIu64 " (HTTP %s, not %s: the server ignores "
			       "Range and cairn drops the rest; restores read whole packs)",
			       rc->want_len, rc->offset, statuses, rc->status);
	}
out:
	free(data);
	cairn_buf_free(&b);
	cairn_error_clear();
}

/* ---- listings ---- */

typedef struct listed {
	const s3check *c;
	unsigned seen[LIST_KEYS];
	unsigned others;
	int64_t mtime_min, mtime_max;
} listed;

static int list_one(const cairn_store_item *item, void *ud)
{
	listed *l = ud;
	const char *name = item->key + strlen(l->c->run);
	unsigned i;
	if (sscanf(name, "list/%u", &i) == 1 && i < LIST_KEYS && item->size == 10u * i + 1)
		l->seen[i]++;
	else
		l->others++;
	if (!l->mtime_min || item->mtime < l->mtime_min)
		l->mtime_min = item->mtime;
	if (item->mtime > l->mtime_max)
		l->mtime_max = item->mtime;
	return 0;
}

/* The location with an option added. */
static void with_option(char *out, size_t size, const char *location, const char *option)
{
	snprintf(out, size, "%s%s%s", location, strchr(location, '?') ? "&" : "?", option);
}

static int list_all_seen(const listed *l)
{
	for (unsigned i = 0; i < LIST_KEYS; i++)
		if (l->seen[i] != 1)
			return 0;
	return l->others == 0;
}

static void check_list_pages(s3check *c)
{
	char loc[2048], statuses[256], code[64];
	cairn_store *paged = NULL;
	listed l = {.c = c};
	with_option(loc, sizeof(loc), c->via ? c->via_location : c->endpoint, "max-keys=2");
	long mark = log_mark(c);
	int rc = cairn_store_open(&paged, loc, 0);
	if (!rc)
		rc = cairn_store_list_items(paged, key(c, "list/"), list_one, &l);
	if (rc || !list_all_seen(&l)) {
		report(c, RESULT_FAIL, "list-pages", "%s",
		       rc ? why() : "pages of 2 did not give each of the 5 keys once");
	} else if (c->via) {
		log_seen(c, mark, "GET", "list-type=2", statuses, sizeof(statuses), code);
		unsigned pages = 0;
		for (const char *p = statuses; *p; p++)
			pages += *p == '2' && (p == statuses || p[-1] == ' ');
		report(c, pages >= 3 ? RESULT_PASS : RESULT_FAIL, "list-pages",
		       "5 keys in pages of 2 (max-keys=2): %u pages, continuation tokens "
		       "followed (HTTP %s)",
		       pages, statuses);
	} else {
		report(c, RESULT_PASS, "list-pages",
		       "5 keys, each once, in pages of 2 (max-keys=2)");
	}
	cairn_store_free(paged);
	cairn_error_clear();
}

static void check_list(s3check *c)
{
	uint8_t buf[64];
	char name[32];
	listed l = {.c = c};
	int rc = 0;
	time_t before = time(NULL);
	for (unsigned i = 0; !rc && i < LIST_KEYS; i++) {
		snprintf(name, sizeof(name), "list/%u", i);
		fill(buf, 10 * i + 1, 10 + i);
		rc = cairn_store_put(c->s, key(c, name), buf, 10 * i + 1, 0);
	}
	/* Under the run's prefix, not under "list/": the prefix is a string. */
	if (!rc)
		rc = cairn_store_put(c->s, key(c, "listx"), buf, 3, 0);
	if (rc) {
		report(c, RESULT_FAIL, "list", "cannot write the objects: %s", why());
		return;
	}
	rc = cairn_store_list_items(c->s, key(c, "list/"), list_one, &l);
	time_t after = time(NULL);
	if (rc || !list_all_seen(&l))
		report(c, RESULT_FAIL, "list", "%s",
		       rc ? why() : "the listing of list/ is not its 5 keys with their sizes");
	else
		report(c, RESULT_PASS, "list",
		       "ListObjectsV2 of a prefix gives its 5 keys with their sizes, nothing "
		       "else, right after they were written");
	if (!rc && l.mtime_min > 0)
		report(c, RESULT_PASS, "list-last-modified",
		       "LastModified read; the server's clock is %+lld s from this one's",
		       (long long)(l.mtime_min < before - 1  ? l.mtime_min - before
		                   : l.mtime_max > after + 1 ? l.mtime_max - after
		                                             : 0));
	else if (!rc)
		report(c, RESULT_FAIL, "list-last-modified", "no LastModified in the listing");
	cairn_error_clear();
	check_list_pages(c);
}

/* ---- overwrites and write-once puts ---- */

typedef struct one_item {
	const char *key;
	int64_t mtime;
	uint64_t size;
} one_item;

static int find_item(const cairn_store_item *item, void *ud)
{
	one_item *o = ud;
	if (strcmp(item->key, o->key) == 0) {
		o->mtime = item->mtime;
		o->size = item->size;
	}
	return 0;
}

/* A marker of a running backup is written again and again; prune judges
 * it by its LastModified, which must move with each write. */
static void check_overwrite(s3check *c)
{
	uint8_t a[100], bb[150];
	cairn_buf b = CAIRN_BUF_INIT;
	const char *k = key(c, "overwrite");
	one_item first = {.key = k}, second = {.key = k};
	fill(a, sizeof(a), 3);
	fill(bb, sizeof(bb), 4);
	int rc = cairn_store_put(c->s, k, a, sizeof(a), 0);
	if (!rc)
		rc = cairn_store_list_items(c->s, c->run, find_item, &first);
	struct timespec pause = {1, 100 * 1000 * 1000}; /* times are in whole seconds */
	nanosleep(&pause, NULL);
	if (!rc)
		rc = cairn_store_put(c->s, k, bb, sizeof(bb), 0);
	if (!rc)
		rc = cairn_store_get(c->s, k, 0, CAIRN_GET_ALL, &b);
	if (!rc)
		rc = cairn_store_list_items(c->s, c->run, find_item, &second);
	if (rc)
		report(c, RESULT_FAIL, "overwrite", "%s", why());
	else if (!same(&b, bb, sizeof(bb)) || second.size != sizeof(bb))
		report(c, RESULT_FAIL, "overwrite", "a second PUT did not replace the object");
	else if (second.mtime <= first.mtime)
		report(c, RESULT_FAIL, "overwrite",
		       "replaced, but LastModified did not move (%" PRId64 " then %" PRId64 ")",
		       first.mtime, second.mtime);
	else
		report(c, RESULT_PASS, "overwrite",
		       "a second PUT replaces the object and moves its LastModified by %" PRId64
		       " s",
		       second.mtime - first.mtime);

	/* A retried upload of a pack sends the same bytes again. */
	rc = cairn_store_put(c->s, k, bb, sizeof(bb), 0);
	if (!rc)
		rc = cairn_store_get(c->s, k, 0, CAIRN_GET_ALL, &b);
	report(c, !rc && same(&b, bb, sizeof(bb)) ? RESULT_PASS : RESULT_FAIL, "put-same-again",
	       "%s", rc ? why() : "a PUT of the same bytes again succeeds and changes nothing");
	cairn_buf_free(&b);
	cairn_error_clear();
}

/* If-None-Match: * reaches the server only for a key that HEAD said was
 * free: the proxy hides the object from the first HEAD. */
static void check_if_none_match(s3check *c)
{
	uint8_t a[64], bb[80];
	cairn_buf b = CAIRN_BUF_INIT;
	char statuses[64], code[64];
	const char *k = key(c, "hide404-once");
	fill(a, sizeof(a), 5);
	fill(bb, sizeof(bb), 6);
	if (!c->via) {
		report(c, RESULT_SKIP, "if-none-match", "%s", c->via_off);
		return;
	}
	if (cairn_store_put(c->s, k, a, sizeof(a), CAIRN_PUT_ONCE)) {
		report(c, RESULT_FAIL, "if-none-match", "%s", why());
		return;
	}
	long mark = log_mark(c);
	int rc = cairn_store_put(c->via, k, bb, sizeof(bb), CAIRN_PUT_ONCE);
	log_seen(c, mark, "PUT", k, statuses, sizeof(statuses), code);
	if (rc == CAIRN_EEXISTS && strcmp(statuses, "412") == 0) {
		report(c, RESULT_PASS, "if-none-match",
		       "honoured: a PUT of an existing key is refused (HTTP 412%s%s)",
		       code[0] ? " " : "", code);
	} else if (rc == 0 && cairn_store_get(c->s, k, 0, CAIRN_GET_ALL, &b) == 0 &&
	           same(&b, bb, sizeof(bb))) {
		report(c, RESULT_SKIP, "if-none-match",
		       "not honoured (HTTP %s): the object was replaced. Not required: cairn "
		       "asks HEAD first and names write-once objects by random ids",
		       statuses);
	} else {
		report(c, RESULT_FAIL, "if-none-match", "HTTP %s: %s", statuses,
		       rc ? why() : "the object holds neither body");
	}
	cairn_buf_free(&b);
	cairn_error_clear();
}

static void check_put_once(s3check *c)
{
	uint8_t a[32];
	fill(a, sizeof(a), 7);
	const char *k = key(c, "once");
	int rc = cairn_store_put(c->s, k, a, sizeof(a), CAIRN_PUT_ONCE);
	if (rc)
		report(c, RESULT_FAIL, "put-once", "%s", why());
	else if ((rc = cairn_store_put(c->s, k, a, sizeof(a), CAIRN_PUT_ONCE)) != CAIRN_EEXISTS)
		report(c, RESULT_FAIL, "put-once", "a second write-once put was not refused: %s",
		       rc ? why() : "it succeeded");
	else
		report(c, RESULT_PASS, "put-once",
		       "a write-once put of an existing key is refused (HEAD finds it)");
	cairn_error_clear();
	check_if_none_match(c);
}

/* ---- errors ---- */

/* The endpoint with another bucket (and no prefix); "" if it cannot be
 * made. */
static void other_bucket(char *out, size_t size, const char *endpoint, const char *bucket)
{
	const char *p = endpoint + 3, *scheme = strstr(p, "://");
	const char *host = scheme ? scheme + 3 : p;
	const char *slash = strchr(host, '/'), *query = strchr(endpoint, '?');
	out[0] = '\0';
	if (slash)
		snprintf(out, size, "%.*s/%s%s", (int)(slash - endpoint), endpoint, bucket,
		         query ? query : "");
}

static void check_errors(s3check *c)
{
	cairn_buf b = CAIRN_BUF_INIT;
	char statuses[64] = "", code[64] = "", loc[2048], bucket[96];
	const char *k = key(c, "missing");
	long mark = log_mark(c);
	int rc = cairn_store_get(c->via ? c->via : c->s, k, 0, CAIRN_GET_ALL, &b);
	if (c->via)
		log_seen(c, mark, "GET", k, statuses, sizeof(statuses), code);
	if (rc != CAIRN_ENOTFOUND)
		report(c, RESULT_FAIL, "error-no-such-key", "a GET of a missing key: %s",
		       rc ? why() : "it succeeded");
	else if (c->via)
		report(c, RESULT_PASS, "error-no-such-key",
		       "a missing key is not found (HTTP %s %s)", statuses,
		       code[0] ? code : "without a code");
	else
		report(c, RESULT_PASS, "error-no-such-key", "a missing key is not found (404)");

	snprintf(bucket, sizeof(bucket), "cairn-%.*s", (int)strlen(c->run) - 1, c->run);
	other_bucket(loc, sizeof(loc), c->endpoint, bucket);
	cairn_store *none = NULL;
	if (strstr(c->endpoint, "style=virtual") || getenv("CAIRN_S3_VIRTUAL_HOST")) {
		report(c, RESULT_SKIP, "error-no-such-bucket",
		       "virtual-host style: a made-up bucket has no host name");
	} else if ((rc = cairn_store_open(&none, loc, 0)) ||
	           (rc = cairn_store_get(none, "config", 0, CAIRN_GET_ALL, &b)) != CAIRN_ENOREPO) {
		report(c, RESULT_FAIL, "error-no-such-bucket", "a GET in bucket %s: %s", bucket,
		       rc ? cairn_error_last() : "it succeeded");
	} else {
		report(c, RESULT_PASS, "error-no-such-bucket",
		       "a missing bucket is read from the 404's NoSuchBucket: 'no repository'");
	}
	report(c, RESULT_SKIP, "error-access-denied",
	       "needs a key without rights on the bucket: cairn init reads AccessDenied from "
	       "HeadBucket as 'exists, not mine to look at'");
	cairn_store_free(none);
	cairn_buf_free(&b);
	cairn_error_clear();
}

/* ---- a pack in one PUT, and requests side by side ---- */

static void check_pack(s3check *c)
{
	uint8_t *data = pattern(PACK_SIZE, 8);
	cairn_buf b = CAIRN_BUF_INIT;
	const char *k = key(c, "pack");
	int rc = data ? cairn_store_put(c->s, k, data, PACK_SIZE, 0) : CAIRN_ENOMEM;
	if (!rc)
		rc = cairn_store_get(c->s, k, 0, CAIRN_GET_ALL, &b);
	if (!rc && !(rc = cairn_store_del(c->s, k)) && !same(&b, data, PACK_SIZE))
		rc = CAIRN_ECORRUPT;
	report(c, rc ? RESULT_FAIL : RESULT_PASS, "single-put-16mib", "%s",
	       rc == CAIRN_ECORRUPT ? "other bytes came back"
	       : rc                 ? why()
	            : "a pack-sized object (16 MiB + 1) in one PUT, read back whole");
	report(c, RESULT_SKIP, "multipart", "not used: cairn writes every object in one PUT");
	free(data);
	cairn_buf_free(&b);
	cairn_error_clear();
}

typedef struct parallel {
	s3check *c;
	int next, failures;
	pthread_mutex_t lock;
	char first_error[512];
} parallel;

static void *parallel_worker(void *ud)
{
	parallel *p = ud;
	uint8_t data[64 * 1024];
	char name[32];
	for (;;) {
		pthread_mutex_lock(&p->lock);
		int i = p->next < PARALLEL_OBJECTS ? p->next++ : -1;
		pthread_mutex_unlock(&p->lock);
		if (i < 0)
			return NULL;
		fill(data, sizeof(data), 100 + (unsigned)i);
		snprintf(name, sizeof(name), "parallel/%d", i);
		if (cairn_store_put(p->c->s, key(p->c, name), data, sizeof(data), 0)) {
			pthread_mutex_lock(&p->lock);
			if (!p->failures++)
				snprintf(p->first_error, sizeof(p->first_error), "%s", why());
			pthread_mutex_unlock(&p->lock);
		}
	}
}

static int count_key(const char *k, uint64_t size, void *ud)
{
	(void)k;
	*(unsigned *)ud += size == 64 * 1024;
	return 0;
}

static void check_parallel(s3check *c)
{
	parallel p = {.c = c, .lock = PTHREAD_MUTEX_INITIALIZER};
	pthread_t t[PARALLEL_THREADS];
	int started = 0;
	unsigned found = 0;
	for (; started < PARALLEL_THREADS; started++)
		if (pthread_create(&t[started], NULL, parallel_worker, &p))
			break;
	parallel_worker(&p);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	int rc = cairn_store_list(c->s, key(c, "parallel/"), count_key, &found);
	if (p.failures || rc || found != PARALLEL_OBJECTS)
		report(c, RESULT_FAIL, "parallel", "%s",
		       p.failures ? p.first_error
		       : rc       ? why()
		                  : "the listing does not hold every object written");
	else
		report(c, RESULT_PASS, "parallel",
		       "%d PUTs from %d threads on kept-alive connections", PARALLEL_OBJECTS,
		       started + 1);
	cairn_error_clear();
}

/* ---- retries, through the proxy ---- */

static int count_any(const char *k, uint64_t size, void *ud)
{
	(void)k;
	(void)size;
	++*(unsigned *)ud;
	return 0;
}

typedef enum { VERB_PUT, VERB_GET, VERB_HEAD, VERB_LIST, VERB_DELETE } verb;

typedef struct retry_case {
	const char *name, *key, *method;
	verb v;
	const char *fault;
} retry_case;

static int run_verb(s3check *c, verb v, const char *k)
{
	uint8_t data[4096];
	cairn_buf b = CAIRN_BUF_INIT;
	uint64_t size;
	unsigned found = 0;
	int rc;
	fill(data, sizeof(data), 9);
	switch (v) {
	case VERB_PUT:
		return cairn_store_put(c->via, k, data, sizeof(data), 0);
	case VERB_GET:
		if (!(rc = cairn_store_get(c->via, k, 0, CAIRN_GET_ALL, &b)) &&
		    !same(&b, data, sizeof(data)))
			rc = cairn_error_set(CAIRN_ECORRUPT, "other bytes came back");
		cairn_buf_free(&b);
		return rc;
	case VERB_HEAD:
		return cairn_store_stat(c->via, k, &size);
	case VERB_LIST:
		if ((rc = cairn_store_list(c->via, k, count_any, &found)))
			return rc;
		return found ? 0 : cairn_error_set(CAIRN_EIO, "nothing listed");
	case VERB_DELETE:
		return cairn_store_del(c->via, k);
	}
	return CAIRN_EINVAL;
}

static void check_retries(s3check *c)
{
	static const retry_case cases[] = {
	    {"retry-503-put", "fault503-put", "PUT", VERB_PUT, "503 SlowDown"},
	    {"retry-500-get", "fault500-get", "GET", VERB_GET, "500 InternalError"},
	    {"retry-503-head", "fault503-head", "HEAD", VERB_HEAD, "503 SlowDown"},
	    {"retry-500-list", "fault500-list/", "GET", VERB_LIST, "500 InternalError"},
	    {"retry-503-delete", "fault503-delete", "DELETE", VERB_DELETE, "503 SlowDown"},
	};
	uint8_t data[4096];
	fill(data, sizeof(data), 9);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const retry_case *rc = &cases[i];
		char statuses[128], code[64], k[256], target[260], needle[64];
		if (!c->via) {
			report(c, RESULT_SKIP, rc->name, "%s", c->via_off);
			continue;
		}
		snprintf(k, sizeof(k), "%s", key(c, rc->key));
		/* What the request finds, written straight to the server. */
		snprintf(target, sizeof(target), "%s%s", k, rc->v == VERB_LIST ? "x" : "");
		if (rc->v != VERB_PUT && cairn_store_put(c->s, target, data, sizeof(data), 0)) {
			report(c, RESULT_FAIL, rc->name, "cannot write the object: %s", why());
			continue;
		}
		/* A listing's prefix is in its query, its '/' escaped. */
		snprintf(needle, sizeof(needle), "%.*s", (int)strcspn(rc->key, "/"), rc->key);
		long mark = log_mark(c);
		int err = run_verb(c, rc->v, k);
		log_seen(c, mark, rc->method, needle, statuses, sizeof(statuses), code);
		int retried = strncmp(statuses, rc->fault, 3) == 0 && strchr(statuses, ' ') &&
		              strrchr(statuses, ' ')[1] == '2';
		if (err || !retried)
			report(c, RESULT_FAIL, rc->name, "after %s: HTTP %s%s%s", rc->fault,
			       statuses, err ? ": " : "", err ? why() : "");
		else
			report(c, RESULT_PASS, rc->name, "%s, tried again: HTTP %s", rc->fault,
			       statuses);
		cairn_error_clear();
	}
}

/* ---- the run ---- */

static int collect(const char *k, uint64_t size, void *ud)
{
	(void)size;
	cairn_buf *keys = ud;
	return cairn_buf_append(keys, k, strlen(k) + 1);
}

/* Deletes every object of the run; the count, or -1. */
static long cleanup(s3check *c)
{
	cairn_buf keys = CAIRN_BUF_INIT;
	long n = 0;
	int rc = cairn_store_list(c->s, c->run, collect, &keys);
	for (size_t at = 0; !rc && at < keys.len; at += strlen((char *)keys.data + at) + 1, n++)
		rc = cairn_store_del(c->s, (char *)keys.data + at);
	cairn_buf_clear(&keys);
	if (!rc)
		rc = cairn_store_list(c->s, c->run, collect, &keys);
	if (!rc && keys.len)
		rc = cairn_error_set(CAIRN_EIO, "objects are left after their DELETE");
	cairn_buf_free(&keys);
	return rc ? -1 : n;
}

static void open_via(s3check *c)
{
	uint8_t probe[16] = {0};
	snprintf(c->via_off, sizeof(c->via_off),
	         "needs the fault-injecting proxy (scripts/s3-check starts it)");
	if (!c->via_location)
		return;
	if (cairn_store_open(&c->via, c->via_location, 0) ||
	    cairn_store_put(c->via, key(c, "probe"), probe, sizeof(probe), 0)) {
		snprintf(c->via_off, sizeof(c->via_off),
		         "the server refuses requests through the local proxy: %s", why());
		cairn_store_free(c->via);
		c->via = NULL;
	}
	cairn_error_clear();
}

static int usage(void)
{
	fprintf(stderr, "usage: cairn-s3check [--via LOCATION --via-log FILE] "
	                "s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]\n");
	return 2;
}

int main(int argc, char **argv)
{
	s3check c = {0};
	uint8_t id[8];
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--via") == 0)
			c.via_location = argv[i + 1];
		else if (strcmp(argv[i], "--via-log") == 0)
			c.via_log = argv[i + 1];
		else
			return usage();
	}
	if (i + 1 != argc || strncmp(argv[i], "s3:", 3) != 0 || !c.via_location != !c.via_log)
		return usage();
	c.endpoint = argv[i];
	if (getrandom(id, sizeof(id), 0) != sizeof(id))
		return fprintf(stderr, "cairn-s3check: no random bytes\n"), 1;
	snprintf(c.run, sizeof(c.run), "s3check-%02x%02x%02x%02x%02x%02x%02x%02x/", id[0], id[1],
	         id[2], id[3], id[4], id[5], id[6], id[7]);
	if (cairn_store_open(&c.s, c.endpoint, 0)) {
		fprintf(stderr, "cairn-s3check: %s\n", cairn_error_last());
		return 1;
	}
	printf("# %s: objects under %s\n", c.endpoint, c.run);
	if (check_verbs(&c) != 0) {
		report(&c, RESULT_SKIP, "the-rest", "nothing else can work without PUT");
		cairn_store_free(c.s);
		printf("# FAILED: cairn cannot work with this store\n");
		return 1;
	}
	open_via(&c);
	check_ranges(&c);
	check_list(&c);
	check_put_once(&c);
	check_overwrite(&c);
	check_errors(&c);
	check_pack(&c);
	check_parallel(&c);
	check_retries(&c);
	long n = cleanup(&c);
	if (n < 0)
		report(&c, RESULT_FAIL, "cleanup", "%s (objects may be left under %s)", why(),
		       c.run);
	else
		report(&c, RESULT_PASS, "cleanup", "%ld objects written here deleted; none left",
		       n);
	cairn_store_free(c.via);
	cairn_store_free(c.s);
	printf("# %s\n", c.failed ? "FAILED: cairn may not work with this store"
	                          : "every behaviour cairn relies on works");
	return c.failed ? 1 : 0;
}

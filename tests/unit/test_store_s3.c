/* The pure parts of the S3 store: locations, key escaping, listing pages
 * and error documents. Nothing here talks to a server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/store.h"
#include "store/s3/s3_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- locations ---- */

static void test_s3__parses_a_path_style_location(void **state)
{
	cairn_s3_location l;
	assert_int_equal(cairn_s3__location_parse(&l, "http://127.0.0.1:9000/backups/host/a"), 0);
	assert_string_equal(l.scheme, "http");
	assert_string_equal(l.host, "127.0.0.1:9000");
	assert_string_equal(l.bucket, "backups");
	assert_string_equal(l.prefix, "host/a/");
	assert_int_equal(l.virtual_host, 0);
	assert_int_equal(l.max_keys, 0);
	cairn_s3__location_free(&l);
}

static void test_s3__bucket_alone_has_an_empty_prefix(void **state)
{
	cairn_s3_location l;
	assert_int_equal(cairn_s3__location_parse(&l, "https://s3.example.com/b"), 0);
	assert_string_equal(l.scheme, "https");
	assert_string_equal(l.prefix, "");
	cairn_s3__location_free(&l);
	assert_int_equal(cairn_s3__location_parse(&l, "https://s3.example.com/b/"), 0);
	assert_string_equal(l.bucket, "b");
	assert_string_equal(l.prefix, "");
	cairn_s3__location_free(&l);
}

static void test_s3__trailing_slashes_of_the_prefix_are_dropped(void **state)
{
	cairn_s3_location l;
	assert_int_equal(cairn_s3__location_parse(&l, "http://h/b/p/q//"), 0);
	assert_string_equal(l.prefix, "p/q/");
	cairn_s3__location_free(&l);
}

static void test_s3__location_without_scheme_means_https(void **state)
{
	cairn_s3_location l;
	assert_int_equal(cairn_s3__location_parse(&l, "s3.amazonaws.com/bucket/x"), 0);
	assert_string_equal(l.scheme, "https");
	assert_string_equal(l.host, "s3.amazonaws.com");
	assert_string_equal(l.bucket, "bucket");
	assert_string_equal(l.prefix, "x/");
	cairn_s3__location_free(&l);
}

static void test_s3__scheme_and_host_are_case_insensitive(void **state)
{
	cairn_s3_location l;
	assert_int_equal(cairn_s3__location_parse(&l, "HTTP://MinIO.Local:9000/Bucket/P"), 0);
	assert_string_equal(l.scheme, "http");
	assert_string_equal(l.host, "minio.local:9000");
	/* Bucket and prefix are case-sensitive. */
	assert_string_equal(l.bucket, "Bucket");
	assert_string_equal(l.prefix, "P/");
	cairn_s3__location_free(&l);
}

static void test_s3__accepts_an_ipv6_host(void **state)
{
	cairn_s3_location l;
	assert_int_equal(cairn_s3__location_parse(&l, "http://[::1]:9000/b"), 0);
	assert_string_equal(l.host, "[::1]:9000");
	cairn_s3__location_free(&l);
}

static void test_s3__options_choose_virtual_host_style_and_page_size(void **state)
{
	cairn_s3_location l;
	assert_int_equal(cairn_s3__location_parse(&l, "https://h/b/p?style=virtual&max-keys=7"), 0);
	assert_int_equal(l.virtual_host, 1);
	assert_int_equal(l.max_keys, 7);
	assert_string_equal(l.prefix, "p/");
	cairn_s3__location_free(&l);
	assert_int_equal(cairn_s3__location_parse(&l, "https://h/b?style=path"), 0);
	assert_int_equal(l.virtual_host, 0);
	assert_string_equal(l.prefix, "");
	cairn_s3__location_free(&l);
}

static void expect_bad_location(const char *loc, const char *why)
{
	cairn_s3_location l;
	cairn_error_clear();
	int rc = cairn_s3__location_parse(&l, loc);
	if (rc != CAIRN_EINVAL)
		fail_msg("'%s' parsed (rc %d)", loc, rc);
	if (!strstr(cairn_error_last(), why))
		fail_msg("'%s': message '%s' lacks '%s'", loc, cairn_error_last(), why);
}

static void test_s3__rejects_malformed_locations(void **state)
{
	expect_bad_location("http://h", "no bucket");
	expect_bad_location("http://h/", "no bucket");
	expect_bad_location("http:///b", "no host");
	expect_bad_location("ftp://h/b", "scheme");
	expect_bad_location("http://h:/b", "bad port");
	expect_bad_location("http://h:80a/b", "bad port");
	expect_bad_location("http://h:123456/b", "bad port");
	expect_bad_location("http://key:secret@h/b", "credentials");
	expect_bad_location("http://h/b/a//c", "empty component");
	expect_bad_location("http://h/b/a/../c", "'..'");
	expect_bad_location("http://h/b/./c", "'.'");
	expect_bad_location("http://h/bu cket", "bucket");
	expect_bad_location("http://h/b?style=sideways", "unknown option");
	expect_bad_location("http://h/b?region=x", "unknown option");
	expect_bad_location("http://h/b?max-keys=0", "max-keys");
	expect_bad_location("http://h/b?max-keys=1001", "max-keys");
	expect_bad_location("http://h/b?max-keys=12x", "max-keys");
	expect_bad_location("http://h/b?max-keys=", "max-keys");
	expect_bad_location("http://h/b#frag", "'#'");
	expect_bad_location("http://h/b/p\x01q", "control character");
}

static void test_s3__open_without_credentials_says_which_to_set(void **state)
{
	char *ak = getenv("AWS_ACCESS_KEY_ID") ? strdup(getenv("AWS_ACCESS_KEY_ID")) : NULL;
	cairn_store *s = (cairn_store *)1;
	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	assert_int_equal(cairn_store_open(&s, "s3:http://127.0.0.1:1/b", 0), CAIRN_EINVAL);
	assert_null(s);
	assert_non_null(strstr(cairn_error_last(), "AWS_ACCESS_KEY_ID"));
	if (ak) {
		setenv("AWS_ACCESS_KEY_ID", ak, 1);
		free(ak);
	}
}

static void test_s3__open_sends_nothing_and_checks_keys_locally(void **state)
{
	/* Port 1 refuses connections: if opening or a bad key reached the
	 * network, these calls would fail differently (or slowly). */
	cairn_store *s = NULL;
	setenv("AWS_ACCESS_KEY_ID", "AK", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
	assert_int_equal(cairn_store_open(&s, "s3:http://127.0.0.1:1/bucket/p", 0), 0);
	assert_non_null(s);
	assert_string_equal(s->ops->name, "s3");
	assert_int_equal(cairn_store_put(s, "../x", "a", 1, 0), CAIRN_EINVAL);
	assert_int_equal(cairn_store_put(s, "", "a", 1, 0), CAIRN_EINVAL);
	assert_int_equal(cairn_store_del(s, "a//b"), CAIRN_EINVAL);
	uint64_t size;
	assert_int_equal(cairn_store_stat(s, ".hidden", &size), CAIRN_EINVAL);
	assert_int_equal(cairn_store_list(s, "/abs", NULL, NULL), CAIRN_EINVAL);
	cairn_store_free(s);
}

static void test_s3__open_rejects_a_bad_connection_count(void **state)
{
	cairn_store *s = NULL;
	setenv("AWS_ACCESS_KEY_ID", "AK", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
	assert_int_equal(cairn_store_s3_open(&s, "http://h/b", 0, -1), CAIRN_EINVAL);
	assert_int_equal(cairn_store_s3_open(&s, "http://h/b", 0, CAIRN_S3_CONNECTIONS_MAX + 1),
	                 CAIRN_EINVAL);
	assert_null(s);
	cairn_store_opts o = {.connections = 3};
	assert_int_equal(cairn_store_open_ex(&s, "s3:http://h/b", 0, &o), 0);
	cairn_store_free(s);
}

/* ---- escaping ---- */

static char *escaped(const char *s, int keep_slash)
{
	cairn_buf b = CAIRN_BUF_INIT;
	assert_int_equal(cairn_s3__escape(&b, s, keep_slash), 0);
	return (char *)cairn_buf_detach(&b, NULL);
}

static void test_s3__escape_keeps_unreserved_characters(void **state)
{
	char *e = escaped("AZaz09-._~", 0);
	assert_string_equal(e, "AZaz09-._~");
	free(e);
	e = escaped("data/ab/abcdef", 1);
	assert_string_equal(e, "data/ab/abcdef");
	free(e);
}

static void test_s3__escape_encodes_everything_else_in_upper_case_hex(void **state)
{
	char *e = escaped("a b+c=d/e", 0);
	assert_string_equal(e, "a%20b%2Bc%3Dd%2Fe");
	free(e);
	e = escaped("a b/\xc3\xa9!*'()", 1);
	assert_string_equal(e, "a%20b/%C3%A9%21%2A%27%28%29");
	free(e);
	e = escaped("", 0);
	assert_string_equal(e, "");
	free(e);
}

static void test_s3__escape_of_a_continuation_token_is_signable(void **state)
{
	/* Tokens are base64: '+', '/' and '=' must be encoded in the query. */
	char *e = escaped("1ab+/cd==", 0);
	assert_string_equal(e, "1ab%2B%2Fcd%3D%3D");
	free(e);
}

/* ---- listing pages ---- */

typedef struct seen {
	char keys[8][64];
	uint64_t sizes[8];
	int64_t mtimes[8];
	int n;
	int stop_at; /* return 1 on this entry (0: never) */
} seen;

static int collect(const cairn_store_item *item, void *ud)
{
	seen *s = ud;
	if (s->n >= 8)
		return -100;
	snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", item->key);
	s->sizes[s->n] = item->size;
	s->mtimes[s->n] = item->mtime;
	s->n++;
	return s->stop_at && s->n == s->stop_at ? 7 : 0;
}

#define XML_HEAD                                                                                   \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "                           \
	"xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"

static int parse(const char *xml, seen *s, int *truncated, cairn_buf *token)
{
	return cairn_s3__list_parse(xml, strlen(xml), 0, collect, s, truncated, token);
}

/* As for list_items: with each entry's LastModified. */
static int parse_times(const char *xml, seen *s)
{
	int truncated;
	cairn_buf token = CAIRN_BUF_INIT;
	int rc = cairn_s3__list_parse(xml, strlen(xml), 1, collect, s, &truncated, &token);
	cairn_buf_free(&token);
	return rc;
}

static void test_s3__list_page_gives_keys_sizes_and_the_next_token(void **state)
{
	const char *xml = XML_HEAD
	    "<Name>b</Name><Prefix>r/keys/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
	    "<IsTruncated>true</IsTruncated>"
	    "<Contents><Key>r/keys/aa</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
	    "<ETag>&quot;x&quot;</ETag><Size>123</Size><StorageClass>STANDARD</StorageClass>"
	    "</Contents>"
	    "<Contents><Key>r/keys/bb</Key><Size>0</Size></Contents>"
	    "<NextContinuationToken>1ab+/c&amp;d==</NextContinuationToken>"
	    "</ListBucketResult>";
	seen s = {0};
	int truncated = -1;
	cairn_buf token = CAIRN_BUF_INIT;
	assert_int_equal(parse(xml, &s, &truncated, &token), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.keys[0], "r/keys/aa");
	assert_int_equal(s.sizes[0], 123);
	assert_string_equal(s.keys[1], "r/keys/bb");
	assert_int_equal(s.sizes[1], 0);
	assert_int_equal(truncated, 1);
	assert_string_equal((const char *)token.data, "1ab+/c&d==");
	cairn_buf_free(&token);
}

static void test_s3__list_last_page_is_not_truncated(void **state)
{
	const char *xml =
	    XML_HEAD "<IsTruncated>false</IsTruncated>"
	             "<ContinuationToken>old</ContinuationToken>"
	             "<Contents><Key>k</Key><Size>18446744073709551615</Size></Contents>"
	             "</ListBucketResult>";
	seen s = {0};
	int truncated = -1;
	cairn_buf token = CAIRN_BUF_INIT;
	assert_int_equal(parse(xml, &s, &truncated, &token), 0);
	assert_int_equal(truncated, 0);
	assert_string_equal((const char *)token.data, "");
	assert_int_equal(s.n, 1);
	assert_true(s.sizes[0] == UINT64_MAX);
	cairn_buf_free(&token);
}

static void test_s3__list_empty_page_calls_nothing(void **state)
{
	const char *xml = XML_HEAD "<KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
	                           "</ListBucketResult>";
	seen s = {0};
	int truncated = -1;
	cairn_buf token = CAIRN_BUF_INIT;
	assert_int_equal(parse(xml, &s, &truncated, &token), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(truncated, 0);
	cairn_buf_free(&token);
}

static void test_s3__list_decodes_entities_in_keys(void **state)
{
	const char *xml = XML_HEAD "<Contents><Key>a&amp;b&lt;c&gt;&#233;&#x41;&apos;</Key>"
	                           "<Size>5</Size></Contents></ListBucketResult>";
	seen s = {0};
	int truncated;
	cairn_buf token = CAIRN_BUF_INIT;
	assert_int_equal(parse(xml, &s, &truncated, &token), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.keys[0], "a&b<c>\xc3\xa9"
	                               "A'");
	cairn_buf_free(&token);
}

static void test_s3__list_stops_when_the_callback_says_so(void **state)
{
	const char *xml = XML_HEAD "<IsTruncated>true</IsTruncated>"
	                           "<Contents><Key>a</Key><Size>1</Size></Contents>"
	                           "<Contents><Key>b</Key><Size>2</Size></Contents>"
	                           "<Contents><Key>c</Key><Size>3</Size></Contents>"
	                           "<NextContinuationToken>t</NextContinuationToken>"
	                           "</ListBucketResult>";
	seen s = {.stop_at = 2};
	int truncated;
	cairn_buf token = CAIRN_BUF_INIT;
	assert_int_equal(parse(xml, &s, &truncated, &token), 7);
	assert_int_equal(s.n, 2);
	cairn_buf_free(&token);
}

static void expect_corrupt_list(const char *xml)
{
	seen s = {0};
	int truncated;
	cairn_buf token = CAIRN_BUF_INIT;
	int rc = parse(xml, &s, &truncated, &token);
	cairn_buf_free(&token);
	if (rc != CAIRN_ECORRUPT)
		fail_msg("accepted (rc %d): %s", rc, xml);
}

static void test_s3__list_rejects_answers_that_are_not_listings(void **state)
{
	expect_corrupt_list("");
	expect_corrupt_list("<html>hello</html>");
	expect_corrupt_list("<Error><Code>AccessDenied</Code></Error>");
	/* Cut short. */
	expect_corrupt_list(XML_HEAD "<Contents><Key>a</Key><Size>1</Size></Contents>");
	expect_corrupt_list(XML_HEAD "<Contents><Key>a</Key><Size>1</Size></ListBucketResult>");
}

static void test_s3__list_rejects_bad_entries(void **state)
{
	expect_corrupt_list(XML_HEAD "<Contents><Size>1</Size></Contents></ListBucketResult>");
	expect_corrupt_list(XML_HEAD "<Contents><Key>a</Key></Contents></ListBucketResult>");
	expect_corrupt_list(XML_HEAD "<Contents><Key></Key><Size>1</Size></Contents>"
	                             "</ListBucketResult>");
	expect_corrupt_list(XML_HEAD "<Contents><Key>a</Key><Size>-1</Size></Contents>"
	                             "</ListBucketResult>");
	expect_corrupt_list(XML_HEAD "<Contents><Key>a</Key><Size>18446744073709551616</Size>"
	                             "</Contents></ListBucketResult>");
	expect_corrupt_list(XML_HEAD "<Contents><Key>a</Key><Size>1x</Size></Contents>"
	                             "</ListBucketResult>");
	expect_corrupt_list(XML_HEAD "<Contents><Key>a&bogus;</Key><Size>1</Size></Contents>"
	                             "</ListBucketResult>");
	expect_corrupt_list(XML_HEAD "<Contents><Key>a&#0;</Key><Size>1</Size></Contents>"
	                             "</ListBucketResult>");
	expect_corrupt_list(XML_HEAD "<Contents><Key>a&#xD800;</Key><Size>1</Size></Contents>"
	                             "</ListBucketResult>");
	expect_corrupt_list(XML_HEAD "<Contents><Key>a&#123456789;</Key><Size>1</Size>"
	                             "</Contents></ListBucketResult>");
	expect_corrupt_list(XML_HEAD "<Contents><Key>a&amp</Key><Size>1</Size></Contents>"
	                             "</ListBucketResult>");
}

static void test_s3__list_rejects_overlong_keys(void **state)
{
	cairn_buf xml = CAIRN_BUF_INIT;
	assert_int_equal(cairn_buf_append_str(&xml, XML_HEAD "<Contents><Key>"), 0);
	for (int i = 0; i < 1100; i++)
		assert_int_equal(cairn_buf_append_str(&xml, "k"), 0);
	assert_int_equal(cairn_buf_append_str(&xml, "</Key><Size>1</Size></Contents>"
	                                            "</ListBucketResult>"),
	                 0);
	expect_corrupt_list((const char *)xml.data);
	cairn_buf_free(&xml);
}

static void test_s3__list_never_reads_past_the_given_length(void **state)
{
	/* The closing tags lie beyond len: the page must count as cut short. */
	const char *xml = XML_HEAD "<Contents><Key>a</Key><Size>1</Size></Contents>"
	                           "</ListBucketResult>";
	size_t len = strlen(xml) - strlen("</ListBucketResult>");
	char *copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, xml, len);
	seen s = {0};
	int truncated;
	cairn_buf token = CAIRN_BUF_INIT;
	assert_int_equal(cairn_s3__list_parse(copy, len, 1, collect, &s, &truncated, &token),
	                 CAIRN_ECORRUPT);
	assert_int_equal(s.n, 0);
	cairn_buf_free(&token);
	free(copy);
}

/* ---- LastModified ---- */

static int64_t time_of(const char *text)
{
	int64_t t = -1;
	if (cairn_s3__parse_time(text, strlen(text), &t) != 0)
		fail_msg("refused: '%s'", text);
	return t;
}

static void test_s3__parse_time_reads_iso_8601_with_or_without_fraction_and_offset(void **state)
{
	/* 2026-12-07T10:37:36Z is 1796639856 (Python's calendar.timegm). */
	assert_int_equal(time_of("2026-12-07T10:37:36.000Z"), 1796639856);
	assert_int_equal(time_of("2026-12-07T10:37:36Z"), 1796639856);
	assert_int_equal(time_of("2026-12-07T10:37:36.999999999Z"), 1796639856);
	assert_int_equal(time_of("2026-12-07T10:37:36.5z"), 1796639856);
	assert_int_equal(time_of("2026-12-07T12:37:36+02:00"), 1796639856);
	assert_int_equal(time_of("2026-12-07T05:07:36.123-05:30"), 1796639856);
	assert_int_equal(time_of("2026-12-07T10:37:36-00:00"), 1796639856);
	assert_int_equal(time_of(" \n2026-12-07T10:37:36.000Z\t"), 1796639856);
	/* Offsets that cross a day, and a year (2027-01-01T00:30:00Z is
	 * 1798763400). */
	assert_int_equal(time_of("2026-12-08T00:07:36+13:30"), 1796639856);
	assert_int_equal(time_of("2026-12-31T23:30:00-01:00"), 1798763400);
	assert_int_equal(time_of("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(time_of("1969-12-31T23:59:59Z"), -1);
	assert_int_equal(time_of("1999-12-31T23:59:59.000Z"), 946684799);
	assert_int_equal(time_of("2024-02-29T00:00:00Z"), 1709164800);
	assert_int_equal(time_of("2100-03-01T00:00:00Z"), 4107542400);
	assert_int_equal(time_of("1999-12-31T23:59:60Z"), 946684800);
}

static void test_s3__parse_time_rejects_malformed_values(void **state)
{
	static const char *const bad[] = {
	    "",
	    "   ",
	    "2026-12-07",
	    "2026-12-07T10:37:36",
	    "2026-12-07T10:37:36.000",
	    "2026-12-07 10:37:36Z",
	    "2026/12/07T10:37:36Z",
	    "26-12-07T10:37:36Z",
	    "+2026-12-07T10:37:36Z",
	    "2026-1a-07T10:37:36Z",
	    "2026-12-7T10:37:36Z",
	    "2026-00-07T10:37:36Z",
	    "2026-13-07T10:37:36Z",
	    "2026-12-00T10:37:36Z",
	    "2026-12-32T10:37:36Z",
	    "2026-02-29T10:37:36Z",
	    "2100-02-29T10:37:36Z",
	    "2026-04-31T10:37:36Z",
	    "2026-12-07T24:00:00Z",
	    "2026-12-07T10:60:36Z",
	    "2026-12-07T10:37:61Z",
	    "2026-12-07T10:37:3Z",
	    "2026-12-07T10:37:36.Z",
	    "2026-12-07T10:37:36.1.2Z",
	    "2026-12-07T10:37:36.000ZZ",
	    "2026-12-07T10:37:36.000Z x",
	    "2026-12-07T10:37:36 Z",
	    "2026-12-07T10:37:36+0200",
	    "2026-12-07T10:37:36+02",
	    "2026-12-07T10:37:36+2:00",
	    "2026-12-07T10:37:36+24:00",
	    "2026-12-07T10:37:36+02:60",
	    "2026-12-07T10:37:36*02:00",
	    "2026-12-07T10:37:36+02:00Z",
	    "Mon, 07 Dec 2026 10:37:36 GMT",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 12345;
		if (cairn_s3__parse_time(bad[i], strlen(bad[i]), &t) != -1)
			fail_msg("accepted: '%s'", bad[i]);
		assert_int_equal(t, 12345);
	}
	/* Never reads past the length given. */
	const char *cut = "2026-12-07T10:37:36.000Z";
	int64_t t;
	assert_int_equal(cairn_s3__parse_time(cut, strlen(cut) - 1, &t), -1);
	assert_int_equal(cairn_s3__parse_time(cut, 19, &t), -1);
}

static void test_s3__list_with_times_gives_each_entrys_last_modified(void **state)
{
	const char *xml =
	    XML_HEAD "<IsTruncated>false</IsTruncated>"
	             "<Contents><Key>r/a</Key><LastModified>2026-12-07T10:37:36.000Z"
	             "</LastModified><ETag>&quot;x&quot;</ETag><Size>3</Size></Contents>"
	             "<Contents><Size>4</Size><LastModified>1999-12-31T23:59:59Z</LastModified>"
	             "<Key>r/b</Key></Contents>"
	             "<Contents><Key>r/c</Key><Size>5</Size>"
	             "<LastModified>2026-12-07T12:37:36+02:00</LastModified></Contents>"
	             "</ListBucketResult>";
	seen s = {0};
	assert_int_equal(parse_times(xml, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.keys[0], "r/a");
	assert_int_equal(s.sizes[0], 3);
	assert_int_equal(s.mtimes[0], 1796639856);
	assert_string_equal(s.keys[1], "r/b");
	assert_int_equal(s.mtimes[1], 946684799);
	assert_int_equal(s.mtimes[2], 1796639856);

	/* A plain listing does not read them: mtime 0. */
	seen plain = {0};
	int truncated;
	cairn_buf token = CAIRN_BUF_INIT;
	assert_int_equal(parse(xml, &plain, &truncated, &token), 0);
	assert_int_equal(plain.n, 3);
	assert_int_equal(plain.mtimes[0], 0);
	cairn_buf_free(&token);
}

/* A page whose one entry has the LastModified element last (NULL: none). */
static void expect_bad_time(const char *last_modified, const char *message)
{
	char xml[512];
	snprintf(xml, sizeof(xml),
	         XML_HEAD "<Contents><Key>r/k1</Key><Size>1</Size>%s</Contents>"
	                  "</ListBucketResult>",
	         last_modified ? last_modified : "");
	seen s = {0};
	int rc = parse_times(xml, &s);
	if (rc != CAIRN_ECORRUPT)
		fail_msg("accepted (rc %d): %s", rc, xml);
	assert_int_equal(s.n, 0);
	if (!strstr(cairn_error_last(), message) || !strstr(cairn_error_last(), "r/k1"))
		fail_msg("message '%s' does not say '%s' of r/k1", cairn_error_last(), message);
	/* A plain listing takes the entry. */
	int truncated;
	cairn_buf token = CAIRN_BUF_INIT;
	assert_int_equal(parse(xml, &s, &truncated, &token), 0);
	assert_int_equal(s.n, 1);
	cairn_buf_free(&token);
}

static void test_s3__list_with_times_rejects_a_missing_or_bad_last_modified(void **state)
{
	expect_bad_time(NULL, "without <LastModified>");
	expect_bad_time("<LastModified></LastModified>", "bad <LastModified> ''");
	expect_bad_time("<LastModified>yesterday</LastModified>", "bad <LastModified> 'yesterday'");
	expect_bad_time("<LastModified>2026-12-07T10:37:36</LastModified>",
	                "bad <LastModified> '2026-12-07T10:37:36'");
	expect_bad_time("<LastModified>2026-02-30T10:37:36Z</LastModified>", "ISO 8601");
	expect_bad_time("<LastModified>a\tb</LastModified>", "'a?b'");
	expect_bad_time("<LastModified>2026-12-07T10:37:36.000000000000000000000000000000000000X"
	                "</LastModified>",
	                "2026-12-07T10:37:36.00000000000000000000...'");
	expect_bad_time("<LastModified>2026-12-07T10:37:36Z", "without <LastModified>");
}

/* ---- error documents ---- */

static void test_s3__error_message_gives_code_and_message(void **state)
{
	const char *xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"
	                  "<Code>SignatureDoesNotMatch</Code><Message>The request signature we "
	                  "calculated does not match the signature you provided.</Message>"
	                  "<AWSAccessKeyId>AK</AWSAccessKeyId></Error>";
	char out[256];
	cairn_s3__error_message(out, sizeof(out), xml, strlen(xml));
	assert_string_equal(out, "SignatureDoesNotMatch: The request signature we calculated "
	                         "does not match the signature you provided.");
}

static void test_s3__error_message_decodes_and_cleans_the_text(void **state)
{
	const char *xml = "<Error><Code>InvalidArgument</Code>"
	                  "<Message>bad &quot;x&quot;\nline&#9;tab</Message></Error>";
	char out[128];
	cairn_s3__error_message(out, sizeof(out), xml, strlen(xml));
	assert_string_equal(out, "InvalidArgument: bad \"x\" line tab");
}

static void test_s3__error_message_with_only_a_code(void **state)
{
	const char *xml = "<Error><Code>SlowDown</Code></Error>";
	char out[64];
	cairn_s3__error_message(out, sizeof(out), xml, strlen(xml));
	assert_string_equal(out, "SlowDown");
}

static void test_s3__error_message_fits_the_buffer(void **state)
{
	const char *xml =
	    "<Error><Code>C</Code><Message>\xc3\xa9\xc3\xa9\xc3\xa9</Message></Error>";
	char out[6];
	/* "C: " + one two-byte character fits; half a character must not. */
	cairn_s3__error_message(out, sizeof(out), xml, strlen(xml));
	assert_string_equal(out, "C: \xc3\xa9");
	char tiny[1];
	cairn_s3__error_message(tiny, sizeof(tiny), xml, strlen(xml));
	assert_string_equal(tiny, "");
}

static void test_s3__error_message_of_other_bodies_is_empty(void **state)
{
	char out[64] = "junk";
	cairn_s3__error_message(out, sizeof(out), "", 0);
	assert_string_equal(out, "");
	snprintf(out, sizeof(out), "junk");
	const char *html = "<html><body>502 Bad Gateway</body></html>";
	cairn_s3__error_message(out, sizeof(out), html, strlen(html));
	assert_string_equal(out, "");
	/* A body cut before the message ends gives what is whole. */
	const char *cut = "<Error><Code>InternalError</Code><Message>We encount";
	cairn_s3__error_message(out, sizeof(out), cut, strlen(cut));
	assert_string_equal(out, "InternalError");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_s3__parses_a_path_style_location),
	    cmocka_unit_test(test_s3__bucket_alone_has_an_empty_prefix),
	    cmocka_unit_test(test_s3__trailing_slashes_of_the_prefix_are_dropped),
	    cmocka_unit_test(test_s3__location_without_scheme_means_https),
	    cmocka_unit_test(test_s3__scheme_and_host_are_case_insensitive),
	    cmocka_unit_test(test_s3__accepts_an_ipv6_host),
	    cmocka_unit_test(test_s3__options_choose_virtual_host_style_and_page_size),
	    cmocka_unit_test(test_s3__rejects_malformed_locations),
	    cmocka_unit_test(test_s3__open_without_credentials_says_which_to_set),
	    cmocka_unit_test(test_s3__open_sends_nothing_and_checks_keys_locally),
	    cmocka_unit_test(test_s3__open_rejects_a_bad_connection_count),
	    cmocka_unit_test(test_s3__escape_keeps_unreserved_characters),
	    cmocka_unit_test(test_s3__escape_encodes_everything_else_in_upper_case_hex),
	    cmocka_unit_test(test_s3__escape_of_a_continuation_token_is_signable),
	    cmocka_unit_test(test_s3__list_page_gives_keys_sizes_and_the_next_token),
	    cmocka_unit_test(test_s3__list_last_page_is_not_truncated),
	    cmocka_unit_test(test_s3__list_empty_page_calls_nothing),
	    cmocka_unit_test(test_s3__list_decodes_entities_in_keys),
	    cmocka_unit_test(test_s3__list_stops_when_the_callback_says_so),
	    cmocka_unit_test(test_s3__list_rejects_answers_that_are_not_listings),
	    cmocka_unit_test(test_s3__list_rejects_bad_entries),
	    cmocka_unit_test(test_s3__list_rejects_overlong_keys),
	    cmocka_unit_test(test_s3__list_never_reads_past_the_given_length),
	    cmocka_unit_test(
	        test_s3__parse_time_reads_iso_8601_with_or_without_fraction_and_offset),
	    cmocka_unit_test(test_s3__parse_time_rejects_malformed_values),
	    cmocka_unit_test(test_s3__list_with_times_gives_each_entrys_last_modified),
	    cmocka_unit_test(test_s3__list_with_times_rejects_a_missing_or_bad_last_modified),
	    cmocka_unit_test(test_s3__error_message_gives_code_and_message),
	    cmocka_unit_test(test_s3__error_message_decodes_and_cleans_the_text),
	    cmocka_unit_test(test_s3__error_message_with_only_a_code),
	    cmocka_unit_test(test_s3__error_message_fits_the_buffer),
	    cmocka_unit_test(test_s3__error_message_of_other_bodies_is_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The load generator of `scripts/bench index`.
 *
 *   cairn-bench-index preload DIR COUNT [SHARDS]
 *       writes COUNT fingerprints straight into the shards in DIR (a
 *       repository's index directory on the server), as the server would
 *   cairn-bench-index run URL TOKEN REPO lookup|lookup-full|register PRELOADED CLIENTS
 *                     BATCH SECONDS
 *       CLIENTS threads, each with its own keep-alive connection, send
 *       batches of BATCH fingerprints for SECONDS; prints one line:
 *       "<mode> <ops/s> <batches> <p50 ms> <p99 ms> <max ms> <errors>"
 *       lookup asks what a backup asks (/presence), lookup-full what a
 *       restore asks (/lookup); register sends each batch as one new pack's
 *       blobs.
 *
 * Fingerprint i of the preloaded set is (i * 2^64 / COUNT) big-endian in
 * its first 8 bytes and a hash of i in the rest: spread evenly over the
 * key space like real fingerprints, yet written in key order, so that the
 * preload is quick and a lookup can name any stored fingerprint. Packs
 * hold 2,048 of them each, as packs of 16 MiB hold chunks of 8 KiB. */
#include "cairn/errors.h"
#include "cairn/index.h"
#include "cairn/wire.h"
#include "util/buf.h"
#include "util/time.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void stored_fp(uint8_t fp[32], uint64_t i, uint64_t count)
{
	uint64_t prefix = (uint64_t)(((unsigned __int128)i << 64) / count);
	uint64_t s = i;
	for (int k = 0; k < 8; k++)
		fp[k] = (uint8_t)(prefix >> (56 - 8 * k));
	for (int k = 8; k < 32; k += 8)
		cairn_put_u64le(fp + k, splitmix(&s));
}

/* Monotonic seconds. */
static double now(void)
{
	return (double)cairn_now_ns(CLOCK_MONOTONIC) / 1e9;
}

static int preload(const char *dir, uint64_t count, unsigned shards)
{
	cairn_index *ix;
	const size_t batch = 100000;
	cairn_index_entry *e = calloc(batch, sizeof(*e));
	if (!e || cairn_index_sqlite_open(&ix, dir, shards)) {
		fprintf(stderr, "preload: %s\n", cairn_error_last());
		return 1;
	}
	double t0 = now();
	for (uint64_t from = 0; from < count; from += batch) {
		size_t n = count - from < batch ? (size_t)(count - from) : batch;
		for (size_t k = 0; k < n; k++) {
			uint64_t i = from + k;
			uint64_t pack_seed = i / 2048 + 1;
			stored_fp(e[k].fp, i, count);
			for (int j = 0; j < 32; j += 8)
				cairn_put_u64le(e[k].pack + j, splitmix(&pack_seed));
			e[k].offset = (uint32_t)((i % 2048) * 8192);
			e[k].length = 4000 + (uint32_t)(i % 1000);
			e[k].raw_length = e[k].length + 100;
			e[k].kind = 1;
		}
		if (cairn_index_insert(ix, e, n)) {
			fprintf(stderr, "preload: %s\n", cairn_error_last());
			return 1;
		}
		if ((from / batch) % 20 == 19)
			fprintf(stderr, "preload: %llu of %llu (%.0f/s)\n",
			        (unsigned long long)(from + n), (unsigned long long)count,
			        (double)(from + n) / (now() - t0));
	}
	cairn_index_free(ix);
	free(e);
	fprintf(stderr, "preload: %llu fingerprints in %.1f s\n", (unsigned long long)count,
	        now() - t0);
	return 0;
}

typedef struct client {
	pthread_t thread;
	int id;
	const char *url;
	const char *auth;
	int registering;
	uint64_t preloaded;
	int full; /* full lookups (/lookup), not presence */
	size_t batch;
	double until;
	/* results */
	double *lat;
	size_t nlat, cap;
	uint64_t ops, errors;
} client;

static size_t sink(char *data, size_t size, size_t nmemb, void *ud)
{
	cairn_buf *b = ud;
	return cairn_buf_append(b, data, size * nmemb) ? 0 : size * nmemb;
}

static int all_present(client *c, const cairn_buf *body, const cairn_buf *answer)
{
	cairn_index_entry *e = malloc(c->batch * sizeof(*e));
	uint8_t *found = malloc(c->batch);
	const uint8_t(*fps)[32] = (const uint8_t(*)[32])body->data;
	int ok =
	    e && found &&
	    !(c->full
	          ? cairn_wire_answers_decode(answer->data, answer->len, fps, c->batch, e, found)
	          : cairn_wire_presence_decode(answer->data, answer->len, fps, c->batch, e, found));
	for (size_t i = 0; ok && i < c->batch; i++)
		ok = found[i];
	free(e);
	free(found);
	return ok;
}

static void *client_main(void *arg)
{
	client *c = arg;
	cairn_buf body = CAIRN_BUF_INIT, answer = CAIRN_BUF_INIT;
	struct curl_slist *headers = NULL;
	uint64_t seed = 0x1234567ull * (uint64_t)(c->id + 1) ^ (uint64_t)time(NULL);
	CURL *h = curl_easy_init();
	headers = curl_slist_append(headers, c->auth);
	headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
	cairn_index_entry e;
	memset(&e, 0, sizeof(e));
	e.kind = 1;
	e.length = 4096;
	e.raw_length = 4196;
	while (now() < c->until) {
		cairn_buf_clear(&body);
		cairn_buf_clear(&answer);
		for (int j = 0; j < 32; j += 8)
			cairn_put_u64le(e.pack + j, splitmix(&seed));
		for (size_t k = 0; k < c->batch; k++) {
			if (c->registering) {
				for (int j = 0; j < 32; j += 8)
					cairn_put_u64le(e.fp + j, splitmix(&seed));
				e.offset = (uint32_t)(k * 8192);
				cairn_wire_entries_encode(&body, &e, 1);
			} else {
				uint8_t fp[32];
				stored_fp(fp, splitmix(&seed) % c->preloaded, c->preloaded);
				cairn_buf_append(&body, fp, 32);
			}
		}
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
		double t0 = now();
		CURLcode rc = curl_easy_perform(h);
		double dt = now() - t0;
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (rc != CURLE_OK || status != 200) {
			if (!c->errors++)
				fprintf(stderr, "client %d: %s, HTTP %ld: %.*s\n", c->id,
				        curl_easy_strerror(rc), status, (int)answer.len,
				        answer.data ? (char *)answer.data : "");
			continue;
		}
		/* Every fingerprint asked is stored: each answer is "present". */
		if (!c->registering && !all_present(c, &body, &answer)) {
			c->errors++;
			continue;
		}
		if (c->nlat == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 1024;
			c->lat = realloc(c->lat, c->cap * sizeof(*c->lat));
			if (!c->lat)
				abort();
		}
		c->lat[c->nlat++] = dt;
		c->ops += c->batch;
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	cairn_buf_free(&body);
	cairn_buf_free(&answer);
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int run(int argc, char **argv)
{
	if (argc != 10) {
		fprintf(stderr,
		        "usage: cairn-bench-index run URL TOKEN REPO lookup|lookup-full|register "
		        "PRELOADED CLIENTS BATCH SECONDS\n");
		return 2;
	}
	const char *mode = argv[5];
	int registering = strcmp(mode, "register") == 0;
	int full = strcmp(mode, "lookup-full") == 0;
	const char *route = registering ? "register" : full ? "lookup" : "presence";
	uint64_t preloaded = strtoull(argv[6], NULL, 10);
	int nclients = atoi(argv[7]);
	size_t batch = (size_t)atol(argv[8]);
	double seconds = atof(argv[9]);
	cairn_buf url = CAIRN_BUF_INIT, auth = CAIRN_BUF_INIT;
	if (nclients < 1 || batch < 1 || seconds <= 0 || !preloaded ||
	    cairn_buf_printf(&url, "%s" CAIRN_WIRE_REPOS "%s/%s", argv[2], argv[4], route) ||
	    cairn_buf_printf(&auth, "Authorization: Bearer %s", argv[3]))
		return 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	client *cs = calloc((size_t)nclients, sizeof(*cs));
	double t0 = now(), until = t0 + seconds;
	for (int i = 0; i < nclients; i++) {
		cs[i] = (client){.id = i,
		                 .url = (const char *)url.data,
		                 .auth = (const char *)auth.data,
		                 .registering = registering,
		                 .full = full,
		                 .preloaded = preloaded,
		                 .batch = batch,
		                 .until = until};
		pthread_create(&cs[i].thread, NULL, client_main, &cs[i]);
	}
	uint64_t ops = 0, errors = 0;
	size_t n = 0;
	for (int i = 0; i < nclients; i++) {
		pthread_join(cs[i].thread, NULL);
		ops += cs[i].ops;
		errors += cs[i].errors;
		n += cs[i].nlat;
	}
	double elapsed = now() - t0;
	double *all = malloc((n ? n : 1) * sizeof(*all));
	size_t k = 0;
	for (int i = 0; i < nclients; i++) {
		memcpy(all + k, cs[i].lat, cs[i].nlat * sizeof(*all));
		k += cs[i].nlat;
		free(cs[i].lat);
	}
	qsort(all, n, sizeof(*all), by_value);
	double p50 = n ? all[n / 2] : 0, p99 = n ? all[(n * 99) / 100] : 0,
	       max = n ? all[n - 1] : 0;
	printf("%s %.0f %zu %.2f %.2f %.2f %llu\n", mode, (double)ops / elapsed, n, p50 * 1000,
	       p99 * 1000, max * 1000, (unsigned long long)errors);
	free(all);
	free(cs);
	cairn_buf_free(&url);
	cairn_buf_free(&auth);
	curl_global_cleanup();
	return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "preload") == 0)
		return preload(argv[2], strtoull(argv[3], NULL, 10),
		               argc > 4 ? (unsigned)atoi(argv[4]) : 16);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return run(argc, argv);
	fprintf(stderr,
	        "usage: cairn-bench-index preload DIR COUNT [SHARDS]\n"
	        "       cairn-bench-index run URL TOKEN REPO lookup|lookup-full|register PRELOADED "
	        "CLIENTS BATCH SECONDS\n");
	return 2;
}

/* Chunk sizes against deduplication: for each set of chunker parameters,
 * how many bytes an edited copy of a file adds after the original is
 * stored, and how many index entries a terabyte of such data needs.
 *
 *   dedup_bench [--params MIN:AVG:MAX]... [--polys N] [--entry-bytes N] BASE EDITED
 *
 * "added" counts the edited file's chunks whose content the base does not
 * hold (each distinct chunk once), raw and after zstd as cairn seals it.
 * Every repository chunks with its own random polynomial, and what an
 * edit adds depends on where the cuts around it fall: with --polys N each
 * setting is cut with N fixed polynomials, and the median (the upper of
 * the middle two for an even N) is shown with the smallest and largest.
 * The index estimate is entries per TB of unique data at the base file's
 * mean chunk size, times N bytes per entry (default 100: an SQLite row of
 * fingerprint, pack id, offset, lengths, kind and time, with its b-tree
 * overhead). */
#include "bench_util.h"

#include "cairn/chunker.h"
#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "cairn/seal.h"

#include <getopt.h>
#include <inttypes.h>

/* An open-addressing set of 64-bit chunk keys (the first 8 bytes of the
 * SHA-256 of the chunk: collisions are negligible at these counts). */
typedef struct set {
	uint64_t *slot; /* 0 = empty; keys are forced odd */
	size_t cap;     /* power of two */
	size_t n;
} set;

static void set_init(set *s, size_t expect)
{
	s->cap = 1024;
	while (s->cap < expect * 2)
		s->cap <<= 1;
	s->slot = calloc(s->cap, sizeof(*s->slot));
	s->n = 0;
	if (!s->slot) {
		fprintf(stderr, "dedup_bench: out of memory\n");
		exit(1);
	}
}

/* Adds k; returns 1 if it was new. */
static int set_add(set *s, uint64_t k)
{
	k |= 1;
	for (size_t i = (k >> 1) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->slot[i] == k)
			return 0;
		if (!s->slot[i]) {
			s->slot[i] = k;
			s->n++;
			return 1;
		}
	}
}

static uint64_t chunk_key(const uint8_t *p, size_t len)
{
	uint8_t h[CAIRN_ID_SIZE];
	uint64_t k;
	cairn_sha256(h, p, len);
	memcpy(&k, h, sizeof(k));
	return k;
}

typedef struct result {
	uint64_t base_chunks, edit_chunks, new_chunks;
	uint64_t new_raw, new_sealed;
} result;

#define MAX_POLYS 64

static int by_sealed(const void *a, const void *b)
{
	const result *x = a, *y = b;
	return (x->new_sealed > y->new_sealed) - (x->new_sealed < y->new_sealed);
}

/* Chunks buf; adds each chunk to s. If sealer, also counts the chunks
 * that were new to s and their sealed size. */
static void pass(cairn_chunker *c, set *s, const uint8_t *buf, size_t len, cairn_sealer *sealer,
                 uint64_t *chunks, result *r)
{
	static const uint8_t fp[CAIRN_FP_SIZE];
	cairn_buf out = CAIRN_BUF_INIT;
	size_t pos = 0;
	cairn_chunker_reset(c);
	while (pos < len) {
		size_t n = cairn_chunker_scan(c, buf + pos, len - pos);
		if (n == CAIRN_CHUNKER_NO_CUT)
			n = len - pos;
		(*chunks)++;
		if (set_add(s, chunk_key(buf + pos, n)) && sealer) {
			r->new_chunks++;
			r->new_raw += n;
			cairn_buf_clear(&out);
			if (cairn_seal(sealer, &out, fp, CAIRN_BLOB_DATA, buf + pos, n)) {
				fprintf(stderr, "dedup_bench: %s\n", cairn_error_last());
				exit(1);
			}
			r->new_sealed += out.len;
		}
		pos += n;
	}
	cairn_buf_free(&out);
}

int main(int argc, char **argv)
{
	cairn_chunker_params params[32];
	int nparams = 0;
	unsigned npolys = 1;
	double entry_bytes = 100;
	static const struct option opts[] = {
	    {"params", required_argument, NULL, 'p'},
	    {"polys", required_argument, NULL, 'n'},
	    {"entry-bytes", required_argument, NULL, 'e'},
	    {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'p' && nparams < 32) {
			char a[32], b[32], c[32];
			if (sscanf(optarg, "%31[^:]:%31[^:]:%31s", a, b, c) != 3) {
				fprintf(stderr, "dedup_bench: --params wants MIN:AVG:MAX\n");
				return 2;
			}
			params[nparams++] = (cairn_chunker_params){0, (uint32_t)bench_parse_size(a),
			                                           (uint32_t)bench_parse_size(b),
			                                           (uint32_t)bench_parse_size(c)};
		} else if (opt == 'n') {
			npolys = (unsigned)atoi(optarg);
			if (npolys < 1 || npolys > MAX_POLYS) {
				fprintf(stderr, "dedup_bench: --polys wants 1 to %d\n", MAX_POLYS);
				return 2;
			}
		} else if (opt == 'e') {
			entry_bytes = atof(optarg);
		} else {
			optind = argc + 1;
			break;
		}
	}
	if (optind != argc - 2) {
		fprintf(stderr,
		        "usage: %s [--params MIN:AVG:MAX]... [--polys N] [--entry-bytes N] BASE "
		        "EDITED\n",
		        argv[0]);
		return 2;
	}
	if (nparams == 0) {
		static const uint32_t def[][3] = {
		    {16 << 10, 32 << 10, 256 << 10},    {32 << 10, 64 << 10, 512 << 10},
		    {64 << 10, 128 << 10, 1 << 20},     {96 << 10, 160 << 10, 1280 << 10},
		    {112 << 10, 176 << 10, 1408 << 10}, {128 << 10, 256 << 10, 2 << 20},
		    {256 << 10, 512 << 10, 4 << 20},    {512 << 10, 1 << 20, 8 << 20},
		    {1 << 20, 2 << 20, 16 << 20},
		};
		for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++)
			params[nparams++] =
			    (cairn_chunker_params){0, def[i][0], def[i][1], def[i][2]};
	}

	uint8_t *base, *edit;
	size_t base_len, edit_len;
	if (bench_load(argv[optind], &base, &base_len) ||
	    bench_load(argv[optind + 1], &edit, &edit_len))
		return 1;
	cairn_sealer *sealer;
	if (cairn_sealer_new(&sealer, NULL, 0)) {
		fprintf(stderr, "dedup_bench: %s\n", cairn_error_last());
		return 1;
	}
	printf("%zu bytes base, %zu bytes edited; index estimate at %.0f bytes per entry; "
	       "%u polynomial%s\n",
	       base_len, edit_len, entry_bytes, npolys, npolys > 1 ? "s (medians)" : "");
	printf("%-18s %10s %12s %12s %12s %16s %14s %14s\n", "min/avg/max KiB", "mean KiB",
	       "new chunks", "added MB", "sealed MB", "sealed range", "entries/TB", "index GB/TB");
	static cairn_chunker c;
	static result runs[MAX_POLYS];
	for (int i = 0; i < nparams; i++) {
		for (unsigned k = 0; k < npolys; k++) {
			params[i].poly = bench_nth_poly(k);
			if (cairn_chunker_init(&c, &params[i])) {
				fprintf(stderr, "dedup_bench: %s\n", cairn_error_last());
				return 1;
			}
			result *r = &runs[k];
			*r = (result){0};
			set s;
			set_init(&s, base_len / params[i].min + edit_len / params[i].min + 16);
			pass(&c, &s, base, base_len, NULL, &r->base_chunks, r);
			pass(&c, &s, edit, edit_len, sealer, &r->edit_chunks, r);
			free(s.slot);
		}
		qsort(runs, npolys, sizeof(runs[0]), by_sealed);
		const result *r = &runs[npolys / 2];
		double mean = (double)base_len / (double)r->base_chunks;
		double per_tb = 1e12 / mean;
		char label[48], range[48];
		snprintf(label, sizeof(label), "%u/%u/%u", params[i].min >> 10, params[i].avg >> 10,
		         params[i].max >> 10);
		snprintf(range, sizeof(range), "%.2f-%.2f", (double)runs[0].new_sealed / 1e6,
		         (double)runs[npolys - 1].new_sealed / 1e6);
		printf("%-18s %10.0f %12" PRIu64 " %12.2f %12.2f %16s %14.0f %14.2f\n", label,
		       mean / 1024, r->new_chunks, (double)r->new_raw / 1e6,
		       (double)r->new_sealed / 1e6, range, per_tb, per_tb * entry_bytes / 1e9);
	}
	cairn_sealer_free(sealer);
	free(base);
	free(edit);
	return 0;
}

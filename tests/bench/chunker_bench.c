/* Throughput of the Rabin chunker alone: cairn_chunker_scan over a buffer
 * already in memory, on one thread, counting every byte of the input
 * (those skipped below the minimum chunk size included).
 *
 *   chunker_bench [--random SIZE] [--repeat N] [--min S --avg S --max S] [FILE]...
 *
 * With no FILE it scans SIZE (default 256M) bytes of seeded random data. */
#include "bench_util.h"

#include "cairn/chunker.h"
#include "cairn/errors.h"

#include <getopt.h>
#include <inttypes.h>

/* Scans the whole buffer as one stream; returns the number of chunks. */
static uint64_t scan_all(cairn_chunker *c, const uint8_t *buf, size_t len)
{
	uint64_t chunks = 0;
	size_t off = 0;
	cairn_chunker_reset(c);
	while (off < len) {
		size_t n = cairn_chunker_scan(c, buf + off, len - off);
		if (n == CAIRN_CHUNKER_NO_CUT)
			break;
		off += n;
		chunks++;
	}
	if (off < len)
		chunks++; /* the tail ends at end of input */
	return chunks;
}

static void run(const char *label, cairn_chunker *c, const uint8_t *buf, size_t len, int repeat)
{
	double mbps[64];
	uint64_t chunks = 0;
	/* one untimed pass brings the buffer and the tables into cache */
	chunks = scan_all(c, buf, len);
	for (int i = 0; i < repeat; i++) {
		double t0 = bench_now();
		uint64_t n = scan_all(c, buf, len);
		double dt = bench_now() - t0;
		if (n != chunks) {
			fprintf(stderr,
			        "%s: chunk count changed between passes (%" PRIu64 " then %" PRIu64
			        ")\n",
			        label, chunks, n);
			exit(1);
		}
		mbps[i] = (double)len / dt / 1e6;
	}
	double best = mbps[0];
	for (int i = 1; i < repeat; i++)
		best = mbps[i] > best ? mbps[i] : best;
	double med = bench_median(mbps, repeat);
	printf("%-28s %8.1f MB/s median  %8.1f MB/s best  (%zu bytes, %" PRIu64
	       " chunks, mean %.0f KiB)\n",
	       label, med, best, len, chunks, (double)len / (double)chunks / 1024.0);
}

int main(int argc, char **argv)
{
	size_t random_size = 256u << 20;
	int repeat = 5;
	cairn_chunker_params p = {
	    .poly = bench_fixed_poly(),
	    .min = CAIRN_CHUNK_MIN_DEFAULT,
	    .avg = CAIRN_CHUNK_AVG_DEFAULT,
	    .max = CAIRN_CHUNK_MAX_DEFAULT,
	};
	static const struct option opts[] = {
	    {"random", required_argument, NULL, 'r'}, {"repeat", required_argument, NULL, 'n'},
	    {"min", required_argument, NULL, 'a'},    {"avg", required_argument, NULL, 'b'},
	    {"max", required_argument, NULL, 'c'},    {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			random_size = bench_parse_size(optarg);
			break;
		case 'n':
			repeat = atoi(optarg);
			break;
		case 'a':
			p.min = (uint32_t)bench_parse_size(optarg);
			break;
		case 'b':
			p.avg = (uint32_t)bench_parse_size(optarg);
			break;
		case 'c':
			p.max = (uint32_t)bench_parse_size(optarg);
			break;
		default:
			fprintf(stderr,
			        "usage: %s [--random SIZE] [--repeat N] "
			        "[--min S --avg S --max S] [FILE]...\n",
			        argv[0]);
			return 2;
		}
	}
	if (repeat < 1 || repeat > 64 || random_size == 0) {
		fprintf(stderr, "%s: --repeat must be 1..64 and --random a size\n", argv[0]);
		return 2;
	}

	static cairn_chunker c;
	if (cairn_chunker_init(&c, &p) != 0) {
		fprintf(stderr, "%s: %s\n", argv[0], cairn_error_last());
		return 2;
	}
	printf("chunker: min %u avg %u max %u, poly 0x%" PRIx64 ", one thread\n", p.min, p.avg,
	       p.max, p.poly);

	if (optind == argc) {
		uint8_t *buf = malloc(random_size);
		if (!buf) {
			fprintf(stderr, "%s: out of memory\n", argv[0]);
			return 1;
		}
		bench_fill_random(buf, random_size, 42);
		char label[64];
		snprintf(label, sizeof(label), "random %zu MiB", random_size >> 20);
		run(label, &c, buf, random_size, repeat);
		free(buf);
	}
	for (int i = optind; i < argc; i++) {
		uint8_t *buf;
		size_t len;
		if (bench_load(argv[i], &buf, &len) != 0)
			return 1;
		const char *base = strrchr(argv[i], '/');
		run(base ? base + 1 : argv[i], &c, buf, len, repeat);
		free(buf);
	}
	return 0;
}

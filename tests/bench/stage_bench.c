/* One-thread throughput of each stage a chunk goes through, on the chunks
 * of a real file held in memory: the cost budget of a backup and a
 * restore without any I/O, threads or index.
 *
 *   stage_bench [--repeat N] [--level L] FILE
 *
 * Every rate is plaintext bytes per second (MB = 10^6 bytes). */
#include "bench_util.h"

#include "cairn/chunker.h"
#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "cairn/seal.h"
#include "crypto/aead.h"

#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>

typedef struct chunks {
	size_t *off; /* n + 1 offsets: chunk i is [off[i], off[i+1]) */
	size_t n;
} chunks;

static const uint8_t *data;
static size_t data_len;
static chunks ck;
static size_t max_chunk;
static cairn_buf scratch = CAIRN_BUF_INIT;
static cairn_buf sealed = CAIRN_BUF_INIT; /* every chunk sealed, back to back */
static size_t *sealed_off;
static cairn_sealer *enc_sealer, *plain_sealer;
static cairn_fingerprinter *fper;
static uint8_t key[32];

static void die(const char *what)
{
	fprintf(stderr, "stage_bench: %s: %s\n", what, cairn_error_last());
	exit(1);
}

static void cut_chunks(void)
{
	static cairn_chunker c;
	cairn_chunker_params p = {bench_fixed_poly(), CAIRN_CHUNK_MIN_DEFAULT,
	                          CAIRN_CHUNK_AVG_DEFAULT, CAIRN_CHUNK_MAX_DEFAULT};
	if (cairn_chunker_init(&c, &p) != 0)
		die("chunker");
	size_t cap = data_len / CAIRN_CHUNK_MIN_DEFAULT + 2;
	ck.off = malloc(cap * sizeof(*ck.off));
	if (!ck.off)
		die("chunk list");
	size_t pos = 0;
	ck.off[0] = 0;
	ck.n = 0;
	while (pos < data_len) {
		size_t n = cairn_chunker_scan(&c, data + pos, data_len - pos);
		pos = n == CAIRN_CHUNKER_NO_CUT ? data_len : pos + n;
		ck.off[++ck.n] = pos;
		size_t sz = ck.off[ck.n] - ck.off[ck.n - 1];
		max_chunk = sz > max_chunk ? sz : max_chunk;
	}
}

static void stage_memcpy(void)
{
	for (size_t i = 0; i < ck.n; i++) {
		cairn_buf_clear(&scratch);
		if (cairn_buf_append(&scratch, data + ck.off[i], ck.off[i + 1] - ck.off[i]))
			die("memcpy");
	}
}

static void stage_chunk(void)
{
	static cairn_chunker c;
	cairn_chunker_params p = {bench_fixed_poly(), CAIRN_CHUNK_MIN_DEFAULT,
	                          CAIRN_CHUNK_AVG_DEFAULT, CAIRN_CHUNK_MAX_DEFAULT};
	if (cairn_chunker_init(&c, &p) != 0)
		die("chunker");
	size_t pos = 0;
	while (pos < data_len) {
		size_t n = cairn_chunker_scan(&c, data + pos, data_len - pos);
		pos = n == CAIRN_CHUNKER_NO_CUT ? data_len : pos + n;
	}
}

static void stage_fingerprint(void)
{
	uint8_t fp[CAIRN_FP_SIZE];
	for (size_t i = 0; i < ck.n; i++)
		if (cairn_fingerprint(fper, fp, data + ck.off[i], ck.off[i + 1] - ck.off[i]))
			die("fingerprint");
}

static void stage_sha256(void)
{
	uint8_t id[CAIRN_ID_SIZE];
	for (size_t i = 0; i < ck.n; i++)
		cairn_sha256(id, data + ck.off[i], ck.off[i + 1] - ck.off[i]);
}

static void seal_with(cairn_sealer *s)
{
	static const uint8_t fp[CAIRN_FP_SIZE];
	for (size_t i = 0; i < ck.n; i++) {
		cairn_buf_clear(&scratch);
		if (cairn_seal(s, &scratch, fp, CAIRN_BLOB_DATA, data + ck.off[i],
		               ck.off[i + 1] - ck.off[i]))
			die("seal");
	}
}

static void stage_seal_plain(void)
{
	seal_with(plain_sealer);
}

static void stage_seal(void)
{
	seal_with(enc_sealer);
}

/* XChaCha20-Poly1305 of every chunk, uncompressed: as cairn does it
 * (util/aead.c, libcrypto doing the bulk), or with libsodium alone. */
static void aead_each(int sodium_only)
{
	uint8_t nonce[CAIRN_AEAD_NONCE] = {0};
	cairn_aead a;
	cairn_aead_init(&a);
	if (sodium_only)
		a.evp_from = SIZE_MAX;
	for (size_t i = 0; i < ck.n; i++) {
		size_t len = ck.off[i + 1] - ck.off[i];
		cairn_buf_clear(&scratch);
		if (cairn_buf_reserve(&scratch, len + CAIRN_AEAD_TAG) ||
		    cairn_aead_encrypt(&a, scratch.data, data + ck.off[i], len, NULL, 0, nonce,
		                       key))
			die("aead");
		nonce[0]++;
	}
	cairn_aead_free(&a);
}

static void stage_aead(void)
{
	aead_each(0);
}

static void stage_aead_sodium(void)
{
	aead_each(1);
}

static void stage_unseal(void)
{
	static const uint8_t fp[CAIRN_FP_SIZE];
	for (size_t i = 0; i < ck.n; i++)
		if (cairn_unseal(enc_sealer, &scratch, fp, CAIRN_BLOB_DATA,
		                 sealed.data + sealed_off[i], sealed_off[i + 1] - sealed_off[i],
		                 max_chunk))
			die("unseal");
}

static void seal_everything(void)
{
	static const uint8_t fp[CAIRN_FP_SIZE];
	sealed_off = malloc((ck.n + 1) * sizeof(*sealed_off));
	if (!sealed_off)
		die("sealed list");
	sealed_off[0] = 0;
	for (size_t i = 0; i < ck.n; i++) {
		if (cairn_seal(enc_sealer, &sealed, fp, CAIRN_BLOB_DATA, data + ck.off[i],
		               ck.off[i + 1] - ck.off[i]))
			die("seal");
		sealed_off[i + 1] = sealed.len;
	}
}

typedef struct stage {
	const char *name;
	void (*fn)(void);
	const char *what;
} stage;

int main(int argc, char **argv)
{
	int repeat = 3, level = 0;
	static const struct option opts[] = {
	    {"repeat", required_argument, NULL, 'n'},
	    {"level", required_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			repeat = atoi(optarg);
			break;
		case 'l':
			level = atoi(optarg);
			break;
		default:
			optind = argc;
			break;
		}
	}
	if (optind != argc - 1 || repeat < 1 || repeat > 64) {
		fprintf(stderr, "usage: %s [--repeat N] [--level L] FILE\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	uint8_t *buf;
	if (bench_load(argv[optind], &buf, &data_len) != 0)
		return 1;
	data = buf;
	randombytes_buf(key, sizeof(key));
	if (cairn_sealer_new(&enc_sealer, key, level) ||
	    cairn_sealer_new(&plain_sealer, NULL, level) || cairn_fingerprinter_new(&fper, key))
		die("setup");
	cut_chunks();
	seal_everything();
	printf("%s: %zu bytes, %zu chunks (mean %.0f KiB), sealed %zu bytes (%.1f%%), "
	       "zstd level %d, one thread\n",
	       argv[optind], data_len, ck.n, (double)data_len / (double)ck.n / 1024.0, sealed.len,
	       100.0 * (double)sealed.len / (double)data_len,
	       level ? level : CAIRN_SEAL_LEVEL_DEFAULT);

	static const stage stages[] = {
	    {"memcpy", stage_memcpy, "copy each chunk (baseline)"},
	    {"chunk", stage_chunk, "Rabin cut points"},
	    {"fingerprint", stage_fingerprint, "HMAC-SHA-256 of each chunk"},
	    {"sha256", stage_sha256, "plain SHA-256 (pack ids)"},
	    {"compress", stage_seal_plain, "seal without a key: zstd only"},
	    {"aead", stage_aead, "XChaCha20-Poly1305 alone, uncompressed"},
	    {"seal", stage_seal, "zstd, then XChaCha20-Poly1305"},
	    {"unseal", stage_unseal, "authenticate, decrypt, decompress"},
	    {"aead-sodium", stage_aead_sodium, "aead with libsodium alone"},
	};
	double per_byte[sizeof(stages) / sizeof(stages[0])];
	for (size_t s = 0; s < sizeof(stages) / sizeof(stages[0]); s++) {
		double rate[64];
		stages[s].fn(); /* warm-up */
		for (int i = 0; i < repeat; i++) {
			double t0 = bench_now();
			stages[s].fn();
			rate[i] = (double)data_len / (bench_now() - t0) / 1e6;
		}
		double med = bench_median(rate, repeat);
		per_byte[s] = 1.0 / med;
		printf("  %-12s %8.1f MB/s  %s\n", stages[s].name, med, stages[s].what);
	}
	/* the work of a backup per new byte on one core: chunk + fingerprint + seal */
	double backup = 1.0 / (per_byte[1] + per_byte[2] + per_byte[6]);
	/* a restore: unseal + fingerprint check */
	double restore = 1.0 / (per_byte[7] + per_byte[2]);
	printf("  %-12s %8.1f MB/s  chunk + fingerprint + seal, per core\n", "backup cpu", backup);
	printf("  %-12s %8.1f MB/s  unseal + fingerprint check, per core\n", "restore cpu",
	       restore);

	cairn_sealer_free(enc_sealer);
	cairn_sealer_free(plain_sealer);
	cairn_fingerprinter_free(fper);
	cairn_buf_free(&scratch);
	cairn_buf_free(&sealed);
	free(sealed_off);
	free(ck.off);
	free(buf);
	return 0;
}

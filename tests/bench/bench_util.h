/* Shared helpers of the microbenchmarks: a monotonic clock, a seeded
 * generator, whole-file loading and a fixed chunker polynomial, so that
 * two runs on the same input cut the same chunks. */
#ifndef CAIRN_BENCH_UTIL_H
#define CAIRN_BENCH_UTIL_H

#include "cairn/chunker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t bench_splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void bench_fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t v = bench_splitmix(&seed);
		memcpy(buf + i, &v, 8);
	}
	if (i < len) {
		uint64_t v = bench_splitmix(&seed);
		memcpy(buf + i, &v, len - i);
	}
}

/* The n-th irreducible polynomial of degree 53 drawn from a fixed seed,
 * counting from 0: every repository draws its own at random, and where
 * the cuts fall (so what an edit costs) depends on which one it is. */
static inline uint64_t bench_nth_poly(unsigned n)
{
	uint64_t state = 0x636169726e0001ull;
	for (;;) {
		uint64_t top = (uint64_t)1 << CAIRN_CHUNKER_POLY_DEGREE;
		uint64_t p = (bench_splitmix(&state) & (top - 1)) | top | 1;
		if (cairn_chunker_poly_irreducible(p) && n-- == 0)
			return p;
	}
}

/* The first of them: the speed does not depend on which one it is. */
static inline uint64_t bench_fixed_poly(void)
{
	return bench_nth_poly(0);
}

/* Reads all of path into a new buffer; 0 or -1 with a message printed. */
static inline int bench_load(const char *path, uint8_t **out, size_t *len_out)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		goto fail;
	}
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", path);
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "%s: short read\n", path);
			goto fail;
		}
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len_out = got;
	return 0;
fail:
	free(buf);
	if (fd >= 0)
		close(fd);
	return -1;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Parses 123, 64K, 256M, 1G (powers of 1024); 0 on error. */
static inline size_t bench_parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	default:
		break;
	}
	return *end ? 0 : (size_t)v;
}

#endif

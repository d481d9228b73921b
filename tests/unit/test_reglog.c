/* The index core's registration log (lib/index/reglog.h): what an append
 * returned for is read back, a torn last group is passed over, and
 * appends from many threads share their syncs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "index_entry_assert.h"

#include "cairn/errors.h"
#include "index/reglog.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fixture {
	char dir[64];
	size_t durable; /* entries the log said were on stable storage */
	cairn_index_entry seen[4096];
	size_t nseen;
	pthread_mutex_t lock;
} fixture;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cairn-test-reglog-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	pthread_mutex_init(&f->lock, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

static cairn_index_entry entry(uint32_t i)
{
	cairn_index_entry e;
	memset(&e, 0, sizeof(e));
	memcpy(e.fp, &i, sizeof(i));
	e.fp[31] = 1;
	memset(e.pack, (int)(i % 7 + 1), 32);
	e.offset = i * 100;
	e.length = 50 + i % 10;
	e.raw_length = 70 + i % 10;
	e.kind = 1;
	return e;
}

static int on_durable(void *ud, const cairn_index_entry *e, size_t n)
{
	fixture *f = ud;
	f->durable += n; /* under the log's lock */
	return 0;
}

static int collect(void *ud, const cairn_index_entry *e, size_t n)
{
	fixture *f = ud;
	for (size_t i = 0; i < n && f->nseen < 4096; i++)
		f->seen[f->nseen++] = e[i];
	return 0;
}

static void test_reglog__appends_are_read_back_after_a_reopen(void **state)
{
	fixture *f = *state;
	cairn_reglog *log;
	cairn_index_entry e[10];
	for (uint32_t i = 0; i < 10; i++)
		e[i] = entry(i);
	assert_int_equal(cairn_reglog_open(&log, f->dir, on_durable, f), 0);
	assert_int_equal(cairn_reglog_append(log, e, 4), 0);
	assert_int_equal(cairn_reglog_append(log, e + 4, 6), 0);
	assert_int_equal(f->durable, 10);
	/* As after a crash: the log is not freed, only read. */
	uint64_t last = 0;
	assert_int_equal(cairn_reglog_replay(f->dir, 0, collect, f, &last), 0);
	assert_int_equal(f->nseen, 10);
	for (int i = 0; i < 10; i++)
		assert_entry_equal(&f->seen[i], &e[i]);
	assert_int_equal(last, 1);
	/* A rotation seals what was there; removing it leaves the new one. */
	uint64_t sealed;
	assert_int_equal(cairn_reglog_rotate(log, &sealed), 0);
	assert_int_equal(sealed, 1);
	assert_int_equal(cairn_reglog_append(log, e, 1), 0);
	assert_int_equal(cairn_reglog_remove_upto(log, sealed), 0);
	f->nseen = 0;
	assert_int_equal(cairn_reglog_replay(f->dir, 0, collect, f, &last), 0);
	assert_int_equal(f->nseen, 1);
	assert_int_equal(last, 2);
	cairn_reglog_free(log);
	/* A new open starts a segment after those there. */
	assert_int_equal(cairn_reglog_open(&log, f->dir, NULL, NULL), 0);
	assert_int_equal(cairn_reglog_rotate(log, &sealed), 0);
	assert_int_equal(sealed, 3);
	cairn_reglog_free(log);
}

static void test_reglog__a_torn_or_damaged_last_group_is_passed_over(void **state)
{
	fixture *f = *state;
	cairn_reglog *log;
	cairn_index_entry e[3] = {entry(1), entry(2), entry(3)};
	char path[128];
	assert_int_equal(cairn_reglog_open(&log, f->dir, NULL, NULL), 0);
	assert_int_equal(cairn_reglog_append(log, e, 2), 0);
	assert_int_equal(cairn_reglog_append(log, e + 2, 1), 0);
	cairn_reglog_free(log);
	snprintf(path, sizeof(path), "%s/log-%016x", f->dir, 1);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	/* The last group cut short, as a crash in its write leaves it. */
	assert_int_equal(truncate(path, st.st_size - 5), 0);
	assert_int_equal(cairn_reglog_replay(f->dir, 0, collect, f, NULL), 0);
	assert_int_equal(f->nseen, 2);
	/* A changed byte in the first group: nothing of it is believed. */
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\x55", 1, 20), 1);
	close(fd);
	f->nseen = 0;
	assert_int_equal(cairn_reglog_replay(f->dir, 0, collect, f, NULL), 0);
	assert_int_equal(f->nseen, 0);
}

typedef struct writer {
	cairn_reglog *log;
	uint32_t first;
	int rc;
} writer;

static void *write_some(void *ud)
{
	writer *w = ud;
	for (uint32_t i = 0; i < 50 && !w->rc; i++) {
		cairn_index_entry e[4];
		for (uint32_t k = 0; k < 4; k++)
			e[k] = entry(w->first + 4 * i + k);
		w->rc = cairn_reglog_append(w->log, e, 4);
	}
	return NULL;
}

static void test_reglog__appends_from_many_threads_all_land(void **state)
{
	fixture *f = *state;
	cairn_reglog *log;
	pthread_t t[8];
	writer w[8];
	assert_int_equal(cairn_reglog_open(&log, f->dir, on_durable, f), 0);
	for (int i = 0; i < 8; i++) {
		w[i] = (writer){log, (uint32_t)i * 1000, 0};
		assert_int_equal(pthread_create(&t[i], NULL, write_some, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].rc, 0);
	}
	assert_int_equal(f->durable, 8 * 50 * 4);
	assert_int_equal(cairn_reglog_replay(f->dir, 0, collect, f, NULL), 0);
	assert_int_equal(f->nseen, 8 * 50 * 4);
	cairn_reglog_free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reglog__appends_are_read_back_after_a_reopen,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_reglog__a_torn_or_damaged_last_group_is_passed_over, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reglog__appends_from_many_threads_all_land, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The store front: what it does for a backend that leaves the optional
 * calls out (a fake backend that has only put and list). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/errors.h"
#include "cairn/fingerprint.h"
#include "cairn/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Keeps the last object put. */
typedef struct fake_store {
	cairn_store base;
	char key[CAIRN_STORE_NAME_MAX];
	uint8_t *data;
	size_t len;
	unsigned puts;
} fake_store;

static int fake_put(cairn_store *st, const char *key, const void *data, size_t len, unsigned flags)
{
	fake_store *s = (fake_store *)st;
	free(s->data);
	s->data = malloc(len ? len : 1);
	assert_non_null(s->data);
	memcpy(s->data, data, len);
	s->len = len;
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->puts++;
	return 0;
}

/* The last object put, then "zz" (one byte), those that start with prefix. */
static int fake_list(cairn_store *st, const char *prefix, cairn_store_list_cb cb, void *ud)
{
	fake_store *s = (fake_store *)st;
	int rc = 0;
	if (s->puts && strncmp(s->key, prefix, strlen(prefix)) == 0)
		rc = cb(s->key, s->len, ud);
	if (!rc && strncmp("zz", prefix, strlen(prefix)) == 0)
		rc = cb("zz", 1, ud);
	return rc;
}

static const struct cairn_store_ops fake_ops = {
    .version = CAIRN_STORE_OPS_VERSION,
    .name = "fake",
    .put = fake_put,
    .list = fake_list,
};

static void name_hex(char key[CAIRN_STORE_NAME_MAX], const uint8_t id[32])
{
	snprintf(key, CAIRN_STORE_NAME_MAX, "data/%02x%02x", id[0], id[1]);
}

/* Three pieces: bytes in memory, a stretch of a file, memory again. */
struct pieces {
	uint8_t head[100], tail[7], file[5000];
	FILE *f;
	cairn_iovec iov[3];
};

static void pieces_make(struct pieces *p)
{
	for (size_t i = 0; i < sizeof(p->file); i++)
		p->file[i] = (uint8_t)(i * 13 + 1);
	memset(p->head, 'h', sizeof(p->head));
	memset(p->tail, 't', sizeof(p->tail));
	p->f = tmpfile();
	assert_non_null(p->f);
	assert_int_equal(fwrite(p->file, 1, sizeof(p->file), p->f), sizeof(p->file));
	assert_int_equal(fflush(p->f), 0);
	p->iov[0] = (cairn_iovec){.data = p->head, .len = sizeof(p->head)};
	/* the file's bytes from 1000 on */
	p->iov[1] = (cairn_iovec){.data = NULL, .len = 3000, .fd = fileno(p->f), .off = 1000};
	p->iov[2] = (cairn_iovec){.data = p->tail, .len = sizeof(p->tail)};
}

static void assert_joined(const fake_store *s, const struct pieces *p)
{
	assert_int_equal(s->len, 100 + 3000 + 7);
	assert_memory_equal(s->data, p->head, 100);
	assert_memory_equal(s->data + 100, p->file + 1000, 3000);
	assert_memory_equal(s->data + 3100, p->tail, 7);
}

static void test_store__putv_without_the_backends_own_reads_file_pieces(void **state)
{
	fake_store s = {.base = {&fake_ops}};
	struct pieces p;
	pieces_make(&p);
	assert_int_equal(cairn_store_putv(&s.base, "k", p.iov, 3, 0), 0);
	assert_int_equal(s.puts, 1);
	assert_string_equal(s.key, "k");
	assert_joined(&s, &p);
	fclose(p.f);
	free(s.data);
}

static void test_store__putv_named_names_the_joined_bytes_by_their_hash(void **state)
{
	fake_store s = {.base = {&fake_ops}};
	struct pieces p;
	uint8_t id[32], want[32];
	char key[CAIRN_STORE_NAME_MAX];
	pieces_make(&p);
	assert_int_equal(cairn_store_putv_named(&s.base, p.iov, 3, name_hex, id, 0), 0);
	assert_joined(&s, &p);
	cairn_sha256(want, s.data, s.len);
	assert_memory_equal(id, want, 32);
	name_hex(key, want);
	assert_string_equal(s.key, key);
	fclose(p.f);
	free(s.data);
}

static void test_store__a_short_file_piece_is_an_error_and_stores_nothing(void **state)
{
	fake_store s = {.base = {&fake_ops}};
	struct pieces p;
	pieces_make(&p);
	p.iov[1].off = 4000; /* 3000 bytes from 4000 run past the end */
	assert_int_equal(cairn_store_putv(&s.base, "k", p.iov, 3, 0), CAIRN_EIO);
	assert_int_equal(s.puts, 0);
	fclose(p.f);
}

/* Items as "key size mtime" lines; stop_with is returned for the first. */
typedef struct items_text {
	char text[256];
	int stop_with;
} items_text;

static int print_item(const cairn_store_item *item, void *ud)
{
	items_text *t = ud;
	size_t n = strlen(t->text);
	snprintf(t->text + n, sizeof(t->text) - n, "%s %llu %lld\n", item->key,
	         (unsigned long long)item->size, (long long)item->mtime);
	return t->stop_with;
}

static void test_store__list_items_without_the_backends_own_lists_with_mtime_0(void **state)
{
	fake_store s = {.base = {&fake_ops}};
	assert_int_equal(cairn_store_put(&s.base, "snapshots/a", "abc", 3, 0), 0);
	items_text all = {""};
	assert_int_equal(cairn_store_list_items(&s.base, "", print_item, &all), 0);
	assert_string_equal(all.text, "snapshots/a 3 0\nzz 1 0\n");

	items_text some = {""};
	assert_int_equal(cairn_store_list_items(&s.base, "snap", print_item, &some), 0);
	assert_string_equal(some.text, "snapshots/a 3 0\n");

	items_text first = {"", 9};
	assert_int_equal(cairn_store_list_items(&s.base, "", print_item, &first), 9);
	assert_string_equal(first.text, "snapshots/a 3 0\n");
	free(s.data);
}

static void test_store__list_temp_without_the_backends_own_lists_nothing(void **state)
{
	fake_store s = {.base = {&fake_ops}};
	assert_int_equal(cairn_store_put(&s.base, "data/.tmp-x", "abc", 3, 0), 0);
	items_text seen = {""};
	assert_int_equal(cairn_store_list_temp(&s.base, print_item, &seen), 0);
	assert_string_equal(seen.text, "");
	free(s.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_store__putv_without_the_backends_own_reads_file_pieces),
	    cmocka_unit_test(test_store__putv_named_names_the_joined_bytes_by_their_hash),
	    cmocka_unit_test(test_store__a_short_file_piece_is_an_error_and_stores_nothing),
	    cmocka_unit_test(test_store__list_items_without_the_backends_own_lists_with_mtime_0),
	    cmocka_unit_test(test_store__list_temp_without_the_backends_own_lists_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Lists a store's objects with their modification times, for the
 * end-to-end tests, one "KEY SIZE MTIME" line each:
 *
 *   store_items LOCATION [PREFIX]   cairn_store_list_items
 *   store_items --temp LOCATION     cairn_store_list_temp
 *
 * Exits 0, or 1 with the library's message. */
#include "cairn/errors.h"
#include "cairn/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int print_item(const cairn_store_item *item, void *ud)
{
	(void)ud;
	printf("%s %" PRIu64 " %" PRId64 "\n", item->key, item->size, item->mtime);
	return 0;
}

int main(int argc, char **argv)
{
	int temp = argc > 1 && strcmp(argv[1], "--temp") == 0;
	if (argc < 2 + temp || argc > 3) {
		fprintf(stderr,
		        "usage: store_items LOCATION [PREFIX] | store_items --temp LOCATION\n");
		return 2;
	}
	cairn_store *s = NULL;
	int rc = cairn_store_open(&s, argv[1 + temp], 0);
	if (!rc)
		rc = temp ? cairn_store_list_temp(s, print_item, NULL)
		          : cairn_store_list_items(s, argc > 2 ? argv[2] : "", print_item, NULL);
	cairn_store_free(s);
	if (rc) {
		fprintf(stderr, "store_items: %s\n", cairn_error_last());
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

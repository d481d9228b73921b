/* Index objects (index/<id>), after they were opened: the plaintext. */
#include "cairn/indexfile.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	cairn_index_entry *entries = NULL;
	size_t count = 0;
	if (cairn_indexfile_decode(data, len, &entries, &count) == 0 && !entries)
		abort();
	free(entries);
	return 0;
}

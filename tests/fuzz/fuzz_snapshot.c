/* Snapshot records, after they were opened: the JSON. */
#include "cairn/snapshot.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	cairn_snapshot s;
	if (cairn_snapshot_from_json(&s, data, len) == 0)
		cairn_snapshot_clear(&s);
	return 0;
}

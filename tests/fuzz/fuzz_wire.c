/* The index server's bodies: a register body as cairn-server parses it
 * from any client, and a lookup answer as a client parses it from a
 * server (the first input byte says how many fingerprints were asked). */
#include "cairn/wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static cairn_index_entry out[CAIRN_WIRE_REGISTER_MAX];
	static uint8_t fps[256][32], found[256];
	size_t n;
	if (len <= CAIRN_WIRE_BODY_MAX)
		(void)cairn_wire_entries_decode(data, len, out, &n);
	if (len >= 1) {
		size_t asked = data[0];
		for (size_t i = 0; i < asked; i++)
			memset(fps[i], (int)i + 1, 32);
		(void)cairn_wire_answers_decode(data + 1, len - 1, (const uint8_t(*)[32])fps, asked,
		                                out, found);
	}
	return 0;
}

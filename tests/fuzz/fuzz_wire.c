/* The index server's bodies: a register, scan, drop or reject request as
 * cairn-server parses it from any client, and a lookup, rows or scan
 * answer as a client parses it from a server (the first input byte says
 * how many fingerprints or rows were asked for; a scan answer is read
 * after a cursor when the second byte is odd; a rows answer keeps up to
 * the second byte's low three bits plus one rows of each). */
#include "cairn/wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static cairn_index_entry out[CAIRN_WIRE_REGISTER_MAX];
	static cairn_index_entry rows[256 * CAIRN_INDEX_ROWS_MAX];
	static uint8_t fps[256][32], found[256];
	size_t n;
	if (len <= CAIRN_WIRE_BODY_MAX)
		(void)cairn_wire_entries_decode(data, len, out, &n);
	cairn_index_entry after;
	const uint8_t(*packs)[32];
	int has_after, end;
	uint32_t max;
	(void)cairn_wire_scan_request_decode(data, len, &after, &has_after, &max);
	(void)cairn_wire_packs_decode(data, len, &packs, &n);
	if (len <= CAIRN_WIRE_BODY_MAX)
		(void)cairn_wire_rejects_decode(data, len, out, &n);
	if (len >= 2) {
		memset(&after, 0x80, sizeof(after));
		(void)cairn_wire_scan_answer_decode(data + 2, len - 2, data[1] & 1 ? &after : NULL,
		                                    data[0], out, &n, &end);
	}
	if (len >= 1) {
		size_t asked = data[0];
		for (size_t i = 0; i < asked; i++)
			memset(fps[i], (int)i + 1, 32);
		(void)cairn_wire_answers_decode(data + 1, len - 1, (const uint8_t(*)[32])fps, asked,
		                                out, found);
		if (len >= 2)
			(void)cairn_wire_rows_decode(data + 2, len - 2, (const uint8_t(*)[32])fps,
			                             asked, (data[1] & 7) + 1, rows, found);
	}
	return 0;
}

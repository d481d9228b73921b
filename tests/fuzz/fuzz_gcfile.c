/* Prune's and check's records (gc/), after they were opened: the
 * plaintext. Whatever decodes must encode and decode again alike. */
#include "cairn/buf.h"
#include "format/gcfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	cairn_gc_record rec, back;
	cairn_buf again = CAIRN_BUF_INIT;
	if (cairn_gc_record_decode(&rec, data, len) != 0)
		return 0;
	if (cairn_gc_record_encode(&again, &rec) != 0 ||
	    cairn_gc_record_decode(&back, again.data, again.len) != 0)
		abort();
	if (back.type != rec.type || back.generation != rec.generation ||
	    back.n_packs != rec.n_packs || back.n_snapshots != rec.n_snapshots ||
	    back.n_keys != rec.n_keys || back.n_lost != rec.n_lost ||
	    (back.n_lost && memcmp(back.lost, rec.lost, back.n_lost * sizeof(*back.lost))))
		abort();
	cairn_gc_record_clear(&back);
	cairn_buf_free(&again);
	cairn_gc_record_clear(&rec);
	return 0;
}

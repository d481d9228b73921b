/* Field-by-field equality of two index entries, for the index tests. */
#ifndef CAIRN_TEST_INDEX_ENTRY_ASSERT_H
#define CAIRN_TEST_INDEX_ENTRY_ASSERT_H

#include "cairn/sys/index.h"

static inline void assert_entry_equal(const cairn_index_entry *a, const cairn_index_entry *b)
{
	assert_memory_equal(a->fp, b->fp, 32);
	assert_memory_equal(a->pack, b->pack, 32);
	assert_int_equal(a->offset, b->offset);
	assert_int_equal(a->length, b->length);
	assert_int_equal(a->raw_length, b->raw_length);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->inner, b->inner);
}

#endif

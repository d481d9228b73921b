/* The index core's table, saved whole when the core closes cleanly so
 * that the next open reads one file instead of every row of the shards
 * (see core_table.c for when a saved table is believed). */
#ifndef CAIRN_INDEX_CORE_TABLE_H
#define CAIRN_INDEX_CORE_TABLE_H

#include "index/memtable.h"

/* After the shards in dir are closed: saves mt to dir/table, stamped with
 * the shards' sizes and times; leaves no table if that fails. */
void cairn_core_table_save(const char *dir, unsigned nshards, cairn_memtable *mt);
/* Before the shards are opened: the table saved in dir if no shard changed
 * since, else NULL. Removes the file either way. */
cairn_memtable *cairn_core_table_load(const char *dir, unsigned nshards);

#endif

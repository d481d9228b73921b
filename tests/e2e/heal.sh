# Recovering from damage to the repository's own records.
# `cairn index rebuild` with the index/ objects lost (all of them, or one)
# recovers the blobs from the packs' trailers and writes new index/
# objects: restore is bit for bit and the next backup adds nothing; a pack
# with a damaged trailer is named, the rest recovered, exit 3.
# shellcheck source=lib.sh
source "$E2E_LIB"

SRC="$T/src"
mkdir -p "$SRC/sub"
for i in 1 2 3 4 5 6; do
	gen_file "$SRC/sub/f$i" $((i * 600000)) "heal$i"
done
for i in $(seq 1 40); do
	printf 'small file %d\n' "$i" >"$SRC/s$i"
done
init_repo --chunk-min 64K --chunk-avg 256K --chunk-max 1M
backup "$SRC"
require_rc 0 "the first backup exits 0"
gen_file "$SRC/sub/g1" 1500000 heal-g1
backup "$SRC"
require_rc 0 "a second backup exits 0"

packs() { find "$CAIRN_REPO/data" -type f | sort; }
npacks=$(packs | wc -l)
nobjects=$(find "$CAIRN_REPO/index" -type f | wc -l)
require "the repository holds several packs ($npacks) and index objects ($nobjects)" \
	test "$npacks" -ge 3 -a "$nobjects" -ge 3
cp -a "$CAIRN_REPO" "$T/pristine"

# Restores latest into DIR and compares it with the source.
restore_ok()
{
	rm -rf "$1"
	run cairn restore latest --target "$1"
	check_rc 0 "$2: restore exits 0"
	run treecmp "$SRC" "$1$SRC"
	check_rc 0 "$2: the tree is restored bit for bit"
}

# A copy of the tree at another path has no parent: every chunk is read
# and must be found in the index.
backup_copy_adds_nothing()
{
	rm -rf "$T/copy"
	cp -a "$SRC" "$T/copy"
	rm -rf "$CAIRN_CACHE_DIR"
	backup "$T/copy"
	check_rc 0 "$1: a backup of a copy exits 0"
	check "$1: it reads the copy" test "$(summary bytes_read)" -gt 0
	check_eq "$1: it stores no new data chunk" "$(summary blobs_added)" 0
	check "$1: it adds almost nothing ($(summary bytes_added) bytes)" \
		test "$(summary bytes_added)" -lt 200000
	backup "$SRC"
	check_rc 0 "$1: the next backup of the same tree exits 0"
	check_eq "$1: and stores no new data chunk" "$(summary blobs_added)" 0
	check_eq "$1: nor reads anything" "$(summary bytes_read)" 0
}

say "every index/ object and the cache lost"
rm -f "$CAIRN_REPO"/index/*
rm -rf "$CAIRN_CACHE_DIR"
run cairn restore latest --target "$T/r0"
check "without them a restore fails" test "$RC" -ne 0
run cairn index rebuild --json
check_rc 0 "index rebuild exits 0"
check_eq "it imports no index object" "$(json_get imported)" 0
check_eq "it imports every pack by its trailer" "$(json_get packs_from_trailers)" "$npacks"
check "it imports their blobs ($(json_get blobs_from_trailers))" \
	test "$(json_get blobs_from_trailers)" -gt 10
check_eq "and writes one new index object for them" "$(json_get objects_written)" 1
check_eq "the store holds it" "$(find "$CAIRN_REPO/index" -type f | wc -l)" 1
run cairn index rebuild
check_rc 0 "a second rebuild exits 0"
check_grep "it says how many index objects it imported" '^imported 1 index object$' "$OUT"
check_grep "and that no pack needed its trailer" '^imported 0 packs by their trailers$' "$OUT"
restore_ok "$T/r1" "after the rebuild"
backup_copy_adds_nothing "after the rebuild"

say "one index/ object lost"
rm -rf "$CAIRN_REPO" "$CAIRN_CACHE_DIR"
cp -a "$T/pristine" "$CAIRN_REPO"
victim=$(find "$CAIRN_REPO/index" -type f | sort | head -n 1)
rm -f "$victim"
run cairn index rebuild
check_rc 0 "index rebuild exits 0"
check_grep "it imports the other index objects" "^imported $((nobjects - 1)) index objects$" "$OUT"
check_grep "and one pack by its trailer" '^imported 1 pack by its trailer \(' "$OUT"
restore_ok "$T/r2" "after the rebuild"
backup_copy_adds_nothing "after the rebuild"

say "a damaged index/ object"
rm -rf "$CAIRN_REPO" "$CAIRN_CACHE_DIR"
cp -a "$T/pristine" "$CAIRN_REPO"
victim=$(find "$CAIRN_REPO/index" -type f | sort | head -n 1)
printf 'X' | dd of="$victim" bs=1 seek=40 conv=notrunc status=none
run cairn index rebuild --json
check_rc 0 "index rebuild exits 0: its pack is recovered"
check_grep "the damaged object is named" "index/$(basename "$victim")" "$ERR"
check_eq "it is counted" "$(json_get objects_damaged)" 1
check_eq "its pack is imported by its trailer" "$(json_get packs_from_trailers)" 1
restore_ok "$T/r3" "after the rebuild"

say "every index/ object lost and one pack's trailer damaged"
rm -rf "$CAIRN_REPO" "$CAIRN_CACHE_DIR"
cp -a "$T/pristine" "$CAIRN_REPO"
rm -f "$CAIRN_REPO"/index/*
bad=$(find "$CAIRN_REPO/data" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
size=$(stat -c %s "$bad")
# Inside the sealed trailer, just before its length.
printf 'X' | dd of="$bad" bs=1 seek=$((size - 12)) conv=notrunc status=none
run cairn index rebuild --json
check_rc 3 "index rebuild exits 3"
check_grep "the pack is named" "data/../$(basename "$bad")" "$ERR"
check_eq "it is counted" "$(json_get packs_damaged)" 1
check_eq "every other pack is imported by its trailer" "$(json_get packs_from_trailers)" \
	$((npacks - 1))
rm -rf "$T/r4"
run cairn restore latest --target "$T/r4"
check_rc 3 "a restore then exits 3: the damaged pack's files are missing"
same=0
for f in $(cd "$SRC" && find . -type f); do
	cmp -s "$SRC/$f" "$T/r4$SRC/$f" && same=$((same + 1))
done
check "the other files are restored bit for bit ($same)" test "$same" -ge 1

e2e_finish

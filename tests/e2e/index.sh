# The embedded index is only an accelerator: with the cache directory
# gone, restore still works from the store's index/ objects, and
# `cairn index rebuild` recreates an index that deduplicates.
# shellcheck source=lib.sh
source "$E2E_LIB"

SRC="$T/src"
mkdir -p "$SRC/sub"
for i in 1 2 3 4 5; do
	gen_file "$SRC/sub/f$i" $((i * 700000)) "index$i"
done
printf 'text\n' >"$SRC/t"
init_repo
backup "$SRC"
require_rc 0 "backup exits 0"
check "the store holds index objects" test -n "$(find "$CAIRN_REPO/index" -type f)"
check "the cache directory holds the embedded index" test -n "$(find "$CAIRN_CACHE_DIR" -type f 2>/dev/null)"

say "restore with the cache directory deleted"
rm -rf "$CAIRN_CACHE_DIR" "$XDG_CACHE_HOME"
run cairn restore "$SNAP" --target "$T/r1"
check_rc 0 "restore without a cache exits 0"
run treecmp "$SRC" "$T/r1$SRC"
cat "$OUT"
check_rc 0 "and restores the tree bit for bit"

say "cairn index rebuild"
rm -rf "$CAIRN_CACHE_DIR" "$XDG_CACHE_HOME"
run cairn index rebuild
check_rc 0 "index rebuild without a cache exits 0"
run cairn index rebuild
check_rc 0 "index rebuild over an existing index exits 0"
run cairn restore "$SNAP" --target "$T/r2"
check_rc 0 "restore after the rebuild exits 0"
run treecmp "$SRC" "$T/r2$SRC"
cat "$OUT"
check_rc 0 "and restores the tree bit for bit"

say "the rebuilt index deduplicates"
# A copy at another path has no parent in the files cache, so every file
# is read and chunked and each chunk must be found in the index.
cp -a "$SRC" "$T/copy"
backup "$T/copy"
check_rc 0 "backup of a copy exits 0"
check "it reads the copy" test "$(summary bytes_read)" -gt 0
check_eq "it stores no new data chunk" "$(summary blobs_added)" 0

e2e_finish

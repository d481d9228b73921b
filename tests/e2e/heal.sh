# Recovering from damage to the repository's own records. A restore with
# the index/ objects and the cache lost reads the packs' trailers.
# `cairn index rebuild` with the index/ objects lost (all of them, or one)
# recovers the blobs from the packs' trailers and writes new index/
# objects: restore is bit for bit (bundled small files included) and the
# next backup adds nothing; a pack with a damaged trailer is named, the
# rest recovered, exit 3; the same from an S3 store.
# A damaged snapshot record is named and passed over by snapshots, backup,
# restore latest, ls latest and forget (embedded index and index server),
# while naming it is an error and prefixes still count it.
# Packs lost from data/ heal: check drops them from the index and writes
# the loss down, the next backup stores the chunks again (unchanged files
# included), and every snapshot restores and checks whole again.
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
REPO_ID=$(json_get id)
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
# The store's own record is the packs' trailers then: a restore reads
# them (and writes nothing to the store).
restore_ok "$T/r0" "without them, from the packs' trailers"
check_eq "that restore writes no index object" "$(find "$CAIRN_REPO/index" -type f | wc -l)" 0
rm -rf "$CAIRN_CACHE_DIR"
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
flip_byte "$victim" 40
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
# Inside the sealed trailer, just before its length (a changed byte: one
# written over could be the byte that was there).
flip_byte "$bad" $((size - 12))
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

say "every index/ object lost in an S3 store"
AK=cairn-e2e
SK=cairn-e2e-secret
require "the S3 server starts" s3_start "$T/s3" --bucket cairn --access-key "$AK" \
	--secret-key "$SK"
(
	s3_client_env "$AK" "$SK"
	export CAIRN_REPO="s3:$S3_ENDPOINT/cairn/repo" CAIRN_CACHE_DIR="$T/cache-s3"
	init_repo --chunk-min 64K --chunk-avg 256K --chunk-max 1M
	backup "$SRC"
	check_rc 0 "a backup into S3 exits 0"
	# The server keeps each object as files named after its key.
	rm -rf "$T/s3/data/cairn/repo/index" "$CAIRN_CACHE_DIR"
	run cairn index rebuild --json
	check_rc 0 "index rebuild exits 0"
	check "it imports the packs by their trailers, read by ranges ($(json_get packs_from_trailers))" \
		test "$(json_get packs_from_trailers)" -ge 2
	restore_ok "$T/r5" "S3"
	exit "$e2e_failed"
)
e2e_failed=$((e2e_failed + $?))
s3_stop "$T/s3"

# ---- damaged snapshot records ----

say "three snapshots, the newest record damaged"
export CAIRN_REPO="$T/repo2" CAIRN_CACHE_DIR="$T/cache2"
init_repo --no-encryption
# No password for it: a client given one refuses an unencrypted repository
# it has not seen before (docs/SECURITY.md), as the one of cache3 below.
saved_password=$CAIRN_PASSWORD
unset CAIRN_PASSWORD
REPO_ID=$(json_get id)
SRC="$T/src2"
mkdir -p "$SRC"
gen_file "$SRC/a" 300000 snap-a
backup "$SRC"
s1=$SNAP
printf 'two\n' >"$SRC/b"
backup "$SRC"
s2=$SNAP
cp -a "$SRC" "$T/src2-at-s2"
printf 'three\n' >"$SRC/c"
backup "$SRC"
s3=$SNAP
require "three snapshots" test -n "$s1" -a -n "$s2" -a -n "$s3"
rec="$CAIRN_REPO/snapshots/$s3"
flip_byte "$rec" 30

snapshots_skip_damaged()
{
	run cairn snapshots --json
	check_rc 3 "$1: snapshots exits 3"
	check_grep "$1: it names the damaged record and why" \
		"snapshots/$s3: content does not match its id" "$ERR"
	ids=$("$PYTHON" -c 'import json,sys; print(" ".join(s["id"] for s in json.load(open(sys.argv[1]))))' "$OUT")
	check_eq "$1: it lists the two others" "$ids" "$s1 $s2"
	run cairn snapshots
	check_rc 3 "$1: snapshots in text exits 3 too"
	check_grep "$1: it lists the others" "^${s2:0:8} " "$OUT"
}

restore_latest_skips()
{
	rm -rf "$T/rl"
	run cairn restore latest --target "$T/rl"
	check_rc 3 "$1: restore latest exits 3"
	check_grep "$1: it names the damaged record" "snapshots/$s3" "$ERR"
	check_grep "$1: it says which snapshot it uses" "latest: using snapshot ${s2:0:8} " "$ERR"
	run treecmp "$T/src2-at-s2" "$T/rl$SRC"
	check_rc 0 "$1: it restores that snapshot bit for bit"
	run cairn ls latest
	check_rc 3 "$1: ls latest exits 3"
	check_grep "$1: it lists that snapshot" "^$SRC/b$" "$OUT"
	check "$1: without the damaged one's file" test "$(grep -c "^$SRC/c$" "$OUT")" -eq 0
	rm -rf "$T/r-s1"
	run cairn restore "${s1:0:12}" --target "$T/r-s1"
	check_rc 0 "$1: restoring another snapshot by its id exits 0"
	check_eq "$1: and warns of nothing (it says which snapshot it uses)" \
		"$(grep -v "^using snapshot ${s1:0:8} " "$ERR")" ""
	run cairn restore "${s3:0:12}" --target "$T/r-s3"
	check_rc 1 "$1: restoring the damaged one is an error"
	check_grep "$1: that names it" "snapshots/$s3" "$ERR"
	run cairn ls "$s3"
	check_rc 1 "$1: listing the damaged one is an error"
}

snapshots_skip_damaged "embedded"
restore_latest_skips "embedded"

say "backup with a damaged record"
backup "$SRC"
check_rc 3 "backup exits 3"
check_grep "it names the damaged record" "snapshots/$s3" "$ERR"
check_grep "and says the snapshot was saved" "snapshot saved, but 1 snapshot record" "$ERR"
s4=$SNAP
check "it saved a snapshot" test -n "$s4" -a -f "$CAIRN_REPO/snapshots/$s4"
run cairn snapshots --json
parent=$("$PYTHON" -c 'import json,sys; print([s.get("parent", "") for s in json.load(open(sys.argv[1])) if s["id"] == sys.argv[2]][0])' "$OUT" "$s4")
check_eq "its parent is the newest readable snapshot of the paths" "$parent" "$s2"
check_eq "unchanged files came from it" "$(summary files_unchanged)" 2
rm -rf "$T/r-s4"
run cairn restore "$s4" --target "$T/r-s4"
check_rc 0 "the new snapshot restores"
run treecmp "$SRC" "$T/r-s4$SRC"
check_rc 0 "bit for bit"

say "prefixes still count the damaged record"
# Snapshots until one shares the damaged record's first digit.
p=${s3:0:1}
for i in $(seq 1 80); do
	[ "$(find "$CAIRN_REPO/snapshots" -name "$p*" | wc -l)" -ge 2 ] && break
	"$CAIRN_BIN" backup --quiet --tag "t$i" "$SRC" </dev/null >/dev/null 2>&1
done
require "another record shares the digit $p" \
	test "$(find "$CAIRN_REPO/snapshots" -name "$p*" | wc -l)" -ge 2
run cairn restore "$p" --target "$T/r-p"
check_rc 1 "a prefix of the damaged record and another is ambiguous"
check_grep "it says so" "ambiguous" "$ERR"

say "forget with a damaged record"
run cairn forget --keep-last 2 --dry-run --json
check_rc 3 "forget by a policy works, and exits 3 for the record it passed over"
check_grep "it names the damaged record" "snapshots/$s3" "$ERR"
check "it would remove none but readable ones" test "$(grep -c "$s3" "$OUT")" -eq 0

say "with an index server"
DATA="$T/server"
require "the server starts" server_start "$DATA"
TOKEN=$(server_token "$DATA" "$REPO_ID" admin)
export CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN="$TOKEN"
CAIRN_CACHE_DIR="$T/cache3" run cairn index rebuild --json
check_rc 0 "index rebuild fills the server"
count=$(json_get snapshots_registered)
records=$(find "$CAIRN_REPO/snapshots" -type f | wc -l)
check "its catalogue lists every record, the damaged one too ($count of $records)" \
	test "$count" -eq "$records" -a "$records" -ge 4
run cairn forget --keep-last 100 --group-by '' --json
check_rc 3 "forget through the server works (exit 3: a record passed over)"
CAIRN_CACHE_DIR="$T/cache3" run cairn snapshots --json
check_rc 3 "server: snapshots exits 3"
check_grep "server: it names the damaged record" "snapshots/$s3" "$ERR"
n=$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT")
check_eq "server: it lists the others" "$n" $((count - 1))
CAIRN_CACHE_DIR="$T/cache3" run cairn restore latest --target "$T/rs"
check_rc 3 "server: restore latest exits 3"
check_grep "server: it names the damaged record" "snapshots/$s3" "$ERR"
run cairn restore "$p" --target "$T/r-p2"
check_rc 1 "server: the prefix is still ambiguous"
CAIRN_CACHE_DIR="$T/cache3" run cairn restore "$s4" --target "$T/rs4"
check_rc 0 "server: another snapshot by id exits 0"
CAIRN_CACHE_DIR="$T/cache3" backup "$SRC"
check_rc 3 "server: backup exits 3"
check_grep "server: it names the damaged record" "snapshots/$s3" "$ERR"

say "forgetting the damaged record ends the warnings"
run cairn forget "$s3"
check_rc 0 "forget of the damaged record by its id exits 0"
check "its record is gone" test ! -e "$rec"
run cairn snapshots
check_rc 0 "snapshots exits 0 again"
unset CAIRN_INDEX CAIRN_INDEX_TOKEN
run cairn snapshots
check_rc 0 "without the server too"
server_stop

say "lost packs heal: check forgets them, the next backup stores their chunks again"
export CAIRN_REPO="$T/repo-lost" CAIRN_PASSWORD="$saved_password"
HEAL="$T/heal-src"
mkdir -p "$HEAL"
gen_file "$HEAL/a" 2000000 lost-a
gen_file "$HEAL/b" 2000000 lost-b
init_repo
backup "$HEAL"
require_rc 0 "a backup exits 0"
first=$SNAP
# The packs of the file data (the manifest's is the small one).
find "$CAIRN_REPO/data" -type f -size +100k -delete
backup "$HEAL"
check_rc 0 "a backup after the data packs were lost still exits 0"
check_eq "and trusts its files cache" "$(summary files_unchanged)" 2
check "adding no file data" test "$(summary bytes_added)" -lt 10000
run cairn check --json
check_rc 3 "check finds the loss (exit 3)"
check "and writes it down" test "$(json_get lost_chunks)" -gt 0
check "the index forgets the missing packs" test "$(json_get packs_forgotten)" -gt 0
backup "$HEAL"
check_rc 0 "the next backup exits 0"
check_eq "it reads the unchanged files again" "$(summary files_unchanged)" 0
check "and stores their chunks again" test "$(summary bytes_added)" -gt 3900000
run cairn check --read-data --json
check_rc 0 "check exits 0: every snapshot is whole again"
check_eq "and the loss record is retired" "$(json_get lost_retired)" 1
check "no loss record is left" test -z "$(find "$CAIRN_REPO/gc" -name '*-lost')"
rm -rf "$T/heal-r"
run cairn restore "$first" --target "$T/heal-r"
check_rc 0 "the first snapshot restores"
run treecmp "$HEAL" "$T/heal-r$HEAL"
check_rc 0 "bit for bit"
backup "$HEAL"
check_eq "and the backup after trusts its files cache again" "$(summary files_unchanged)" 2

e2e_finish

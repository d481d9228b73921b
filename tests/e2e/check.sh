# cairn check on real repositories: a clean one passes (structure, every
# pack read, the halves 1/2 and 2/2 reading every pack once); a deleted
# pack, a truncated pack, a flipped byte in a blob (found by --read-data
# only), a damaged snapshot record, a deleted index object and an index
# entry at the wrong offset each exit 3 naming the object and the
# snapshots and files that need it; unreferenced
# packs are not damage; the same through an index server.
# shellcheck source=lib.sh
source "$E2E_LIB"

MIB=$((1024 * 1024))
SRC="$T/src"
mkdir -p "$SRC/a" "$SRC/b" "$SRC/c"
for i in 1 2 3 4; do
	gen_file "$SRC/a/big$i" $((i * MIB + 1234 * i)) "check-a$i"
done
for i in $(seq 1 40); do
	printf 'small file %d\n' "$i" >"$SRC/a/small$i"
done

init_repo --chunk-min 64K --chunk-avg 256K --chunk-max 1M
backup "$SRC"
require_rc 0 "backup 1 exits 0"
SNAP1=$SNAP
for i in 1 2 3; do
	gen_file "$SRC/b/mid$i" $((2 * MIB + 77 * i)) "check-b$i"
done
backup "$SRC"
require_rc 0 "backup 2 exits 0"
SNAP2=$SNAP
gen_file "$SRC/c/late" $((3 * MIB)) check-c
backup "$SRC"
require_rc 0 "backup 3 exits 0"
SNAP3=$SNAP

PRISTINE="$T/pristine"
cp -a "$CAIRN_REPO" "$PRISTINE"
cp -a "$CAIRN_CACHE_DIR" "$PRISTINE-cache"
# Puts the undamaged repository back, and the index as it was: check
# heals what it finds lost, which changes both.
pristine()
{
	rm -rf "$CAIRN_REPO" "$CAIRN_CACHE_DIR"
	cp -a "$PRISTINE" "$CAIRN_REPO"
	cp -a "$PRISTINE-cache" "$CAIRN_CACHE_DIR"
}

# pyq EXPR: evaluates EXPR with doc, the JSON document in $OUT, and prints it.
pyq()
{
	"$PYTHON" - "$1" "$OUT" <<-'EOF'
		import json, sys
		doc = json.load(open(sys.argv[2], "rb"))
		print(eval(sys.argv[1]))
	EOF
}

# The packs, largest first.
packs()
{
	find "$CAIRN_REPO/data" -type f -printf '%s %p\n' | sort -rn | cut -d' ' -f2-
}

n_packs=$(packs | wc -l)
pack_bytes=$(find "$CAIRN_REPO/data" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
require "the backups wrote several packs ($n_packs)" test "$n_packs" -ge 4

say "a clean repository"
run cairn check
check_rc 0 "check exits 0"
check_grep "it says so" '^no problems found$' "$OUT"
check_grep "it counts the three snapshots and every pack" \
	"^checked 3 snapshots, [0-9]+ index objects, $n_packs packs" "$OUT"
check_eq "no progress line without a terminal" "$(cat "$ERR")" ""
run cairn check --json
check_rc 0 "check --json exits 0"
check_eq "ok is true" "$(json_get ok)" true
check_eq "it counts the snapshots" "$(json_get snapshots)" 3
check_eq "it counts the packs" "$(json_get packs)" "$n_packs"
check_eq "it counts their bytes" "$(json_get pack_bytes)" "$pack_bytes"
check_eq "there are no problems" "$(pyq 'len(doc["problems"])')" 0
check_eq "nothing is unreferenced" "$(json_get packs_unreferenced)" 0
check "it counts the referenced chunks" test "$(json_get chunks)" -gt 20
check_eq "and reads no pack" "$(json_get packs_read)" 0
run cairn check --read-data --json
check_rc 0 "check --read-data exits 0"
check_eq "it reads every pack" "$(json_get packs_read)" "$n_packs"
check_eq "every byte of them" "$(json_get bytes_read)" "$pack_bytes"
check "and checks their blobs" test "$(json_get blobs_read)" -gt 20
blobs_all=$(json_get blobs_read)

run cairn check --read-data-subset 1/2 --json
check_rc 0 "--read-data-subset 1/2 exits 0"
half1=$(json_get packs_read)
bytes1=$(json_get bytes_read)
blobs1=$(json_get blobs_read)
run cairn check --read-data-subset 2/2 --json
check_rc 0 "--read-data-subset 2/2 exits 0"
half2=$(json_get packs_read)
bytes2=$(json_get bytes_read)
blobs2=$(json_get blobs_read)
check_eq "the halves read every pack once ($half1 + $half2)" $((half1 + half2)) "$n_packs"
check_eq "and every byte once" $((bytes1 + bytes2)) "$pack_bytes"
check_eq "and every blob once" $((blobs1 + blobs2)) "$blobs_all"
# Which half each pack is in: the first 8 bytes of its id, modulo 2.
want1=$(packs | xargs -n1 basename | while read -r id; do
	[ $((16#${id:15:1} % 2)) -eq 0 ] && echo "$id"
done | wc -l)
check_eq "1/2 reads the packs whose id's first 8 bytes are even" "$half1" "$want1"
total3=0
for part in 1 2 3; do
	run cairn check --read-data-subset "$part/3" --json
	total3=$((total3 + $(json_get packs_read)))
done
check_eq "the thirds read every pack once" "$total3" "$n_packs"
run cairn check --read-data-subset 1% --json
check_rc 0 "--read-data-subset 1% exits 0"
check_eq "1% reads one pack at least" "$(json_get packs_read)" 1
run cairn check --read-data-subset 100% --json
check_eq "100% reads every pack" "$(json_get packs_read)" "$n_packs"

for bad in 0/3 4/3 0% 101% abc 1/0 50; do
	run cairn check --read-data-subset "$bad"
	check_rc 1 "--read-data-subset $bad exits 1"
	check_grep "and names the option" "read-data-subset" "$ERR"
done
run cairn check --read-data --read-data-subset 1/2
check_rc 1 "--read-data with --read-data-subset exits 1"
run cairn check extra
check_rc 1 "an operand exits 1"

say "a deleted pack"
big=$(packs | head -n 1)
big_id=$(basename "$big")
rm "$big"
run cairn check --json
check_rc 3 "check --json exits 3"
check_eq "ok is false" "$(json_get ok)" false
check_eq "the problem names the pack, snapshots and files" "$(pyq "any(p['kind'] == \
'pack-missing' and '$big_id' in p['object'] and '$SNAP1' in p['snapshots'] and p['files'] \
and all(f.startswith('$SRC/') for f in p['files']) and p['files_total'] >= len(p['files']) \
for p in doc['problems'])")" True
check_eq "the index object that lists it is named too" "$(pyq "any(p['kind'] == \
'index-pack-missing' and p['object'].startswith('index/') and '$big_id' in p['detail'] \
for p in doc['problems'])")" True
check_eq "the index forgets the pack" "$(json_get packs_forgotten)" 1
check "and the chunks lost with it are written down" test "$(json_get lost_chunks)" -gt 0
run cairn check
check_rc 3 "check again exits 3"
check_grep "it still names the pack" "^pack-missing data/${big_id:0:2}/$big_id" "$OUT"
check_grep "and the snapshots that need it" "needed by [0-9]+ snapshots?:.*${SNAP1:0:8}" "$OUT"
check_grep "and a file that needs it" "^    $SRC/" "$OUT"
check_grep "stderr says problems were found" "check found [0-9]+ problems?" "$ERR"
check "but no index object lists it any more" test -z "$(grep '^index-pack-missing' "$OUT")"
pristine

say "a truncated pack"
size=$(stat -c %s "$big")
truncate -s $((size / 2)) "$big"
run cairn check
check_rc 3 "check exits 3"
check_grep "it names the pack" "data/${big_id:0:2}/$big_id" "$OUT"
check_grep "its trailer does not read" "^pack-trailer data/${big_id:0:2}/$big_id" "$OUT"
check_grep "and it is short" "^pack-short data/${big_id:0:2}/$big_id" "$OUT"
pristine

say "one flipped byte in a blob"
flip_byte "$big" $((size / 4))
run cairn check
check_rc 0 "check of the structure exits 0"
run cairn check --read-data
check_rc 3 "check --read-data exits 3"
cp "$OUT" "$T/read.out"
check_grep "it names the damaged blob by pack and offset" \
	"^blob data/${big_id:0:2}/$big_id at offset [0-9]+" "$OUT"
check_grep "and that the pack does not hash to its id" "^pack-id data/${big_id:0:2}/$big_id" \
	"$OUT"
run cairn restore "$SNAP3" --target "$T/restore"
check_rc 3 "restore of the damaged snapshot exits 3"
damaged=$(grep -o "$SRC/[^:]*" "$ERR" | sort -u)
check "restore names a damaged file" test -n "$damaged"
for f in $damaged; do
	check_grep "check names $f, which restore could not restore" "^    $f\$" "$T/read.out"
done
run cairn check --read-data --json
check_eq "the blob problem has its offset, snapshots and files" "$(pyq "[(p['offset'] > 0, \
len(p['snapshots']), len(p['files']) > 0) for p in doc['problems'] if p['kind'] == 'blob']")" \
	"[(True, 3, True)]"
rcs=""
for part in 1 2; do
	run cairn check --read-data-subset "$part/2"
	rcs="$rcs$RC"
done
check "exactly one half finds it ($rcs)" test "$rcs" = 03 -o "$rcs" = 30
pristine

say "a flipped byte in a snapshot record, and a deleted pack"
flip_byte "$CAIRN_REPO/snapshots/$SNAP1" 40
rm "$big"
run cairn check --json
check_rc 3 "check exits 3"
check_eq "the record is named" "$(pyq "[p['object'] for p in doc['problems'] \
if p['kind'] == 'snapshot']")" "['snapshots/$SNAP1']"
check_eq "the other snapshots are still checked: they need the missing pack" \
	"$(pyq "[sorted(p['snapshots']) for p in doc['problems'] if p['kind'] == 'pack-missing']")" \
	"$("$PYTHON" -c 'import sys; print([sorted(sys.argv[1:])])' "$SNAP2" "$SNAP3")"
check_eq "all three records were counted" "$(json_get snapshots)" 3
run cairn check
check_grep "the text names snapshots/<id>" "^snapshot snapshots/$SNAP1\$" "$OUT"
pristine

say "a deleted index object"
idx=$(find "$CAIRN_REPO/index" -type f | head -n 1)
rm "$idx"
run cairn check --json
check_rc 3 "check exits 3"
unindexed=$(pyq "[p['object'] for p in doc['problems'] if p['kind'] == 'pack-unindexed']")
check_eq "one pack's blobs are listed by no index object" "$(pyq "len([p for p in \
doc['problems'] if p['kind'] == 'pack-unindexed'])")" 1
check_eq "that is the only problem" "$(pyq 'len(doc["problems"])')" 1
pack=$(pyq "[p['object'] for p in doc['problems'] if p['kind'] == 'pack-unindexed'][0]")
check "the pack named is in data/ ($pack)" test -f "$CAIRN_REPO/$pack"
check "the snapshots needing it are named" test "$(pyq "[len(p['snapshots']) for p in \
doc['problems']][0]")" -ge 1
run cairn check
check_grep "the text names the pack" "^pack-unindexed $pack\$" "$OUT"
pristine

say "an index that places a chunk where its pack has none"
cp -a "$CAIRN_CACHE_DIR" "$T/cache-saved"
"$PYTHON" - "$CAIRN_CACHE_DIR" <<-'EOF'
	import glob, sqlite3, sys
	for db in sorted(glob.glob(sys.argv[1] + "/*/index/shard-*.db")):
	    con = sqlite3.connect(db)
	    row = con.execute("SELECT fp FROM blobs WHERE kind = 1 LIMIT 1").fetchone()
	    if row:
	        con.execute("UPDATE blobs SET offset = offset + 1 WHERE fp = ?", row)
	        con.commit()
	        break
	EOF
run cairn check --json
check_rc 3 "check exits 3"
check_eq "the pack the index names is reported, with who needs the chunk" "$(pyq "[(p['object'] \
.startswith('data/'), p['count'], len(p['files']) > 0) for p in doc['problems'] \
if p['kind'] == 'chunk-misplaced']")" "[(True, 1, True)]"
check_eq "that is the only problem" "$(pyq 'len(doc["problems"])')" 1
rm -rf "$CAIRN_CACHE_DIR"
mv "$T/cache-saved" "$CAIRN_CACHE_DIR"

say "unreferenced packs are not damage"
run cairn forget "$SNAP3"
require_rc 0 "forget of the last snapshot exits 0"
run cairn check --json
check_rc 0 "check exits 0"
check "the packs only it needed are unreferenced ($(json_get packs_unreferenced))" \
	test "$(json_get packs_unreferenced)" -ge 1
run cairn check
check_grep "the text says so" "unreferenced: no snapshot needs" "$OUT"
pristine

say "through an index server"
REPO_ID=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' \
	"$CAIRN_REPO/config")
require "the server starts" server_start "$T/server"
TOKEN=$(server_token "$T/server" "$REPO_ID" append)
export CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN="$TOKEN"
CAIRN_CACHE_DIR="$T/c-server" run cairn index rebuild
require_rc 0 "the server learns the repository's index"
CAIRN_CACHE_DIR="$T/c-server" run cairn check --read-data --json
check_rc 0 "check --read-data --index exits 0"
check_eq "it reads every pack" "$(json_get packs_read)" "$n_packs"
rm "$big"
CAIRN_CACHE_DIR="$T/c-server" run cairn check
check_rc 3 "a deleted pack: exit 3"
check_grep "it names the pack" "^pack-missing data/${big_id:0:2}/$big_id" "$OUT"
check_grep "and a file that needs it" "^    $SRC/" "$OUT"
server_stop
unset CAIRN_INDEX CAIRN_INDEX_TOKEN
pristine

say "an S3 repository"
AK=cairn-e2e
SK=cairn-e2e-secret
if ! s3_start "$T/s3" --bucket cairn --access-key "$AK" --secret-key "$SK"; then
	skip "the S3 server does not start"
	e2e_finish
fi
s3_client_env "$AK" "$SK"
export CAIRN_S3_TIMEOUT=5 CAIRN_REPO="s3:$S3_ENDPOINT/cairn/repo" CAIRN_CACHE_DIR="$T/c-s3"
init_repo --chunk-min 64K --chunk-avg 256K --chunk-max 1M
backup "$SRC/a"
require_rc 0 "a backup into S3 exits 0"
backup "$SRC/b"
require_rc 0 "a second backup exits 0"
objects=$(find "$T/s3/data/cairn/repo/data" -name '*._S3rver_object' | wc -l)
run cairn check --read-data --json
check_rc 0 "check --read-data exits 0"
check_eq "it reads every pack" "$(json_get packs_read)" "$objects"
run cairn check --read-data-subset 1/2 --json
half1=$(json_get packs_read)
run cairn check --read-data-subset 2/2 --json
check_eq "the halves read every pack once" $((half1 + $(json_get packs_read))) "$objects"
victim=$(find "$T/s3/data/cairn/repo/data" -name '*._S3rver_object' -size +1M | head -n 1)
victim_id=$(basename "${victim%._S3rver_object}")
rm -f "${victim%._S3rver_object}"._S3rver_*
run cairn check
check_rc 3 "a deleted pack: exit 3"
check_grep "it names the pack" "^pack-missing data/${victim_id:0:2}/$victim_id" "$OUT"
check_grep "and a file that needs it" "^    $SRC/" "$OUT"
s3_stop "$T/s3"

e2e_finish

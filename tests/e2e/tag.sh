#!/bin/bash
# cairn tag: tags added, removed and set write the snapshot again under a
# new id that records the first one, and remove the old record; killed in
# between, both are left; an index server's catalogue follows.
source "$E2E_LIB"

# snap_field ID FIELD: FIELD of snapshot ID in `snapshots --json` (tags
# joined with ','), or "gone".
snap_field()
{
	"$CAIRN_BIN" snapshots --json </dev/null 2>/dev/null | "$PYTHON" -c '
import json, sys
for s in json.load(sys.stdin):
    if s["id"] == sys.argv[1]:
        v = s.get(sys.argv[2], "")
        print(",".join(v) if isinstance(v, list) else v)
        break
else:
    print("gone")' "$1" "$2"
}

# new_id: the id the last `tag --json` gave.
new_id()
{
	json_get id
}

SRC="$T/src"
mkdir -p "$SRC/d"
gen_file "$SRC/big" 600000 tag1
printf 'one\n' >"$SRC/d/text"
init_repo
backup --tag a,b "$SRC"
require_rc 0 "a backup tagged a,b"
S1=$SNAP
cp -a "$SRC" "$T/copy1"
printf 'two\n' >"$SRC/d/text2"
backup --tag c "$SRC"
require_rc 0 "a second backup tagged c"
S2=$SNAP

say "tag --add"
run cairn tag --json --add x "${S1:0:8}"
check_rc 0 "tag --add x exits 0"
A=$(new_id)
check "the id changes" test "$A" != "$S1" -a ${#A} -eq 64
check_eq "the old id is gone" "$(snap_field "$S1" id)" "gone"
check_eq "the new one has the tags a,b,x" "$(snap_field "$A" tags)" "a,b,x"
check_eq "and names the first one as its original" "$(snap_field "$A" original)" "$S1"
check_eq "two snapshots, as before" "$(snapshot_count)" 2

say "tag --remove, --set"
run cairn tag --json --remove a --remove x "$A"
check_rc 0 "tag --remove exits 0"
B=$(new_id)
check_eq "tags b" "$(snap_field "$B" tags)" "b"
check_eq "the original is still the first id" "$(snap_field "$B" original)" "$S1"
check_eq "the previous id is gone" "$(snap_field "$A" id)" "gone"
run cairn tag --json --set y,z --set w "$B"
check_rc 0 "tag --set exits 0"
C=$(new_id)
check_eq "tags y,z,w" "$(snap_field "$C" tags)" "y,z,w"
run cairn tag --json --set "" "$C"
check_rc 0 "tag --set '' exits 0"
D=$(new_id)
check_eq "no tags" "$(snap_field "$D" tags)" ""
run cairn tag --json --remove nothere "$D"
check_rc 0 "a change that changes nothing exits 0"
check_eq "and says so" "$(json_get changed)" "false"
check_eq "keeping the id" "$(new_id)" "$D"
check_eq "which is still listed" "$(snap_field "$D" id)" "$D"

say "the new id restores"
run cairn restore "$D" --target "$T/r1"
check_rc 0 "restore of the new id exits 0"
run treecmp "$T/copy1" "$T/r1$SRC"
check_rc 0 "bit for bit the first backup"

say "latest, narrowed by --tag"
run cairn tag --json --add v --tag c latest
check_rc 0 "tag --add v --tag c latest exits 0"
E=$(new_id)
check_eq "it changed the snapshot tagged c" "$(snap_field "$E" original)" "$S2"
check_eq "whose tags are c,v" "$(snap_field "$E" tags)" "c,v"
run cairn tag --add v --tag nosuch latest
check_rc 1 "latest of a tag nobody has exits 1"

say "bad usage"
run cairn tag --set a --add b "$E"
check_rc 1 "--set with --add exits 1"
run cairn tag "$E"
check_rc 1 "no change exits 1"
run cairn tag --add a
check_rc 1 "no snapshot exits 1"
run cairn tag --add "a,,b" "$E"
check_rc 1 "an empty tag exits 1"
check_eq "nothing changed meanwhile" "$(snap_field "$E" tags)" "c,v"

say "killed between writing the new record and removing the old"
CAIRN_TEST_HOLD="tag-written:$T/hold" bg "$CAIRN_BIN" tag --add k "$E" >/dev/null 2>&1
PID=$!
require "tag has written the new record" wait_for "$T/hold.reached"
kill -9 "$PID"
wait "$PID" 2>/dev/null
bg_forget "$PID"
check_eq "three snapshots: both records of it are left" "$(snapshot_count)" 3
check_eq "the old one is still listed" "$(snap_field "$E" tags)" "c,v"

say "with an index server, its catalogue follows"
export CAIRN_REPO="$T/repo2"
init_repo
REPO_ID=$(json_get id)
DATA="$T/server"
require "the server starts" server_start "$DATA"
ADMIN=$(server_token "$DATA" "$REPO_ID" admin)
export CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN="$ADMIN"
backup --tag t1 "$SRC"
require_rc 0 "a backup through the server"
S3=$SNAP
run cairn tag --json --add t2 "$S3"
check_rc 0 "tag through the server exits 0"
F=$(new_id)
run "$PYTHON" "$INDEXCLIENT" request GET "$SERVER_URL/v2/repos/$REPO_ID/snapshots" \
	--token "$ADMIN" --body-out "$T/catalog"
check_grep "the catalogue answers 200" '^200$' "$OUT"
CAT=$(od -An -v -tx1 "$T/catalog" | tr -d ' \n')
check_eq "the catalogue lists one snapshot" "${#CAT}" 64
check_eq "the new id" "$CAT" "$F"
check_eq "snapshots lists the new tags" "$(snap_field "$F" tags)" "t1,t2"
run cairn restore "$F" --target "$T/r2"
check_rc 0 "the new id restores through the server"
run treecmp "$SRC" "$T/r2$SRC"
check_rc 0 "bit for bit"
APPEND=$(server_token "$DATA" "$REPO_ID" append)
CAIRN_INDEX_TOKEN="$APPEND" run cairn tag --json --add t3 "$F"
check_rc 1 "with an append token, tag exits 1"
check_grep "saying the catalogue still names the old id" "has the new tags, but.*catalogue still names it" "$ERR"
G=$(new_id)
check_eq "the store has the new record alone" "$(CAIRN_INDEX= snap_field "$F" id) $(CAIRN_INDEX= snap_field "$G" tags)" "gone t1,t2,t3"
check_eq "listings through the server skip the old id" "$(snapshot_count)" 1

e2e_finish

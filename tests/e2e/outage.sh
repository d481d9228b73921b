#!/usr/bin/env bash
# An index server out of reach never fails a cron backup (docs/SERVER.md,
# "When the server is out of reach"): with the server stopped, a backup
# exits 0, says so on stderr and in --json, and writes down what it could
# not tell the server; snapshots are listed from the store, and a restore
# reads the store's own record, bit for bit. Once the server is back, the
# next command tells it: its catalogue holds the snapshot, its index the
# new chunks (a backup of a copy adds none), and the journal is empty.
# shellcheck source=lib.sh
source "$E2E_LIB"

SRC="$T/src"
mkdir -p "$SRC"
gen_file "$SRC/a" 700000 outage-a
printf 'small\n' >"$SRC/small"
init_repo --chunk-min 64K --chunk-avg 256K --chunk-max 1M
REPO_ID=$(json_get id)
DATA="$T/server"
require "the server starts" server_start "$DATA" --rate-limit 0
TOKEN=$(server_token "$DATA" "$REPO_ID" append)
export CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN="$TOKEN"
backup "$SRC"
require_rc 0 "a backup with the server up exits 0"
check_eq "it says the server was reachable" "$(summary index_offline)" false

say "the server stopped"
server_stop
gen_file "$SRC/b" 900000 outage-b
backup "$SRC"
check_rc 0 "a backup exits 0"
check_grep "it says the server was out of reach" 'index server: out of reach' "$ERR"
check_eq "and so does its JSON summary" "$(summary index_offline)" true
check "it stored the new file" test "$(summary blobs_added)" -ge 1
offline_snap=$SNAP
JOURNAL="$CAIRN_CACHE_DIR/$REPO_ID/index-journal"
check "what the server was not told is written down" test -s "$JOURNAL"
check_grep "the snapshot among it" "^s $offline_snap\$" "$JOURNAL"
run cairn snapshots --json
check_rc 0 "snapshots exits 0"
check_eq "and lists both snapshots, from the store" \
	"$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT")" 2
rm -rf "$T/r1"
run cairn restore "$offline_snap" --target "$T/r1"
check_rc 0 "a restore exits 0"
run treecmp "$SRC" "$T/r1$SRC"
check_rc 0 "from the store's own record, bit for bit"

say "the server back"
require "the server starts again" server_start "$DATA" --rate-limit 0
export CAIRN_INDEX="$SERVER_URL"
run cairn snapshots --json
check_rc 0 "snapshots exits 0"
check "the journal has been told and emptied" test ! -s "$JOURNAL"
run "$PYTHON" "$INDEXCLIENT" request GET "$SERVER_URL/v2/repos/$REPO_ID/snapshots" \
	--token "$TOKEN" --body-out "$T/catalogue"
check_eq "the server's catalogue holds both snapshots" "$(stat -c %s "$T/catalogue")" 64
mkdir -p "$T/copy"
cp "$SRC/b" "$T/copy/b"
rm -rf "$CAIRN_CACHE_DIR"
backup "$T/copy"
check_rc 0 "a backup of a copy of the file stored offline exits 0"
check_eq "the server knows its chunks: none is added" "$(summary blobs_added)" 0
check_eq "and it was reachable" "$(summary index_offline)" false

server_stop
e2e_finish

# cairn forget: by id and by a retention policy, with --dry-run and
# --json, per host; what is kept still restores; with an index server its
# catalogue follows the store.
# shellcheck source=lib.sh
source "$E2E_LIB"

SRC="$T/src"
mkdir -p "$SRC"
init_repo
ids=()
for i in 1 2 3 4 5; do
	gen_file "$SRC/f$i" $((i * 50000)) "forget$i"
	backup --host alpha "$SRC"
	require_rc 0 "backup $i of alpha exits 0"
	ids+=("$SNAP")
	cp -a "$SRC" "$T/copy$i"
done
backup --host beta "$SRC"
require_rc 0 "a backup of beta exits 0"
beta=$SNAP
check_eq "six snapshots" "$(snapshot_count)" 6

say "a policy is needed"
run cairn forget
check_rc 1 "forget without a policy or ids exits 1"
check_grep "and says a policy is needed" "no policy given" "$ERR"
check_eq "nothing was removed" "$(snapshot_count)" 6
run cairn forget --keep-last two
check_rc 1 "a count that is no number exits 1"
check_grep "and names the option" "keep-last" "$ERR"
run cairn forget --keep-within 7w
check_rc 1 "a duration with an unknown unit exits 1"
check_grep "and names the duration" 'duration "7w"' "$ERR"
run cairn forget --keep-last 1 "${ids[0]}"
check_rc 1 "a policy and ids together exit 1"

say "--dry-run --json shows the plan and removes nothing"
run cairn forget --keep-last 2 --dry-run --json
check_rc 0 "forget --dry-run exits 0"
cp "$OUT" "$T/plan.json"
check_eq "it would keep three (two of alpha, one of beta)" "$(json_get kept "$T/plan.json")" 3
check_eq "and remove three" "$(json_get removed "$T/plan.json")" 3
"$PYTHON" - "$T/plan.json" "${ids[4]}" "${ids[3]}" "$beta" "${ids[0]}" <<-'EOF' >"$T/plan.check"
	import json, sys
	doc = json.load(open(sys.argv[1]))
	keep = {s["id"]: s["reasons"] for g in doc["groups"] for s in g["keep"]}
	remove = {s["id"] for g in doc["groups"] for s in g["remove"]}
	hosts = sorted(g["host"] for g in doc["groups"])
	ok = (doc["dry_run"] is True and hosts == ["alpha", "beta"]
	      and set(sys.argv[2:5]) == set(keep) and sys.argv[5] in remove
	      and all(r == ["last snapshot"] for r in keep.values()))
	print("ok" if ok else doc)
	EOF
check_eq "the plan keeps the newest of each host, for the last-snapshot rule" "$(cat "$T/plan.check")" ok
check_eq "nothing was removed" "$(snapshot_count)" 6

say "forget --keep-last 2"
run cairn forget --keep-last 2
check_rc 0 "forget exits 0"
check_grep "the text lists what it removes" "remove +${ids[0]:0:8}" "$OUT"
check_grep "and says the space waits for a prune" "pruned" "$OUT"
check_eq "three snapshots are left" "$(snapshot_count)" 3
run cairn restore "${ids[3]}" --target "$T/r4"
check_rc 0 "a kept snapshot restores"
run treecmp "$T/copy4" "$T/r4$SRC"
check_rc 0 "bit for bit"
run cairn restore "${ids[0]}" --target "$T/r1"
check_rc 1 "a forgotten snapshot is not found"
run cairn forget --keep-last 2
check_rc 0 "forgetting again exits 0"
check_eq "and removes nothing more" "$(snapshot_count)" 3

say "forget by id and prefix"
run cairn forget "${beta:0:10}" --dry-run
check_rc 0 "forget PREFIX --dry-run exits 0"
check_grep "and says what it would remove" "would remove snapshot ${beta:0:8}" "$OUT"
check_eq "nothing was removed" "$(snapshot_count)" 3
run cairn forget "${beta:0:10}" "$beta"
check_rc 0 "forget of one snapshot named twice exits 0"
check_eq "it is gone" "$(snapshot_count)" 2
run cairn forget 0000000000000000
check_rc 1 "an id that names no snapshot exits 1"
check_grep "and is named" "no snapshot 0000000000000000" "$ERR"
run cairn forget --keep-last 1 --host alpha --json
check_rc 0 "forget --host alpha exits 0"
check_eq "it removes one" "$(json_get removed)" 1
check_eq "one snapshot is left" "$(snapshot_count)" 1
run cairn restore latest --target "$T/r5"
check_rc 0 "the newest snapshot restores"
run treecmp "$T/copy5" "$T/r5$SRC"
check_rc 0 "bit for bit"

say "with an index server, its catalogue follows the store"
export CAIRN_REPO="$T/repo2"
init_repo
REPO_ID=$(json_get id)
DATA="$T/server"
require "the server starts" server_start "$DATA"
ADMIN=$(server_token "$DATA" "$REPO_ID" admin)
APPEND=$(server_token "$DATA" "$REPO_ID" append)
export CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN="$ADMIN"
for i in 1 2 3; do
	rm -rf "$T/srv" && cp -a "$T/copy$i" "$T/srv"
	backup "$T/srv"
	require_rc 0 "backup $i through the server exits 0"
done
check_eq "the server lists three snapshots" "$(snapshot_count)" 3
run cairn forget --keep-last 2
check_rc 0 "forget with an admin token exits 0"
check_eq "the server lists two" "$(snapshot_count)" 2
check_eq "so does the store" "$(CAIRN_INDEX= snapshot_count)" 2
CAIRN_INDEX_TOKEN="$APPEND" run cairn forget --keep-last 1
check_rc 1 "with an append token the catalogue refuses"
check_grep "and the message says the catalogue still names it" "catalogue still names it" "$ERR"
check_eq "the store forgot it all the same" "$(CAIRN_INDEX= snapshot_count)" 1
check_eq "and the server's listing skips it" "$(snapshot_count)" 1
run "$PYTHON" "$INDEXCLIENT" request GET "$SERVER_URL/v2/repos/$REPO_ID/stats" --token "$ADMIN"
check_grep "the catalogue still holds two snapshots" '"snapshots":2[,}]' "$OUT"
CAIRN_INDEX_TOKEN="$APPEND" run cairn index rebuild
check_rc 1 "index rebuild with an append token cannot clean the catalogue"
check_grep "and says an admin token is needed" "needs an admin token" "$ERR"
run cairn index rebuild
check_rc 0 "index rebuild with an admin token exits 0"
check_eq "the server still lists one" "$(snapshot_count)" 1
run "$PYTHON" "$INDEXCLIENT" request GET "$SERVER_URL/v2/repos/$REPO_ID/stats" --token "$ADMIN"
check_grep "and its catalogue holds one snapshot again" '"snapshots":1[,}]' "$OUT"
run cairn restore latest --target "$T/r6"
check_rc 0 "the kept snapshot restores through the server"
run treecmp "$T/copy3" "$T/r6$T/srv"
check_rc 0 "bit for bit"
server_stop

e2e_finish

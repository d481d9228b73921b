# SIGKILL during a registration load: after a restart every registration
# the server acknowledged is there, with the location it was given, and
# every database passes PRAGMA integrity_check. Three rounds.
# shellcheck source=lib.sh
source "$E2E_LIB"

init_repo
REPO=$(json_get id)
DATA="$T/server"
require "the server starts" server_start "$DATA"
TOKEN=$(server_token "$DATA" "$REPO" append)
: >"$T/acked"

for round in 1 2 3; do
	say "round $round: registrations from 4 connections, then SIGKILL"
	"$PYTHON" "$INDEXCLIENT" register "$SERVER_URL" "$TOKEN" "$REPO" --count 100000000 \
		--seed "kill-$round" --batch 500 --threads 4 --ack "$T/acked" --until-error \
		>"$T/load.out" 2>&1 &
	load=$!
	e2e_bg_pids+=("$load")
	# Let the load run, with requests in flight, then kill.
	before=$(wc -l <"$T/acked")
	for ((i = 0; i < 200; i++)); do
		[ $(($(wc -l <"$T/acked") - before)) -ge 20000 ] && break
		sleep 0.05
	done
	server_kill
	wait "$load"
	bg_forget "$load"
	check "the load was running when the server died: $(cat "$T/load.out")" \
		grep -q '"error": "[A-Za-z]' "$T/load.out"
	acked=$(wc -l <"$T/acked")
	check "registrations were acknowledged before the kill ($((acked - before)))" \
		test "$acked" -gt "$before"

	require "the server restarts after SIGKILL" server_start "$DATA"
	run "$PYTHON" "$INDEXCLIENT" verify "$SERVER_URL" "$TOKEN" "$REPO" --ack "$T/acked"
	check_rc 0 "every acknowledged registration is there ($(tail -n 1 "$OUT"))"
done

say "integrity of the databases"
check "the server exits 0 on SIGTERM" server_stop
run "$CAIRN_SERVER_BIN" check --data "$DATA"
sed 's/^/     | /' "$OUT"
check_rc 0 "cairn-server check finds every database ok"
check "it checked the 16 shards, the catalogue and the tokens" \
	test "$(grep -c '^ok ' "$OUT")" -eq 18
if command -v sqlite3 >/dev/null; then
	bad=0
	for db in "$DATA"/repos/*/index/shard-*.db; do
		[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || bad=$((bad + 1))
	done
	check_eq "the sqlite3 command agrees" "$bad" 0
else
	skip "no sqlite3 command: only cairn-server check looked at the shards"
fi

say "a damaged shard is found"
shard=$(ls "$DATA"/repos/*/index/shard-03.db)
size=$(stat -c %s "$shard")
"$PYTHON" - "$shard" "$size" <<-'EOF'
	import sys
	path, size = sys.argv[1], int(sys.argv[2])
	with open(path, "r+b") as f:
	    f.seek(size // 2)
	    f.write(b"\xff" * 4096)
EOF
run "$CAIRN_SERVER_BIN" check --data "$DATA"
check "cairn-server check fails on it" test "$RC" -ne 0
check_grep "and names the shard" "FAIL .*shard-03.db" "$OUT"

e2e_finish

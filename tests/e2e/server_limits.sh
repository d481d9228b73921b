# cairn-server under attack (docs/SECURITY.md, "The index server under
# attack"): 1,100 connections that send half a request's headers and stop,
# from the address the honest client uses too, do not keep that client
# from its answers (each within a second), whether the per-address cap or
# the connection limit is what they run into; the header deadline closes
# them. A repository's registration rate is answered 429 with Retry-After,
# its fingerprint and snapshot quotas 507, and a backup over the quota
# fails at once naming it.
# A client that refuses a Bloom filter larger than its cap says so, goes
# on without it and backs up correctly, deduplicating through the server.
# shellcheck source=lib.sh
source "$E2E_LIB"

command -v curl >/dev/null || {
	skip "curl is needed to time the honest client's requests"
	exit 0
}

# The helper holds 1,100 sockets and the server as many: each is a file
# descriptor, over the soft limit of 1,024 many systems start with. Raise
# it (the hard limit allows it nearly everywhere; the server raises its
# own too) or give up.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
	ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
fi
require "the open-file limit allows 1,100 connections ($(ulimit -n))" \
	test "$(ulimit -n)" = unlimited -o "$(ulimit -n)" -ge 1400

SRC="$T/src"
mkdir -p "$SRC/many"
gen_file "$SRC/big" 3000000 lim-big
for i in $(seq 1 5); do gen_file "$SRC/f$i" 20000 "lim-f$i"; done
init_repo --chunk-min 64K --chunk-avg 256K --chunk-max 1M
REPO=$(json_get id)
init_repo --repo "$T/repo2"
REPO2=$(json_get id)
require "two repositories" test -n "$REPO" -a -n "$REPO2"
DATA="$T/server"

attack_start()
{
	local i
	rm -f "$T/attack.json"
	"$PYTHON" "$E2E_DIR/halfopen.py" 127.0.0.1 "$SERVER_PORT" "$@" --status "$T/attack.json" \
		2>"$T/attack.err" &
	ATTACK_PID=$!
	e2e_bg_pids+=("$ATTACK_PID")
	for ((i = 0; i < 300; i++)); do
		[ "$(attack_stat ready)" = true ] && return 0
		kill -0 "$ATTACK_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

attack_stat()
{
	json_get "$1" "$T/attack.json" 2>/dev/null
}

attack_stop()
{
	kill -TERM "$ATTACK_PID" 2>/dev/null
	wait "$ATTACK_PID" 2>/dev/null
	bg_forget "$ATTACK_PID"
}

# timed CMD...: run, with ELAPSED in milliseconds.
timed()
{
	local t0 t1
	t0=$(date +%s%N)
	run "$@"
	t1=$(date +%s%N)
	ELAPSED=$(((t1 - t0) / 1000000))
}

# ask METHOD ROUTE [BODY-FILE]: one request with the token by curl, which
# times the request alone (an interpreter's start would be timed too):
# STATUS and ELAPSED (milliseconds).
ask()
{
	local args=(-s -o "$OUT" -w '%{http_code} %{time_total}' -X "$1"
		-H "Authorization: Bearer $TOKEN" "$SERVER_URL/v2/repos/$REPO/$2")
	[ -n "${3:-}" ] && args+=(--data-binary "@$3")
	LAST_CMD="curl ${args[*]}"
	read -r STATUS secs < <(curl "${args[@]}" 2>"$ERR")
	ELAPSED=$("$PYTHON" -c 'import sys; print(int(float(sys.argv[1]) * 1000))' "$secs")
}

# The honest client's questions, each answered within a second.
honest_client()
{
	local what=$1
	timed cairn snapshots
	check_rc 0 "$what: cairn snapshots through the server exits 0"
	check "$what: it answered in ${ELAPSED} ms (under 1,000)" test "$ELAPSED" -lt 1000
	ask GET bloom
	check_eq "$what: GET /bloom with the token answers 200" "$STATUS" 200
	check "$what: in ${ELAPSED} ms (under 1,000)" test "$ELAPSED" -lt 1000
	ask POST lookup "$T/fps"
	check_eq "$what: a lookup answers 200" "$STATUS" 200
	check "$what: in ${ELAPSED} ms (under 1,000)" test "$ELAPSED" -lt 1000
}

# post REPO TOKEN ROUTE BODY-FILE: a POST with indexclient.py; STATUS
# gets the answer's status, $OUT the answer.
post()
{
	run "$PYTHON" "$INDEXCLIENT" request POST "$SERVER_URL/v2/repos/$1/$3" --token "$2" \
		--body-file "$4"
	STATUS=$(head -n 1 "$OUT")
}

# serve [options]: starts the server on DATA, and points the client at it.
serve()
{
	server_start "$DATA" "$@" && export CAIRN_INDEX="$SERVER_URL"
}

metrics()
{
	run "$PYTHON" "$INDEXCLIENT" request GET "$SERVER_URL/metrics"
	cp "$OUT" "$T/metrics"
}

head -c 3200 /dev/urandom >"$T/fps"

say "1,100 half-open connections from the client's own address, per-address cap 128"
require "the server starts" serve --header-timeout 3
TOKEN=$(server_token "$DATA" "$REPO" append)
export CAIRN_INDEX_TOKEN="$TOKEN"
backup "$SRC"
require_rc 0 "a first backup through the server exits 0"
require "the attacker's 1,100 connections are opened (and refilled as they close)" \
	attack_start 1100 --refill
honest_client "capped address"
backup "$SRC"
check_rc 0 "a backup through the server exits 0 meanwhile"
metrics
check_grep "the server dropped stalled connections to make room" \
	'^cairn_connections_dropped_total\{reason="crowded"\} [1-9]' "$T/metrics"
check_grep "and refused no new one" '^cairn_connections_dropped_total\{reason="refused"\} 0$' "$T/metrics"
open=$(grep '^cairn_connections_open ' "$T/metrics" | cut -d' ' -f2)
check "it held at most the cap and the client's ($open)" test "$open" -le 130
attack_stop
check "the attacker kept none of its connections long ($(attack_stat closed) closed)" \
	test "$(attack_stat closed)" -gt 1000

say "a client that refuses the Bloom filter (CAIRN_INDEX_BLOOM_MAX=4K) goes on without it"
run env CAIRN_INDEX_BLOOM_MAX=4K CAIRN_CACHE_DIR="$T/c-cap" "$CAIRN_BIN" backup --json "$SRC"
cp "$OUT" "$T/summary.json"
check_rc 0 "its backup exits 0"
check_grep "it says why" \
	'warning: index server .*/bloom: answer larger than 4096 bytes .*going on without the Bloom filter' "$ERR"
check_eq "it asked the server and stored nothing twice" "$(summary blobs_added)" 0
mkdir -p "$SRC/new"
gen_file "$SRC/new/g" 1000000 lim-g
run env CAIRN_INDEX_BLOOM_MAX=4K CAIRN_CACHE_DIR="$T/c-cap" "$CAIRN_BIN" backup --json "$SRC"
cp "$OUT" "$T/summary.json"
check_rc 0 "a backup with new data exits 0 too"
check "it stored the new chunks" test "$(summary blobs_added)" -gt 0
snap=$(summary snapshot_id)
run cairn restore "$snap" --target "$T/r"
check_rc 0 "its snapshot restores"
run treecmp "$SRC" "$T/r$SRC"
check_rc 0 "bit for bit"
require "the server stops" server_stop

say "1,100 half-open connections, no per-address cap: the connection limit (1,000)"
require "the server starts" serve --header-timeout 3 --max-per-address 0
require "the attacker's 1,100 connections are opened" attack_start 1100
honest_client "at the limit"
metrics
check_grep "stalled connections made room" \
	'^cairn_connections_dropped_total\{reason="crowded"\} [1-9]' "$T/metrics"
for ((i = 0; i < 60; i++)); do
	[ "$(attack_stat held)" = 0 ] && break
	sleep 0.1
done
check_eq "the header deadline (3 s) closed all the attacker's connections" "$(attack_stat held)" 0
metrics
check_grep "as the metrics count" '^cairn_connections_dropped_total\{reason="late"\} [1-9]' "$T/metrics"
attack_stop
require "the server stops" server_stop

say "a repository's registration rate: 429 with Retry-After"
"$PYTHON" - "$T" <<-'EOF'
	import os, struct, sys
	entry = lambda: struct.pack("<32s32sIIIBI", os.urandom(32), os.urandom(32), 0, 100, 100, 1, 0)
	open(os.path.join(sys.argv[1], "reg-big"), "wb").write(b"".join(entry() for _ in range(11000)))
	open(os.path.join(sys.argv[1], "reg-small"), "wb").write(b"".join(entry() for _ in range(10)))
EOF
require "the server starts" serve --register-rate 1000
post "$REPO" "$TOKEN" register "$T/reg-big"
check_eq "11,000 entries from a full bucket of 10,000 pass" "$STATUS" 200
post "$REPO" "$TOKEN" register "$T/reg-small"
check_eq "the next registration waits: 429" "$STATUS" 429
check_grep "with Retry-After" '^Retry-After: [1-9]' "$OUT"
check_grep "and the reason" 'too many registrations for this repository' "$OUT"
post "$REPO" "$TOKEN" lookup "$T/fps"
check_eq "lookups are not held back" "$STATUS" 200
require "the server stops" server_stop

say "a repository's fingerprint quota: 507, and the client names it"
require "the server starts" serve --max-fingerprints 40 --max-snapshots 2
TOKEN2=$(server_token "$DATA" "$REPO2" append)
mkdir -p "$T/few" "$T/many"
for i in $(seq 1 5); do gen_file "$T/few/f$i" 3000 "few-$i"; done
for i in $(seq 1 120); do printf 'file %d of many\n%0200d\n' "$i" "$i" >"$T/many/m$i"; done
CAIRN_REPO="$T/repo2" CAIRN_INDEX_TOKEN=$TOKEN2 CAIRN_CACHE_DIR="$T/c2" backup "$T/few"
check_rc 0 "a backup under the quota exits 0"
CAIRN_REPO="$T/repo2" CAIRN_INDEX_TOKEN=$TOKEN2 CAIRN_CACHE_DIR="$T/c2" timed cairn backup "$T/many"
check_rc 1 "a backup over it exits 1"
check_grep "naming the status and the quota" '507.*quota of 40 fingerprints is reached' "$ERR"
check "at once, without retrying (${ELAPSED} ms)" test "$ELAPSED" -lt 5000
post "$REPO2" "$TOKEN2" register "$T/reg-small"
check_eq "10 more entries fit: 200" "$STATUS" 200
post "$REPO2" "$TOKEN2" register "$T/reg-big"
check_eq "11,000 do not: 507" "$STATUS" 507
check_grep "saying what the repository holds" 'it holds [0-9]+, this registration would add 11000' "$OUT"
head -c 64 /dev/urandom >"$T/snaps2"
head -c 32 /dev/urandom >"$T/snaps1"
post "$REPO2" "$TOKEN2" snapshots "$T/snaps2"
check_eq "two more snapshots than the catalogue's quota of 2 allows: 507" "$STATUS" 507
check_grep "saying so" 'quota of 2 snapshots is reached: the catalogue holds 1, this request adds 2' "$OUT"
post "$REPO2" "$TOKEN2" snapshots "$T/snaps1"
check_eq "one more fits: 204" "$STATUS" 204
metrics
check_grep "the metrics count the refusals" '^cairn_quota_exceeded_total [3-9]' "$T/metrics"
run "$PYTHON" "$INDEXCLIENT" request GET "$SERVER_URL/healthz" --body-file "$T/snaps1"
check_eq "/healthz, which needs no token, takes no body either: 400" "$(head -n 1 "$OUT")" 400
check "the server is up" server_stop

e2e_finish

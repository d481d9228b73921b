# Two clients back up overlapping trees into one repository through one
# cairn-server: the second stores only what the first did not (checked
# against the same backup made with the embedded index), both restore bit
# for bit, the snapshot catalogue lists both, `cairn index rebuild`
# refills an empty server, https works, and SIGTERM stops it cleanly.
# shellcheck source=lib.sh
source "$E2E_LIB"

A="$T/a"
B="$T/b"
mkdir -p "$A/sub" "$B/sub"
gen_file "$A/f1" 3000000 srv-f1
gen_file "$A/f2" 2500000 srv-f2
gen_file "$A/sub/f3" 2000000 srv-f3
gen_file "$A/sub/f4" 1500000 srv-f4
printf 'small\n' >"$A/small"
# B shares f3 and f4 with A, holds f1 with 100 bytes inserted in the middle,
# and two files of its own.
cp "$A/sub/f3" "$A/sub/f4" "$B/sub/"
"$PYTHON" - "$A/f1" "$B/f1" <<-'EOF'
	import sys
	data = open(sys.argv[1], "rb").read()
	mid = len(data) // 2
	open(sys.argv[2], "wb").write(data[:mid] + b"X" * 100 + data[mid:])
EOF
gen_file "$B/f5" 2000000 srv-f5
gen_file "$B/sub/f6" 1000000 srv-f6

init_repo --chunk-min 64K --chunk-avg 256K --chunk-max 1M
REPO_ID=$(json_get id)
require "the repository has an id" test -n "$REPO_ID"

DATA="$T/server"
require "the server starts" server_start "$DATA"
TOKEN=$(server_token "$DATA" "$REPO_ID" append)
require "a token is created" test -n "$TOKEN"
export CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN="$TOKEN"

say "client 1 backs up A"
CAIRN_CACHE_DIR="$T/c1" backup "$A"
require_rc 0 "client 1's backup exits 0"
snap_a=$SNAP
a_blobs=$(summary blobs_added)
check "client 1 stored data chunks ($a_blobs)" test "$a_blobs" -gt 0

say "the same backup of B with the embedded index, in a copy of the repository"
cp -a "$CAIRN_REPO" "$T/repo-control"
(
	unset CAIRN_INDEX CAIRN_INDEX_TOKEN
	CAIRN_CACHE_DIR="$T/c-control" run cairn --repo "$T/repo-control" backup --json "$B"
	cp "$OUT" "$T/control.json"
	exit "$RC"
)
require "the control backup exits 0" test $? -eq 0
want_blobs=$(json_get blobs_added "$T/control.json")
want_bytes=$(json_get bytes_added "$T/control.json")

say "client 2 backs up B through the server"
CAIRN_CACHE_DIR="$T/c2" backup "$B"
require_rc 0 "client 2's backup exits 0"
snap_b=$SNAP
check_eq "client 2 stores exactly the chunks A did not have" "$(summary blobs_added)" "$want_blobs"
# The manifests may differ in a directory's access time, so the bytes are
# compared to within a little.
got_bytes=$(summary bytes_added)
check "and as many bytes ($got_bytes, $want_bytes)" \
	test $((got_bytes - want_bytes)) -le 4096 -a $((want_bytes - got_bytes)) -le 4096
check "some chunks were new ($want_blobs)" test "$want_blobs" -gt 0
check "far fewer than client 1 stored ($want_blobs < $a_blobs)" test "$want_blobs" -lt "$a_blobs"
check "client 2 read all of B" test "$(summary bytes_read)" -ge 9000000

say "a third client backs up a copy of A: nothing new"
cp -a "$A" "$T/a-copy"
CAIRN_CACHE_DIR="$T/c3" backup "$T/a-copy"
check_rc 0 "the third backup exits 0"
check_eq "it stores no data chunk" "$(summary blobs_added)" 0

say "both restore bit for bit, each through the other client"
CAIRN_CACHE_DIR="$T/c1" run cairn restore "$snap_b" --target "$T/rb"
check_rc 0 "client 1 restores B"
run treecmp "$B" "$T/rb$B"
check_rc 0 "B is restored bit for bit"
CAIRN_CACHE_DIR="$T/c2" run cairn restore "$snap_a" --target "$T/ra"
check_rc 0 "client 2 restores A"
run treecmp "$A" "$T/ra$A"
check_rc 0 "A is restored bit for bit"

say "the snapshot catalogue"
run cairn snapshots --json
check_rc 0 "snapshots through the server exits 0"
n=$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT")
check_eq "it lists the three snapshots" "$n" 3
check_grep "it lists client 2's snapshot" "$snap_b" "$OUT"
run "$PYTHON" "$INDEXCLIENT" request GET "$SERVER_URL/v2/repos/$REPO_ID/snapshots" --token "$TOKEN"
check_grep "the server's catalogue answers 200" '^200$' "$OUT"

say "SIGTERM stops the server cleanly"
check "the server exits 0 on SIGTERM" server_stop
check_grep "it says it stopped" 'stopped' "$DATA.log"

say "cairn index rebuild refills an empty server"
DATA2="$T/server2"
require "a second server starts" server_start "$DATA2"
TOKEN2=$(server_token "$DATA2" "$REPO_ID" append)
export CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN="$TOKEN2"
run cairn snapshots --json
check_eq "the new server's catalogue is empty" "$(tr -d '[:space:]' <"$OUT")" "[]"
CAIRN_CACHE_DIR="$T/c4" run cairn index rebuild --json
check_rc 0 "index rebuild exits 0"
check "it imported index objects" test "$(json_get imported)" -gt 0
check_eq "it registered the three snapshots" "$(json_get snapshots_registered)" 3
run cairn snapshots --json
n=$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT")
check_eq "the catalogue lists them again" "$n" 3
cp -a "$B" "$T/b-copy"
CAIRN_CACHE_DIR="$T/c5" backup "$T/b-copy"
check_rc 0 "a backup through the refilled server exits 0"
check_eq "it finds every chunk" "$(summary blobs_added)" 0
printf '%s\n' "$TOKEN2" >"$T/token-file"
CAIRN_INDEX_TOKEN=wrong CAIRN_CACHE_DIR="$T/c5" run cairn --index-token-file "$T/token-file" \
	restore "$snap_b" --target "$T/rb2"
check_rc 0 "a restore with --index-token-file exits 0"
run treecmp "$B" "$T/rb2$B"
check_rc 0 "and restores B bit for bit"
server_stop

say "https"
if ! "$CAIRN_SERVER_BIN" version | grep -q 'TLS yes'; then
	skip "this libmicrohttpd has no TLS"
elif ! command -v openssl >/dev/null; then
	skip "no openssl command to make a certificate"
else
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" -out "$T/cert.pem" \
		>/dev/null 2>&1
	require "the server starts with TLS" server_start "$DATA2" --tls-cert "$T/cert.pem" \
		--tls-key "$T/key.pem"
	check_grep "it listens on https" 'listening on https://' "$DATA2.log"
	export CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_CA_FILE="$T/cert.pem"
	CAIRN_CACHE_DIR="$T/c6" run cairn restore "$snap_a" --target "$T/ra2"
	check_rc 0 "a restore through https exits 0"
	run treecmp "$A" "$T/ra2$A"
	check_rc 0 "and restores A bit for bit"
	unset CAIRN_INDEX_CA_FILE
	CAIRN_CACHE_DIR="$T/c7" run cairn restore "$snap_a" --target "$T/ra3"
	check "without trusting the certificate the restore fails" test "$RC" -ne 0
	server_stop
fi

e2e_finish

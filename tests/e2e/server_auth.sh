# cairn-server's guards: 401 without a valid token, 403 outside the token's
# scope or repository, 400 with a reason for oversized, truncated and
# garbage bodies (and the server keeps serving), and 429 with Retry-After
# past a token's rate limit.
# shellcheck source=lib.sh
source "$E2E_LIB"

init_repo
REPO=$(json_get id)
init_repo --repo "$T/repo2"
OTHER=$(json_get id)
require "two repositories" test -n "$REPO" -a -n "$OTHER" -a "$REPO" != "$OTHER"

DATA="$T/server"
require "the server starts" server_start "$DATA" --rate-limit 0
READ=$(server_token "$DATA" "$REPO" read)
APPEND=$(server_token "$DATA" "$REPO" append)
ADMIN=$(server_token "$DATA" "$REPO" admin)
FOREIGN=$(server_token "$DATA" "$OTHER" admin)
REVOKED=$(server_token "$DATA" "$REPO" admin)
run "$CAIRN_SERVER_BIN" token revoke --data "$DATA" "${REVOKED:6:16}"
check_rc 0 "token revoke exits 0"
run "$CAIRN_SERVER_BIN" token list --data "$DATA"
check_rc 0 "token list exits 0"
check_grep "token list shows a token's id" "${READ:6:16}  $REPO  read" "$OUT"
check "token list does not show the revoked token" bash -c '! grep -q "$1" "$2"' _ "${REVOKED:6:16}" "$OUT"
check "token list never shows a secret" bash -c '! grep -q "${1:23}" "$2"' _ "$READ" "$OUT"
check "tokens are not stored in clear" bash -c '! grep -rqa "${1:23}" "$2"' _ "$READ" "$DATA"

B="/v2/repos/$REPO"
# req METHOD PATH TOKEN [BODY-FILE]: STATUS gets the answer's status.
req()
{
	local args=(request "$1" "$SERVER_URL$2")
	[ -n "${3:-}" ] && args+=(--token "$3")
	[ -n "${4:-}" ] && args+=(--body-file "$4")
	run "$PYTHON" "$INDEXCLIENT" "${args[@]}"
	STATUS=$(head -n 1 "$OUT")
}
expect()
{
	local want=$1 desc=$2
	shift 2
	req "$@"
	check_eq "$desc" "$STATUS" "$want"
}

"$PYTHON" - "$T" <<-'EOF'
	import os, struct, sys
	t = sys.argv[1]
	def w(name, data):
	    open(os.path.join(t, name), "wb").write(data)
	entry = lambda fp, kind: struct.pack("<32s32sIIIBI", fp, b"p" * 32, 0, 100, 100, kind, 0)
	w("fps1", os.urandom(32))
	w("fps33", os.urandom(33))
	w("fps-limit", os.urandom(1024 * 1024))
	w("entry", entry(os.urandom(32), 1))
	w("entry80", entry(os.urandom(32), 1)[:80])
	w("entry-zero-fp", entry(b"\0" * 32, 1))
	w("entry-kind9", entry(os.urandom(32), 9))
	w("entry-nolength", struct.pack("<32s32sIIIBI", os.urandom(32), b"p" * 32, 0, 0, 0, 1, 0))
	w("entry-outside-bundle",
	  struct.pack("<32s32sIIIBI", os.urandom(32), b"p" * 32, 0, 100, 100, 6, 131000))
	w("snap", os.urandom(32))
	w("snap31", os.urandom(31))
	w("empty", b"")
EOF

say "401 without a valid token"
expect 200 "/healthz needs no token" GET /healthz
expect 200 "/metrics needs no token" GET /metrics
expect 401 "lookup without a token" POST "$B/lookup" "" "$T/fps1"
check_grep "401 names the scheme" '^WWW-Authenticate: Bearer' "$OUT"
expect 401 "lookup with a made-up token" POST "$B/lookup" "cairn_0000000000000000_$(printf '%064d' 0)" "$T/fps1"
expect 401 "lookup with a malformed token" POST "$B/lookup" "garbage" "$T/fps1"
expect 401 "lookup with a revoked token" POST "$B/lookup" "$REVOKED" "$T/fps1"
expect 401 "lookup with a token whose secret is wrong" POST "$B/lookup" "${READ%?}$([ "${READ: -1}" = 0 ] && echo 1 || echo 0)" "$T/fps1"
run "$PYTHON" "$INDEXCLIENT" request GET "$SERVER_URL$B/stats" --header "Authorization: Basic $(printf 'a:b' | base64)"
check_eq "a Basic credential is not a token" "$(head -n 1 "$OUT")" 401

say "scopes: read"
expect 200 "read may look up" POST "$B/lookup" "$READ" "$T/fps1"
expect 200 "read may fetch the Bloom filter" GET "$B/bloom" "$READ"
expect 200 "read may list snapshots" GET "$B/snapshots" "$READ"
expect 200 "read may read stats" GET "$B/stats" "$READ"
expect 404 "read may ask about an index object" GET "$B/objects/$REPO" "$READ"
expect 403 "read may not register" POST "$B/register" "$READ" "$T/entry"
check_grep "403 says why" 'scope read does not allow register' "$OUT"
expect 403 "read may not add snapshots" POST "$B/snapshots" "$READ" "$T/snap"
expect 403 "read may not record index objects" PUT "$B/objects/$REPO" "$READ"
expect 403 "read may not clear the index" DELETE "$B/index" "$READ"

say "scopes: append"
expect 200 "append may register" POST "$B/register" "$APPEND" "$T/entry"
expect 200 "append may register the same entry again" POST "$B/register" "$APPEND" "$T/entry"
expect 204 "append may add a snapshot" POST "$B/snapshots" "$APPEND" "$T/snap"
expect 204 "append may record an index object" PUT "$B/objects/$REPO" "$APPEND"
expect 204 "which is then known" GET "$B/objects/$REPO" "$APPEND"
expect 200 "append may look up" POST "$B/lookup" "$APPEND" "$T/fps1"
SNAP_HEX=$(od -An -tx1 "$T/snap" | tr -d ' \n')
expect 403 "append may not remove a snapshot" DELETE "$B/snapshots/$SNAP_HEX" "$APPEND"
expect 403 "append may not clear the index" DELETE "$B/index" "$APPEND"

say "scopes: admin, and repositories"
expect 204 "admin may remove a snapshot" DELETE "$B/snapshots/$SNAP_HEX" "$ADMIN"
expect 404 "a removed snapshot is gone" DELETE "$B/snapshots/$SNAP_HEX" "$ADMIN"
expect 403 "a token of another repository may not look up" POST "$B/lookup" "$FOREIGN" "$T/fps1"
check_grep "403 says it is another repository's" 'another repository' "$OUT"
expect 403 "nor register" POST "$B/register" "$FOREIGN" "$T/entry"
expect 200 "it may look up in its own" POST "/v2/repos/$OTHER/lookup" "$FOREIGN" "$T/fps1"
expect 404 "an unknown route" GET "/v9/nothing" "$ADMIN"
expect 404 "a route of version 1 of the protocol" POST "/v1/repos/$REPO/lookup" "$READ" "$T/fps1"
check_grep "404 says to upgrade the client" 'version 2 of the index protocol.*upgrade the client' \
	"$OUT"
expect 405 "a wrong method" GET "$B/lookup" "$ADMIN"
check_grep "405 lists the allowed method" '^Allow: POST' "$OUT"
expect 400 "a malformed repository id" POST "/v2/repos/XYZ/lookup" "$ADMIN" "$T/fps1"

say "400 for malformed bodies, with a reason"
expect 400 "a lookup body that is not whole fingerprints" POST "$B/lookup" "$READ" "$T/fps33"
check_grep "the reason is given" 'not a whole number of 32-byte fingerprints' "$OUT"
expect 400 "a truncated register entry" POST "$B/register" "$APPEND" "$T/entry80"
check_grep "the reason is given" 'not a whole number of 81-byte entries' "$OUT"
expect 400 "an all-zero fingerprint" POST "$B/register" "$APPEND" "$T/entry-zero-fp"
check_grep "the reason is given" 'all-zero fingerprint' "$OUT"
expect 400 "an unknown blob kind" POST "$B/register" "$APPEND" "$T/entry-kind9"
check_grep "the reason is given" 'unknown blob kind 9' "$OUT"
expect 400 "a zero length" POST "$B/register" "$APPEND" "$T/entry-nolength"
expect 400 "a chunk past the end of its bundle" POST "$B/register" "$APPEND" \
	"$T/entry-outside-bundle"
check_grep "the reason is given" 'outside its bundle' "$OUT"
expect 400 "a snapshot id of 31 bytes" POST "$B/snapshots" "$APPEND" "$T/snap31"
expect 400 "no snapshot id at all" POST "$B/snapshots" "$APPEND" "$T/empty"
expect 200 "a lookup of exactly the 1 MiB limit" POST "$B/lookup" "$READ" "$T/fps-limit"
check "its answer has one byte per missing fingerprint" test "$(wc -c <"$OUT")" -ge 32768

say "oversized, truncated and garbage requests"
printf 'POST %s/lookup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 2000000\r\n\r\n' \
	"$B" "$READ" >"$T/raw-big"
run "$PYTHON" "$INDEXCLIENT" raw 127.0.0.1 "$SERVER_PORT" "$T/raw-big"
check_grep "a declared body over 1 MiB gets 400 before it is sent" '^HTTP/1.1 400' "$OUT"
"$PYTHON" - "$T/raw-chunked" "$B" "$READ" <<-'EOF'
	import sys
	path, b, token = sys.argv[1:]
	head = ("POST %s/lookup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
	        "Transfer-Encoding: chunked\r\n\r\n" % (b, token)).encode()
	body = b""
	for _ in range(33):  # 33 chunks of 32 KiB: past the limit
	    body += b"8000\r\n" + b"\1" * 0x8000 + b"\r\n"
	open(path, "wb").write(head + body + b"0\r\n\r\n")
EOF
run "$PYTHON" "$INDEXCLIENT" raw 127.0.0.1 "$SERVER_PORT" "$T/raw-chunked"
check_grep "a chunked body over 1 MiB gets 400" '^HTTP/1.1 400' "$OUT"
printf 'POST %s/lookup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n0123456789' \
	"$B" "$READ" >"$T/raw-truncated"
run "$PYTHON" "$INDEXCLIENT" raw 127.0.0.1 "$SERVER_PORT" "$T/raw-truncated"
check "a body cut short gets no 200" bash -c '! grep -q "^HTTP/1.1 200" "$1"' _ "$OUT"
printf '\x00\x01\x02GARBAGE \xff\xfe\r\n\r\n' >"$T/raw-garbage"
run "$PYTHON" "$INDEXCLIENT" raw 127.0.0.1 "$SERVER_PORT" "$T/raw-garbage"
check "a garbage request gets no 200" bash -c '! grep -q "^HTTP/1.1 200" "$1"' _ "$OUT"
head -c 100000 /dev/urandom >"$T/raw-noise"
run "$PYTHON" "$INDEXCLIENT" raw 127.0.0.1 "$SERVER_PORT" "$T/raw-noise"
check "random bytes get no 200" bash -c '! grep -q "^HTTP/1.1 200" "$1"' _ "$OUT"
expect 200 "the server still answers /healthz" GET /healthz
expect 200 "and still looks up" POST "$B/lookup" "$READ" "$T/fps1"
check "the server process is still there" kill -0 "$SERVER_PID"

say "the client reports refusals"
export CAIRN_INDEX="$SERVER_URL"
mkdir -p "$T/src"
printf 'data\n' >"$T/src/f"
CAIRN_INDEX_TOKEN=$READ run cairn backup "$T/src"
check_rc 1 "a backup with a read token exits 1"
check_grep "and says the token does not allow it" '403' "$ERR"
CAIRN_INDEX_TOKEN=$REVOKED run cairn snapshots
check_rc 1 "a revoked token exits 1"
check_grep "and says the server refused it" 'refused the token \(401\)' "$ERR"
run cairn snapshots
check_rc 1 "--index without a token exits 1"
check_grep "and says a token is needed" 'needs a token' "$ERR"
CAIRN_INDEX_TOKEN=$APPEND run cairn backup "$T/src"
check_rc 0 "a backup with an append token exits 0"
unset CAIRN_INDEX
check "the server exits 0 on SIGTERM" server_stop

say "rate limit: 429 and Retry-After"
require "the server starts with a rate limit" server_start "$DATA" --rate-limit 1 --rate-burst 3
run "$PYTHON" "$INDEXCLIENT" burst "$SERVER_URL$B/stats" "$READ" 8
codes=$(sed -n 1p "$OUT")
wait_s=$(sed -n 2p "$OUT")
check_eq "the burst is served, then 429" "${codes:0:15}" "200 200 200 429"
check "429 carries a Retry-After of at least a second ($wait_s)" test "${wait_s:-0}" -ge 1
expect 200 "another token is not limited" GET "$B/stats" "$APPEND"
sleep "$wait_s"
expect 200 "after Retry-After the token is served again" GET "$B/stats" "$READ"
check "the server counts refusals" test "$(server_metric cairn_rate_limited_total)" -gt 0
for i in 1 2 3 4 5 6; do req GET "$B/stats" "$READ"; done
CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN=$READ run cairn snapshots --json
check_rc 0 "the client waits out 429 and succeeds"
check "the server exits 0 on SIGTERM" server_stop

e2e_finish

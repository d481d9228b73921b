# When cairn-server last learned of a new snapshot: /metrics exports it per
# repository (cairn_last_snapshot_timestamp_seconds, no host names); it
# moves with each new backup, not with an id registered again, and
# survives a restart (it is kept in the catalogue, whose older schema is
# upgraded); GET .../freshness gives each host's time to a holder of a
# read token (401 without one, 403 for another repository's); a client
# tells its host, and a registration that names none (an older client's)
# counts with host unknown.
# shellcheck source=lib.sh
source "$E2E_LIB"

init_repo
REPO=$(json_get id)
init_repo --repo "$T/repo2"
OTHER=$(json_get id)
require "two repositories" test -n "$REPO" -a -n "$OTHER"

DATA="$T/server"
require "the server starts" server_start "$DATA"
APPEND=$(server_token "$DATA" "$REPO" append)
READ=$(server_token "$DATA" "$REPO" read)
FOREIGN=$(server_token "$DATA" "$OTHER" admin)
export CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN="$APPEND"
SRC="$T/src"
mkdir -p "$SRC"
printf 'one\n' >"$SRC/f"

# req METHOD PATH [TOKEN [BODY-FILE]]: STATUS gets the answer's status,
# BODY_FILE its body.
BODY_FILE="$T/body"
req()
{
	local args=(request "$1" "$SERVER_URL$2" --body-out "$BODY_FILE")
	[ -n "${3:-}" ] && args+=(--token "$3")
	[ -n "${4:-}" ] && args+=(--body-file "$4")
	run "$PYTHON" "$INDEXCLIENT" "${args[@]}"
	STATUS=$(head -n 1 "$OUT")
}

# The metric's value for a repository (empty if it has none).
last_of()
{
	req GET /metrics
	sed -n "s/^cairn_last_snapshot_timestamp_seconds{repo=\"$1\"} \([0-9]*\)\$/\1/p" "$BODY_FILE"
}

# The freshness answer's time for host (null: unknown), or "last" for the
# repository's.
fresh_of()
{
	"$PYTHON" - "$BODY_FILE" "$1" <<-'EOF'
		import json, sys
		doc = json.load(open(sys.argv[1]))
		if sys.argv[2] == "last":
		    print(doc["last_snapshot"])
		else:
		    host = None if sys.argv[2] == "null" else sys.argv[2]
		    print(" ".join(str(h["last_snapshot"]) for h in doc["hosts"] if h["host"] == host))
	EOF
}

say "the metric after a backup"
check_eq "no sample before any snapshot" "$(last_of "$REPO")" ""
before=$(date +%s)
backup --host alpha "$SRC"
require_rc 0 "backup as host alpha exits 0"
after=$(date +%s)
t1=$(last_of "$REPO")
check "the metric is present after a backup ($t1)" test -n "$t1"
check "and is the time of the backup" test "${t1:-0}" -ge "$before" -a "${t1:-0}" -le "$after"
req GET /metrics
check "the metrics name no host" bash -c '! grep -q alpha "$1"' _ "$BODY_FILE"

say "it moves with a new snapshot, not with one registered again"
sleep 1.1
printf 'two\n' >"$SRC/f"
backup --host beta "$SRC"
require_rc 0 "backup as host beta exits 0"
t2=$(last_of "$REPO")
check "the metric increased ($t1 -> $t2)" test "${t2:-0}" -gt "${t1:-0}"
sleep 1.1
"$PYTHON" -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$SNAP" >"$T/id"
req POST "/v2/repos/$REPO/snapshots" "$APPEND" "$T/id"
check_eq "registering beta's snapshot again is accepted" "$STATUS" 204
check_eq "and leaves the metric alone" "$(last_of "$REPO")" "$t2"

say "the per-host route needs a read token"
req GET "/v2/repos/$REPO/freshness"
check_eq "401 without a token" "$STATUS" 401
req GET "/v2/repos/$REPO/freshness" "$FOREIGN"
check_eq "403 with another repository's token" "$STATUS" 403
req GET "/v2/repos/$REPO/freshness" "$READ"
check_eq "200 with a read token" "$STATUS" 200
check_eq "alpha's time" "$(fresh_of alpha)" "$t1"
check_eq "beta's time" "$(fresh_of beta)" "$t2"
check_eq "the repository's time" "$(fresh_of last)" "$t2"

say "a registration that names no host"
sleep 1.1
head -c 32 /dev/urandom >"$T/old-id"
req POST "/v2/repos/$REPO/snapshots" "$APPEND" "$T/old-id"
check_eq "the old route takes a new id" "$STATUS" 204
t3=$(last_of "$REPO")
check "the metric increased ($t2 -> $t3)" test "${t3:-0}" -gt "${t2:-0}"
req GET "/v2/repos/$REPO/freshness" "$READ"
check_eq "it counts with host unknown" "$(fresh_of null)" "$t3"
check_eq "beta's time stays" "$(fresh_of beta)" "$t2"

say "bad host bodies"
hex=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
: >"$T/empty"
req POST "/v2/repos/$REPO/snapshots/$hex" "$APPEND" "$T/empty"
check_eq "an empty host gets 400" "$STATUS" 400
printf 'a\0b' >"$T/nul"
req POST "/v2/repos/$REPO/snapshots/$hex" "$APPEND" "$T/nul"
check_eq "a host with a NUL byte gets 400" "$STATUS" 400
head -c 300 /dev/zero | tr '\0' h >"$T/long"
req POST "/v2/repos/$REPO/snapshots/$hex" "$APPEND" "$T/long"
check "a host of 300 bytes is refused (4xx: $STATUS)" test "${STATUS:-0}" -ge 400 -a "${STATUS:-0}" -lt 500
req POST "/v2/repos/$REPO/snapshots/$hex" "$READ" "$T/id"
check_eq "a read token may not register" "$STATUS" 403
check_eq "none of them moved the metric" "$(last_of "$REPO")" "$t3"

say "a client of a server without the host route"
# A proxy that answers POST .../snapshots/<id> as an older server does
# (405) and passes every other request on.
"$PYTHON" - "$SERVER_PORT" "$T/proxy-port" "$T/proxy-405" <<-'EOF' &
	import http.client, http.server, re, sys
	up, port_file, count_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
	class H(http.server.BaseHTTPRequestHandler):
	    protocol_version = "HTTP/1.1"
	    def log_message(self, *a):
	        pass
	    def answer(self, status, headers, data):
	        self.send_response(status)
	        for k, v in headers:
	            self.send_header(k, v)
	        self.send_header("Content-Length", str(len(data)))
	        self.end_headers()
	        self.wfile.write(data)
	    def forward(self):
	        n = int(self.headers.get("Content-Length") or 0)
	        body = self.rfile.read(n) if n else None
	        if self.command == "POST" and re.search(r"/snapshots/[0-9a-f]{64}$", self.path):
	            open(count_file, "a").write("405\n")
	            return self.answer(405, [("Allow", "DELETE")], b"")
	        c = http.client.HTTPConnection("127.0.0.1", up, timeout=30)
	        hdrs = {k: v for k, v in self.headers.items() if k.lower() != "host"}
	        c.request(self.command, self.path, body, hdrs)
	        r = c.getresponse()
	        skip = ("content-length", "transfer-encoding", "connection")
	        self.answer(r.status, [(k, v) for k, v in r.getheaders() if k.lower() not in skip],
	                    r.read())
	    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward
	s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
	open(port_file, "w").write(str(s.server_address[1]))
	s.serve_forever()
EOF
proxy=$!
e2e_bg_pids+=("$proxy")
for ((i = 0; i < 200; i++)); do
	[ -s "$T/proxy-port" ] && break
	sleep 0.05
done
require "the proxy listens" test -s "$T/proxy-port"
sleep 1.1
printf 'three\n' >"$SRC/f"
CAIRN_INDEX="http://127.0.0.1:$(cat "$T/proxy-port")" backup --host gamma "$SRC"
check_rc 0 "a backup through it exits 0"
check "the host route was tried" test -s "$T/proxy-405"
check "and its refusal not shown" bash -c '! grep -qiE "405|error|warning" "$1"' _ "$ERR"
t4=$(last_of "$REPO")
check "the snapshot was registered the old way ($t3 -> $t4)" test "${t4:-0}" -gt "${t3:-0}"
req GET "/v2/repos/$REPO/freshness" "$READ"
check_eq "with host unknown" "$(fresh_of null)" "$t4"
check_eq "and no time for gamma" "$(fresh_of gamma)" ""
kill "$proxy" 2>/dev/null
wait "$proxy" 2>/dev/null
bg_forget "$proxy"
t3=$t4

say "a restart keeps it"
require "the server stops" server_stop
# A catalogue of the first schema (ids only), as an older server left it.
OLD=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
mkdir -p "$DATA/repos/$OLD"
"$PYTHON" - "$DATA/repos/$OLD/catalog.db" <<-'EOF'
	import sqlite3, sys
	db = sqlite3.connect(sys.argv[1])
	db.execute("CREATE TABLE snapshots (id BLOB PRIMARY KEY, added INTEGER NOT NULL) WITHOUT ROWID")
	db.execute("INSERT INTO snapshots VALUES (?, 1700000000), (?, 1600000000)", (b"a" * 32, b"b" * 32))
	db.commit()
EOF
require "the server starts again" server_start "$DATA"
check_eq "the metric is the same after the restart" "$(last_of "$REPO")" "$t3"
req GET "/v2/repos/$REPO/freshness" "$READ"
check_eq "and so are the hosts' times" "$(fresh_of alpha) $(fresh_of beta)" "$t1 $t2"
check_eq "an upgraded catalogue counts its newest id" "$(last_of "$OLD")" 1700000000
check_eq "its schema is now 2" \
	"$("$PYTHON" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA user_version").fetchone()[0])' "$DATA/repos/$OLD/catalog.db")" 2
require "the server stops" server_stop
"$PYTHON" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA user_version = 9")' \
	"$DATA/repos/$OLD/catalog.db"
if server_start "$DATA"; then
	fail "a catalogue of a newer schema is refused"
	server_stop
else
	pass "a catalogue of a newer schema is refused"
fi
check_grep "naming it" "catalog.db has schema version 9, newer than this server's 2" "$DATA.log"

e2e_finish

# What `prune` asks of cairn-server, read from docs/SERVER.md by
# indexclient.py: POST .../scan gives every row in (fingerprint, pack)
# order, at most 65,536 a page, a chunk registered in two packs as two
# rows; POST .../drop-packs deletes exactly the rows of its packs, at most
# 65,536 of them a request; both need an admin token, and malformed or
# oversized bodies get 400 with a reason.
# shellcheck source=lib.sh
source "$E2E_LIB"

REPO=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
DATA="$T/server"
require "the server starts" server_start "$DATA" --rate-limit 0
READ=$(server_token "$DATA" "$REPO" read)
APPEND=$(server_token "$DATA" "$REPO" append)
ADMIN=$(server_token "$DATA" "$REPO" admin)
B="/v2/repos/$REPO"
req()
{
	local args=(request "$1" "$SERVER_URL$2" --token "$3")
	[ -n "${4:-}" ] && args+=(--body-file "$4")
	run "$PYTHON" "$INDEXCLIENT" "${args[@]}"
	STATUS=$(head -n 1 "$OUT")
}
scan()
{
	run "$PYTHON" "$INDEXCLIENT" scan "$SERVER_URL" "$@"
	cp "$OUT" "$T/scan.json"
}
s()
{
	json_get "$1" "$T/scan.json"
}

say "70,000 chunks, the first 1,000 of them in a second pack"
run "$PYTHON" "$INDEXCLIENT" register "$SERVER_URL" "$APPEND" "$REPO" --count 70000 \
	--seed scan --batch 5000 --ack "$T/ack"
require_rc 0 "70000 registrations are acknowledged"
# The same 1,000 fingerprints in pack ee..ee, and the drop requests.
"$PYTHON" - "$T" <<-'EOF2'
	import os, struct, sys
	t = sys.argv[1]
	rows = [bytes.fromhex(l.strip()) for l in open(os.path.join(t, "ack")) if l.strip()]
	extra = [r[:32] + b"\xee" * 32 + r[64:] for r in rows[:1000]]
	open(os.path.join(t, "extra"), "wb").write(b"".join(extra))
	with open(os.path.join(t, "extra.hex"), "w") as f:
	    f.writelines(r.hex() + "\n" for r in extra)
	# packs of chunks 0..499 and ee..ee, then filler up to exactly 65,536
	packs = [r[32:64] for r in rows[:500]] + [b"\xee" * 32]
	packs += [os.urandom(32) for _ in range(65536 - len(packs))]
	open(os.path.join(t, "drop-max"), "wb").write(b"".join(packs))
	open(os.path.join(t, "drop-over"), "wb").write(b"".join(packs) + os.urandom(32))
	open(os.path.join(t, "drop-31"), "wb").write(os.urandom(31))
	open(os.path.join(t, "drop-1"), "wb").write(b"\xee" * 32)
	open(os.path.join(t, "empty"), "wb").write(b"")
	open(os.path.join(t, "scan-5"), "wb").write(b"\x01\x00\x00\x00\x00")
	open(os.path.join(t, "scan-0"), "wb").write(struct.pack("<I", 0))
	open(os.path.join(t, "scan-1"), "wb").write(struct.pack("<I", 1))
	with open(os.path.join(t, "left.hex"), "w") as f:
	    f.writelines(r.hex() + "\n" for r in rows[500:])
	with open(os.path.join(t, "kept.hex"), "w") as f:
	    f.writelines(r.hex() + "\n" for r in rows[500:1000])
	with open(os.path.join(t, "dropped.hex"), "w") as f:
	    f.writelines(r.hex() + "\n" for r in rows[:500])
EOF2
req POST "$B/register" "$APPEND" "$T/extra"
check_eq "the second locations are registered" "$STATUS" 200
req GET "$B/stats" "$READ"
check_grep "each location is a row of its own" '"fingerprints":71000' "$OUT"

say "scan: every row in order, at most 65,536 a page"
scan "$ADMIN" "$REPO" --max 100000
check_rc 0 "a scan for 100,000 rows is answered"
check_eq "with the first 65,536" "$(s rows)" 65536
check_eq "and not the end" "$(s end)" 0
check_eq "in order" "$(s ordered)" true
scan "$ADMIN" "$REPO" --all --out "$T/rows"
check_rc 0 "a scan to the end is answered"
check_eq "in two pages" "$(s pages)" 2
check_eq "of every row" "$(s rows)" 71000
check_eq "in order, each page after the one before" "$(s ordered)" true
check_eq "and then the end" "$(s end)" 1
LC_ALL=C sort "$T/ack" "$T/extra.hex" >"$T/want"
check "the rows are the registered entries, byte for byte, in byte order" cmp -s "$T/rows" "$T/want"
scan "$ADMIN" "$REPO" --all --max 7000
check_eq "in pages of 7,000: 11 of them" "$(s pages)" 11
check_eq "of every row" "$(s rows)" 71000
check_eq "in order" "$(s ordered)" true
MID=$(sed -n 35500p "$T/want")
scan "$ADMIN" "$REPO" --max 2 --after "${MID:0:128}" --out "$T/two"
check_eq "after a row in the middle: the rows that follow it" "$(cat "$T/two")" \
	"$(sed -n 35501,35502p "$T/want")"
LAST=$(tail -n 1 "$T/want")
scan "$ADMIN" "$REPO" --after "${LAST:0:128}"
check_eq "after the last row: no row" "$(s rows)" 0
check_eq "and the end" "$(s end)" 1

# (small bodies: the server answers 403 before reading a body)
say "scan and drop need an admin token"
req POST "$B/scan" "$READ" "$T/scan-1"
check_eq "a read token may not scan" "$STATUS" 403
req POST "$B/scan" "$APPEND" "$T/scan-1"
check_eq "nor an append token" "$STATUS" 403
check_grep "403 says why" 'scope append does not allow scan \(needs admin\)' "$OUT"
req POST "$B/drop-packs" "$APPEND" "$T/drop-1"
check_eq "an append token may not drop packs" "$STATUS" 403
check_grep "403 says why" 'scope append does not allow drop_packs' "$OUT"
req POST "$B/drop-packs" "$READ" "$T/drop-1"
check_eq "nor a read token" "$STATUS" 403

say "400 for malformed and oversized bodies"
req POST "$B/scan" "$ADMIN" "$T/scan-5"
check_eq "a scan request of 5 bytes" "$STATUS" 400
check_grep "the reason is given" 'scan request of 5 bytes' "$OUT"
req POST "$B/scan" "$ADMIN" "$T/scan-0"
check_eq "a scan for 0 rows" "$STATUS" 400
check_grep "the reason is given" 'scan request for 0 rows' "$OUT"
req POST "$B/drop-packs" "$ADMIN" "$T/empty"
check_eq "a drop request naming no pack" "$STATUS" 400
req POST "$B/drop-packs" "$ADMIN" "$T/drop-31"
check_eq "a drop request that is not whole pack ids" "$STATUS" 400
check_grep "the reason is given" 'not one or more 32-byte pack ids' "$OUT"
# The server answers as soon as the length says too much, before the body.
printf 'POST %s/drop-packs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 2097184\r\n\r\n' \
	"$B" "$ADMIN" >"$T/raw-big"
run "$PYTHON" "$INDEXCLIENT" raw 127.0.0.1 "$SERVER_PORT" "$T/raw-big"
check_grep "a drop request declaring 65,537 packs gets 400 before it is sent" '^HTTP/1.1 400' \
	"$OUT"
"$PYTHON" - "$T/raw-chunked" "$B" "$ADMIN" "$T/drop-over" <<-'EOF2'
	import sys
	path, b, token, body_file = sys.argv[1:]
	data = open(body_file, "rb").read()
	head = ("POST %s/drop-packs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
	        "Transfer-Encoding: chunked\r\n\r\n" % (b, token)).encode()
	body = b"".join(b"%x\r\n" % len(data[i:i + 0x8000]) + data[i:i + 0x8000] + b"\r\n"
	                for i in range(0, len(data), 0x8000))
	open(path, "wb").write(head + body + b"0\r\n\r\n")
EOF2
run "$PYTHON" "$INDEXCLIENT" raw 127.0.0.1 "$SERVER_PORT" "$T/raw-chunked"
check_grep "and one of 65,537 packs in chunks gets 400" '^HTTP/1.1 400' "$OUT"
scan "$ADMIN" "$REPO" --all
check_eq "nothing was dropped" "$(s rows)" 71000

say "drop-packs: exactly the rows of its packs"
req POST "$B/drop-packs" "$ADMIN" "$T/drop-max"
check_eq "a drop request of exactly 65,536 packs is carried out" "$STATUS" 204
scan "$ADMIN" "$REPO" --all --out "$T/rows"
check_eq "1,500 rows are gone" "$(s rows)" 69500
LC_ALL=C sort "$T/left.hex" >"$T/want"
check "the others are left, byte for byte" cmp -s "$T/rows" "$T/want"
run "$PYTHON" "$INDEXCLIENT" verify "$SERVER_URL" "$READ" "$REPO" --ack "$T/kept.hex"
check_rc 0 "a chunk with a second location keeps its first"
run "$PYTHON" "$INDEXCLIENT" verify "$SERVER_URL" "$READ" "$REPO" --ack "$T/dropped.hex"
check_grep "a chunk whose packs are all dropped is missing" 'verified 500, bad 500' "$OUT"
req POST "$B/drop-packs" "$ADMIN" "$T/drop-max"
check_eq "dropping them again is no error" "$STATUS" 204
req GET "$B/stats" "$READ"
check_grep "stats count the rows left" '"fingerprints":69500' "$OUT"

say "metrics"
check_eq "rows sent in scans are counted" "$(server_metric cairn_scan_rows_total)" \
	$((65536 + 71000 + 71000 + 2 + 71000 + 69500))
check_eq "pack ids dropped are counted" "$(server_metric cairn_dropped_packs_total)" $((2 * 65536))
"$PYTHON" "$INDEXCLIENT" request GET "$SERVER_URL/metrics" >"$T/metrics"
check_grep "refusals are counted by route" 'cairn_requests_total\{route="scan",status="403"\} 2' \
	"$T/metrics"
check "the server exits 0 on SIGTERM" server_stop

say "a repository's shards of schema 2 are brought up to date when the server opens them"
OLD="$T/old-server"
OLD_REPO=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
"$PYTHON" - "$OLD/repos/$OLD_REPO/index" "$T/ack" "$T/old-want" <<-'EOF2'
	import os, sqlite3, struct, sys
	index, ack, want = sys.argv[1:]
	os.makedirs(index)
	rows = [bytes.fromhex(l.strip()) for l in open(ack) if l.strip()][:3000]
	for k in range(16):
	    db = sqlite3.connect(os.path.join(index, "shard-%02x.db" % k))
	    db.execute("PRAGMA journal_mode=WAL")
	    db.execute("CREATE TABLE blobs (fp BLOB PRIMARY KEY, pack BLOB NOT NULL,"
	               " offset INTEGER NOT NULL, length INTEGER NOT NULL,"
	               " raw_length INTEGER NOT NULL, kind INTEGER NOT NULL,"
	               " seen INTEGER NOT NULL, inner INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID")
	    if k == 0:
	        db.execute("CREATE TABLE objects (id BLOB PRIMARY KEY) WITHOUT ROWID")
	        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID")
	        db.execute("INSERT INTO meta VALUES ('schema_version', 2), ('shards', 16)")
	    for r in rows:
	        if r[0] >> 4 == k:
	            fp, pack, off, length, raw, kind, inner = struct.unpack("<32s32sIIIBI", r)
	            db.execute("INSERT INTO blobs VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
	                       (fp, pack, off, length, raw, kind, inner))
	    db.commit()
	    db.close()
	with open(want, "w") as f:
	    f.writelines(r.hex() + "\n" for r in sorted(rows))
EOF2
OLD_ADMIN=$(server_token "$OLD" "$OLD_REPO" admin)
require "the server starts on them" server_start "$OLD" --rate-limit 0
run "$PYTHON" "$INDEXCLIENT" scan "$SERVER_URL" "$OLD_ADMIN" "$OLD_REPO" --all --out "$T/old-rows"
check_rc 0 "they are scanned"
check "every row is kept, byte for byte" cmp -s "$T/old-rows" "$T/old-want"
head -n 1 "$T/old-want" | "$PYTHON" -c 'import sys; r = bytes.fromhex(sys.stdin.read().strip()); sys.stdout.buffer.write(r[:32] + b"\xff" * 32 + r[64:])' >"$T/old-second"
req POST "/v2/repos/$OLD_REPO/register" "$OLD_ADMIN" "$T/old-second"
req GET "/v2/repos/$OLD_REPO/stats" "$OLD_ADMIN"
check_grep "and a chunk's second location is a row of its own" '"fingerprints":3001' "$OUT"
check "the server exits 0 on SIGTERM" server_stop
"$PYTHON" - "$OLD/repos/$OLD_REPO/index/shard-00.db" >"$T/old-version" <<-'EOF2'
	import sqlite3, sys
	print(sqlite3.connect(sys.argv[1]).execute(
	    "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
EOF2
check_eq "shard 0 says schema 4" "$(cat "$T/old-version")" 4

e2e_finish

# The S3 store against a real S3-compatible server started here on
# 127.0.0.1 (s3rver, which checks request signatures): init, backup and
# restore; listings longer than one page; listings with the server's
# modification times; ranged reads; refused
# credentials; virtual-host style addressing; and a server that goes away
# in the middle of a backup and comes back.
# shellcheck source=lib.sh
source "$E2E_LIB"

MIB=$((1024 * 1024))
AK=cairn-e2e
SK=cairn-e2e-secret
BUCKET=cairn

say "starting the S3 server"
require "the S3 server starts" s3_start "$T/s3" --bucket "$BUCKET" --access-key "$AK" \
	--secret-key "$SK"
echo "S3 server at $S3_ENDPOINT (pid $S3_PID)"
s3_client_env "$AK" "$SK"
# A stalled request is given up after this many seconds.
export CAIRN_S3_TIMEOUT=5
REPO="s3:$S3_ENDPOINT/$BUCKET/repo"
export CAIRN_REPO=$REPO
# The number of objects the server holds under a key prefix (of BUCKET, or
# of the bucket given second).
objects()
{
	local b=${2:-$BUCKET}
	find "$T/s3/data/$b" -path "$T/s3/data/$b/$1*._S3rver_object" 2>/dev/null | wc -l
}

SRC="$T/src"
say "a source tree of about 40 MiB"
mkdir -p "$SRC/small" "$SRC/deep/a/b"
gen_file "$SRC/big" $((20 * MIB)) big
gen_file "$SRC/medium" $((9 * MIB + 123)) medium
gen_file "$SRC/deep/a/b/file" $((3 * MIB)) deep
"$PYTHON" - "$SRC/small" <<-'EOF'
	import random, sys
	r = random.Random("small")
	for i in range(1, 301):
	    with open("%s/f%d" % (sys.argv[1], i), "wb") as f:
	        f.write(r.randbytes(i * 37 + 1))
	EOF
printf 'a small file, read back through a ranged request\n' >"$SRC/note.txt"
: >"$SRC/empty"
ln -s note.txt "$SRC/link"

say "init"
# Every object of the repository is written from now on.
WRITES_FROM=$(date +%s)
init_repo
check "the config object is on the server" test "$(objects repo/config)" -eq 1
check "a key object is on the server" test "$(objects repo/keys)" -eq 1
run cairn init --kdf-memory 8M --kdf-iterations 1
check_rc 1 "a second init exits 1"
check_grep "and says the repository exists" "already exists" "$ERR"
run cairn --repo "s3:$S3_ENDPOINT/$BUCKET" init --kdf-memory 8M --kdf-iterations 1
check_rc 1 "init into a prefix that holds objects (the bucket, holding repo/) exits 1"
check_grep "and says it is not empty" "/$BUCKET is not empty and is not a cairn repository" "$ERR"
check "and writes no config there" test "$(objects config)" -eq 0

say "backup and restore"
BACKUP_FROM=$(date +%s)
backup "$SRC"
check_rc 0 "backup exits 0"
FIRST=$SNAP
check "packs were uploaded" test "$(objects repo/data)" -ge 2
check_eq "snapshots lists it" "$(snapshot_count)" 1
run cairn restore "$FIRST" --target "$T/r1"
check_rc 0 "restore exits 0"
run treecmp "$SRC" "$T/r1$SRC"
check_rc 0 "the restored tree is bit-exact"

say "listings with the server's modification times"
run "$STORE_ITEMS_BIN" "$REPO"
check_rc 0 "listing the repository with times exits 0"
NOW=$(date +%s)
cp "$OUT" "$T/items"
check_eq "it lists every object the server holds" "$(wc -l <"$T/items")" "$(objects repo/)"
# s3rver runs on this machine: its clock is this clock.
check_eq "each mtime lies between the first write and now, within a minute of now" \
	"$(awk -v from="$WRITES_FROM" -v now="$NOW" \
		'$3 < from - 1 || $3 > now + 1 || $3 < now - 60' "$T/items")" ""
snap_mtime=$(awk -v k="snapshots/$FIRST" '$1 == k { print $3 }' "$T/items")
check "the snapshot's is no older than its backup ($snap_mtime >= $BACKUP_FROM)" \
	test "${snap_mtime:-0}" -ge $((BACKUP_FROM - 1))
run "$STORE_ITEMS_BIN" "$REPO?max-keys=2" snapshots/
check_rc 0 "listing snapshots/ two keys a page exits 0"
check_eq "it gives the same key, size and time" "$(cat "$OUT")" \
	"$(grep '^snapshots/' "$T/items")"
run "$STORE_ITEMS_BIN" --temp "$REPO"
check_rc 0 "listing temporary leftovers of S3 exits 0"
check_eq "and finds none" "$(cat "$OUT")" ""

say "ranged reads, seen through a proxy that counts requests"
require "the proxy starts" s3_proxy_start "$S3_PORT" "$T/proxy" --fail-rate 0
run cairn --repo "s3:http://127.0.0.1:$PROXY_PORT/$BUCKET/repo" --cache-dir "$T/cache-r" \
	restore "$FIRST" --target "$T/r2" --include "$SRC/note.txt"
check_rc 0 "restoring one small file exits 0"
check "it is restored" cmp "$SRC/note.txt" "$T/r2$SRC/note.txt"
s3_proxy_stop
ranged=$(json_get ranged "$T/proxy/stats")
down=$(json_get bytes_down "$T/proxy/stats")
echo "proxy: $(cat "$T/proxy/stats")"
check "its data came by ranged GETs ($ranged)" test "${ranged:-0}" -ge 1
check "far less than a pack was read ($down bytes)" test "${down:-999999999}" -lt $((4 * MIB))

say "payload hashes, checked by a proxy as AWS checks them"
mkdir -p "$T/src-sha"
gen_file "$T/src-sha/file" $((6 * MIB)) sha
require "the proxy starts" s3_proxy_start "$S3_PORT" "$T/proxy-sha" --fail-rate 0
run curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary not-this \
	-H "x-amz-content-sha256: $(printf 'other' | sha256sum | cut -d' ' -f1)" \
	"http://127.0.0.1:$PROXY_PORT/$BUCKET/mismatch"
check_eq "the proxy refuses a body that is not what its header says" "$(cat "$OUT")" 400
# A repository of its own: the snapshot counts below are the main one's.
SHA_REPO="s3:http://127.0.0.1:$PROXY_PORT/$BUCKET/sha"
run cairn --repo "$SHA_REPO" init --kdf-memory 8M --kdf-iterations 1
check_rc 0 "an init through it exits 0"
run cairn --repo "$SHA_REPO" --cache-dir "$T/cache-sha" backup "$T/src-sha"
check_rc 0 "a backup through it exits 0"
s3_proxy_stop
checked=$(json_get sha_checked "$T/proxy-sha/stats")
wrong=$(json_get sha_mismatch "$T/proxy-sha/stats")
check "its uploads were checked ($checked)" test "${checked:-0}" -ge 3
check_eq "none had a wrong payload hash but the one sent above" "${wrong:-}" 1

say "listings of one key per page"
echo "changed" >>"$SRC/note.txt"
gen_file "$SRC/new" $((2 * MIB)) new
backup "$SRC"
check_rc 0 "a second backup exits 0"
echo "changed again" >>"$SRC/note.txt"
backup "$SRC"
check_rc 0 "a third backup exits 0"
PAGED="$REPO?max-keys=1"
run cairn --repo "$PAGED" snapshots --json
check_rc 0 "snapshots with max-keys=1 exits 0"
n=$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT" 2>/dev/null)
check_eq "and lists all three snapshots" "$n" 3
# A fresh cache: the index comes from listing every index/ object.
run cairn --repo "$PAGED" --cache-dir "$T/cache-paged" restore latest --target "$T/r3"
check_rc 0 "restore with max-keys=1 and an empty cache exits 0"
run treecmp "$SRC" "$T/r3$SRC"
check_rc 0 "and is bit-exact"

say "wrong credentials"
run env AWS_SECRET_ACCESS_KEY=not-the-secret "$CAIRN_BIN" snapshots
check_rc 1 "a wrong secret exits 1"
check_grep "with the server's reason" "SignatureDoesNotMatch" "$ERR"
run env AWS_SECRET_ACCESS_KEY=not-the-secret "$CAIRN_BIN" backup "$SRC/small"
check_rc 1 "a backup with a wrong secret exits 1"
check_grep "with the server's reason" "SignatureDoesNotMatch" "$ERR"
run env AWS_SECRET_ACCESS_KEY=not-the-secret "$CAIRN_BIN" \
	--repo "s3:$S3_ENDPOINT/$BUCKET/denied" init --kdf-memory 8M --kdf-iterations 1
check_rc 1 "init with a wrong secret exits 1"
check_grep "with the server's reason" "SignatureDoesNotMatch" "$ERR"
check "and creates nothing" test "$(objects denied/)" -eq 0
run env AWS_ACCESS_KEY_ID=nobody "$CAIRN_BIN" snapshots
check_rc 1 "an unknown access key exits 1"
check_grep "with the server's reason" "InvalidAccessKeyId" "$ERR"
run env -u AWS_ACCESS_KEY_ID "$CAIRN_BIN" snapshots
check_rc 1 "no access key at all exits 1"
check_grep "naming what to set" "AWS_ACCESS_KEY_ID" "$ERR"
run cairn --repo "s3:$S3_ENDPOINT/no-such-bucket/repo" snapshots
check_rc 10 "a missing bucket is no repository (exit 10)"
check_grep "with the server's reason" "NoSuchBucket" "$ERR"
run cairn --connections 0 snapshots
check_rc 1 "--connections 0 is refused"

say "init creates a missing bucket"
run cairn --repo "s3:$S3_ENDPOINT/fresh-bucket/r" init --kdf-memory 8M --kdf-iterations 1
check_rc 0 "init into a missing bucket exits 0"
check "the bucket and its config exist" test "$(objects r/config fresh-bucket)" -eq 1

say "the server stops in the middle of a backup"
BIG="$T/big"
# About 170 MiB of new data each time, so that no try is a quick dedup.
make_big()
{
	rm -rf "$BIG"
	"$PYTHON" - "$BIG" "$1" <<-'EOF'
	import os, random, sys
	root = sys.argv[1]
	r = random.Random("stop" + sys.argv[2])
	for d in range(6):
	    os.makedirs(os.path.join(root, "d%d" % d), exist_ok=True)
	    for i in range(8):
	        with open(os.path.join(root, "d%d" % d, "f%d" % i), "wb") as f:
	            f.write(r.randbytes(r.randint(1 << 20, 6 << 20)))
	EOF
}
stopped=0
for attempt in 1 2 3; do
	make_big "$attempt"
	before=$(objects repo/data)
	"$CAIRN_BIN" --connections 4 backup --json "$BIG" </dev/null >"$T/stop.out" 2>"$T/stop.err" &
	pid=$!
	e2e_bg_pids+=("$pid")
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$(objects repo/data)" -gt "$before" ]; then
			s3_stop "$T/s3"
			stopped=1
			break
		fi
		sleep 0.02
	done
	wait "$pid"
	rc=$?
	bg_forget "$pid"
	if [ "$stopped" -eq 1 ] && [ "$rc" -ne 0 ]; then
		break
	fi
	echo "the backup ended (exit $rc) before the server was stopped; trying again"
	[ "$stopped" -eq 1 ] && s3_start "$T/s3" --port "$S3_PORT" --bucket "$BUCKET" \
		--access-key "$AK" --secret-key "$SK"
	stopped=0
done
LAST_CMD="cairn backup $BIG (server stopped part-way)"
RC=$rc
ERR="$T/stop.err"
sed "s/^/     stderr: /" "$ERR"
check "the backup saw the server go away" test "$stopped" -eq 1
check_rc 1 "that backup exits 1"
check_grep "naming the object it could not write or read" \
	"s3:http://127\.0\.0\.1:$S3_PORT/$BUCKET/repo/[a-z]+" "$ERR"
ERR="$T/err"

say "the server comes back on the same port"
require "the S3 server restarts" s3_start "$T/s3" --port "$S3_PORT" --bucket "$BUCKET" \
	--access-key "$AK" --secret-key "$SK"
backup "$BIG"
check_rc 0 "the next backup completes"
run cairn restore latest --target "$T/r4"
check_rc 0 "its restore exits 0"
run treecmp "$BIG" "$T/r4$BIG"
check_rc 0 "and is bit-exact"
run cairn restore "$FIRST" --target "$T/r5"
check_rc 0 "the first snapshot still restores"
# r1 holds the first snapshot as it was checked against the source then.
check_eq "with the same content" "$(tree_sums "$T/r5$SRC")" "$(tree_sums "$T/r1$SRC")"

say "more than 1000 keys: the password's key sits on the second page"
: >"$T/junk.cfg"
head -c 5000 /dev/zero >"$T/junk"
for i in $(seq -w 1 1100); do
	printf 'url = "%s/%s/repo/keys/0000-junk-%s"\nupload-file = "%s"\noutput = "/dev/null"\n' \
		"$S3_ENDPOINT" "$BUCKET" "$i" "$T/junk" >>"$T/junk.cfg"
done
run curl -sS --fail --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
	-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -K "$T/junk.cfg"
require_rc 0 "1100 more objects go under keys/"
run curl -sS --fail --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
	-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
	"$S3_ENDPOINT/$BUCKET?list-type=2&prefix=repo%2Fkeys%2F"
check_rc 0 "the first page of keys/ can be listed"
check_grep "it is truncated" "<IsTruncated>true</IsTruncated>" "$OUT"
check "and does not hold the real key" test "$(grep -oE 'keys/[0-9a-f]{64}<' "$OUT" | wc -l)" -eq 0
run cairn snapshots --json
check_rc 0 "snapshots finds the key on the second page"
check_eq "and lists every snapshot" "$(snapshot_count)" 4

say "virtual-host style (BUCKET.s3.localhost)"
# s3rver checks these signatures against the wrong path, so this server
# accepts any well-formed signature: what is tested is the addressing.
require "a second S3 server starts" s3_start "$T/s3v" --bucket vhost \
	--access-key "$AK" --secret-key "$SK" --allow-mismatched-signatures
VH="s3:http://s3.localhost:$S3_PORT/vhost/r"
run cairn --repo "$VH?style=virtual" init --kdf-memory 8M --kdf-iterations 1
check_rc 0 "init in virtual-host style exits 0"
check "the config lands in the bucket" test -f "$T/s3v/data/vhost/r/config._S3rver_object"
run cairn --repo "$VH?style=virtual" backup "$SRC/small"
check_rc 0 "backup in virtual-host style exits 0"
run env CAIRN_S3_VIRTUAL_HOST=1 "$CAIRN_BIN" --repo "$VH" restore latest --target "$T/r6"
check_rc 0 "restore with CAIRN_S3_VIRTUAL_HOST=1 exits 0"
run treecmp "$SRC/small" "$T/r6$SRC/small"
check_rc 0 "and is bit-exact"
s3_stop "$T/s3v"

s3_stop "$T/s3"
e2e_finish

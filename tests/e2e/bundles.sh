# Small files are sealed together in bundles: they restore bit for bit,
# alone or all together, through the embedded index and through
# cairn-server; a later backup that changes some of them refers to the
# bundles of the others; one flipped byte in a bundle loses the files in
# it, named, and nothing else. A repository without encryption bundles too.
# shellcheck source=lib.sh
source "$E2E_LIB"

SRC="$T/src"
mkdir -p "$SRC/a" "$SRC/b"
# 300 files of 1 byte to 20 KB, half text (compressible), half random,
# and one large file whose last chunk is small.
"$PYTHON" - "$SRC" <<-'EOF'
	import random, sys
	root = sys.argv[1]
	r = random.Random("bundles")
	words = [b"chunk", b"bundle", b"pack", b"index", b"restore", b"static", b"int", b"\n"]
	for i in range(300):
	    n = 1 if i == 0 else r.randint(1, 20000)
	    if i % 2:
	        data = r.randbytes(n)
	    else:
	        data = b" ".join(r.choice(words) for _ in range(n // 4 + 1))[:n]
	    with open("%s/%s/f%03d" % (root, "ab"[i % 2], i), "wb") as f:
	        f.write(data)
	with open(root + "/big", "wb") as f:
	    f.write(r.randbytes(3 * 1024 * 1024 + 777))
EOF
init_repo --chunk-min 256K --chunk-avg 512K --chunk-max 1M
REPO_ID=$(json_get id)

say "back up 301 files"
backup "$SRC"
require_rc 0 "backup exits 0"
check_eq "each small file is a chunk of its own" "$(summary files_new)" 301
blobs=$(summary blobs_added)
check "every chunk is counted ($blobs)" test "$blobs" -ge 303

say "restore everything"
run cairn restore "$SNAP" --target "$T/all"
check_rc 0 "restore exits 0"
check "the tree is restored bit for bit" treecmp "$SRC" "$T/all$SRC"

say "restore one small file, and the one-byte file"
run cairn restore "$SNAP" --target "$T/one" --include "$SRC/b/f151" --include "$SRC/a/f000"
check_rc 0 "restore --include exits 0"
check "f151 is restored bit for bit" cmp -s "$SRC/b/f151" "$T/one$SRC/b/f151"
check "f000 is restored bit for bit" cmp -s "$SRC/a/f000" "$T/one$SRC/a/f000"
check_eq "nothing else is restored" "$(find "$T/one" -type f | wc -l)" 2

say "restore --verify"
run cairn restore "$SNAP" --target "$T/verify" --verify
check_rc 0 "restore --verify exits 0"
check "the verified tree is bit for bit" treecmp "$SRC" "$T/verify$SRC"

say "change a tenth of the files and back up again"
touch "$T/before-second"
"$PYTHON" - "$SRC" <<-'EOF'
	import sys
	root = sys.argv[1]
	for i in range(5, 300, 10):
	    path = "%s/%s/f%03d" % (root, "ab"[i % 2], i)
	    with open(path, "ab") as f:
	        f.write(b"changed %d\n" % i)
EOF
backup "$SRC"
require_rc 0 "second backup exits 0"
check_eq "30 files changed" "$(summary files_changed)" 30
check_eq "30 chunks are new" "$(summary blobs_added)" 30
SNAP2=$SNAP
run cairn restore "$SNAP2" --target "$T/second"
check_rc 0 "restore of the second snapshot exits 0"
check "the changed tree is restored bit for bit" treecmp "$SRC" "$T/second$SRC"

say "a cairn-server index serves chunks in bundles"
DATA="$T/server"
require "the server starts" server_start "$DATA"
TOKEN=$(server_token "$DATA" "$REPO_ID" admin)
require "a token is created" test -n "$TOKEN"
run env CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN="$TOKEN" CAIRN_CACHE_DIR="$T/c2" \
	"$CAIRN_BIN" index rebuild
check_rc 0 "index rebuild fills the server"
mkdir -p "$T/src2"
cp -a "$SRC/a" "$T/src2/"
printf 'new small file\n' >"$T/src2/new"
printf 'another one\n' >"$T/src2/new2"
CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN="$TOKEN" CAIRN_CACHE_DIR="$T/c2" backup "$T/src2"
require_rc 0 "backup through the server exits 0"
check_eq "only the two new files are stored" "$(summary blobs_added)" 2
run env CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN="$TOKEN" CAIRN_CACHE_DIR="$T/c3" \
	"$CAIRN_BIN" restore "$SNAP" --target "$T/via-server"
check_rc 0 "restore through the server exits 0"
check "it is bit for bit" treecmp "$T/src2" "$T/via-server$T/src2"
server_stop

say "flip one byte of the pack that holds the changed files"
# The largest pack written since the first backup is the second backup's
# data pack: it holds the 30 changed files, nearly all in bundles.
pack=$(find "$CAIRN_REPO/data" -type f -newer "$T/before-second" -printf '%s %p\n' | sort -n |
	tail -n 1 | cut -d' ' -f2-)
require "the second backup wrote a pack" test -n "$pack"
"$PYTHON" - "$pack" <<-'EOF'
	import sys
	with open(sys.argv[1], "r+b") as f:
	    f.seek(100)
	    b = f.read(1)
	    f.seek(100)
	    f.write(bytes([b[0] ^ 0x40]))
EOF
run cairn restore "$SNAP2" --target "$T/damaged"
cp "$ERR" "$T/damaged.err"
check_rc 3 "restore of a damaged bundle exits 3"
named=0
intact=0
for i in $(seq 0 299); do
	f="$(printf '%s/f%03d' "$(printf ab | cut -c$((i % 2 + 1)))" "$i")"
	if grep -qF "$SRC/$f" "$T/damaged.err"; then
		named=$((named + 1))
		check "$f, named, was one of the changed files" test $((i % 10)) -eq 5
	elif cmp -s "$SRC/$f" "$T/damaged$SRC/$f"; then
		intact=$((intact + 1))
	fi
done
echo "named $named, intact $intact"
sed 's/^/     | /' "$T/damaged.err"
check_eq "each names the damaged pack as the reason" \
	"$(grep -F "$SRC/" "$T/damaged.err" | grep -vc "in pack $(basename "$pack" | cut -c1-16)")" 0
check "the files of the damaged blob are named ($named)" test "$named" -ge 1
check_eq "every other file is restored bit for bit" "$((named + intact))" 300
check "the big file is restored bit for bit" cmp -s "$SRC/big" "$T/damaged$SRC/big"

say "bundles whose files a restore takes in two batches"
# A restore writes regular files 4,096 at a time: the bundles that hold
# the files on both sides of that line are opened by both batches.
mkdir -p "$T/many/d"
"$PYTHON" - "$T/many/d" <<-'EOF'
	import sys
	for i in range(4300):
	    with open("%s/f%05d" % (sys.argv[1], i), "wb") as f:
	        f.write(b"small file %d\n" % i * (1 + i % 7))
EOF
run cairn backup --json "$T/many"
check_rc 0 "backup of 4,300 small files exits 0"
run cairn restore "$(json_get snapshot_id)" --target "$T/many-restore"
check_rc 0 "their restore exits 0"
check "all 4,300 are restored bit for bit" treecmp "$T/many" "$T/many-restore$T/many"

say "bundles in a repository without encryption"
run cairn init --repo "$T/plain" --no-encryption --json
require_rc 0 "init --no-encryption exits 0"
run cairn backup --repo "$T/plain" --json "$SRC"
check_rc 0 "backup into it exits 0"
run cairn restore --repo "$T/plain" latest --target "$T/plain-restore"
check_rc 0 "restore from it exits 0"
check "the tree is restored bit for bit" treecmp "$SRC" "$T/plain-restore$SRC"

e2e_finish

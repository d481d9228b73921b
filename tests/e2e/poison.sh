#!/usr/bin/env bash
# Index poisoning through an append token (docs/SECURITY.md, "Index
# holders"): rows registered for real chunks that name a pack that does
# not exist, a real pack at another blob's place, and another blob's
# place and length. The server then answers with them. A restore through
# a read token (which cannot reject anything) comes out bit for bit from
# the other rows, and so does one after prune (which takes a chunk's copy
# from a row its pack's trailer confirms); a backup of a copy checks each location against its
# pack's trailer, stores the chunks again, says so, and rejects the bogus
# rows, so that the server offers the honest ones again; its restore is
# bit for bit and check --read-data finds nothing wrong. Without any
# honest row in the index, the store's own record is read instead.
# shellcheck source=lib.sh
source "$E2E_LIB"

SRC="$T/src"
mkdir -p "$SRC/sub"
gen_file "$SRC/a" 900000 poison-a
gen_file "$SRC/sub/b" 2000000 poison-b
for i in $(seq 1 30); do
	printf 'a guessable small file number %d\n' "$i" >"$SRC/sub/s$i"
done
init_repo --chunk-min 64K --chunk-avg 256K --chunk-max 1M
REPO_ID=$(json_get id)
DATA="$T/server"
require "the server starts" server_start "$DATA" --rate-limit 0
READ=$(server_token "$DATA" "$REPO_ID" read)
APPEND=$(server_token "$DATA" "$REPO_ID" append)
ADMIN=$(server_token "$DATA" "$REPO_ID" admin)
export CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN="$APPEND"

backup "$SRC"
require_rc 0 "an honest backup exits 0"
first=$SNAP
mkdir -p "$T/src2"
gen_file "$T/src2/c" 700000 poison-c
backup "$T/src2"
require_rc 0 "a second honest backup exits 0 (more packs)"

# Every row of the index, hex, one per line (fp, pack, offset, length,
# raw length, kind, inner).
run "$PYTHON" "$INDEXCLIENT" scan "$SERVER_URL" "$ADMIN" "$REPO_ID" --all --out "$T/rows"
require_rc 0 "the index can be scanned"

say "the attack: bogus rows registered with the append token"
# poison.py writes the register body, the fingerprints it poisons and the
# bogus packs they name.
"$PYTHON" - "$T" <<-'EOF'
	import os, struct, sys
	t = sys.argv[1]
	E = struct.Struct("<32s32sIIIBI")
	rows = [E.unpack(bytes.fromhex(l.strip())) for l in open(os.path.join(t, "rows"))]
	data = [r for r in rows if r[5] == 1]           # data chunks
	bundled = [r for r in rows if r[5] == 6]        # small files' chunks
	packs = sorted({r[1] for r in data})
	assert len(data) >= 3 and bundled and len(packs) >= 2, (len(data), len(packs))
	# the lowest pack holding data chunks, one of them, and chunks elsewhere
	low = packs[0]
	other = [r for r in data if r[1] == low][0]
	movable = [r for r in data if r[1] != low]
	assert len(movable) >= 2
	missing = b"\x00" * 31 + b"\x01"
	bogus = []
	# 1: a pack that does not exist (byte order: before every real one)
	r = data[0] if data[0][1] != low else data[1]
	bogus.append(E.pack(r[0], missing, 0, r[3], r[4], 1, 0))
	# 2: a real pack, at another blob's place, the chunk's own length
	r = movable[-1]
	bogus.append(E.pack(r[0], low, other[2], other[3], r[4], 1, 0))
	# 3: a real pack, another blob's place and lengths
	r = movable[-2]
	bogus.append(E.pack(r[0], low, other[2], other[3], other[4], 1, 0))
	# 4: a small file's chunk (in a bundle), a pack that does not exist
	r = bundled[0]
	bogus.append(E.pack(r[0], missing, 0, r[3], r[4], 1, 0))
	open(os.path.join(t, "bogus"), "wb").write(b"".join(bogus))
	with open(os.path.join(t, "bogus.packs"), "w") as f:
	    f.writelines("%s:%d:%d\n" % (E.unpack(b)[1].hex(), E.unpack(b)[2], E.unpack(b)[3])
	                 for b in bogus)
	open(os.path.join(t, "lookup"), "wb").write(b"".join(E.unpack(b)[0] for b in bogus))
EOF
B="/v2/repos/$REPO_ID"
run "$PYTHON" "$INDEXCLIENT" request POST "$SERVER_URL$B/register" --token "$APPEND" \
	--body-file "$T/bogus"
check_eq "the append token registers the bogus rows" "$(head -n 1 "$OUT")" 200

# The lookup answers of the poisoned fingerprints: pack id (hex), offset
# and length.
answers()
{
	run "$PYTHON" "$INDEXCLIENT" request POST "$SERVER_URL$B/lookup" --token "$READ" \
		--body-file "$T/lookup" --body-out "$T/body"
	"$PYTHON" -c '
import struct, sys
b = open(sys.argv[1], "rb").read()
i = 0
while i < len(b):
    if b[i] == 0:
        print("missing"); i += 1
    else:
        off, length = struct.unpack("<II", b[i + 33:i + 41])
        print("%s:%d:%d" % (b[i + 1:i + 33].hex(), off, length)); i += 50
' "$T/body"
}
answers >"$T/answers"
check_eq "the server now answers with the bogus rows" "$(cat "$T/answers")" \
	"$(cat "$T/bogus.packs")"

say "a restore through a read token"
CAIRN_INDEX_TOKEN="$READ" run cairn restore "$first" --target "$T/r1"
check_rc 0 "restore exits 0"
run treecmp "$SRC" "$T/r1$SRC"
check_rc 0 "the tree is restored bit for bit"

say "prune, leaving no unused byte, while the bogus rows are there"
# A chunk with a bogus row in a lower pack than its honest one: taking the
# bogus row for its copy would make the honest copy unused, and repack
# would drop it.
for i in 1 2; do
	CAIRN_INDEX_TOKEN="$ADMIN" run cairn prune --max-unused 0
	check_rc 0 "prune $i exits 0"
done
CAIRN_INDEX_TOKEN="$READ" run cairn restore "$first" --target "$T/r1b"
check_rc 0 "a restore after it exits 0"
run treecmp "$SRC" "$T/r1b$SRC"
check_rc 0 "and is bit for bit"
# Prune dropped the rows of the pack that does not exist: the attacker
# registers them again.
run "$PYTHON" "$INDEXCLIENT" request POST "$SERVER_URL$B/register" --token "$APPEND" \
	--body-file "$T/bogus"
answers >"$T/answers"
check_eq "the server answers with the bogus rows again" "$(cat "$T/answers")" \
	"$(cat "$T/bogus.packs")"

say "a backup of a copy through the append token"
cp -a "$SRC" "$T/copy"
cp -a "$T/src2" "$T/copy2"
backup "$T/copy" "$T/copy2"
check_rc 0 "backup exits 0"
check_grep "it says that locations did not match their packs" \
	'4 location\(s\) the index gave did not match' "$ERR"
check "it stores the poisoned chunks again ($(summary blobs_added))" \
	test "$(summary blobs_added)" -ge 3
answers >"$T/answers2"
check_eq "the server no longer offers the bogus rows" \
	"$(grep -c -x -f "$T/bogus.packs" "$T/answers2")" 0
CAIRN_INDEX_TOKEN="$READ" run cairn restore "$SNAP" --target "$T/r2"
check_rc 0 "its restore exits 0"
run treecmp "$T/copy" "$T/r2$T/copy"
check_rc 0 "and is bit for bit"
run treecmp "$T/copy2" "$T/r2$T/copy2"
check_rc 0 "both of its paths"
CAIRN_INDEX_TOKEN="$READ" run cairn check --read-data
check_rc 0 "check --read-data exits 0"

say "the index forgets every honest row: the store's own record"
# Only the bogus rows are left for the poisoned fingerprints.
run "$PYTHON" "$INDEXCLIENT" request DELETE "$SERVER_URL$B/index" --token "$ADMIN"
check_eq "the admin token clears the index" "$(head -n 1 "$OUT")" 204
run "$PYTHON" "$INDEXCLIENT" request POST "$SERVER_URL$B/register" --token "$APPEND" \
	--body-file "$T/bogus"
rm -rf "$CAIRN_CACHE_DIR"
CAIRN_INDEX_TOKEN="$READ" run cairn restore "$first" --target "$T/r3"
check_rc 0 "restore exits 0"
run treecmp "$SRC" "$T/r3$SRC"
check_rc 0 "the tree is restored bit for bit from the store's index/ objects"
check "a local copy of the store's record is kept in the cache" \
	test -d "$CAIRN_CACHE_DIR/$REPO_ID/store-index"

server_stop
e2e_finish

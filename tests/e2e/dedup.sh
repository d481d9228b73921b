# Content-defined chunking deduplicates: 100 bytes inserted in the middle
# of a 64 MiB file cost a few new chunks, and an unchanged tree is not
# read again at all.
# shellcheck source=lib.sh
source "$E2E_LIB"

SRC="$T/src"
mkdir -p "$SRC/sub"
gen_file "$SRC/big" $((64 * 1024 * 1024)) dedup-big
printf 'small file\n' >"$SRC/small"
gen_file "$SRC/sub/medium" 300000 medium
nfiles=3
cp "$SRC/big" "$T/big.v1"
init_repo

say "first backup"
backup "$SRC"
require_rc 0 "first backup exits 0"
snap1=$SNAP
check_eq "all $nfiles files are new" "$(summary files_new)" "$nfiles"
check "data chunks were stored" test "$(summary blobs_added)" -gt 0
check "about 64 MiB read" test "$(summary bytes_read)" -ge $((64 * 1024 * 1024))

say "insert 100 bytes in the middle of the big file"
"$PYTHON" - "$SRC/big" <<-'EOF'
	import sys
	path = sys.argv[1]
	data = open(path, "rb").read()
	mid = len(data) // 2
	open(path, "wb").write(data[:mid] + b"I" * 100 + data[mid:])
EOF
backup "$SRC"
require_rc 0 "second backup exits 0"
snap2=$SNAP
check_eq "one file changed" "$(summary files_changed)" 1
check_eq "the others unchanged" "$(summary files_unchanged)" $((nfiles - 1))
added=$(summary blobs_added)
check "at most 3 new data chunks (got $added)" test "$added" -le 3
check "at least 1 new data chunk (got $added)" test "$added" -ge 1
check "bytes added are a small part of the file ($(summary bytes_added))" \
	test "$(summary bytes_added)" -lt $((24 * 1024 * 1024))

say "third backup, nothing changed"
trace=()
if command -v strace >/dev/null && strace -f -e trace=openat -o /dev/null true 2>/dev/null; then
	# LeakSanitizer cannot run under ptrace.
	trace=(env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
		strace -f -e trace=openat -o "$T/trace")
else
	skip "strace unavailable: opens during the unchanged backup are not checked"
fi
run "${trace[@]}" "$CAIRN_BIN" backup --json "$SRC"
cp "$OUT" "$T/summary.json"
require_rc 0 "third backup exits 0"
snap3=$(summary snapshot_id)
check_eq "it reads no bytes" "$(summary bytes_read)" 0
check_eq "it finds every file unchanged" "$(summary files_unchanged)" "$nfiles"
check_eq "it stores no data chunks" "$(summary blobs_added)" 0
check_eq "no file is new" "$(summary files_new)" 0
if [ ${#trace[@]} -gt 0 ]; then
	check "strace saw cairn open files" grep -q openat "$T/trace"
	# By full path or relative to a directory descriptor.
	check "no source file was opened" bash -c '! grep -E "openat\(.*\"([^\"]*/)?(big|small|medium)\"" "$1"' _ "$T/trace"
fi
check "three distinct snapshots" test "$snap1" != "$snap2" -a "$snap2" != "$snap3" -a -n "$snap3"

say "both versions restore bit for bit"
run cairn restore "$snap1" --target "$T/r1"
check_rc 0 "restore of the first snapshot exits 0"
check "first version of the big file restored" cmp "$T/big.v1" "$T/r1$SRC/big"
run cairn restore "$snap2" --target "$T/r2"
check_rc 0 "restore of the second snapshot exits 0"
run treecmp "$SRC" "$T/r2$SRC"
cat "$OUT"
check_rc 0 "second snapshot equals the current tree"

say "packs are kept in memory when \$TMPDIR cannot hold them"
gen_file "$SRC/sub/new" $((6 * 1024 * 1024)) new-data
TMPDIR="$T/no-such-dir" backup "$SRC"
require_rc 0 "a backup with an unusable \$TMPDIR exits 0"
check "it stored the new file's chunks" test "$(summary blobs_added)" -ge 1
run cairn restore "$SNAP" --target "$T/r3"
check_rc 0 "its restore exits 0"
run treecmp "$SRC" "$T/r3$SRC"
check_rc 0 "it restores the tree bit for bit"

say "a backup of many files that repeat earlier ones stores each chunk once"
# 1200 files of 120 kB, each one chunk (below the minimum chunk size these
# repositories are made with) and incompressible: 600 new ones,
# then new ones alternating with repeats of the first 600. (How a repeat
# is found once the set of chunks a backup remembers has moved on to a
# new generation is tested in tests/unit/test_backup_dedup.c.)
MANY="$T/many"
mkdir -p "$MANY"
"$PYTHON" - "$MANY" <<-'EOF'
	import random, sys
	for i in range(1200):
	    k = i if i < 600 or i % 2 else i - 600
	    with open("%s/f%04d" % (sys.argv[1], i), "wb") as f:
	        f.write(random.Random("many-%d" % k).randbytes(120000))
	EOF
CAIRN_REPO="$T/repo-many" init_repo --chunk-min 128K --chunk-avg 256K --chunk-max 1M
CAIRN_REPO="$T/repo-many" backup "$MANY"
require_rc 0 "the backup exits 0"
check_eq "it stores the 900 distinct chunks once each" "$(summary blobs_added)" 900
CAIRN_REPO="$T/repo-many" run cairn restore "$SNAP" --target "$T/r-many"
check_rc 0 "its restore exits 0"
run treecmp "$MANY" "$T/r-many$MANY"
check_rc 0 "it restores the tree bit for bit"

say "a dry run of many files that repeat earlier ones counts each chunk once"
# Nothing is registered in a dry run: the set of chunks it remembers is
# all that finds a repeat (its generations: tests/unit/test_backup_dedup.c).
CAIRN_REPO="$T/repo-dry" init_repo --chunk-min 128K --chunk-avg 256K --chunk-max 1M
CAIRN_REPO="$T/repo-dry" backup --dry-run "$MANY"
require_rc 0 "a dry run exits 0"
check_eq "it counts the 900 distinct chunks" "$(summary blobs_added)" 900
check_eq "it stored no pack" "$(find "$T/repo-dry" -path "*/data/*" -type f | wc -l)" 0

say "restore --verify of files that share their chunks"
# Copies of the same files, each cut into many chunks: a blob is written
# to both copies, and the first copy may be finished (and verified) in the
# middle of that. The verification must not use the buffer the blob is
# still being written from.
SHARED="$T/shared"
mkdir -p "$SHARED/a" "$SHARED/b"
for i in 1 2 3 4 5 6 7 8; do
	gen_file "$SHARED/a/f$i" 200000 "shared-$i"
	cp "$SHARED/a/f$i" "$SHARED/b/f$i"
done
CAIRN_REPO="$T/repo-shared" init_repo --chunk-min 4K --chunk-avg 8K --chunk-max 32K
CAIRN_REPO="$T/repo-shared" backup "$SHARED"
require_rc 0 "the backup exits 0"
CAIRN_REPO="$T/repo-shared" run cairn restore "$SNAP" --target "$T/r-shared" --verify
check_rc 0 "restore --verify exits 0"
check "and reports nothing wrong (it says which snapshot it uses)" \
	bash -c '! grep -v "^using snapshot " "$1"' _ "$ERR"
run treecmp "$SHARED" "$T/r-shared$SHARED"
check_rc 0 "it restores both copies bit for bit"

e2e_finish

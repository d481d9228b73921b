# Looking inside snapshots: `diff` lists what was added, removed and
# changed between two snapshots with the content bytes; `stats` counts
# restore size, unique and stored bytes (two identical files count once);
# `find` finds entries across snapshots; `dump` writes a file's bytes, or
# a directory as a tar stream that extracts to what restore gives, and
# names a missing path (exit 1) or a damaged file (exit 3).
# shellcheck source=lib.sh
source "$E2E_LIB"

init_repo
S="$T/src"
mkdir -p "$S/sub"
gen_file "$S/a" 300000 a
cp "$S/a" "$S/b"
gen_file "$S/c" 1000 c
gen_file "$S/d" 50 d
ln "$S/a" "$S/sub/hl"
ln -s a "$S/sl"
long1=$(printf 'L%.0s' {1..120})
long2=$(printf 'M%.0s' {1..120})
mkdir -p "$S/$long1/$long2"
printf 'deep\n' >"$S/$long1/$long2/f"
printf 'raw\n' >"$S/$(printf 'bad\377name')"
touch -d '2001-02-03 04:05:06.123456789' "$S/c"
# Sizes: a and b 300000, c 1000, d 50, the deep file 5, the bad name 4.
ONE_FILES=$((300000 * 2 + 1000 + 50 + 5 + 4))
ONE_UNIQUE=$((300000 + 1000 + 50 + 5 + 4))

# A value of the JSON object on the last line of $OUT: json_last EXPR,
# where d is the object.
json_last()
{
	"$PYTHON" -c 'import json, sys; d = json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(eval(sys.argv[2]))' \
		"$OUT" "$1"
}

say "stats of one snapshot: identical files count once"
backup --tag one "$S"
require_rc 0 "the first backup exits 0"
S1=$SNAP
run cairn stats --json "$S1"
require_rc 0 "stats SNAPSHOT exits 0"
check_eq "files: the hard link is not another file" "$(json_get files)" 6
check_eq "restore size: every file's bytes" "$(json_get restore_bytes)" $ONE_FILES
check_eq "unique bytes: a and b once" "$(json_get unique_bytes)" $ONE_UNIQUE
check_eq "dedup ratio: restore size / unique bytes" "$(json_get dedup_ratio)" \
	"$("$PYTHON" -c "print('%.4f' % ($ONE_FILES / $ONE_UNIQUE))")"
check "stored bytes: random data does not shrink, and sealing adds little" \
	"$PYTHON" -c "import sys; s = $(json_get stored_bytes); sys.exit(not $ONE_UNIQUE <= s < $ONE_UNIQUE * 1.05)"
check_eq "no chunk is missing" "$(json_get missing_chunks)" 0
check_eq "the snapshot is named" "$(json_last "d['snapshot']['id']")" "$S1"
run cairn stats "$S1"
check_rc 0 "stats without --json exits 0"
check_grep "and shows the restore size in bytes" "^Restore size: .*\($ONE_FILES bytes\)" "$OUT"
check_grep "and the unique content" "^Unique content: .*\($ONE_UNIQUE bytes\)" "$OUT"

say "diff after add, remove, modify, chmod, a type change"
touch -r "$S" "$T/src.mtime"
rm "$S/b"
gen_file "$S/c" 1500 c2
chmod 600 "$S/a"
rm "$S/d"
ln -s c "$S/d"
mkdir "$S/dir"
printf '0123456789' >"$S/dir/f"
gen_file "$S/n" 2000 n
printf 'hi\n' >"$S/new
line"
touch -r "$T/src.mtime" "$S"
backup --tag two "$S"
require_rc 0 "the second backup exits 0"
S2=$SNAP
run cairn diff "$S1" "$S2"
require_rc 0 "diff exits 0"
# Lines of what lies beneath $S: the directories above it change with
# the test's own files.
got=$(grep -F " $S/" "$OUT")
want="U    $S/a
-    $S/b
M    $S/c
T    $S/d
+    $S/dir/
+    $S/dir/f
+    $S/n
+    $S/new\\nline
U    $S/sub/hl"
check_eq "diff lists each change, in path order, a newline escaped" "$got" "$want"
check_grep "and ends with a summary line" \
	"^[0-9]+ added, 1 removed, 1 changed, [0-9]+ with other metadata, 1 of another type; content: 3.4 KiB added, 294.0 KiB removed$" \
	"$OUT"
run cairn diff --json "$S1" "$S2"
require_rc 0 "diff --json exits 0"
check_eq "--json: the statistics line last" "$(json_last "d['message_type']")" statistics
check_eq "with the bytes added: c's new content, n, dir/f, new\\nline" \
	"$(json_last "d['added']['bytes']")" $((1500 + 2000 + 10 + 3))
check_eq "and removed: b, c's old content, the file d" \
	"$(json_last "d['removed']['bytes']")" $((300000 + 1000 + 50))
check_eq "and the files added and removed" \
	"$(json_last "(d['added']['files'], d['removed']['files'], d['changed_files'], d['changed_type'])")" \
	"(3, 1, 1, 1)"
check_eq "and the snapshots compared" "$(json_last "(d['source_snapshot'], d['target_snapshot'])")" \
	"('$S1', '$S2')"
check_eq "each change one object a line; a name with a newline exact" \
	"$("$PYTHON" -c '
import json, sys
for l in open(sys.argv[1]).read().splitlines()[:-1]:
    d = json.loads(l)
    if d["path"].endswith("line"):
        print(repr(d["path"][len(sys.argv[2]):]), d["modifier"], d["type"], d["bytes_added"])
' "$OUT" "$S")" "'/new\\nline' + file 3"
check_eq "a chmod is metadata: mode" \
	"$("$PYTHON" -c '
import json, sys
for l in open(sys.argv[1]).read().splitlines()[:-1]:
    d = json.loads(l)
    if d["path"] == sys.argv[2]:
        print(d["modifier"], d["change"], d["metadata"])
' "$OUT" "$S/a")" "U metadata ['mode']"
run cairn diff "$S2" "$S2"
check_eq "a snapshot against itself: no change" "$(grep -c '^[-+MTU] ' "$OUT")" 0
run cairn diff "$S1"
check_rc 1 "diff with one snapshot exits 1"
check_grep "and says two are needed" "two snapshots" "$ERR"

say "stats of the whole repository"
run cairn stats --json
require_rc 0 "stats exits 0"
check_eq "two snapshots" "$(json_get snapshots)" 2
check_eq "their files, added up" "$(json_get files)" $((6 + 7))
check_eq "their restore sizes, added up" "$(json_get restore_bytes)" \
	$((ONE_FILES + 300000 + 1500 + 10 + 2000 + 3 + 5 + 4))
check_eq "unique bytes: each distinct chunk once" "$(json_get unique_bytes)" \
	$((ONE_UNIQUE + 1500 + 10 + 2000 + 3))
run cairn stats --json --tag two
check_eq "--tag narrows the snapshots counted" "$(json_get snapshots) $(json_get files)" "1 7"

say "find across snapshots"
run cairn find c
require_rc 0 "find exits 0"
check_eq "one line a snapshot: id, mtime, size, path" \
	"$(awk '{print $1, $4, $5}' "$OUT")" "${S1:0:8} 1000 $S/c
${S2:0:8} 1500 $S/c"
check_grep "with the mtime" "^${S1:0:8}  2001-02-03 04:05:06 " "$OUT"
run cairn find --tag two --json c
check_eq "--tag narrows the snapshots; --json one object a line" \
	"$("$PYTHON" -c '
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    print(d["snapshot"], d["path"], d["size"], d["type"])
' "$OUT")" "$S2 $S/c 1500 file"
run cairn find 'new*'
check_eq "a name with a newline stays on its line" "$(awk '{print $5}' "$OUT")" "$S/new\\nline"
run cairn find dir
check_eq "a directory found stands for what is below it" "$(awk '{print $1, $5}' "$OUT")" \
	"${S2:0:8} $S/dir/"
run cairn find '*.nothing'
check_rc 0 "find with no match exits 0"
check_grep "and says nothing matches" "no entry matches" "$ERR"

say "dump of a file, and of a directory through tar"
run cairn dump latest "$S/a"
require_rc 0 "dump of a file exits 0"
check "its bytes are the file's" cmp "$OUT" "$S/a"
run cairn dump latest "$S/sub/hl"
check "a hard link's bytes are its file's" cmp "$OUT" "$S/a"
run cairn dump "$S1" "$S/b"
check "an older snapshot's file" cmp "$OUT" "$S/a"
run cairn restore latest --target "$T/restored"
require_rc 0 "restore exits 0"
mkdir "$T/x"
run bash -c "'$CAIRN_BIN' dump latest '$S' | tar -x -C '$T/x'"
require_rc 0 "dump of a directory extracts with tar -x"
run treecmp "$T/restored$S" "$T/x$S"
check_rc 0 "and gives the tree restore gives (names, modes, mtimes, links)"
run treecmp "$S" "$T/x$S"
check_rc 0 "which is the source tree"
mkdir "$T/y"
run bash -c "'$CAIRN_BIN' dump latest '$S/sub' | tar -x -C '$T/y'"
check_rc 0 "dump of a directory whose hard link's first path lies outside it"
check "has the link's bytes as a file" cmp "$T/y$S/sub/hl" "$S/a"
run bash -c "'$CAIRN_BIN' dump latest '$S' | tar -t | grep -c ''"
check_eq "one member an entry" "$(cat "$OUT")" "$(cd "$T/restored" && find ".$S" -printf '.\n' | wc -l)"
run cairn dump latest "$S/nope"
check_rc 1 "dump of a path not in the snapshot exits 1"
check_grep "and names it" "$S/nope: no such file or directory" "$ERR"
run cairn dump latest
check_rc 1 "dump without a path exits 1"
if need_tool script bsdutils; then
	run script -qec "'$CAIRN_BIN' dump latest '$S/a'" /dev/null
	check_rc 1 "dump to a terminal exits 1"
	check_grep "and says why" "standard output is a terminal" "$OUT"
	check "and writes none of the file" [ "$(stat -c %s "$OUT")" -lt 1000 ]
else
	skip "no script(1): dump to a terminal not tried"
fi

say "dump of damaged data"
for p in "$CAIRN_REPO"/data/*/*; do
	# a's chunks fill most of the first pack: one of these lands in them
	if [ "$(stat -c %s "$p")" -gt 250000 ]; then
		flip_byte "$p" 50000
		flip_byte "$p" 120000
		flip_byte "$p" 200000
	fi
done
run cairn dump latest "$S/a"
check_rc 3 "dump of a damaged file exits 3"
check_grep "and names the file" "warning: $S/a: " "$ERR"
check_eq "its size is kept, the lost bytes zeros" "$(stat -c %s "$OUT")" 300000
run bash -c "'$CAIRN_BIN' dump latest '$S' >'$T/d.tar'; echo \$? >'$T/d.rc'; tar -t -f '$T/d.tar' >/dev/null"
check_rc 0 "the tar stream of a tree with a damaged file stays whole"
check_eq "and dump exits 3" "$(cat "$T/d.rc")" 3

say "a damaged manifest"
mkdir "$T/other"
gen_file "$T/other/o" 5000 o
touch "$T/before-other"
sleep 0.01
backup "$T/other"
require_rc 0 "a backup of another tree exits 0"
S3=$SNAP
for p in $(find "$CAIRN_REPO/data" -type f -newer "$T/before-other"); do
	flip_byte "$p" $(($(stat -c %s "$p") / 3))
	flip_byte "$p" $(($(stat -c %s "$p") / 3 * 2))
done
run cairn diff "$S2" "$S3"
check_rc 3 "diff of a snapshot whose manifest is damaged exits 3"
check_grep "and names the snapshot" "manifest of snapshot ${S3:0:8}" "$ERR"
run cairn stats "$S3"
check_rc 3 "stats of it exits 3"
run cairn find c
check_rc 3 "find across it exits 3"
check_grep "and names it" "snapshot ${S3:0:8}" "$ERR"
check_eq "but still finds what the other snapshots hold" "$(grep -c " $S/c\$" "$OUT")" 2
run cairn dump "$S3" "$T/other/o"
check_rc 3 "dump from it exits 3"

e2e_finish

# Every kind of entry survives backup and restore: content bit for bit,
# and type, mode, owner, mtime, symlink target, xattrs, hard links and
# holes field by field. Also `restore --include` and `ls`.
# shellcheck source=lib.sh
source "$E2E_LIB"

SRC="$T/src"
say "building a source tree with every kind of entry in $SRC"
mkdir -p "$SRC"/{d0700,d0755/nested/deeper,setgid,links,hard/sub}
printf 'plain text\nsecond line\n' >"$SRC/text.txt"
: >"$SRC/empty"
printf 'x' >"$SRC/one"
gen_file "$SRC/r4095" 4095 r4095
gen_file "$SRC/r1m" $((1024 * 1024 + 17)) r1m
gen_file "$SRC/r20m" $((20 * 1024 * 1024)) r20m
seq 1 200000 >"$SRC/d0755/nested/deeper/numbers.txt"
gen_file "$SRC/d0700/secret" 5000 secret
gen_file "$SRC/setgid/inherit" 300 inherit
chmod 0700 "$SRC/d0700"
chmod 0755 "$SRC/d0755"
chmod 2755 "$SRC/setgid"
for m in 0600 0755 4755; do
	printf 'mode %s\n' "$m" >"$SRC/f$m"
done

ln -s ../text.txt "$SRC/links/relative"
ln -s "$SRC/r4095" "$SRC/links/absolute"
ln -s "does/not/exist" "$SRC/links/dangling"

gen_file "$SRC/hard/two" 70000 two
ln "$SRC/hard/two" "$SRC/hard/two-b"
gen_file "$SRC/hard/three" 3000 three
ln "$SRC/hard/three" "$SRC/hard/three-b"
ln "$SRC/hard/three" "$SRC/hard/sub/three-c"

truncate -s 1G "$SRC/sparse"
for off in 0 300 1023; do # MiB
	gen_file "$T/block" 4096 "block$off"
	dd if="$T/block" of="$SRC/sparse" bs=1M seek="$off" conv=notrunc status=none
done
mkfifo "$SRC/fifo"

if is_root; then
	chown 1234:5678 "$SRC/f4755" "$SRC/r4095"
	chown 4321:4321 "$SRC/d0700"
	chown -h 2222:3333 "$SRC/links/relative"
	chown 99:98 "$SRC/fifo"
	chown 1234:5678 "$SRC/hard/three"
else
	skip "not root: files owned by other users are not tested"
fi
# After chown, which clears set-user-id.
chmod 0600 "$SRC/f0600"
chmod 0755 "$SRC/f0755"
chmod 4755 "$SRC/f4755"

cmp_opts=()
if setfattr -n user.probe -v 1 "$SRC/empty" 2>/dev/null; then
	setfattr -x user.probe "$SRC/empty"
	setfattr -n user.comment -v "a comment" "$SRC/text.txt"
	setfattr -n user.binary -v 0x00ff10fe00 "$SRC/r4095"
	setfattr -n user.empty "$SRC/r1m"
	setfattr -n user.on-dir -v "directory attribute" "$SRC/d0755"
	setfattr -n user.a -v 1 "$SRC/hard/two"
	setfattr -n user.b -v 2 "$SRC/hard/two"
else
	skip "the file system of $T has no user.* xattrs: not tested"
	cmp_opts+=(--no-xattrs)
fi
is_root || cmp_opts+=(--no-owner)

# Odd mtimes, nanoseconds included; directories last, deepest first, so
# that creating their entries does not move them again.
touch -d '2001-02-03 04:05:06.123456789' "$SRC/text.txt"
touch -d '1969-07-20 20:17:40.000000001' "$SRC/one"
touch -d '2099-12-31 23:59:59.999999999' "$SRC/r1m"
touch -d '1970-01-01 00:00:00' "$SRC/empty"
touch -h -d '2010-10-10 10:10:10.101010101' "$SRC/links/relative" "$SRC/links/dangling"
touch -d '2015-05-05 05:05:05.5' "$SRC/fifo"
n=1
while IFS= read -r -d '' d; do
	touch -d "2012-03-04 05:06:07.$(printf '%09d' $((n * 7654321)))" "$d"
	n=$((n + 1))
done < <(find "$SRC" -depth -type d -print0)

init_repo

say "backup"
backup "$SRC"
require_rc 0 "backup of the tree exits 0"
check "backup --json names the new snapshot" test -n "$SNAP"
check_eq "backup reports no errors" "$(summary errors_total)" 0
check_eq "backup summary is not a dry run" "$(summary dry_run)" false
run cairn snapshots --json
check_rc 0 "snapshots --json exits 0"
check "snapshots lists the new snapshot with its path" "$PYTHON" -c '
import json, sys
snaps = json.load(open(sys.argv[1]))
sys.exit(not any(s["id"] == sys.argv[2] and sys.argv[3] in s["paths"] for s in snaps))' "$OUT" "$SNAP" "$SRC"

say "restore of the whole snapshot"
run cairn restore "$SNAP" --target "$T/restore"
check_rc 0 "restore exits 0"
run treecmp "${cmp_opts[@]}" "$SRC" "$T/restore$SRC"
cat "$OUT"
check_rc 0 "restored tree equals the source (content, metadata, hard links, holes)"
run cmp "$SRC/sparse" "$T/restore$SRC/sparse"
check_rc 0 "sparse file restored bit for bit (cmp)"
for f in r20m r1m hard/sub/three-c "d0755/nested/deeper/numbers.txt"; do
	run cmp "$SRC/$f" "$T/restore$SRC/$f"
	check_rc 0 "$f restored bit for bit (cmp)"
done

say "restore --include of a subtree and a file, with --verify"
run cairn restore "$SNAP" --target "$T/partial" --include "$SRC/d0755" \
	--include "$SRC/links/relative" --verify
check_rc 0 "restore --include --verify exits 0"
run treecmp "${cmp_opts[@]}" "$SRC/d0755" "$T/partial$SRC/d0755"
cat "$OUT"
check_rc 0 "included subtree equals the source"
check "included symlink restored" test "$(readlink "$T/partial$SRC/links/relative")" = ../text.txt
extra=$(cd "$T/partial" && find . -mindepth 1 | while IFS= read -r p; do
	p=${p#.}
	case "$SRC/d0755/:$SRC/links/relative/" in "$p"/* | *:"$p"/*) continue ;; esac # an ancestor
	case "$p" in "$SRC/d0755" | "$SRC/d0755/"* | "$SRC/links/relative") continue ;; esac
	printf '%s\n' "$p"
done)
check_eq "nothing outside the included paths is restored" "$extra" ""

say "restore --include of a hard link's other name: it holds the content"
# In path order hard/sub/three-c is the group's first name.
run cairn restore "$SNAP" --target "$T/holder" --include "$SRC/hard/three-b"
check_rc 0 "restore --include of a second name exits 0"
check "the second name holds the content" cmp -s "$SRC/hard/three" "$T/holder$SRC/hard/three-b"
check_eq "and nothing else is restored" "$(find "$T/holder" -type f | wc -l)" 1

# A user other than root must still reach a holder below a directory
# whose own mode (applied when it is left) has no search bit.
as_user=()
is_root && command -v setpriv >/dev/null &&
	as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if [ ${#as_user[@]} -eq 0 ] || ! "${as_user[@]}" test -x "$CAIRN_BIN"; then
	skip "no unprivileged user to run cairn as: holders below closed directories are not tested"
else
	say "as an unprivileged user, a holder below a directory without a search bit"
	H="$T/hsrc"
	mkdir -p "$H/closed/deeper"
	gen_file "$H/a-first" 70000 a-first
	ln "$H/a-first" "$H/closed/deeper/second"
	chmod 0600 "$H/closed"
	chmod 0500 "$H/closed/deeper"
	HR="$T/hrepo"
	run cairn init --repo "$HR" --kdf-memory 8M --kdf-iterations 1
	require_rc 0 "init of a repository for the holders"
	run cairn backup --repo "$HR" --json "$H"
	require_rc 0 "backup of the tree (as root, who can read the closed directory)"
	hsnap=$(json_get snapshot_id)
	mkdir -p "$T/hcache" "$T/hrestore"
	chown -R 65534:65534 "$HR" "$T/hcache" "$T/hrestore"
	chmod 0711 "$T"
	run "${as_user[@]}" env CAIRN_CACHE_DIR="$T/hcache" "$CAIRN_BIN" --repo "$HR" restore "$hsnap" \
		--target "$T/hrestore" --include "$H/closed"
	check_rc 0 "the unprivileged restore exits 0"
	check "the holder below the closed directory has the content" \
		cmp -s "$H/a-first" "$T/hrestore$H/closed/deeper/second"
	check_eq "the closed directory has its mode" "$(stat -c %a "$T/hrestore$H/closed")" 600
	check_eq "so has the one inside it" "$(stat -c %a "$T/hrestore$H/closed/deeper")" 500
	check_eq "and its time" "$(stat -c %Y "$T/hrestore$H/closed")" "$(stat -c %Y "$H/closed")"
fi

say "ls"
run cairn ls "$SNAP" --json
check_rc 0 "ls --json exits 0"
cp "$OUT" "$T/ls.json"
run treecmp --ls "$T/ls.json" "$SRC"
cat "$OUT"
check_rc 0 "ls lists exactly the backed-up entries with their types and sizes"
run cairn ls latest --json
check "ls latest lists the same as ls by id" cmp -s "$OUT" "$T/ls.json"
run cairn ls "${SNAP:0:8}" --json
check "ls by an id prefix lists the same as ls by id" cmp -s "$OUT" "$T/ls.json"
run cairn ls "$SNAP" "$SRC/d0755" --json
check_rc 0 "ls SNAPSHOT PATH exits 0"
check "ls SNAPSHOT PATH lists the entries below PATH" "$PYTHON" -c '
import json, sys
paths = [o["path"] for o in map(json.loads, filter(str.strip, open(sys.argv[1]))) if "path" in o]
root = sys.argv[2]
want = {root, root + "/nested", root + "/nested/deeper", root + "/nested/deeper/numbers.txt"}
sys.exit(not (want <= set(paths) and all(p == root or p.startswith(root + "/") for p in paths)))' \
	"$OUT" "$SRC/d0755"

e2e_finish

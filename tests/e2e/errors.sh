# Failures give the documented exit statuses and clear messages: wrong
# password, no repository, init over a repository, no password source,
# unknown snapshot, unreadable source files, a file growing while read,
# a repository whose disk fills up.
# shellcheck source=lib.sh
source "$E2E_LIB"

SRC="$T/src"
mkdir -p "$SRC"
gen_file "$SRC/a" 10000 a
init_repo
backup "$SRC"
require_rc 0 "a first backup exits 0"

say "wrong password"
CAIRN_PASSWORD="not the password" run cairn snapshots
check_rc 12 "wrong password exits 12"
check_eq "wrong password prints exactly one line on stderr" "$(grep -c . "$ERR")" 1
check_grep "that line speaks of the password" '[Pp]assword' "$ERR"
printf 'not the password\n' >"$T/badpw"
run env -u CAIRN_PASSWORD CAIRN_PASSWORD_FILE="$T/badpw" "$CAIRN_BIN" snapshots
check_rc 12 "wrong password from CAIRN_PASSWORD_FILE exits 12"
run env -u CAIRN_PASSWORD "$CAIRN_BIN" snapshots --password-file "$T/badpw"
check_rc 12 "wrong password from --password-file exits 12"

say "no repository"
CAIRN_REPO="$T/nowhere" run cairn snapshots
check_rc 10 "snapshots on a missing repository exits 10"
check "and says so on stderr" test -s "$ERR"
mkdir "$T/emptydir"
CAIRN_REPO="$T/emptydir" run cairn backup "$SRC"
check_rc 10 "backup into an empty directory that is no repository exits 10"
check_eq "and writes nothing into it" "$(find "$T/emptydir" -mindepth 1 | wc -l)" 0

say "init over an existing repository"
tree_sums "$CAIRN_REPO" >"$T/sums.before"
run cairn init --kdf-memory 8M --kdf-iterations 1
check "init on an existing repository fails" test "$RC" -ne 0
check "and explains why on stderr" test -s "$ERR"
tree_sums "$CAIRN_REPO" >"$T/sums.after"
check "and leaves every file of the repository unchanged" cmp -s "$T/sums.before" "$T/sums.after"
run cairn snapshots --json
check_rc 0 "the repository still opens with its password"

say "no password and no terminal"
start=$SECONDS
LAST_CMD="setsid -w cairn snapshots </dev/null (no password set)"
env -u CAIRN_PASSWORD -u CAIRN_PASSWORD_FILE timeout -k 5 20 setsid -w "$CAIRN_BIN" snapshots \
	</dev/null >"$OUT" 2>"$ERR"
RC=$?
check_rc 1 "without a password source or terminal, exits 1 (124 would mean it hung)"
check "within a few seconds" test $((SECONDS - start)) -le 10
check_grep "with a message about the password" '[Pp]assword' "$ERR"

say "unknown snapshot"
run cairn restore 0123456789abcdef --target "$T/r-unknown"
check_rc 1 "restore of an unknown snapshot exits 1"
check "and names the problem on stderr" test -s "$ERR"
run cairn ls ffffffffffffffff
check_rc 1 "ls of an unknown snapshot exits 1"

say "unreadable source files"
U="$T/u"
unprivileged_setup || U=""
as_user=("${AS_USER[@]}")
if [ -n "$U" ]; then
	mkdir -p "$U/src/closed" "$U/home"
	printf 'readable\n' >"$U/src/readable"
	printf 'secret\n' >"$U/src/unreadable"
	printf 'hidden\n' >"$U/src/closed/inside"
	is_root && chown -R 65534:65534 "$U"
	chmod 000 "$U/src/unreadable" "$U/src/closed"
	uenv=(env HOME="$U/home" CAIRN_REPO="$U/repo" CAIRN_CACHE_DIR="$U/cache"
		XDG_DATA_HOME="$U/xdg-data" XDG_CACHE_HOME="$U/xdg-cache" CAIRN_PASSWORD="$CAIRN_PASSWORD")
	run "${as_user[@]}" "${uenv[@]}" "$CAIRN_BIN" init --kdf-memory 8M --kdf-iterations 1
	require_rc 0 "init of a repository for the unprivileged user"
	run "${as_user[@]}" "${uenv[@]}" "$CAIRN_BIN" backup --json "$U/src"
	cp "$OUT" "$T/summary.json"
	check_rc 3 "backup with unreadable files exits 3"
	check_grep "the unreadable file is named on stderr" "$U/src/unreadable" "$ERR"
	check_grep "the unreadable directory is named on stderr" "$U/src/closed" "$ERR"
	check "the summary counts errors" test "$(summary errors_total)" -ge 1
	usnap=$(summary snapshot_id)
	run "${as_user[@]}" "${uenv[@]}" "$CAIRN_BIN" snapshots --json
	check "the snapshot was written anyway" grep -q "$usnap" "$OUT"
	run "${as_user[@]}" "${uenv[@]}" "$CAIRN_BIN" ls "$usnap" --json
	check_rc 0 "ls of that snapshot exits 0"
	check "it holds the readable file" grep -q "\"$U/src/readable\"" "$OUT"
	check "it does not hold the unreadable file" bash -c '! grep -q "\"$1/src/unreadable\"" "$2"' _ "$U" "$OUT"
	mkdir -p "$U/restore"
	is_root && chown 65534:65534 "$U/restore"
	run "${as_user[@]}" "${uenv[@]}" "$CAIRN_BIN" restore "$usnap" --target "$U/restore"
	check_rc 0 "that snapshot restores"
	check "with the readable file's content" cmp -s "$U/src/readable" "$U/restore$U/src/readable"
fi

say "a file that grows while it is read"
G="$T/grow"
mkdir -p "$G"
gen_file "$G/big" $((96 * 1024 * 1024)) big
# The appender writes a pattern that depends only on the offset, so the
# final file holds every state the backup could have seen as a prefix.
appender='
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
block = bytes(range(256)) * 16
while True:
    os.write(fd, block)
    time.sleep(0.0005)
'
caught=0
for attempt in 1 2 3; do
	cp "$G/big" "$G/growing"
	size0=$(stat -c %s "$G/growing")
	bg "$PYTHON" -c "$appender" "$G/growing"
	writer=$!
	sleep 0.2
	backup "$G"
	kill "$writer"
	wait "$writer" 2>/dev/null
	if grep -qi 'changed' "$ERR"; then
		caught=1
		break
	fi
	echo "attempt $attempt: the change was not noticed, trying again"
done
check_grep "the change is reported on stderr" "growing.*changed|changed.*growing" "$ERR"
check "backup of a changing file exits 0 or 3, not fatally" test "$RC" -eq 0 -o "$RC" -eq 3
[ "$caught" -eq 1 ] || echo "the growing file was never reported as changed in 3 attempts"
run cairn restore "$SNAP" --target "$T/r-grow" --include "$G/growing"
check_rc 0 "the snapshot with the changing file restores"
check "the file was stored as read: a prefix of the file at least as long as at the start" \
	"$PYTHON" -c '
import sys
got = open(sys.argv[1], "rb").read()
final = open(sys.argv[2], "rb").read()
sys.exit(not (len(got) >= int(sys.argv[3]) and final[:len(got)] == got))' \
	"$T/r-grow$G/growing" "$G/growing" "$size0"

say "a full disk"
# The repository on a 6 MiB tmpfs, 20 MiB of data that does not compress.
if ! is_root; then
	skip "mounting a small file system needs root"
elif ! mkdir -p "$T/small" || ! mount -t tmpfs -o size=6m tmpfs "$T/small" 2>/dev/null; then
	skip "no tmpfs could be mounted here"
else
	e2e_mounts+=("$T/small")
	FULL="$T/full-src"
	mkdir -p "$FULL"
	for i in $(seq 1 40); do gen_file "$FULL/f$i" 524288 "full$i"; done
	main_repo=$CAIRN_REPO
	export CAIRN_REPO="$T/small/repo"
	init_repo
	backup "$FULL"
	check_rc 1 "a backup that fills the repository's disk exits 1"
	check_grep "and says why" "[Nn]o space left on device" "$ERR"
	check_eq "it wrote no snapshot" "$(snapshot_count)" 0
	check_eq "nor left temporary files in the repository" \
		"$(find "$CAIRN_REPO" -name '.tmp-*' | wc -l)" 0
	mount -o remount,size=64m "$T/small"
	backup "$FULL"
	check_rc 0 "with room again, the next backup succeeds"
	run cairn restore "$SNAP" --target "$T/r-full"
	check_rc 0 "and restores"
	run treecmp "$FULL" "$T/r-full$FULL"
	check_rc 0 "bit-exact"
	export CAIRN_REPO=$main_repo
	umount "$T/small" && e2e_mounts=()
fi

e2e_finish

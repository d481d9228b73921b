# A file name that would rewrite the terminal (retitle it, clear it) and
# holds a newline: ls, snapshots and the warnings of backup and restore
# print it escaped as `ls -b` does, ls --json gives it exactly, and
# restore recreates it byte for byte.
# shellcheck source=lib.sh
source "$E2E_LIB"

: "${SWAP_SHIM:?SWAP_SHIM must name the swap shim library}"

SRC="$T/src"
NAME=$'evil\033]0;x\007\033[2J\nline'
SHOWN='evil\033]0;x\a\033[2J\nline'
mkdir -p "$SRC"
printf 'hostile name\n' >"$SRC/$NAME"
mkfifo "$SRC/fifo$NAME"
ln -s "to$NAME" "$SRC/link"

# Whether FILE holds no ESC, BEL or C1 CSI byte.
no_raw_controls()
{
	! LC_ALL=C grep -q $'[\033\007\233]' "$1"
}

init_repo
say "backup, with a missing path of the same name"
run cairn backup "$SRC" "$T/missing$NAME"
check_rc 3 "backup exits 3: one path is missing"
check "its warning names the path escaped" grep -qF -- "$T/missing$SHOWN: " "$ERR"
check "and writes no control byte" no_raw_controls "$ERR"
backup "$SRC"
require_rc 0 "backup of the tree alone exits 0"

say "ls"
run cairn ls "$SNAP"
check_rc 0 "ls exits 0"
check_eq "ls prints the name escaped, on one line" "$(grep -cF -- "$SRC/$SHOWN" "$OUT")" 1
check_eq "and so the FIFO's" "$(grep -cxF -- "$SRC/fifo$SHOWN" "$OUT")" 1
check_eq "one line for each of the three entries below the source" \
	"$(grep -c "^$SRC/" "$OUT")" 3
check "ls writes no control byte" no_raw_controls "$OUT"
run cairn ls -v "$SNAP"
check_rc 0 "ls -v exits 0"
check "ls -v prints the symlink's target escaped" grep -qF -- "$SRC/link -> to$SHOWN" "$OUT"
check "ls -v writes no control byte" no_raw_controls "$OUT"

run cairn ls --json "$SNAP"
check_rc 0 "ls --json exits 0"
cp "$OUT" "$T/ls.json"
run "$PYTHON" - "$T/ls.json" "$SRC" <<-'EOF'
	import json, os, sys
	src = os.fsencode(sys.argv[2])
	name = b"evil\x1b]0;x\x07\x1b[2J\nline"
	entries = [e for e in map(json.loads, open(sys.argv[1], "rb")) if "path" in e]
	paths = {os.fsencode(e["path"]) for e in entries}
	links = [os.fsencode(e.get("link_target", "")) for e in entries if e["type"] == "symlink"]
	sys.exit(not (src + b"/" + name in paths and src + b"/fifo" + name in paths
	              and links == [b"to" + name]))
EOF
check_rc 0 "ls --json gives the names and the symlink's target exactly"

say "snapshots"
run cairn snapshots
check_rc 0 "snapshots exits 0"
run cairn backup "$SRC/$NAME"
check_rc 0 "a backup of the file alone exits 0"
run cairn snapshots
check "snapshots prints its path escaped" grep -qF -- "$SRC/$SHOWN" "$OUT"
check "and writes no control byte" no_raw_controls "$OUT"

say "restore"
run cairn restore "$SNAP" --target "$T/r"
check_rc 0 "restore exits 0"
check "the file is restored under its exact name" cmp "$SRC/$NAME" "$T/r$SRC/$NAME"
check "so is the FIFO" test -p "$T/r$SRC/fifo$NAME"
check_eq "and the symlink's target" "$(readlink "$T/r$SRC/link")" "to$NAME"

# A restore warning about the FIFO: it is swapped for a symlink as restore
# sets its metadata (see restore_race.sh).
printf 'outside\n' >"$T/outside"
run env LD_PRELOAD="$(shim_preload)" SWAP_NAME="fifo$NAME" SWAP_TARGET="$T/outside" \
	"$CAIRN_BIN" restore "$SNAP" --target "$T/r2"
check_rc 3 "a restore whose FIFO is swapped exits 3"
check "its warning names the FIFO escaped" \
	grep -qF -- "$SRC/fifo$SHOWN: replaced during the restore" "$ERR"
check "and writes no control byte" no_raw_controls "$ERR"

e2e_finish

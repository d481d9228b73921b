# A local user racing restore cannot make it set owner, mode, times or
# xattrs on a file outside the target: swap_shim.c (LD_PRELOAD) swaps a
# FIFO, a symlink and a directory too deep to be kept open for a symlink
# to a file outside, before or after each call restore makes on that
# name in turn. The outside file keeps its mode, owner, xattrs and mtime
# every time, and a swap at restore's first look is reported as a failed
# entry (exit 3).
# shellcheck source=lib.sh
source "$E2E_LIB"

: "${SWAP_SHIM:?SWAP_SHIM must name the swap shim library}"

SRC="$T/src"
OUTSIDE="$T/outside/secret"
say "a FIFO, a symlink and a directory 70 levels down, set-user-id and owned by another user"
mkdir -p "$SRC" "$T/outside"
mkfifo "$SRC/fifo"
ln -s "plain target" "$SRC/link"
deep="$SRC"
for i in $(seq 1 70); do deep="$deep/d"; done
mkdir -p "$deep/deepdir"
# chown clears set-user-id: it comes first.
if is_root; then
	chown 1234:1234 "$SRC/fifo" "$deep/deepdir"
	chown -h 1234:1234 "$SRC/link"
else
	skip "not root: owners are not restored, so only mode, xattrs and times are checked"
fi
chmod 4777 "$SRC/fifo" "$deep/deepdir"
xattrs=0
if setfattr -n user.dir -v on-dir "$deep/deepdir" 2>/dev/null; then
	xattrs=1
fi

printf 'not yours\n' >"$OUTSIDE"
chmod 0600 "$OUTSIDE"
touch -d @1000000000 "$OUTSIDE"
if [ "$xattrs" = 1 ] && ! setfattr -n user.keep -v outside "$OUTSIDE"; then
	xattrs=0
fi
[ "$xattrs" = 1 ] || skip "no user xattrs on this file system: their part is not checked"
outside_state()
{
	stat -c '%a %u:%g %Y' "$OUTSIDE"
	getfattr -d --absolute-names "$OUTSIDE" 2>/dev/null
}
before=$(outside_state)

init_repo
backup "$SRC"
require_rc 0 "backup exits 0"

say "without the shim, the entries are restored as they were"
run cairn restore "$SNAP" --target "$T/plain"
check_rc 0 "restore exits 0"
check_eq "the FIFO's mode" "$(stat -c %a "$T/plain$SRC/fifo")" 4777
check_eq "the deep directory's mode" "$(stat -c %a "$T/plain$deep/deepdir")" 4777
check_eq "the symlink's target" "$(readlink "$T/plain$SRC/link")" "plain target"

# Restores with the shim swapping NAME at its CALL-th call, WHEN: sets
# SWAPPED to whether it did.
race()
{
	local name=$1 when=$2 call=$3
	rm -rf "$T/r" "$T/swap.log"
	run env LD_PRELOAD="$(shim_preload)" SWAP_NAME="$name" SWAP_WHEN="$when" SWAP_CALL="$call" \
		SWAP_TARGET="$OUTSIDE" SWAP_LOG="$T/swap.log" \
		"$CAIRN_BIN" restore "$SNAP" --target "$T/r"
	SWAPPED=0
	[ -s "$T/swap.log" ] && SWAPPED=1
}

for name in fifo link deepdir; do
	for when in before after; do
		say "$name swapped for a symlink to $OUTSIDE $when restore's calls on it"
		race "$name" "$when" 1
		check_eq "the shim swapped $name at restore's first call on it" "$SWAPPED" 1
		check_rc 3 "restore exits 3"
		check_grep "and names $name as not restored" "/$name: .*replaced during the restore" "$ERR"
		check_eq "the file outside is unchanged" "$(outside_state)" "$before"
		n=1
		for call in 2 3 4 5 6 7 8; do
			race "$name" "$when" "$call"
			[ "$SWAPPED" = 1 ] || break
			n=$call
			check "swapped $when call $call ($(cat "$T/swap.log")): restore exits 0 or 3" \
				test "$RC" -eq 0 -o "$RC" -eq 3
			check_eq "swapped $when call $call: the file outside is unchanged" \
				"$(outside_state)" "$before"
		done
		say "$n calls name $name"
	done
done

e2e_finish

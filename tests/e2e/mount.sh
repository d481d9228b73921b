# cairn mount: the snapshots as a read-only FUSE file system. The tree
# under ids/<id>/ matches the source (types, modes, owners, sizes, mtimes,
# symlinks, hard links, xattrs, content), a multi-MiB file reads back bit
# for bit, snapshots/, hosts/ and latest lead to the same snapshot, names
# with a newline or a byte that is not UTF-8 work, a damaged pack gives
# EIO for its file (named on stderr) while the others still read, and
# fusermount3 -u, SIGTERM and SIGINT end the command with status 0.
# shellcheck source=lib.sh
source "$E2E_LIB"

if [ ! -e /dev/fuse ]; then
	skip "no /dev/fuse"
	exit 77
fi

MNT="$T/mnt"
mkdir -p "$MNT"
MOUNT_PID=""

unmount_dir()
{
	fusermount3 -u "$1" 2>/dev/null || umount "$1" 2>/dev/null
}
e2e_cleanup_hooks+=("unmount_dir '$MNT'")

# Starts cairn mount in the background (stderr in $T/mount.err) and
# waits until the view is there.
mount_start()
{
	"$CAIRN_BIN" mount "$@" "$MNT" </dev/null >"$T/mount.out" 2>"$T/mount.err" &
	MOUNT_PID=$!
	e2e_bg_pids+=("$MOUNT_PID")
	for _ in $(seq 100); do
		[ -L "$MNT/latest" ] && return 0
		kill -0 "$MOUNT_PID" 2>/dev/null || break
		sleep 0.1
	done
	LAST_CMD="cairn mount $* $MNT"
	cp "$T/mount.err" "$ERR"
	return 1
}

# Waits for the mount command to end (killing it after 10 s, which
# fails the check that follows); its status goes to $RC.
mount_wait()
{
	local i
	for i in $(seq 100); do
		kill -0 "$MOUNT_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$MOUNT_PID" 2>/dev/null && { kill -KILL "$MOUNT_PID"; unmount_dir "$MNT"; }
	wait "$MOUNT_PID"
	RC=$?
	bg_forget "$MOUNT_PID"
	LAST_CMD="cairn mount (ended)"
	cp "$T/mount.err" "$ERR"
}

mounted()
{
	grep -qF " $MNT " /proc/mounts
}

SRC="$T/src"
nl=$'new\nline'
bad=$'bad\xff\xfename'
mkdir -p "$SRC/docs/deep/er" "$SRC/many" "$SRC/empty" "$SRC/$nl"
gen_file "$SRC/big.bin" $((6 * 1024 * 1024 + 12345)) mount-big
gen_file "$SRC/docs/deep/er/mid" 300000 mount-mid
echo "hello" >"$SRC/docs/hello.txt"
: >"$SRC/docs/zero"
printf 'odd\n' >"$SRC/$bad"
printf 'inside\n' >"$SRC/$nl/$nl"
ln -s hello.txt "$SRC/docs/link"
ln -s "/nowhere/$nl" "$SRC/docs/dangling"
ln "$SRC/docs/hello.txt" "$SRC/docs/deep/hard"
ln "$SRC/docs/hello.txt" "$SRC/many/hard2"
mkfifo "$SRC/docs/fifo"
# Enough entries that a listing of the parent jumps over this subtree.
for i in $(seq 1 400); do
	printf '%s\n' "$i" >"$SRC/many/file-with-a-long-name-$i"
done
chmod 0640 "$SRC/docs/hello.txt"
chmod 0700 "$SRC/docs/deep"
chmod 4755 "$SRC/docs/deep/er/mid"
touch -h -d '2001-02-03 04:05:06.123456789' "$SRC/docs/link" "$SRC/docs/zero"
touch -d '1999-12-31 23:59:59.5' "$SRC/docs"
is_root && chown 1234:5678 "$SRC/docs/zero"
setfattr -n user.colour -v blue "$SRC/docs/hello.txt" 2>/dev/null || true

init_repo --chunk-min 64K --chunk-avg 256K --chunk-max 1M
backup --host alpha "$SRC"
require_rc 0 "backup of the source"
ID1=$SNAP

# A second snapshot, of another host, whose data is alone in its packs.
VICTIM="$T/victim"
mkdir -p "$VICTIM"
gen_file "$VICTIM/precious" $((3 * 1024 * 1024)) mount-victim
find "$CAIRN_REPO/data" -type f | sort >"$T/packs.before"
backup --host beta "$VICTIM"
require_rc 0 "backup of a second tree"
ID2=$SNAP

say "mount"
require "cairn mount shows the view" mount_start
check "ids/ lists both snapshots" test -d "$MNT/ids/$ID1" -a -d "$MNT/ids/$ID2"
check_eq "latest points at the newest snapshot" "$(readlink "$MNT/latest")" "ids/$ID2"
check_eq "hosts/ lists the hosts" "$(ls "$MNT/hosts" | tr '\n' ' ')" "alpha beta "
check_eq "snapshots/ holds one entry a snapshot" "$(ls "$MNT/snapshots" | wc -l)" 2
t1=$(ls "$MNT/hosts/alpha")
check "hosts/alpha/<time> is the first snapshot" test -f "$MNT/hosts/alpha/$t1$SRC/big.bin"
check "snapshots/<time> is the same snapshot" test -f "$MNT/snapshots/$t1$SRC/docs/hello.txt"

say "the tree under ids/<id>/"
V="$MNT/ids/$ID1$SRC"
run treecmp --sparse-margin 100000000 "$SRC" "$V"
check_rc 0 "treecmp: the mounted tree is the source's (types, modes, owners, times, links, xattrs, content)"
[ "$RC" -eq 0 ] || cat "$OUT"
check "the multi-MiB file reads back bit for bit" cmp "$SRC/big.bin" "$V/big.bin"
check "it reads the same through latest's snapshot's twin (snapshots/)" \
	cmp "$SRC/big.bin" "$MNT/snapshots/$t1$SRC/big.bin"
check_eq "hard links share an inode" "$(stat -c %i "$V/docs/deep/hard")" "$(stat -c %i "$V/docs/hello.txt")"
check_eq "and count their links" "$(stat -c %h "$V/many/hard2")" 3
check_eq "mode, owner and mtime of a file" "$(stat -c '%a %s %Y' "$V/docs/deep/er/mid")" \
	"$(stat -c '%a %s %Y' "$SRC/docs/deep/er/mid")"
check_eq "a symlink's mtime to the nanosecond" "$(stat -c '%y' "$V/docs/link")" \
	"$(stat -c '%y' "$SRC/docs/link")"
check_eq "a symlink's target" "$(readlink "$V/docs/link")" hello.txt
check_eq "a dangling symlink's target with a newline" "$(readlink "$V/docs/dangling")" "/nowhere/$nl"
check_eq "a file named with a newline, in a directory named so" "$(cat "$V/$nl/$nl")" inside
check_eq "a name that is not UTF-8" "$(cat "$V/$bad")" odd
check "a directory listing of 400 names is whole" test "$(ls "$V/many" | wc -l)" -eq 401
check_eq "the directory after it is listed too" "$(ls "$V" | LC_ALL=C sort | head -c 100 | tr '\n' ' ')" \
	"$(ls "$SRC" | LC_ALL=C sort | head -c 100 | tr '\n' ' ')"
check_eq "inode numbers stay the same" "$(stat -c %i "$V/big.bin")" "$(stat -c %i "$V/big.bin")"
check "a path that is not there is ENOENT" test ! -e "$V/no-such-file"
check "the view cannot be written" sh -c "! echo x >'$V/docs/zero'" 2>/dev/null
check "a read at an offset gives the right bytes" bash -c \
	"cmp <(dd if='$V/big.bin' bs=4096 skip=1000 count=10 2>/dev/null) <(dd if='$SRC/big.bin' bs=4096 skip=1000 count=10 2>/dev/null)"
# Readers at once, each through its own path to the same data.
for p in "$V" "$MNT/snapshots/$t1$SRC" "$MNT/hosts/alpha/$t1$SRC"; do
	cmp "$SRC/big.bin" "$p/big.bin" >"$T/par.$(echo "$p" | md5sum | cut -c1-8)" 2>&1 &
done
readers_ok=1
for job in $(jobs -p); do
	[ "$job" = "$MOUNT_PID" ] && continue
	wait "$job" || readers_ok=0
done
check "three readers of the big file at once all read it bit for bit" test "$readers_ok" = 1
if getfattr -n user.colour "$SRC/docs/hello.txt" >/dev/null 2>&1; then
	check_eq "xattrs" "$(getfattr --only-values -n user.colour "$V/docs/hello.txt" 2>/dev/null)" blue
fi

say "unmount with fusermount3 -u"
if command -v fusermount3 >/dev/null; then
	fusermount3 -u "$MNT"
else
	umount "$MNT"
fi
mount_wait
check_rc 0 "cairn mount exits 0 once unmounted"
check "nothing is mounted any more" sh -c "! grep -qF ' $MNT ' /proc/mounts"

say "a damaged pack"
comm -13 "$T/packs.before" <(find "$CAIRN_REPO/data" -type f | sort) >"$T/packs.new"
pack=$(xargs -d '\n' stat -c '%s %n' <"$T/packs.new" | sort -n | tail -n 1 | cut -d' ' -f2-)
require "the second backup wrote a pack" test -n "$pack"
flip_byte "$pack" $(($(stat -c %s "$pack") / 3))
require "cairn mount shows the view again" mount_start
run cat "$MNT/ids/$ID2$VICTIM/precious"
check_rc 1 "reading the damaged file fails"
check_grep "with EIO" "Input/output error" "$ERR"
check_grep "cairn mount names the damaged file on stderr" "precious" "$T/mount.err"
check "the other snapshot's files still read" cmp "$SRC/big.bin" "$MNT/ids/$ID1$SRC/big.bin"
check "and its directories list" test -f "$MNT/latest/$VICTIM/precious"

say "SIGTERM unmounts"
kill -TERM "$MOUNT_PID"
mount_wait
check_rc 0 "cairn mount exits 0 on SIGTERM"
check "it unmounted" sh -c "! grep -qF ' $MNT ' /proc/mounts"

say "SIGINT unmounts, even sent to a background job"
require "cairn mount shows the view once more" mount_start
kill -INT "$MOUNT_PID"
mount_wait
check_rc 0 "cairn mount exits 0 on SIGINT"
check "it unmounted" sh -c "! grep -qF ' $MNT ' /proc/mounts"

say "a wrong password"
CAIRN_PASSWORD=wrong run cairn mount "$MNT"
check_rc 12 "a wrong password: exit 12"
check "and nothing is mounted" sh -c "! grep -qF ' $MNT ' /proc/mounts"

say "bad arguments"
run cairn mount
check_rc 1 "no directory: exit 1"
check_grep "says a directory is needed" "needs a directory" "$ERR"
run cairn mount "$T/not-there"
check_rc 1 "a directory that is not there: exit 1"
check_grep "names it" "not-there" "$ERR"

e2e_finish

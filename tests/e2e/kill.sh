# A backup killed part-way (SIGKILL) leaves a repository that works: the
# next backup succeeds, reuses what was already uploaded, and restores.
# shellcheck source=lib.sh
source "$E2E_LIB"

MIB=$((1024 * 1024))
TOTAL_MIB=${E2E_KILL_MIB:-300}
SRC="$T/src"
say "writing $TOTAL_MIB MiB of random data in many files"
"$PYTHON" - "$SRC" "$TOTAL_MIB" <<-'EOF'
	import os, random, sys
	root, total = sys.argv[1], int(sys.argv[2]) << 20
	r = random.Random("kill")
	i = 0
	while total > 0:
	    d = os.path.join(root, "d%02d" % (i // 40))
	    os.makedirs(d, exist_ok=True)
	    n = min(total, r.randint(256 << 10, 4 << 20))
	    with open(os.path.join(d, "f%04d" % i), "wb") as f:
	        f.write(os.urandom(n))
	    total -= n
	    i += 1
	print("%d files" % i)
EOF

# Objects already in the store, by their hex names (not temporary files).
count_objects()
{
	find "$CAIRN_REPO/$1" -type f 2>/dev/null | grep -cE '/[0-9a-f]{16,}$'
}

killed=0
for attempt in 1 2 3; do
	rm -rf "$CAIRN_REPO" "$CAIRN_CACHE_DIR" "$XDG_CACHE_HOME"
	init_repo
	say "backup, to be killed once the store holds a few packs (attempt $attempt)"
	"$CAIRN_BIN" backup --json "$SRC" </dev/null >"$T/killed.out" 2>"$T/killed.err" &
	pid=$!
	e2e_bg_pids+=("$pid")
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$(count_objects index)" -ge 3 ]; then
			kill -9 "$pid"
			break
		fi
		sleep 0.02
	done
	wait "$pid"
	rc=$?
	if [ "$rc" -eq 137 ]; then
		killed=1
		break
	fi
	echo "the backup ended (exit $rc) before it could be killed; trying again"
done
LAST_CMD="cairn backup $SRC (killed)"
RC=$rc
ERR="$T/killed.err"
require "the backup was killed part-way (exit 137)" test "$killed" -eq 1
ERR="$T/err"
packs=$(count_objects data)
indexes=$(count_objects index)
echo "at the kill: $packs packs, $indexes index objects"

run cairn snapshots --json
check_rc 0 "snapshots works after the kill"
check_eq "the killed backup left no snapshot" "$(snapshot_count)" 0

say "a new backup"
backup "$SRC"
check_rc 0 "a new backup after the kill exits 0"
total=$(summary bytes_total)
added=$(summary bytes_added)
echo "bytes_total $total, bytes_added $added"
check "it stores less than the whole tree" test "$added" -lt "$total"
# Every index object stands for one uploaded pack of about 16 MiB.
check "it reuses the packs uploaded before the kill (at least $((indexes * 8)) MiB)" \
	test "$added" -le $((total - indexes * 8 * MIB))
run cairn snapshots --json
check_rc 0 "snapshots works"
check_eq "it lists the one new snapshot" "$(snapshot_count)" 1

say "restore"
run cairn restore "$SNAP" --target "$T/restore"
check_rc 0 "restore exits 0"
run treecmp "$SRC" "$T/restore$SRC"
cat "$OUT"
check_rc 0 "the snapshot restores bit for bit"

e2e_finish

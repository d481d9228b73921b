# cairn prune: space comes back (and --dry-run changes nothing), mostly
# unused packs are repacked, and the two interleavings a naive "condemn,
# then delete after a grace" loses data in are forced with hold points:
#  1. machine B's index knows a pack that machine A's prune deletes; B
#     backs the same file up again;
#  2. a backup whose parent is forgotten and pruned while it runs reuses
#     the parent's chunks through the files cache.
# Also: a backup stopped (SIGSTOP) past the grace while a prune deletes
# what it reuses writes no snapshot, and one whose snapshot reaches the
# store only after that takes it back; a backup that lists gc/ while a
# plan is carried out applies its done record; a backup that starts while a plan
# waits stores condemned chunks again; a restore whose pack a prune repacks meanwhile; two prunes at once; prune killed at each step, then run again;
# leftovers of killed writes; a snapshot record that does not read stops
# prune before anything is deleted.
# shellcheck source=lib.sh
source "$E2E_LIB"

# Markers are refreshed every second and stale after 4: a killed
# process's marker stops counting within the test.
export CAIRN_MARKER_REFRESH=1 CAIRN_MARKER_GRACE=4

data_bytes() { find "$CAIRN_REPO/data" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
npacks() { find "$CAIRN_REPO/data" -type f ! -name '.tmp-*' | wc -l; }

# Restores SNAPSHOT into DIR and compares it with the tree SRC.
restore_eq()
{
	rm -rf "$2"
	run cairn restore "$1" --target "$2"
	check_rc 0 "$4: restore exits 0"
	run treecmp "$3" "$2$5"
	check_rc 0 "$4: restored bit for bit"
}

check_ok()
{
	run cairn check --read-data --json
	check_rc 0 "$1: check --read-data exits 0"
}

# Lets the process PID held at HOLD go on, waits for it; RC its status.
release()
{
	touch "$1"
	wait "$2"
	RC=$?
	bg_forget "$2"
}

# A fresh SRC holding one file of 1.5 MB (FILE, seeded SEED), backed
# up: parent is its snapshot.
new_parent()
{
	rm -rf "$SRC" && mkdir -p "$SRC"
	gen_file "$SRC/$1" 1500000 "$2"
	backup "$SRC"
	require_rc 0 "the parent backup exits 0"
	parent=$SNAP
}

SRC="$T/src"
mkdir -p "$SRC"
init_repo

say "space comes back"
for i in 1 2 3; do
	rm -rf "$SRC" && mkdir -p "$SRC"
	gen_file "$SRC/big$i" 3000000 "unique$i"
	backup "$SRC"
	require_rc 0 "backup $i exits 0"
done
cp -a "$SRC" "$T/src3"
before=$(data_bytes)
run cairn forget --keep-last 1
require_rc 0 "forget --keep-last 1 exits 0"
run cairn prune --dry-run --json
check_rc 0 "prune --dry-run exits 0"
check_eq "--dry-run would condemn 2 snapshots' data" "$(json_get bytes_condemned | awk '{print ($1 > 5000000)}')" 1
check_eq "--dry-run deletes nothing" "$(data_bytes)" "$before"
check "--dry-run writes no plan" test ! -e "$CAIRN_REPO/gc"
run cairn prune --json
check_rc 0 "prune exits 0"
cp "$OUT" "$T/prune1.json"
after=$(data_bytes)
check_eq "prune reports the bytes it deleted" "$(json_get bytes_deleted "$T/prune1.json")" $((before - after))
check "about 6 MB came back ($before -> $after)" test $((before - after)) -gt 5900000
check "what is left is about the kept snapshot (3 MB): $after" test "$after" -lt 3200000
version=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$CAIRN_REPO/config")
check "the repository format is now 2 or more ($version)" test "$version" -ge 2
run cairn prune --json
check_rc 0 "a second prune exits 0"
check_eq "and deletes nothing more" "$(json_get packs_deleted)" 0
check_ok "after prune"
restore_eq latest "$T/r1" "$T/src3" "the kept snapshot" "$SRC"

say "a mostly unused pack is repacked"
rm -rf "$SRC" && mkdir -p "$SRC"
for i in $(seq 1 60); do gen_file "$SRC/f$i" 40000 "small$i"; done
backup "$SRC"
require_rc 0 "a backup of 60 small files exits 0"
rm "$SRC"/f[1-4]*
cp -a "$SRC" "$T/src-small"
backup "$SRC"
require_rc 0 "a backup of the 16 left exits 0"
run cairn forget --keep-last 1 --prune --max-unused 0 --json
check_rc 0 "forget --prune --max-unused 0 exits 0"
"$PYTHON" -c 'import json,sys; p=json.load(open(sys.argv[1]))["prune"]; print(p["packs_repacked"] >= 1 and p["blobs_copied"] >= 1 and p["bytes_deleted"] > 1000000)' "$OUT" >"$T/repack.ok"
check_eq "the pack of the 60 files was repacked: its 16 used files copied" "$(cat "$T/repack.ok")" True
check "the data left is about 16 files of 40 kB: $(data_bytes)" test "$(data_bytes)" -lt 1000000
check_ok "after repacking"
restore_eq latest "$T/r2" "$T/src-small" "after repacking" "$SRC"

say "interleaving 1: another machine's index knows a pack that a prune deleted"
B_CACHE="$T/cache-b"
rm -rf "$SRC" && mkdir -p "$SRC"
gen_file "$SRC/shared" 2000000 "interleaving1"
cp -a "$SRC" "$T/src-i1"
CAIRN_CACHE_DIR=$B_CACHE run cairn backup --json "$SRC"
require_rc 0 "machine B backs the file up"
first=$(json_get snapshot_id)
run cairn forget "$first"
require_rc 0 "machine A forgets B's snapshot"
run cairn prune --json
require_rc 0 "machine A prunes"
check "and deletes the file's pack" test "$(json_get bytes_deleted)" -gt 1900000
CAIRN_CACHE_DIR=$B_CACHE run cairn backup --json "$SRC"
check_rc 0 "machine B backs the same file up again"
check "B stores it again: its index no longer places it in the deleted pack" \
	test "$(json_get bytes_added)" -gt 1900000
check_ok "interleaving 1"
restore_eq latest "$T/r3" "$T/src-i1" "interleaving 1" "$SRC"

say "interleaving 2: the parent is forgotten and pruned while a backup reuses it"
rm -rf "$SRC" && mkdir -p "$SRC"
gen_file "$SRC/a" 1500000 "i2a"
gen_file "$SRC/b" 1500000 "i2b"
backup "$SRC"
require_rc 0 "the parent backup exits 0"
parent=$SNAP
gen_file "$SRC/c" 100000 "i2c"
cp -a "$SRC" "$T/src-i2"
rm -f "$T/hold2"*
CAIRN_TEST_HOLD="backup-parent:$T/hold2" bg "$CAIRN_BIN" backup --json "$SRC" >"$T/b2.out" 2>"$T/b2.err"
b2=$!
require "the backup has read its parent and waits" wait_for "$T/hold2.reached"
run cairn forget "$parent"
require_rc 0 "the parent is forgotten meanwhile"
run cairn prune --json
check_rc 0 "prune exits 0"
cp "$OUT" "$T/prune-i2.json"
check_eq "it deletes nothing while the backup runs" "$(json_get packs_deleted "$T/prune-i2.json")" 0
check "its plan waits for the backup" test "$(json_get waiting_generation "$T/prune-i2.json")" -gt 0
check_eq "one backup" "$(json_get backups_waited "$T/prune-i2.json")" 1
release "$T/hold2" "$b2"
check_rc 0 "the backup finishes"
check_eq "reusing the parent's chunks unread (files cache)" "$(json_get files_unchanged "$T/b2.out")" 2
run cairn prune --json
check_rc 0 "the next prune exits 0"
check "it keeps the condemned packs the new snapshot needs" test "$(json_get packs_reprieved)" -ge 1
check_ok "interleaving 2"
restore_eq latest "$T/r4" "$T/src-i2" "interleaving 2" "$SRC"

say "a backup stopped past the grace while its parent is pruned writes no snapshot"
new_parent s stopped
rm -f "$T/hold8"*
CAIRN_TEST_HOLD="backup-parent:$T/hold8" bg "$CAIRN_BIN" backup --json "$SRC" >"$T/b8.out" 2>"$T/b8.err"
b8=$!
require "the backup has read its parent" wait_for "$T/hold8.reached"
kill -STOP "$b8"
run cairn forget "$parent"
require_rc 0 "the parent is forgotten"
sleep 5 # the stopped backup's marker goes stale
run cairn prune --json
check_rc 0 "prune exits 0"
check "it takes the stopped backup for dead and deletes the parent's data" \
	test "$(json_get bytes_deleted)" -gt 1400000
n_before=$(snapshot_count)
kill -CONT "$b8"
release "$T/hold8" "$b8"
check_rc 1 "the backup, woken, exits 1"
check_grep "saying that a prune may have taken it for dead" "taken this backup for dead" "$T/b8.err"
check_eq "it wrote no snapshot" "$(snapshot_count)" "$n_before"
check_ok "after the stopped backup"
rm -f "$T/hold9"*
CAIRN_TEST_HOLD="backup-parent:$T/hold9" bg "$CAIRN_BIN" backup --json "$SRC" >"$T/b9.out" 2>"$T/b9.err"
b9=$!
require "another backup has read its (no) parent" wait_for "$T/hold9.reached"
kill -STOP "$b9"
sleep 5
kill -CONT "$b9"
release "$T/hold9" "$b9"
check_rc 0 "stopped as long with no prune meanwhile, a backup goes on and exits 0"

say "a snapshot that reaches the store after its marker went stale is taken back"
new_parent late late
n_before=$(snapshot_count)
rm -f "$T/hold10"*
# The backup stops just before writing its snapshot, and its marker's
# refresh thread stops too (a store that stalls both).
CAIRN_TEST_HOLD="backup-saving:$T/hold10,marker-refresh:$T/hold10" \
	bg "$CAIRN_BIN" backup --json "$SRC" >"$T/b10.out" 2>"$T/b10.err"
b10=$!
require "the backup has checked its marker and is about to write its snapshot" \
	wait_for "$T/hold10.reached"
run cairn forget "$parent"
require_rc 0 "its parent is forgotten"
sleep 5 # the backup's marker goes stale
run cairn prune --json
check_rc 0 "prune exits 0"
check "it takes the backup for dead and deletes the parent's data" \
	test "$(json_get bytes_deleted)" -gt 1400000
release "$T/hold10" "$b10"
check_rc 1 "the backup writes its snapshot, then exits 1"
check_grep "saying that a prune may have taken it for dead" "taken this backup for dead" "$T/b10.err"
check_grep "and that it took its snapshot back" "written and taken back" "$T/b10.err"
check_eq "no snapshot is left of it" "$(snapshot_count)" "$((n_before - 1))"
check_ok "after the snapshot taken back"

say "a backup that starts while a plan is carried out at once applies its done record"
# The prune stops after publishing its plan and finding no backup
# running; a backup starts and lists gc/ (the plan, not yet carried out);
# the prune deletes the packs and tidies the plan away; the backup, of
# the same file, must not take its chunks from the deleted pack.
rm -rf "$SRC" && mkdir -p "$SRC"
gen_file "$SRC/gone" 1500000 "carried-out"
cp -a "$SRC" "$T/src-co"
# The backups run on another machine, whose index knows the file's pack.
CAIRN_CACHE_DIR="$T/cache-co" run cairn backup --json "$SRC"
require_rc 0 "a backup of the file exits 0"
run cairn forget "$(json_get snapshot_id)"
require_rc 0 "its snapshot is forgotten"
rm -f "$T/hold11"* "$T/hold12"*
CAIRN_TEST_HOLD="prune-planned:$T/hold11" bg "$CAIRN_BIN" prune --json >"$T/p11.out" 2>"$T/p11.err"
p11=$!
require "the prune has published its plan, with no backup running" wait_for "$T/hold11.reached"
CAIRN_CACHE_DIR="$T/cache-co" CAIRN_TEST_HOLD="backup-gc-listed:$T/hold12" \
	bg "$CAIRN_BIN" backup --json "$SRC" >"$T/b12.out" 2>"$T/b12.err"
b12=$!
require "a backup of the same file has listed gc/" wait_for "$T/hold12.reached"
release "$T/hold11" "$p11"
check_rc 0 "the prune carries its plan out and exits 0"
check "it deleted the file's pack" test "$(json_get bytes_deleted "$T/p11.out")" -gt 1400000
release "$T/hold12" "$b12"
check_rc 0 "the backup exits 0"
check "it stored the file again" test "$(json_get bytes_added "$T/b12.out")" -gt 1400000
check_ok "after a plan carried out under a starting backup"
restore_eq "$(json_get snapshot_id "$T/b12.out")" "$T/r12" "$T/src-co" "the backup's snapshot" "$SRC"

say "a backup that starts while a plan waits stores condemned chunks again"
OTHER="$T/other"
mkdir -p "$OTHER"
gen_file "$OTHER/x" 10000 other
rm -rf "$SRC" && mkdir -p "$SRC"
gen_file "$SRC/d" 2000000 "plan-d"
cp -a "$SRC" "$T/src-p"
backup "$SRC"
require_rc 0 "a backup of d exits 0"
run cairn forget "$SNAP"
require_rc 0 "and it is forgotten"
rm -f "$T/hold3"*
CAIRN_TEST_HOLD="backup-parent:$T/hold3" bg "$CAIRN_BIN" backup --json "$OTHER" >"$T/b3.out" 2>"$T/b3.err"
b3=$!
require "a backup of something else runs" wait_for "$T/hold3.reached"
run cairn prune --json
check_rc 0 "prune exits 0"
check "its plan condemns d's pack and waits" test "$(json_get waiting_generation)" -gt 0
run cairn backup --json "$SRC"
check_rc 0 "a backup of d while the plan waits exits 0"
dsnap=$(json_get snapshot_id)
check "it stores d again rather than refer to the condemned copy" test "$(json_get bytes_added)" -gt 1900000
release "$T/hold3" "$b3"
check_rc 0 "the other backup finishes"
run cairn prune --json
check_rc 0 "the next prune exits 0"
check "it deletes the condemned pack" test "$(json_get bytes_deleted)" -gt 1900000
check_eq "and reprieves nothing" "$(json_get packs_reprieved)" 0
check_ok "after the waiting plan"
restore_eq latest "$T/r5" "$T/src-p" "the backup made while the plan waited" "$SRC"

say "a restore whose blobs a prune moves meanwhile looks them up again"
rm -rf "$SRC" && mkdir -p "$SRC"
for i in $(seq 1 30); do gen_file "$SRC/m$i" 30000 "move$i"; done
backup "$SRC"
require_rc 0 "a backup of 30 small files exits 0"
all30=$SNAP
rm "$SRC"/m1*
cp -a "$SRC" "$T/src-move"
backup "$SRC"
require_rc 0 "a backup of the 19 left exits 0"
kept=$SNAP
run cairn forget "$all30"
require_rc 0 "the first is forgotten"
rm -rf "$T/r-move" "$T/hold7"*
CAIRN_TEST_HOLD="restore-located:$T/hold7" bg "$CAIRN_BIN" restore "$kept" --target "$T/r-move" >"$T/rm.out" 2>"$T/rm.err"
rs=$!
require "the restore has located its blobs" wait_for "$T/hold7.reached"
run cairn prune --max-unused 0 --json
check_rc 0 "prune exits 0"
check "it repacks the pack the restore is about to read" test "$(json_get packs_repacked)" -ge 1
release "$T/hold7" "$rs"
check_rc 0 "the restore finishes and exits 0"
run treecmp "$T/src-move" "$T/r-move$SRC"
check_rc 0 "bit for bit, from the blobs' new pack"

say "two prunes at once: one waits for the other"
rm -f "$T/hold4"*
CAIRN_TEST_HOLD="prune-started:$T/hold4" bg "$CAIRN_BIN" prune >"$T/p1.out" 2>"$T/p1.err"
p1=$!
require "the first prune runs" wait_for "$T/hold4.reached"
bg "$CAIRN_BIN" prune >"$T/p2.out" 2>"$T/p2.err"
p2=$!
sleep 2
check "the second waits" kill -0 "$p2"
check_grep "and says why" "another prune is running" "$T/p2.err"
release "$T/hold4" "$p1"
check_rc 0 "the first prune exits 0"
wait "$p2"
RC=$?
bg_forget "$p2"
check_rc 0 "then the second exits 0"
check_ok "after two prunes"

say "prune killed at each step, then run again"
base=$(data_bytes)
for point in prune-started prune-planned prune-done-written; do
	rm -rf "$SRC" && mkdir -p "$SRC"
	gen_file "$SRC/k" 1500000 "kill-$point"
	backup "$SRC"
	require_rc 0 "$point: a backup exits 0"
	run cairn forget "$SNAP"
	rm -f "$T/hold5"*
	CAIRN_TEST_HOLD="$point:$T/hold5" bg "$CAIRN_BIN" prune >/dev/null 2>&1
	pk=$!
	require "$point: prune reaches it" wait_for "$T/hold5.reached"
	kill -9 "$pk"
	wait "$pk" 2>/dev/null
	bg_forget "$pk"
	sleep 5 # its marker goes stale
	run cairn prune --json
	check_rc 0 "$point: the next prune exits 0"
	run cairn prune --json
	check_rc 0 "$point: and one more"
	check_eq "$point: nothing is left waiting" "$(json_get waiting_generation)" 0
	check_ok "$point"
	restore_eq "$dsnap" "$T/r6" "$T/src-p" "$point: the snapshot of d" "$SRC"
done
check "what the killed prunes were to delete is gone too: $base -> $(data_bytes)" \
	test "$(data_bytes)" -le $((base + 10000))

say "leftovers of killed writes"
mkdir -p "$CAIRN_REPO/data/ab"
head -c 5000 /dev/urandom >"$CAIRN_REPO/data/ab/.tmp-killed"
touch -d '1 hour ago' "$CAIRN_REPO/data/ab/.tmp-killed"
gen_file "$T/huge" 3000000 huge
packs_before=$(npacks)
rm -f "$T/hold6"*
CAIRN_TEST_HOLD="backup-committed:$T/hold6" bg "$CAIRN_BIN" backup "$T/huge" >/dev/null 2>&1
bk=$!
require "a backup commits a pack" wait_for "$T/hold6.reached"
kill -9 "$bk"
wait "$bk" 2>/dev/null
bg_forget "$bk"
check "the killed backup left a pack behind" test "$(npacks)" -gt "$packs_before"
sleep 5
run cairn prune --json
check_rc 0 "prune exits 0"
check "it removes the stale temporary files (ours, and the killed backup's)" \
	test "$(json_get temp_deleted)" -ge 1
check "and the killed backup's packs" test "$(json_get packs_deleted)" -ge 1
check "no .tmp- file is left" test -z "$(find "$CAIRN_REPO" -name '.tmp-*')"
run cairn check --json
check_rc 0 "check exits 0"
check_eq "and finds no unreferenced pack" "$(json_get packs_unreferenced)" 0

say "a snapshot record that does not read stops prune"
snap=$(find "$CAIRN_REPO/snapshots" -type f | head -1)
flip_byte "$snap" 40
packs_before=$(npacks)
run cairn prune
check_rc 1 "prune exits 1"
check_grep "and names the record" "snapshots/" "$ERR"
check_eq "nothing is deleted" "$(npacks)" "$packs_before"

e2e_finish

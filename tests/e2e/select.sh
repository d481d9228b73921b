# Choosing snapshots as restic does: `backup --tag x,y` gives two tags;
# `--host`, `--tag` and `--path` narrow `snapshots`, `latest` and every
# SNAPSHOT argument of ls, restore and forget (`--tag a,b`: both tags;
# repeated options: any of them, but --path: all); without them `latest`
# is the newest of every host. ls and restore say which snapshot they
# use, on stderr and in their JSON.
# shellcheck source=lib.sh
source "$E2E_LIB"

init_repo
A="$T/src/a"
B="$T/src/b"
mkdir -p "$A/sub" "$B"
gen_file "$A/one" 70000 one
printf 'two\n' >"$A/sub/two"
printf 'bee\n' >"$B/bee"

# The ids `snapshots --json` lists, in its order, on one line.
listed()
{
	"$PYTHON" -c 'import json, sys; print(" ".join(s["id"] for s in json.load(open(sys.argv[1]))))' "$OUT"
}

# The "snapshot" member's id of the JSON object on line N of $OUT.
json_snapshot_id()
{
	"$PYTHON" -c 'import json, sys; print(json.loads(open(sys.argv[1]).readlines()[int(sys.argv[2]) - 1])["snapshot"]["id"])' \
		"$OUT" "$1"
}

say "backup --tag x,y gives two tags"
backup --host h1 --tag x,y "$A"
require_rc 0 "backup --host h1 --tag x,y exits 0"
S1=$SNAP
sleep 0.01
backup --host h2 --tag x --tag x "$A"
require_rc 0 "backup --host h2 --tag x exits 0"
S2=$SNAP
sleep 0.01
backup --host h1 --tag z "$B"
require_rc 0 "backup --host h1 --tag z exits 0"
S3=$SNAP
run cairn snapshots --json
check_eq "the snapshots, oldest first" "$(listed)" "$S1 $S2 $S3"
check_eq "x,y is stored as the two tags x and y" \
	"$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["tags"])' "$OUT")" "['x', 'y']"
check_eq "a tag given twice is stored once" \
	"$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[1]["tags"])' "$OUT")" "['x']"
run cairn backup --tag 'x,,y' "$A"
check_rc 1 "backup --tag x,,y (an empty tag) exits 1"
check_grep "and says a tag cannot be empty" "a tag cannot be empty" "$ERR"
check_eq "and writes no snapshot" "$(snapshot_count)" 3

say "snapshots --host, --tag, --path"
run cairn snapshots --json --tag x,y
check_eq "--tag x,y: the snapshot with both tags" "$(listed)" "$S1"
run cairn snapshots --json --tag y,x
check_eq "--tag y,x: the same, in any order" "$(listed)" "$S1"
run cairn snapshots --json --tag x
check_eq "--tag x: both snapshots tagged x" "$(listed)" "$S1 $S2"
run cairn snapshots --json --tag y --tag z
check_eq "--tag y --tag z: either" "$(listed)" "$S1 $S3"
run cairn snapshots --json --tag x,z
check_eq "--tag x,z: none has both" "$(listed)" ""
run cairn snapshots --json --host h1
check_eq "--host h1" "$(listed)" "$S1 $S3"
run cairn snapshots --json --host h1 --host h2 --tag x
check_eq "--host h1 --host h2 --tag x" "$(listed)" "$S1 $S2"
run cairn snapshots --json --path "$A"
check_eq "--path A" "$(listed)" "$S1 $S2"
(cd "$T/src" && "$CAIRN_BIN" snapshots --json --path ./b/ >"$OUT" 2>"$ERR")
check_eq "--path taken from the current directory and normalised" "$(listed)" "$S3"
run cairn snapshots --json --path "$A" --path "$B"
check_eq "--path A --path B: none has both paths" "$(listed)" ""
run cairn snapshots --tag x,y
check_rc 0 "snapshots --tag x,y exits 0"
check_grep "the table says 1 snapshot" "^1 snapshot$" "$OUT"

say "latest: the newest of every host, unless narrowed"
run cairn ls latest
check_rc 0 "ls latest exits 0"
check_grep "ls latest lists the newest snapshot, of any host" "^$B/bee$" "$OUT"
check_grep "and says which snapshot it uses, with its host and paths" \
	"^using snapshot ${S3:0:8} of [0-9-]+ [0-9:]+, host h1, path $B, tags z$" "$ERR"
run cairn ls latest --host h2
check_rc 0 "ls latest --host h2 exits 0"
check_grep "ls latest --host h2 lists h2's snapshot" "^$A/sub/two$" "$OUT"
check_grep "and says so" "^using snapshot ${S2:0:8} .*, host h2, path $A, tags x$" "$ERR"
run cairn ls latest --tag x --path "$A"
check_grep "ls latest --tag x --path A uses the newest of those" "^using snapshot ${S2:0:8} " "$ERR"
run cairn ls latest --host h1 --tag x
check_grep "ls latest --host h1 --tag x uses h1's tagged snapshot" "^using snapshot ${S1:0:8} " "$ERR"
run cairn ls latest --host nope
check_rc 1 "ls latest --host nope exits 1"
check_grep "and says no snapshot is of that host" "no snapshot of host nope$" "$ERR"
run cairn ls latest --host h1 --tag x,z --path "$A"
check_grep "the message names every part of the filter" \
	"no snapshot of host h1 tagged x,z with path $A$" "$ERR"
run cairn ls "${S2:0:8}" --host h1
check_rc 1 "ls of h2's snapshot by id with --host h1 exits 1"
check_grep "and says it is not one of host h1" "snapshot ${S2:0:8} is not one of host h1" "$ERR"
run cairn ls "$S2" --host h2
check_rc 0 "ls of h2's snapshot by id with --host h2 exits 0"
run cairn ls --json latest --host h2
check_rc 0 "ls --json exits 0"
check_eq "its first line is the snapshot it lists" "$(json_snapshot_id 1)" "$S2"
check_grep "with its host and paths" "\"host\":\"h2\",\"paths\":\\[\"$A\"\\]" "$OUT"
run cairn ls -q latest
check "ls --quiet does not say which snapshot it uses" test ! -s "$ERR"

say "restore --host --tag"
run cairn restore latest --host h1 --tag x,y --target "$T/r1"
check_rc 0 "restore latest --host h1 --tag x,y exits 0"
check_grep "restore says which snapshot it uses" "^using snapshot ${S1:0:8} .*, host h1, path $A, tags x,y$" "$ERR"
check "the restored file has the source's bytes" cmp "$A/one" "$T/r1$A/one"
check "and so has the other" cmp "$A/sub/two" "$T/r1$A/sub/two"
check "nothing of b was restored" test ! -e "$T/r1$B"
check_grep "the summary counts 2 files" "^restored 2 files, [0-9]+ dirs, " "$OUT"
run cairn restore latest --host h1 --target "$T/r3"
check "restore latest --host h1 restores h1's newest (b)" cmp "$B/bee" "$T/r3$B/bee"
check_grep "the summary says 1 file, not 1 files" "^restored 1 file, [0-9]+ dirs, 4 B to $T/r3$" "$OUT"
run cairn restore latest --tag x --json --target "$T/r2"
check_rc 0 "restore --json exits 0"
check_eq "its summary names the snapshot it restored" "$(json_snapshot_id 1)" "$S2"
check_eq "and its short id" \
	"$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["snapshot"]["short_id"])' "$OUT")" \
	"${S2:0:8}"
run cairn restore latest --tag nope --target "$T/r4"
check_rc 1 "restore latest --tag nope exits 1"
check "and restores nothing" test ! -e "$T/r4"

say "forget SNAPSHOT with --host"
run cairn forget "$S1" --host h2
check_rc 1 "forget of h1's snapshot with --host h2 exits 1"
check_grep "and says it is not h2's" "is not one of host h2" "$ERR"
run cairn forget latest --host h2
check_rc 0 "forget latest --host h2 exits 0"
check_grep "it removes h2's snapshot" "^removed snapshot ${S2:0:8}$" "$OUT"
run cairn snapshots --json
check_eq "the other snapshots are left" "$(listed)" "$S1 $S3"
run cairn forget --keep-last 5 --tag x,y --dry-run --json
check_rc 0 "forget --keep-last --tag x,y exits 0"
check_eq "its policy sees the snapshot with both tags only" \
	"$("$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(" ".join(e["id"] for g in d["groups"] for e in g["keep"]))' "$OUT")" \
	"$S1"

e2e_finish

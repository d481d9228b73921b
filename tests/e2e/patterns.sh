# Patterns in restic's syntax: what a backup with --exclude keeps, what
# restore --include/--exclude writes, what ls lists; "**", a trailing '/'
# for directories only, '!' negation, anchored and unanchored patterns;
# the warnings for a pattern that matched nothing, exit 1 when no include
# did, and restore --dry-run, which creates nothing.
# shellcheck source=lib.sh
source "$E2E_LIB"

SRC="$T/src"
say "building the tree"
mkdir -p "$SRC/docs" "$SRC/cache" "$SRC/build/sub" "$SRC/deep/a/b/c"
printf 'a text\n' >"$SRC/a.txt"
printf 'a gz\n' >"$SRC/a.gz"
printf 'readme\n' >"$SRC/docs/readme.md"
printf 'old\n' >"$SRC/docs/old.gz"
printf 'keep me\n' >"$SRC/docs/keep.gz"
printf 'a file named cache\n' >"$SRC/docs/cache"
printf 'cached\n' >"$SRC/cache/x"
printf 'object\n' >"$SRC/build/obj.o"
printf 'deep gz\n' >"$SRC/build/sub/deep.gz"
printf 'note\n' >"$SRC/deep/a/b/c/note.txt"
printf 'data\n' >"$SRC/deep/a/b/c/data.gz"
init_repo

# The paths `cairn ls --json` lists, one a line, after its first line
# (the snapshot); $1: the file with ls's output.
ls_paths()
{
	"$PYTHON" - "$1" <<-'EOF'
		import json, sys
		lines = open(sys.argv[1]).read().splitlines()
		assert json.loads(lines[0])["message_type"] == "snapshot", lines[0]
		for l in lines[1:]:
		    print(json.loads(l)["path"])
	EOF
}

say "backup --exclude: **, a trailing '/', '!' and a pattern that matches nothing"
printf '# directories named build\nbuild/\n' >"$T/excludes"
backup --exclude '**/*.gz' --exclude 'cache/' --exclude '!keep.gz' --exclude '/no/such/path' \
	--exclude-file "$T/excludes" "$SRC"
require_rc 0 "backup with excludes exits 0"
check_grep "it warns of the exclude that matched nothing" \
	'warning: exclude pattern matched nothing: /no/such/path$' "$ERR"
check_eq "and of no other pattern" "$(grep -c 'matched nothing' "$ERR")" 1
run cairn ls "$SNAP" --json
require_rc 0 "ls --json exits 0"
ls_paths "$OUT" >"$T/kept"
kept() { grep -qxF "$SRC/$1" "$T/kept"; }
check "a.txt is kept" kept a.txt
check "**/*.gz leaves a.gz out (top level)" bash -c '! grep -qxF "$1" "$2"' _ "$SRC/a.gz" "$T/kept"
check "**/*.gz leaves docs/old.gz out" bash -c '! grep -qxF "$1" "$2"' _ "$SRC/docs/old.gz" "$T/kept"
check "**/*.gz leaves deep/a/b/c/data.gz out" \
	bash -c '! grep -qxF "$1" "$2"' _ "$SRC/deep/a/b/c/data.gz" "$T/kept"
check "!keep.gz takes docs/keep.gz back" kept docs/keep.gz
check "cache/ leaves the directory cache out" \
	bash -c '! grep -qxF "$1" "$2"' _ "$SRC/cache" "$T/kept"
check "and what is below it" bash -c '! grep -qxF "$1" "$2"' _ "$SRC/cache/x" "$T/kept"
check "cache/ keeps a file named cache" kept docs/cache
check "build/ from --exclude-file leaves build and below out" \
	bash -c '! grep -qF "$1" "$2"' _ "$SRC/build" "$T/kept"
check "deep/a/b/c/note.txt is kept" kept deep/a/b/c/note.txt
check_eq "nothing else below the source is kept" "$(grep -cF "$SRC/" "$T/kept")" 10

say "a malformed pattern is refused"
backup --exclude '[abc' "$SRC"
check_rc 1 "backup with an unclosed '[' exits 1"
check_grep "and names the pattern" 'pattern \[abc' "$ERR"

say "a full backup to restore from"
backup "$SRC"
require_rc 0 "backup exits 0"
check "no pattern, no warning" bash -c '! grep -q "matched nothing" "$1"' _ "$ERR"

say "restore --include '*.txt': a name at any depth, directories on the way only"
R="$T/r1"
run cairn restore "$SNAP" --target "$R" --include '*.txt'
check_rc 0 "restore exits 0"
check "a.txt is restored" cmp "$SRC/a.txt" "$R$SRC/a.txt"
check "deep/a/b/c/note.txt is restored" cmp "$SRC/deep/a/b/c/note.txt" "$R$SRC/deep/a/b/c/note.txt"
check_eq "nothing else: 2 files" "$(find "$R" -type f | wc -l)" 2
check "no directory without a match below it (build)" test ! -e "$R$SRC/build"
check "nor docs" test ! -e "$R$SRC/docs"
check "a directory on the way keeps its mode" \
	test "$(stat -c %a "$SRC/deep/a")" = "$(stat -c %a "$R$SRC/deep/a")"

say "restore --include DIR --exclude '*.gz' --exclude '!keep.gz'"
R="$T/r2"
run cairn restore "$SNAP" --target "$R" --include "$SRC/docs" --exclude '*.gz' \
	--exclude '!keep.gz'
check_rc 0 "restore exits 0"
check "docs/readme.md is restored" cmp "$SRC/docs/readme.md" "$R$SRC/docs/readme.md"
check "docs/keep.gz is taken back by '!'" cmp "$SRC/docs/keep.gz" "$R$SRC/docs/keep.gz"
check "docs/cache is restored" cmp "$SRC/docs/cache" "$R$SRC/docs/cache"
check "docs/old.gz is excluded" test ! -e "$R$SRC/docs/old.gz"
check_eq "3 files in all" "$(find "$R" -type f | wc -l)" 3
check "no warning" bash -c '! grep -q "warning" "$1"' _ "$ERR"

say "restore --include with a trailing '/' and '**'"
R="$T/r3"
run cairn restore "$SNAP" --target "$R" --include 'build/' --include '/**/c/*.gz'
check_rc 0 "restore exits 0"
check "build/obj.o is restored" cmp "$SRC/build/obj.o" "$R$SRC/build/obj.o"
check "build/sub/deep.gz is restored" cmp "$SRC/build/sub/deep.gz" "$R$SRC/build/sub/deep.gz"
check "deep/a/b/c/data.gz is restored" cmp "$SRC/deep/a/b/c/data.gz" "$R$SRC/deep/a/b/c/data.gz"
check_eq "3 files in all" "$(find "$R" -type f | wc -l)" 3

say "an include that matches nothing: a warning; all of them: exit 1"
R="$T/r4"
run cairn restore "$SNAP" --target "$R" --include /no/such
check_rc 1 "a restore whose only include matches nothing exits 1"
check_grep "it names the include" 'warning: include pattern never matched: /no/such$' "$ERR"
check_grep "and says nothing was restored" 'no include pattern matched: nothing to restore' "$ERR"
check_eq "no file is written" "$(find "$R" -type f 2>/dev/null | wc -l)" 0
run cairn restore "$SNAP" --target "$R" --include /no/such --include "$SRC/a.txt" --json
check_rc 0 "one include of two matching exits 0"
check_grep "the other is warned of" 'warning: include pattern never matched: /no/such$' "$ERR"
check "a.txt is restored" cmp "$SRC/a.txt" "$R$SRC/a.txt"
check_eq "the JSON summary is one object on stdout" \
	"$("$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["message_type"], d["files"])' "$OUT")" \
	"summary 1"
run cairn restore "$SNAP" --target "$T/r5" --exclude 'nomatch*'
check_rc 0 "an exclude that matches nothing exits 0"
check_grep "and is warned of" 'warning: exclude pattern matched nothing: nomatch\*$' "$ERR"
check "everything else is restored" cmp "$SRC/docs/old.gz" "$T/r5$SRC/docs/old.gz"

say "a pattern from here: ./ and ../"
R="$T/r6"
(cd "$SRC/docs" && run cairn restore "$SNAP" --target "$R" --include ./readme.md \
	--include ../deep/ && echo "$RC" >"$T/rc6")
check_eq "restore --include ./readme.md from docs exits 0" "$(cat "$T/rc6")" 0
check "docs/readme.md is restored" cmp "$SRC/docs/readme.md" "$R$SRC/docs/readme.md"
check "../deep/ is taken from here" cmp "$SRC/deep/a/b/c/note.txt" "$R$SRC/deep/a/b/c/note.txt"
check_eq "3 files in all" "$(find "$R" -type f | wc -l)" 3

say "restore --dry-run creates nothing"
D="$T/dry/target"
run cairn restore "$SNAP" --target "$D" --include '*.gz' --dry-run
check_rc 0 "restore --dry-run exits 0"
check "the target is not created" test ! -e "$T/dry"
check_grep "it says what would be restored" '^would restore 5 files, [0-9]+ dirs, ' "$OUT"
run cairn restore "$SNAP" --include '*.gz' --dry-run --json
check_rc 0 "restore --dry-run --json without --target exits 0"
check_eq "its summary counts 5 files, dry_run true" \
	"$("$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["message_type"], d["dry_run"], d["files"], d["bytes"])' "$OUT")" \
	"summary True 5 $(cat "$SRC/a.gz" "$SRC/docs/"*.gz "$SRC/build/sub/deep.gz" "$SRC/deep/a/b/c/data.gz" | wc -c)"
run cairn restore "$SNAP" --target "$D" --include "$SRC/docs" --dry-run -v
check_rc 0 "restore --dry-run -v exits 0"
check_grep "with -v it lists the paths" "^$SRC/docs/old.gz\$" "$OUT"
check "and still creates nothing" test ! -e "$T/dry"
run cairn restore "$SNAP" --target "$D" --include /no/such --dry-run
check_rc 1 "a dry run whose includes match nothing exits 1 too"

say "ls SNAPSHOT PATTERN..."
run cairn ls "$SNAP" '*.md'
check_rc 0 "ls with a pattern exits 0"
check_eq "it lists only what matches" "$(cat "$OUT")" "$SRC/docs/readme.md"
run cairn ls "$SNAP" "$SRC/docs"
check_eq "a path lists itself and what is below it" "$(wc -l <"$OUT")" 5
run cairn ls "$SNAP" --json "$SRC/build/" '!*.o'
check_rc 0 "ls --json with patterns exits 0"
ls_paths "$OUT" >"$T/listed"
check_eq "build/ and !*.o: build, sub, deep.gz" "$(wc -l <"$T/listed")" 3
run cairn ls "$SNAP" 'nomatch'
check_rc 0 "ls with a pattern matching nothing exits 0"
check_grep "and warns" 'warning: pattern matched nothing: nomatch$' "$ERR"

e2e_finish

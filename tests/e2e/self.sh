# Never back up oneself, and the backup inputs restic users expect:
# `cairn backup ~` with the default repository and cache leaves out the
# repository (known by its id) and cairn's cache (which carries a
# CACHEDIR.TAG), and another repository in the tree is backed up; the
# cache tag is honoured by --exclude-caches, which keeps the tag;
# --exclude-if-present NAME[:header]; --files-from(-raw); --stdin.
# shellcheck source=lib.sh
source "$E2E_LIB"

SIG="Signature: 8a477f597d28d172789f06886806bc55"

# The paths of the snapshot in $OUT (cairn ls --json), one a line; its
# first line, the snapshot object, goes to $T/snap.json.
ls_paths()
{
	run cairn ls --json "$1"
	require_rc 0 "cairn ls $1"
	head -n 1 "$OUT" >"$T/snap.json"
	"$PYTHON" - "$OUT" <<-'PY' >"$T/paths"
		import json, sys
		lines = open(sys.argv[1], "rb").read().splitlines()
		for line in lines[1:]:
		    print(json.loads(line)["path"])
	PY
}

# The paths of the snapshot ls_paths saw, one a line.
snap_paths()
{
	"$PYTHON" -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["snapshot"]["paths"]))' \
		"$T/snap.json"
}

has_path()
{
	grep -qxF -- "$1" "$T/paths"
}

check_has()
{
	if has_path "$2"; then pass "$1"; else fail "$1" "$2 is not in the snapshot"; fi
}

check_lacks()
{
	if grep -qF -- "$2" "$T/paths"; then fail "$1" "$(grep -F -- "$2" "$T/paths" | head -n 3)"; else pass "$1"; fi
}

say "the default repository and cache, under HOME"
unset CAIRN_REPO CAIRN_CACHE_DIR XDG_DATA_HOME XDG_CACHE_HOME
REPO="$HOME/.local/share/cairn/repo"
CACHE="$HOME/.cache/cairn"
init_repo
require "the default repository is under HOME" test -f "$REPO/config"
require "the cache base is made" test -d "$CACHE"
check_eq "the cache carries a CACHEDIR.TAG with the signature" "$(head -c 43 "$CACHE/CACHEDIR.TAG")" "$SIG"
check_grep "the tag says who wrote it" "^# This file is a cache directory tag created by cairn" "$CACHE/CACHEDIR.TAG"
check "the repository is not tagged as a cache" test ! -e "$REPO/CACHEDIR.TAG"

mkdir -p "$HOME/docs"
gen_file "$HOME/docs/a" 300000 a
# Another repository inside the tree, with its cache outside it.
run env CAIRN_REPO="$HOME/other-repo" CAIRN_CACHE_DIR="$T/other-cache" "$CAIRN_BIN" init \
	--kdf-memory 8M --kdf-iterations 1
require_rc 0 "a second repository inside HOME"
check "the other repository's cache dir is tagged too (--cache-dir)" \
	test "$(head -c 43 "$T/other-cache/CACHEDIR.TAG")" = "$SIG"

backup "$HOME"
require_rc 0 "cairn backup HOME"
check_grep "the repository is skipped with a note" \
	"^cairn: warning: $REPO: skipped: it is the repository being backed up to$" "$ERR"
check_grep "the cache is skipped with a note" "^cairn: warning: $CACHE: skipped: it is cairn's cache$" "$ERR"
FIRST=$SNAP
backup "$HOME"
require_rc 0 "cairn backup HOME again"
check_eq "the second backup reads no file again" "$(summary files_new) $(summary files_changed)" "0 0"
# Only the directory entries above HOME may differ: the test writes in $T.
check "the second backup adds (almost) no data" test "$(summary bytes_added)" -lt 2048
ls_paths "$SNAP"
check_grep "ls --json begins with the snapshot" '^\{"message_type":"snapshot",' "$T/snap.json"
check_has "the snapshot holds HOME's files" "$HOME/docs/a"
check_lacks "the snapshot holds nothing of the repository" "$REPO"
check_has "but the directory above it" "$HOME/.local/share/cairn"
check_lacks "the snapshot holds nothing of the cache" "$CACHE"
check_has "the other repository is backed up" "$HOME/other-repo/config"
check "its keys too" grep -q "^$HOME/other-repo/keys/" "$T/paths"
ls_paths "$FIRST"
check_lacks "the first snapshot had neither, either" "$REPO/"

say "the same with XDG directories inside HOME"
export XDG_DATA_HOME="$HOME/xdg/data" XDG_CACHE_HOME="$HOME/xdg/cache"
init_repo
check "the XDG cache base is tagged" test "$(head -c 43 "$XDG_CACHE_HOME/cairn/CACHEDIR.TAG")" = "$SIG"
backup "$HOME/xdg"
require_rc 0 "backup of the XDG directories"
ls_paths "$SNAP"
check_lacks "the XDG repository is left out" "$XDG_DATA_HOME/cairn/repo"
check_lacks "the XDG cache is left out" "$XDG_CACHE_HOME/cairn"
check_has "the directories above them are kept" "$XDG_DATA_HOME/cairn"
unset XDG_DATA_HOME XDG_CACHE_HOME
export CAIRN_REPO="$T/repo" CAIRN_CACHE_DIR="$T/cache"
init_repo

say "a repository's copy elsewhere is still this repository"
cp -a "$REPO" "$T/src-copy"
mkdir -p "$T/src2"
mv "$T/src-copy" "$T/src2/copy"
run env CAIRN_REPO="$REPO" CAIRN_CACHE_DIR="$T/cache-default" "$CAIRN_BIN" backup "$T/src2"
check_rc 0 "backup of a tree holding a copy of the repository"
check_grep "the copy is known by its id" "^cairn: warning: $T/src2/copy: skipped: it is the repository" "$ERR"

say "--exclude-caches and --exclude-if-present"
SRC="$T/src"
mkdir -p "$SRC/build/sub" "$SRC/fake" "$SRC/priv" "$SRC/hdr" "$SRC/hdr2" "$SRC/plain"
printf '%s\n# tagged by a build tool\n' "$SIG" >"$SRC/build/CACHEDIR.TAG"
echo obj >"$SRC/build/obj"
echo deep >"$SRC/build/sub/x"
printf 'Signature: not the one\n' >"$SRC/fake/CACHEDIR.TAG"
echo kept >"$SRC/fake/file"
: >"$SRC/priv/.nobackup"
echo secret >"$SRC/priv/secret"
echo 'SKIP this directory' >"$SRC/hdr/.skip"
echo x >"$SRC/hdr/x"
echo 'other text' >"$SRC/hdr2/.skip"
echo x >"$SRC/hdr2/x"
echo p >"$SRC/plain/p"
backup "$SRC"
require_rc 0 "a backup without the options"
ls_paths "$SNAP"
check_has "without --exclude-caches a tagged directory is backed up" "$SRC/build/obj"
check_has "and without --exclude-if-present too" "$SRC/priv/secret"
backup --exclude-caches --exclude-if-present .nobackup --exclude-if-present '.skip:SKIP' "$SRC"
require_rc 0 "a backup with them"
ls_paths "$SNAP"
check_has "the tagged directory is kept" "$SRC/build"
check_has "with its tag" "$SRC/build/CACHEDIR.TAG"
check_lacks "but not its files" "$SRC/build/obj"
check_lacks "nor its subdirectories" "$SRC/build/sub"
check_has "a CACHEDIR.TAG without the signature tags nothing" "$SRC/fake/file"
check_has "--exclude-if-present keeps the directory" "$SRC/priv"
check_has "and the file named" "$SRC/priv/.nobackup"
check_lacks "and leaves out the rest" "$SRC/priv/secret"
check_lacks "a file that begins with the header tags its directory" "$SRC/hdr/x"
check_has "one that does not, does not" "$SRC/hdr2/x"
check_has "untagged directories are whole" "$SRC/plain/p"
check_eq "the summary counts the files kept" \
	"$(($(summary files_new) + $(summary files_changed) + $(summary files_unchanged)))" \
	"$(grep -c '"type":"file"' "$OUT")"

say "--exclude-caches leaves another tool's repository alone"
backup --exclude-caches "$HOME/other-repo"
require_rc 0 "backup of a repository with --exclude-caches"
ls_paths "$SNAP"
check_has "it is backed up whole" "$HOME/other-repo/config"

say "--files-from"
mkdir -p "$T/ff/a" "$T/ff/b c" "$T/ff/d" "$T/ff/e"
echo 1 >"$T/ff/a/1"
echo 2 >"$T/ff/b c/2"
echo 3 >"$T/ff/d/3"
echo 4 >"$T/ff/e/4"
printf '# what to back up\n%s\n\n#%s\n%s\r\n' "$T/ff/a" "$T/ff/d" "$T/ff/b c" >"$T/list"
backup --files-from "$T/list" "$T/ff/e"
require_rc 0 "backup --files-from with a PATH"
ls_paths "$SNAP"
check_eq "the snapshot's paths are the file's and the argument's" "$(snap_paths)" \
	"$(printf '%s\n' "$T/ff/a" "$T/ff/b c" "$T/ff/e")"
check_has "a listed path is backed up" "$T/ff/a/1"
check_has "a path with a space and a CRLF line" "$T/ff/b c/2"
check_has "the PATH argument" "$T/ff/e/4"
check_lacks "a commented-out path is not" "$T/ff/d"
printf '%s\0%s\0' "$T/ff/d" "$T/ff/b c" >"$T/list0"
backup --files-from-raw "$T/list0"
require_rc 0 "backup --files-from-raw"
ls_paths "$SNAP"
check_has "a NUL-separated path" "$T/ff/d/3"
check_has "and another" "$T/ff/b c/2"
check_lacks "and no other" "$T/ff/a"
printf '# nothing\n\n' >"$T/empty-list"
run cairn backup --files-from "$T/empty-list"
check_rc 1 "a files-from file that names nothing is refused"
check_grep "saying so" "the files-from files name no paths" "$ERR"
run cairn backup --files-from "$T/no-such-list"
check_rc 1 "a missing files-from file fails"
check_grep "naming it" "files-from file $T/no-such-list" "$ERR"

say "--stdin"
gen_file "$T/dump" 3500000 dump
"$CAIRN_BIN" backup --json --stdin --stdin-filename db.dump <"$T/dump" >"$T/summary.json" 2>"$ERR"
check_eq "backup --stdin exits 0" "$?" 0
STDIN_SNAP=$(summary snapshot_id)
check_eq "all of it was read" "$(summary bytes_read)" 3500000
ls_paths "$STDIN_SNAP"
check_eq "the snapshot holds one file, /db.dump" "$(cat "$T/paths")" "/db.dump"
check_eq "the snapshot's path is /db.dump" "$(snap_paths)" "/db.dump"
run cairn restore "$STDIN_SNAP" --target "$T/r1"
check_rc 0 "restore of the stdin snapshot"
check "the restored bytes are the input's" cmp "$T/dump" "$T/r1/db.dump"
check_eq "mode 0600, the user's" "$(stat -c '%a %u' "$T/r1/db.dump")" "600 $(id -u)"
mtime=$(stat -c %Y "$T/r1/db.dump")
check "its mtime is the backup's time" test $((mtime - $(date +%s))) -le 0 -a $(($(date +%s) - mtime)) -lt 600
# Through a pipe, with the default name: deduplicated against the first.
# shellcheck disable=SC2002 # a pipe, not a file, on purpose
cat "$T/dump" | "$CAIRN_BIN" backup --json --stdin >"$T/summary.json" 2>"$ERR"
check_eq "backup --stdin from a pipe exits 0" "$?" 0
check "the same input adds almost nothing" test "$(summary bytes_added)" -lt 20000
ls_paths "$(summary snapshot_id)"
check_eq "the default name is stdin" "$(cat "$T/paths")" "/stdin"
run cairn restore latest --target "$T/r2"
check "piped bytes come back" cmp "$T/dump" "$T/r2/stdin"
: | "$CAIRN_BIN" backup --json --stdin --stdin-filename empty >"$T/summary.json" 2>"$ERR"
check_eq "an empty input is a backup of an empty file" "$?" 0
run cairn restore latest --target "$T/r3"
check "restored empty" test -f "$T/r3/empty" -a ! -s "$T/r3/empty"
# Streamed: 96 MB through a pipe, never held whole.
if [ -x /usr/bin/time ]; then
	head -c 96000000 /dev/zero | tr '\0' 'z' |
		/usr/bin/time -f "%M" -o "$T/rss" "$CAIRN_BIN" backup --stdin --stdin-filename big \
			>/dev/null 2>"$ERR"
	check_eq "96 MB from a pipe is backed up" "$?" 0
	check "in well under 96 MB of memory ($(cat "$T/rss") KiB)" test "$(tail -n 1 "$T/rss")" -lt 65536
fi
run cairn backup --stdin "$SRC"
check_rc 1 "--stdin with a PATH is refused"
check_grep "saying why" "stdin takes no paths" "$ERR"
"$CAIRN_BIN" backup --stdin --stdin-filename a/b </dev/null >"$OUT" 2>"$ERR"
check_eq "a name with a / is refused" "$?" 1
check_grep "naming it" "stdin-filename 'a/b'" "$ERR"

e2e_finish

# Awkward inputs: odd file names, empty and huge sparse files, a directory
# of 10,000 files; and what --exclude, --exclude-file and --dry-run keep
# out of the repository; a backup with few file descriptors allowed.
# shellcheck source=lib.sh
source "$E2E_LIB"

SRC="$T/src"
say "building the tree"
mkdir -p "$SRC/many" "$SRC/names"
printf 'spaces\n' >"$SRC/names/with some  spaces "
printf 'newline\n' >"$SRC/names/new"$'\n'"line"
printf 'not utf-8\n' >"$SRC/names/bad-$(printf '\xff\xfe')-bytes"
mkdir "$SRC/names/dir $(printf '\xc3\x28') and"$'\n'"newline"
printf 'inside\n' >"$SRC/names/dir $(printf '\xc3\x28') and"$'\n'"newline/file"
printf 'leading dash\n' >"$SRC/names/-n"
printf 'star\n' >"$SRC/names/*"
printf 'backslash\n' >"$SRC/names/back\\slash \"quoted\""
: >"$SRC/zero"
truncate -s 4G "$SRC/huge-sparse"
"$PYTHON" - "$SRC/many" <<-'EOF'
	import os, sys
	d = sys.argv[1]
	for i in range(10000):
	    with open(os.path.join(d, "f%05d" % i), "wb") as f:
	        f.write(b"small file %d\n" % i * (i % 7 + 1))
EOF

init_repo
say "backup"
start=$SECONDS
backup "$SRC"
require_rc 0 "backup exits 0"
took=$((SECONDS - start))
check "backup of a 4 GiB sparse file and 10,000 files takes under a minute (${took}s)" test "$took" -lt 60
check_eq "no errors" "$(summary errors_total)" 0
check "the summary counts the 10,000 small files" test "$(summary files_new)" -ge 10000
check "the hole is not stored: less than 16 MiB added ($(summary bytes_added))" \
	test "$(summary bytes_added)" -lt $((16 * 1024 * 1024))

say "restore"
start=$SECONDS
run cairn restore "$SNAP" --target "$T/restore"
check_rc 0 "restore exits 0"
took=$((SECONDS - start))
check "restore takes under a minute (${took}s)" test "$took" -lt 60
run treecmp --sparse-margin $((1024 * 1024)) "$SRC" "$T/restore$SRC"
cat "$OUT"
check_rc 0 "restored tree equals the source (names, content, sparse 4 GiB file)"
check "the 4 GiB file is restored 4 GiB long" test "$(stat -c %s "$T/restore$SRC/huge-sparse")" -eq $((4 << 30))
check "and allocates (almost) nothing" test "$(stat -c %b "$T/restore$SRC/huge-sparse")" -le 2048
run cairn ls "$SNAP" --json
cp "$OUT" "$T/ls.json"
check_rc 0 "ls --json exits 0"
run treecmp --ls "$T/ls.json" "$SRC"
cat "$OUT"
check_rc 0 "ls lists every odd name exactly"

say "--exclude and --exclude-file"
mkdir -p "$SRC/skipdir/deeper" "$SRC/keep"
printf 'x\n' >"$SRC/skipdir/deeper/f"
printf 'x\n' >"$SRC/keep/a.tmp"
printf 'x\n' >"$SRC/keep/b.txt"
printf 'x\n' >"$SRC/keep/c.log"
printf '# comment\n\n%s\n*.log\n' "$SRC/skipdir" >"$T/excludes"
backup --exclude '*.tmp' --exclude-file "$T/excludes" "$SRC"
check_rc 0 "backup with excludes exits 0"
run cairn ls "$SNAP" --json
check_rc 0 "ls exits 0"
listed()
{
	grep -qF "\"path\":\"$1\"" "$OUT" || grep -qF "\"path\": \"$1\"" "$OUT"
}
check "a file not excluded is there" listed "$SRC/keep/b.txt"
check "--exclude '*.tmp' keeps a.tmp out" bash -c '! grep -qF "$1" "$2"' _ "$SRC/keep/a.tmp" "$OUT"
check "--exclude-file glob *.log keeps c.log out" bash -c '! grep -qF "$1" "$2"' _ "$SRC/keep/c.log" "$OUT"
check "--exclude-file path keeps skipdir and all below it out" bash -c '! grep -qF "$1" "$2"' _ "$SRC/skipdir" "$OUT"

say "--dry-run"
printf 'new content\n' >"$SRC/keep/new-file"
gen_file "$SRC/keep/new-random" 3000000 dry
before_count=$(snapshot_count)
du_before=$(du -sb "$CAIRN_REPO" | cut -f1)
tree_sums "$CAIRN_REPO" >"$T/sums.before"
backup --dry-run "$SRC"
check_rc 0 "backup --dry-run exits 0"
check_eq "its summary says dry_run" "$(summary dry_run)" true
check "it counts the new files" test "$(summary files_new)" -ge 2
check_eq "no new snapshot" "$(snapshot_count)" "$before_count"
check_eq "repository size unchanged" "$(du -sb "$CAIRN_REPO" | cut -f1)" "$du_before"
tree_sums "$CAIRN_REPO" >"$T/sums.after"
check "no file of the repository added or changed" cmp -s "$T/sums.before" "$T/sums.after"

say "few file descriptors"
# Workers open the files they take ahead of reading them; under a low
# limit they must take fewer, not leave files out.
FEW="$T/few-fds"
for d in $(seq 1 12); do
	mkdir -p "$FEW/d$d/e"
	for f in $(seq 1 40); do printf '%s %s\n' "$d" "$f" >"$FEW/d$d/e/f$f"; done
done
run sh -c 'ulimit -n 96 && exec "$@"' sh "$CAIRN_BIN" backup --json "$FEW"
check_rc 0 "a backup under a limit of 96 descriptors exits 0"
check_eq "and warns of nothing" "$(grep -c . "$ERR")" 0
cp "$OUT" "$T/summary.json"
check_eq "it stored all 480 files" "$(summary files_new)" 480
run cairn restore "$(summary snapshot_id)" --target "$T/r-few"
check_rc 0 "and restores"
run treecmp "$FEW" "$T/r-few$FEW"
check_rc 0 "bit-exact"

e2e_finish

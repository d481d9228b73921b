# What backup says as it goes: -v lists each file new or changed with its
# size, -vv every entry (unchanged files and directories too); names are
# escaped, so a newline or an escape sequence in one cannot forge a line;
# --json -v gives one verbose_status object a line before the summary;
# the summary names the paths it could not read (text, and the JSON
# "errors" array); on a terminal the progress line gives the totals that
# a count ahead of the reading found, and an ETA.
# shellcheck source=lib.sh
source "$E2E_LIB"

init_repo
SRC="$T/src"
mkdir -p "$SRC/d"
printf 'aaaa\n' >"$SRC/a"
gen_file "$SRC/d/b" 3000 b
printf 'nl' >"$SRC/new
line"
ESCNAME=$(printf 'e\033]0;x\a')
printf 'esc' >"$SRC/$ESCNAME"

# The verbose lines: what comes before the summary.
verbose_lines()
{
	sed '/^Files: /,$d' "$OUT"
}

say "-v lists the new files"
run cairn backup -v "$SRC"
check_rc 0 "backup -v exits 0"
want=$(printf '%s\n' "new       $SRC/a (5 B)" "new       $SRC/d/b (2.9 KiB)" \
	"new       $SRC/e\\033]0;x\\a (3 B)" "new       $SRC/new\\nline (2 B)")
check_eq "one line a new file, names escaped, in path order" "$(verbose_lines)" "$want"
check_grep "the summary follows" '^Files: +4 new, 0 changed, 0 unchanged$' "$OUT"

say "-v lists a changed file alone"
printf 'aaaa bbbb\n' >"$SRC/a"
run cairn backup -v "$SRC"
check_rc 0 "second backup -v exits 0"
check_eq "only the changed file is listed" "$(verbose_lines)" "changed   $SRC/a (10 B)"

say "-vv lists unchanged files and directories"
run cairn backup -vv "$SRC"
check_rc 0 "backup -vv exits 0"
for line in "unchanged $SRC/" "unchanged $SRC/a (10 B)" "unchanged $SRC/d/" \
	"unchanged $SRC/d/b (2.9 KiB)" "unchanged $SRC/new\\nline (2 B)"; do
	check "-vv lists '$line'" grep -qxF -- "$line" "$OUT"
done
check_eq "nothing under the source is new or changed" \
	"$(verbose_lines | grep -cE "^(new|changed) +$SRC")" 0
check_eq "no line is broken by a name" "$(verbose_lines | grep -cvE '^(new|changed|unchanged) ')" 0

say "--quiet leaves the list out"
run cairn backup -v --quiet "$SRC"
check_rc 0 "backup -v --quiet exits 0"
check "prints nothing on stdout" test ! -s "$OUT"

say "--json -v: one object a line, then the summary"
printf 'sea\n' >"$SRC/c"
run cairn backup --json -v "$SRC"
check_rc 0 "backup --json -v exits 0"
check "the lines parse; the new file is told, then the summary" "$PYTHON" - "$OUT" "$SRC" <<'EOF'
import json, sys
lines = open(sys.argv[1], "rb").read().decode("utf-8", "surrogateescape").splitlines()
docs = [json.loads(l) for l in lines]
assert [d["message_type"] for d in docs] == ["verbose_status", "summary"], docs
v = docs[0]
assert v["action"] == "new" and v["item"] == sys.argv[2] + "/c", v
assert v["type"] == "file" and v["data_size"] == 4, v
assert docs[1]["files_new"] == 1 and docs[1]["errors"] == [], docs[1]
EOF
run cairn backup --json -vv "$SRC"
check_rc 0 "backup --json -vv exits 0"
check "-vv gives every entry, names exact" "$PYTHON" - "$OUT" "$SRC" "$ESCNAME" <<'EOF'
import json, sys
src, esc = sys.argv[2], sys.argv[3]
docs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8").read().splitlines()]
items = {d["item"]: d for d in docs if d["message_type"] == "verbose_status"}
for name in ("a", "c", "d", "d/b", "new\nline", esc):
    assert items[src + "/" + name]["action"] == "unchanged", (name, items)
assert items[src + "/d"]["type"] == "dir"
assert docs[-1]["message_type"] == "summary"
EOF

say "the summary names what could not be read"
U="$T/u"
unprivileged_setup || U=""
as_user=("${AS_USER[@]}")
if [ -n "$U" ]; then
	mkdir -p "$U/src" "$U/home"
	printf 'readable\n' >"$U/src/readable"
	printf 'secret\n' >"$U/src/unreadable"
	is_root && chown -R 65534:65534 "$U"
	chmod 000 "$U/src/unreadable"
	uenv=(env HOME="$U/home" CAIRN_REPO="$U/repo" CAIRN_CACHE_DIR="$U/cache"
		XDG_DATA_HOME="$U/xdg-data" XDG_CACHE_HOME="$U/xdg-cache" CAIRN_PASSWORD="$CAIRN_PASSWORD")
	run "${as_user[@]}" "${uenv[@]}" "$CAIRN_BIN" init --kdf-memory 8M --kdf-iterations 1
	require_rc 0 "init of a repository for the unprivileged user"
	run "${as_user[@]}" "${uenv[@]}" "$CAIRN_BIN" backup "$U/src"
	check_rc 3 "backup with an unreadable file exits 3"
	check "the text summary lists it with its error" \
		grep -qxF "  $U/src/unreadable: cannot open: Permission denied" "$OUT"
	run "${as_user[@]}" "${uenv[@]}" "$CAIRN_BIN" backup --json "$U/src"
	check_rc 3 "backup --json with an unreadable file exits 3"
	check "the JSON summary's errors name it" "$PYTHON" - "$OUT" "$U/src/unreadable" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["errors"] == [{"path": sys.argv[2], "error": "cannot open: Permission denied"}], s
assert s["errors_total"] == 1 and s["errors_not_listed"] == 0, s
EOF
fi

say "the progress line: totals counted ahead, and an ETA"
if need_tool script bsdutils; then
	P="$T/p"
	mkdir -p "$P"
	gen_file "$P/a-same" 1048576 same
	run cairn backup "$P"
	require_rc 0 "backup of the first file"
	gen_file "$P/z-new" 1048576 new
	# The worker stops before it reads z-new: a-same, unchanged, is done.
	CAIRN_TEST_HOLD="backup-file-read:$T/go" script -qec \
		"$CAIRN_BIN backup $P >$T/p.out" "$T/typescript" </dev/null >/dev/null 2>&1 &
	pid=$!
	e2e_bg_pids+=("$pid")
	for ((i = 0; i < 600; i++)); do
		[ -e "$T/go.reached" ] && break
		sleep 0.05
	done
	sleep 1.5
	touch "$T/go"
	wait "$pid"
	check_eq "the backup on a terminal exits 0" "$?" 0
	bg_forget "$pid"
	check "the line shows the counted totals and an ETA" grep -aqE \
		'1/2 files, 1\.0 MiB / 2\.0 MiB \(50\.0%\), [0-9.]+ [KM]i?B/s, ETA [0-9]+:[0-9]{2}' \
		"$T/typescript"
else
	skip "no script(1): the progress line is not tested"
fi

e2e_finish

# No surprises in everyday use: a backup of paths that are all missing
# fails and writes nothing; init refuses a place that already holds
# something; another tool's repository is named as such; --version and
# --help everywhere; hard links counted alike by backup and restore;
# plurals; a repository that cannot be written named with the object
# that could not be.
# shellcheck source=lib.sh
source "$E2E_LIB"

# Every file under the repository, with its size, for "nothing written".
repo_files()
{
	(cd "$CAIRN_REPO" && find . -type f -printf '%p %s\n' | sort)
}

init_repo
SRC="$T/src"
mkdir -p "$SRC/d"
gen_file "$SRC/d/file" 50000 file
ln "$SRC/d/file" "$SRC/d/link"

say "a backup whose every path is missing"
repo_files >"$T/before"
run cairn backup "$T/no/such/dir"
check_rc 1 "backup of a missing path exits 1"
check_grep "it names the path" "^cairn: nothing to back up: $T/no/such/dir: No such file or directory$" "$ERR"
run cairn backup "$T/gone1" "$T/gone2"
check_rc 1 "backup of two missing paths exits 1"
check_grep "it names both" "$T/gone1: No such file or directory; $T/gone2: No such" "$ERR"
check_eq "no snapshot was written" "$(snapshot_count)" 0
repo_files >"$T/after"
check "nothing was written to the repository" cmp "$T/before" "$T/after"
backup "$SRC" "$T/gone3"
check_rc 3 "backup of a present and a missing path exits 3"
check_grep "it names the missing one" "$T/gone3" "$ERR"
check_eq "and writes the snapshot" "$(snapshot_count)" 1
run cairn forget "$SNAP"
require_rc 0 "that snapshot is forgotten"

say "hard links: counted alike by backup and restore"
backup "$SRC"
require_rc 0 "backup of a file and its hard link exits 0"
check_eq "backup counts one new file" "$(summary files_new)" 1
check_eq "and the hard link among the others" "$(summary others)" 1
run cairn restore latest --json --target "$T/r1"
check_rc 0 "restore --json exits 0"
check_eq "restore counts one file" "$(json_get files)" 1
check_eq "and the hard link among the others" "$(json_get others)" 1
check "the restored link has the file's bytes" cmp "$SRC/d/file" "$T/r1$SRC/d/link"
check_eq "and is a hard link of the restored file" "$(stat -c %i "$T/r1$SRC/d/link")" \
	"$(stat -c %i "$T/r1$SRC/d/file")"
run cairn restore latest --target "$T/r2"
check_rc 0 "restore exits 0"
check_grep "its summary: 1 file, the dirs, 1 other" \
	"^restored 1 file, [0-9]+ dirs, 1 other, 48\\.8 KiB to $T/r2$" "$OUT"
run cairn backup "$SRC"
check_grep "the text summary of backup counts it as an other too" "^Others: +1$" "$OUT"

say "init refuses a place that is not empty"
mkdir -p "$T/full" "$T/hidden" "$T/empty"
printf 'mine\n' >"$T/full/notes.txt"
printf 'mine\n' >"$T/hidden/.profile"
for d in full hidden; do
	run cairn init --repo "$T/$d" --kdf-memory 8M --kdf-iterations 1
	check_rc 1 "init into a directory holding a file ($d) exits 1"
	check_grep "it names the directory" "^cairn: $T/$d is not empty and is not a cairn repository" "$ERR"
	check "and writes nothing there" test "$(ls -A "$T/$d" | wc -l)" -eq 1
done
run cairn init --repo "file://$T/hidden" --kdf-memory 8M --kdf-iterations 1
check_rc 1 "init into it as a file:// URI exits 1 too"
run cairn init --repo "$T/empty" --kdf-memory 8M --kdf-iterations 1
check_rc 0 "init into an empty directory exits 0"
run cairn init --repo "$T/empty" --kdf-memory 8M --kdf-iterations 1
check_rc 1 "init over a repository exits 1"
check_grep "it says a repository exists there" "a repository already exists at $T/empty" "$ERR"

say "another tool's repository is named"
# As the tools write them: restic's config is sealed (binary) and its key
# files JSON; borg's README and config; kopia's format blob.
mkdir -p "$T/restic/keys" "$T/restic/data/00" "$T/restic/index" "$T/restic/snapshots" "$T/restic/locks"
{
	printf '\001'
	head -c 200 /dev/urandom
} >"$T/restic/config"
printf '{"created":"2024-01-01T00:00:00Z","kdf":"scrypt","N":32768,"r":8,"p":6}\n' \
	>"$T/restic/keys/5f0ae0c5a7e0f3e3b9d1c8d5e4b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4"
mkdir -p "$T/borg/data/0"
printf 'This is a Borg Backup repository.\nSee https://borgbackup.readthedocs.io/\n' >"$T/borg/README"
printf '[repository]\nversion = 1\nsegments_per_dir = 1000\n' >"$T/borg/config"
mkdir -p "$T/kopia"
printf '{"tool":"kopia"}\n' >"$T/kopia/kopia.repository.f"
mkdir -p "$T/borg2"
printf '[repository]\nversion = 1\n' >"$T/borg2/config"
foreign_checks()
{
	local dir=$1 tool=$2
	find "$dir" -printf '%p %s %T@\n' | sort >"$T/foreign.before"
	run cairn snapshots --repo "$dir"
	check_rc 10 "snapshots on a $tool repository ($dir) exits 10"
	check_grep "and says it looks like a $tool repository" \
		"^cairn: $dir looks like a $tool repository, not a cairn one$" "$ERR"
	run cairn init --repo "$dir" --kdf-memory 8M --kdf-iterations 1
	check_rc 1 "init on a $tool repository exits 1"
	check_grep "and says it looks like a $tool repository" \
		"^cairn: $dir looks like a $tool repository, not a cairn one$" "$ERR"
	find "$dir" -printf '%p %s %T@\n' | sort >"$T/foreign.after"
	check "neither wrote anything in it" cmp "$T/foreign.before" "$T/foreign.after"
}
foreign_checks "$T/restic" restic
foreign_checks "$T/borg" borg
foreign_checks "$T/borg2" borg
foreign_checks "$T/kopia" kopia
if command -v restic >/dev/null; then
	RESTIC_PASSWORD=x restic init --repo "$T/real-restic" >/dev/null 2>&1
	foreign_checks "$T/real-restic" restic
else
	skip "restic is not installed: only a restic-like layout is tested"
fi
if command -v borg >/dev/null; then
	BORG_BASE_DIR="$T/borg-base" borg init --encryption=none "$T/real-borg" >/dev/null 2>&1
	foreign_checks "$T/real-borg" borg
else
	skip "borg is not installed: only a borg-like layout is tested"
fi
# A cairn repository whose config is damaged is not taken for restic's.
cp -a "$CAIRN_REPO" "$T/damaged"
printf 'garbage' >"$T/damaged/config"
run cairn snapshots --repo "$T/damaged"
check_rc 1 "a cairn repository with a damaged config exits 1"
check "and is not called another tool's" bash -c '! grep -q "looks like" "$1"' _ "$ERR"

say "--version and --help"
run cairn --version
check_rc 0 "cairn --version exits 0"
check_grep "it prints cairn's version" "^cairn [0-9]+\\.[0-9]+" "$OUT"
run cairn version
check_rc 0 "cairn version exits 0"
cp "$OUT" "$T/version"
run cairn --version
check "--version prints what version prints" cmp "$OUT" "$T/version"
run cairn help
check_rc 0 "cairn help exits 0"
check_grep "it lists the commands" "^  restore +restore a snapshot$" "$OUT"
commands=$(awk '/^Commands:/ {on = 1; next} on && /^$/ {exit} on {print $1}' "$OUT")
check "cairn help lists ten commands or more" test "$(echo "$commands" | wc -l)" -ge 10
for c in $commands; do
	for h in --help -h; do
		run cairn "$c" "$h"
		check_rc 0 "cairn $c $h exits 0"
		check_grep "cairn $c $h prints its usage on stdout" "^usage: cairn $c" "$OUT"
		check "cairn $c $h writes nothing on stderr" test ! -s "$ERR"
	done
	run cairn help "$c"
	check_grep "cairn help $c prints its usage" "^usage: cairn $c" "$OUT"
done
run cairn index rebuild --help
check_rc 0 "cairn index rebuild --help exits 0"
run cairn backup --no-such-option "$SRC"
check_rc 1 "an unknown option exits 1"
check_grep "it is named on stderr" "unknown option '--no-such-option'" "$ERR"
check_grep "with a hint to the usage" "Try 'cairn backup --help'" "$ERR"
check "and nothing goes to stdout" test ! -s "$OUT"
: "${CAIRN_SERVER_BIN:?}"
run "$CAIRN_SERVER_BIN" --version
check_rc 0 "cairn-server --version exits 0"
check_grep "it prints the server's version" "^cairn-server [0-9]+\\.[0-9]+" "$OUT"
for args in "--help" "-h" "help" "serve --help" "token --help" "token -h" "token create --help" \
	"token list --help" "token revoke --help" "check --help"; do
	# shellcheck disable=SC2086
	run "$CAIRN_SERVER_BIN" $args
	check_rc 0 "cairn-server $args exits 0"
	check_grep "cairn-server $args prints the usage on stdout" "^usage: cairn-server serve" "$OUT"
done
run "$CAIRN_SERVER_BIN" serve --no-such-option
check_rc 1 "cairn-server serve with an unknown option exits 1"
check_grep "it is named on stderr" "unknown option '--no-such-option'" "$ERR"

say "a repository that cannot be written"
if is_root && command -v setpriv >/dev/null; then
	as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	chmod 0711 "$T"
	W="$T/w"
	mkdir -p "$W/home"
	printf 'new\n' >"$SRC/d/new"
	chmod -R a+rX "$SRC" "$CAIRN_REPO"
	chown 65534:65534 "$W/home"
	uenv=(env HOME="$W/home" CAIRN_CACHE_DIR="$W/home/cache" XDG_CACHE_HOME="$W/home")
	chmod -R a-w "$CAIRN_REPO"
	run "${as_user[@]}" "${uenv[@]}" "$CAIRN_BIN" backup "$SRC"
	check_rc 1 "a backup into a read-only repository exits 1"
	check_grep "it names the object it could not write, with the location" \
		"cannot write the marker markers/backup-[0-9a-f]+: cannot create a temporary file for $CAIRN_REPO/markers/backup-[0-9a-f]+: Permission denied" "$ERR"
	chmod a+w "$CAIRN_REPO/markers"
	run "${as_user[@]}" "${uenv[@]}" "$CAIRN_BIN" backup "$SRC"
	check_rc 1 "a backup whose packs cannot be written exits 1"
	check_grep "it names the pack it could not write, with the location" \
		"cannot create a temporary file for $CAIRN_REPO/data/[0-9a-f]{2}/[0-9a-f]{64}: Permission denied" "$ERR"
	check "and never an all-zero name" bash -c '! grep -q "0000000000000000000000000000000000000000000000000000000000000000" "$1"' _ "$ERR"
	chmod -R u+w "$CAIRN_REPO"
else
	skip "not root, or no setpriv: the read-only repository is not tested"
fi

e2e_finish

# libcurl is loaded only by what speaks HTTP: the binary does not link
# it; with CAIRN_LIBCURL naming a file that is not there, local backups
# and restores work as ever, while an S3 repository, an index server and
# `cairn version` say that libcurl could not be loaded.
# shellcheck source=lib.sh
source "$E2E_LIB"

NOWHERE=/nonexistent/libcurl.so
LOAD_ERROR="libcurl \\($NOWHERE\\) could not be loaded: .*No such file"

say "the binary"
if command -v readelf >/dev/null; then
	needed=$(readelf -d "$CAIRN_BIN" | grep -c 'NEEDED.*libcurl')
	check_eq "cairn does not link libcurl" "$needed" 0
else
	skip "no readelf to read the binary's needed libraries"
fi
run cairn version
check_rc 0 "version exits 0"
check_grep "and names the libcurl it loads" '^  libcurl +[0-9]+\.[0-9]+' "$OUT"

export CAIRN_LIBCURL=$NOWHERE

say "a local repository without libcurl"
SRC="$T/src"
mkdir -p "$SRC/d"
gen_file "$SRC/a" 300000 a
gen_file "$SRC/d/b" 5000 b
init_repo
backup "$SRC"
check_rc 0 "backup exits 0"
run cairn snapshots
check_rc 0 "snapshots exits 0"
run cairn ls "$SNAP"
check_rc 0 "ls exits 0"
run cairn restore "$SNAP" --target "$T/r"
check_rc 0 "restore exits 0"
run treecmp "$SRC" "$T/r$SRC"
check_rc 0 "the restored tree is bit-exact"

say "an S3 repository without libcurl"
s3_client_env cairn-e2e cairn-e2e-secret
run cairn --repo "s3:http://127.0.0.1:1/cairn/repo" snapshots
check_rc 1 "snapshots exits 1"
check_grep "and says libcurl could not be loaded" "$LOAD_ERROR" "$ERR"
run cairn --repo "s3:http://127.0.0.1:1/cairn/repo" init --kdf-memory 8M --kdf-iterations 1
check_rc 1 "init exits 1"
check_grep "and says libcurl could not be loaded" "$LOAD_ERROR" "$ERR"

say "an index server without libcurl"
CAIRN_INDEX_TOKEN=e2e-token run cairn --index http://127.0.0.1:1 backup "$SRC"
check_rc 1 "backup with an index server exits 1"
check_grep "and says libcurl could not be loaded" "$LOAD_ERROR" "$ERR"

say "version without libcurl"
run cairn version
check_rc 0 "version exits 0"
check_grep "and says why libcurl is not available" "^  libcurl +not available: $LOAD_ERROR" "$OUT"
run cairn --json version
check_rc 0 "version --json exits 0"
json_get libcurl >"$T/libcurl-version"
check_grep "with the reason as libcurl's version" "^not available: $LOAD_ERROR" "$T/libcurl-version"

e2e_finish

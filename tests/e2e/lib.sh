# shellcheck shell=bash
# Shared helpers of the end-to-end tests. Each test is `bash FILE` with
# CAIRN_BIN (the cairn binary) and E2E_LIB (this file) in the environment;
# it sources this file, which gives it a private temporary directory $T
# (removed on exit) holding the repository, the cache and a fake home, so
# a test never touches the real ones.
#
# Checks: `check DESC CMD...` passes when CMD succeeds; `check_rc WANT DESC`,
# `check_eq DESC GOT WANT` and `check_grep DESC REGEX FILE` look at the last
# `run`. A failed check prints its description, the command, its exit
# status and its stderr. `require*` variants stop the test at once, for
# checks that everything after them depends on. `e2e_finish` prints
# "N passed, M failed" and sets the exit status.

set -uo pipefail

: "${CAIRN_BIN:?CAIRN_BIN must name the cairn binary}"
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_TIMEOUT=${E2E_TIMEOUT:-600}
# The interpreter itself, not a wrapper that may look in $HOME.
PYTHON=$(python3 -c 'import sys; print(sys.executable)') || {
	echo "python3 is needed by the end-to-end tests" >&2
	exit 1
}

e2e_passed=0
e2e_failed=0
e2e_bg_pids=()

T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-e2e.XXXXXX") || exit 1

e2e_cleanup()
{
	local pid
	for pid in "${e2e_bg_pids[@]}"; do
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	# Tests leave unreadable files and directories behind on purpose.
	chmod -R u+rwx "$T" 2>/dev/null
	rm -rf "$T"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

# Everything cairn could read or write outside $T is pointed inside it.
export HOME="$T/home"
export CAIRN_REPO="$T/repo"
export CAIRN_CACHE_DIR="$T/cache"
export XDG_DATA_HOME="$T/xdg-data"
export XDG_CACHE_HOME="$T/xdg-cache"
export XDG_CONFIG_HOME="$T/xdg-config"
export CAIRN_PASSWORD="e2e correct horse"
unset CAIRN_PASSWORD_FILE CAIRN_INDEX CAIRN_INDEX_TOKEN
mkdir -p "$HOME"

OUT="$T/out"
ERR="$T/err"
RC=0
LAST_CMD=""

say()
{
	printf '== %s\n' "$*"
}

skip()
{
	printf 'SKIP: %s\n' "$*"
}

is_root()
{
	[ "$(id -u)" -eq 0 ]
}

# Runs a command (the word `cairn` means $CAIRN_BIN) with no terminal on
# stdin, stdout in $OUT and stderr in $ERR; its exit status goes to $RC.
run()
{
	local cmd=("$@")
	case "${cmd[0]}" in
	cairn) cmd[0]=$CAIRN_BIN ;;
	treecmp) cmd=("$PYTHON" "$E2E_DIR/treecmp.py" "${cmd[@]:1}") ;;
	esac
	LAST_CMD="${*}"
	timeout -k 10 "$E2E_TIMEOUT" "${cmd[@]}" </dev/null >"$OUT" 2>"$ERR"
	RC=$?
	return 0
}

pass()
{
	e2e_passed=$((e2e_passed + 1))
	printf 'ok   %s\n' "$1"
}

fail()
{
	e2e_failed=$((e2e_failed + 1))
	printf 'FAIL %s\n' "$1"
	[ $# -gt 1 ] && printf '     %s\n' "${@:2}"
	if [ -n "$LAST_CMD" ]; then
		printf '     last command: %s\n     exit status: %s\n' "$LAST_CMD" "$RC"
		if [ -s "$ERR" ]; then
			echo '     stderr:'
			head -c 4000 "$ERR" | sed 's/^/     | /'
		fi
	fi
}

check()
{
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}

check_rc()
{
	if [ "$RC" -eq "$1" ]; then pass "$2"; else fail "$2" "expected exit status $1, got $RC"; fi
}

check_eq()
{
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got:      $2" "expected: $3"; fi
}

check_grep()
{
	if grep -qE -- "$2" "$3"; then pass "$1"; else fail "$1" "no line of $(basename "$3") matches /$2/"; fi
}

# The require* forms stop the test when the check fails.
require()
{
	check "$@" || true
	[ "$e2e_failed" -eq 0 ] || e2e_abort
}

require_rc()
{
	check_rc "$@"
	[ "$e2e_failed" -eq 0 ] || e2e_abort
}

e2e_abort()
{
	echo "stopping: the checks after this one depend on it"
	e2e_finish
}

e2e_finish()
{
	echo "$e2e_passed passed, $e2e_failed failed"
	if [ "$e2e_failed" -ne 0 ] || [ "$e2e_passed" -eq 0 ]; then exit 1; fi
	exit 0
}

# Starts a command in the background and remembers it for cleanup.
bg()
{
	"$@" &
	e2e_bg_pids+=($!)
}

# Value of a top-level key of the JSON object in FILE (default $OUT);
# booleans print as true/false, a missing key as nothing.
json_get()
{
	"$PYTHON" - "$1" "${2:-$OUT}" <<-'EOF'
		import json, sys
		with open(sys.argv[2], "rb") as f:
		    doc = json.loads(f.read())
		v = doc.get(sys.argv[1]) if isinstance(doc, dict) else None
		if isinstance(v, bool):
		    print("true" if v else "false")
		elif v is not None:
		    print(v)
	EOF
}

# Number of snapshots `cairn snapshots --json` lists (empty on failure).
snapshot_count()
{
	"$CAIRN_BIN" snapshots --json </dev/null 2>/dev/null |
		"$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null
}

# Creates the repository ($CAIRN_REPO unless --repo is given) with fast key
# derivation.
init_repo()
{
	run cairn init --kdf-memory 8M --kdf-iterations 1 --json "$@"
	require_rc 0 "cairn init $* creates a repository"
}

# Backs up with --json; the summary is kept in $T/summary.json and
# SNAP holds the snapshot id.
backup()
{
	run cairn backup --json "$@"
	cp "$OUT" "$T/summary.json"
	SNAP=$(json_get snapshot_id "$T/summary.json" 2>/dev/null)
}

summary()
{
	json_get "$1" "$T/summary.json"
}

# Writes SIZE bytes of pseudo-random data, the same for the same SEED.
gen_file()
{
	"$PYTHON" - "$1" "$2" "$3" <<-'EOF'
		import random, sys
		path, size, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3]
		r = random.Random(seed)
		with open(path, "wb") as f:
		    while size > 0:
		        n = min(size, 1 << 20)
		        f.write(r.randbytes(n))
		        size -= n
	EOF
}

# Compares a source tree with its restored copy (see treecmp.py).
treecmp()
{
	"$PYTHON" "$E2E_DIR/treecmp.py" "$@"
}

# Checksums of every file under DIR, with their names, in one stream.
tree_sums()
{
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0r sha256sum)
}

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
e2e_mounts=()
# Commands cleanup runs first, for what rm -rf cannot undo alone:
# e2e_cleanup_hooks+=("chattr -R -i -a '$T/src'") for immutable files.
e2e_cleanup_hooks=()

T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-e2e.XXXXXX") || exit 1

e2e_cleanup()
{
	local pid mnt hook
	for hook in "${e2e_cleanup_hooks[@]}"; do
		eval "$hook" >/dev/null 2>&1
	done
	for pid in "${e2e_bg_pids[@]}"; do
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for mnt in "${e2e_mounts[@]}"; do
		umount -l "$mnt" 2>/dev/null
	done
	# Tests leave unreadable files and directories behind on purpose.
	chmod -R u+rwx "$T" 2>/dev/null
	# E2E_KEEP=1 keeps a failed test's directory to look into.
	if [ -n "${E2E_KEEP:-}" ] && [ "$e2e_failed" -gt 0 ]; then
		echo "kept $T" >&2
		return
	fi
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

# need_tool CMD PACKAGE: whether CMD can be run, after installing the
# Debian PACKAGE that has it when it is missing and the test runs as
# root (scripts/setup installs cairn's own needs, not the tests').
need_tool()
{
	command -v "$1" >/dev/null && return 0
	is_root && command -v apt-get >/dev/null || return 1
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -qq)
	"${apt[@]}" install -y --no-install-recommends "$2" >/dev/null 2>&1 ||
		{ "${apt[@]}" update >/dev/null 2>&1 &&
			"${apt[@]}" install -y --no-install-recommends "$2" >/dev/null 2>&1; }
	command -v "$1" >/dev/null
}

# unprivileged_setup: permissions do not stop root, so a test of files
# that cannot be read runs cairn as nobody when it runs as root. Sets
# AS_USER to the command prefix that does so (empty when not root); says
# why and returns 1 when it cannot.
unprivileged_setup()
{
	AS_USER=()
	if is_root; then
		if ! command -v setpriv >/dev/null; then
			skip "root without setpriv: unreadable files are not tested"
			return 1
		fi
		AS_USER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
		chmod 0711 "$T"
	fi
	if ! "${AS_USER[@]}" test -x "$CAIRN_BIN"; then
		skip "$CAIRN_BIN cannot be run by an unprivileged user: unreadable files are not tested"
		return 1
	fi
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

# Waits (at most 30 s) for FILE to exist.
wait_for()
{
	local i
	for i in $(seq 1 300); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# Forgets a background process once it has been stopped, so that cleanup
# never signals a process id that may have been reused.
bg_forget()
{
	local pid kept=()
	for pid in "${e2e_bg_pids[@]}"; do
		[ "$pid" = "$1" ] || kept+=("$pid")
	done
	e2e_bg_pids=("${kept[@]}")
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

# flip_byte FILE OFFSET: damages FILE by changing one bit of the byte at
# OFFSET.
flip_byte()
{
	"$PYTHON" - "$1" "$2" <<-'EOF'
		import sys
		path, off = sys.argv[1], int(sys.argv[2])
		with open(path, "r+b") as f:
		    f.seek(off)
		    b = f.read(1)
		    f.seek(off)
		    f.write(bytes([b[0] ^ 0x40]))
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

# ---- the local S3 server and the fault-injecting proxy ----

S3_SERVER="$E2E_DIR/../../scripts/s3-server"

# s3_start DIR [scripts/s3-server start options]: starts the local S3
# server with its state in DIR and sets S3_ENDPOINT, S3_PORT and S3_PID.
s3_start()
{
	local dir=$1
	shift
	S3_ENDPOINT=$("$S3_SERVER" start --dir "$dir" "$@") || return 1
	S3_PORT=$(cat "$dir/port")
	S3_PID=$(cat "$dir/pid")
	e2e_bg_pids+=("$S3_PID")
}

# What LD_PRELOAD must hold for the swap shim (SWAP_SHIM) to load into
# cairn: the shim, after AddressSanitizer's runtime when cairn is built
# with it (which must come first).
shim_preload()
{
	local asan
	asan=$(ldd "$CAIRN_BIN" 2>/dev/null | awk '/libasan/ {print $3; exit}')
	echo "${asan:+$asan:}$SWAP_SHIM"
}

# s3_client_env ACCESS_KEY SECRET_KEY: the credentials cairn signs with,
# and none of the variables that would change its requests.
s3_client_env()
{
	export AWS_ACCESS_KEY_ID=$1 AWS_SECRET_ACCESS_KEY=$2 AWS_DEFAULT_REGION=us-east-1
	unset AWS_SESSION_TOKEN AWS_REGION CAIRN_S3_VIRTUAL_HOST CAIRN_CONNECTIONS
}

# s3_stop DIR: stops the server started with DIR, by its process id.
s3_stop()
{
	local pid
	pid=$(cat "$1/pid" 2>/dev/null) || return 0
	"$S3_SERVER" stop --dir "$1"
	bg_forget "$pid"
}

# s3_proxy_start UPSTREAM_PORT DIR [s3proxy.py options]: starts the
# fault-injecting proxy in front of the server; sets PROXY_PORT and
# PROXY_PID. Its counts go to DIR/stats when it is stopped.
s3_proxy_start()
{
	local up=$1 dir=$2 i
	shift 2
	mkdir -p "$dir"
	rm -f "$dir/port" "$dir/stats"
	"$PYTHON" "$E2E_DIR/../s3proxy.py" --upstream "127.0.0.1:$up" \
		--port-file "$dir/port" --stats "$dir/stats" "$@" >"$dir/log" 2>&1 &
	PROXY_PID=$!
	e2e_bg_pids+=("$PROXY_PID")
	for ((i = 0; i < 200; i++)); do
		[ -s "$dir/port" ] && break
		kill -0 "$PROXY_PID" 2>/dev/null || break
		sleep 0.05
	done
	PROXY_PORT=$(cat "$dir/port" 2>/dev/null)
	[ -n "$PROXY_PORT" ]
}

# s3_proxy_stop: stops the proxy, which then writes its counts.
s3_proxy_stop()
{
	kill -TERM "$PROXY_PID" 2>/dev/null
	wait "$PROXY_PID" 2>/dev/null
	bg_forget "$PROXY_PID"
}

# ---- cairn-server ----

INDEXCLIENT="$E2E_DIR/indexclient.py"

# server_start DIR [cairn-server serve options]: starts cairn-server on a
# free 127.0.0.1 port with its data in DIR (log in DIR.log); sets
# SERVER_URL, SERVER_PORT and SERVER_PID. Fails if it does not listen.
server_start()
{
	local dir=$1 i line=""
	shift
	: "${CAIRN_SERVER_BIN:?CAIRN_SERVER_BIN must name the cairn-server binary}"
	: >"$dir.log"
	"$CAIRN_SERVER_BIN" serve --data "$dir" --listen 127.0.0.1:0 "$@" </dev/null \
		>>"$dir.log" 2>&1 &
	SERVER_PID=$!
	e2e_bg_pids+=("$SERVER_PID")
	for ((i = 0; i < 1200; i++)); do
		line=$(grep -m1 -o 'listening on https\{0,1\}://127\.0\.0\.1:[0-9]*' "$dir.log")
		[ -n "$line" ] && break
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	SERVER_URL=${line#listening on }
	SERVER_PORT=${SERVER_URL##*:}
	[ -n "$line" ] || return 1
	# It answers 503 until its indexes are open.
	for ((i = 0; i < 1200; i++)); do
		grep -q 'indexes open after' "$dir.log" && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# server_stop: SIGTERM to the server started last, by its process id; the
# exit status is the server's.
server_stop()
{
	local rc
	kill -TERM "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	rc=$?
	bg_forget "$SERVER_PID"
	return $rc
}

# server_kill: SIGKILL to the server started last.
server_kill()
{
	kill -KILL "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	bg_forget "$SERVER_PID"
}

# server_token DIR REPO SCOPE: prints a new token.
server_token()
{
	"$CAIRN_SERVER_BIN" token create --data "$1" --repo "$2" --scope "$3"
}

# server_metric NAME: the value of a metric of the server started last.
server_metric()
{
	"$PYTHON" "$INDEXCLIENT" metric "$SERVER_URL" "$1"
}

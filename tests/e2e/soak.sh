# Many clients and a pruning loop at once: three clients, each
# with its own cache and its own changing tree (new, rewritten and deleted
# files, and files common to all of them so that their chunks overlap and
# duplicates race), back up in a loop into one repository while another
# loop runs `forget --keep-last 2 --group-by host --prune`. Four
# configurations, each with a fresh repository: a local directory, then
# S3 (s3rver), each with the embedded index and with cairn-server; in the
# second the pruning loop also kills some prunes with SIGKILL.
# Afterwards every snapshot left restores bit for bit against the copy of
# the tree it was made from, `check --read-data` finds nothing wrong, and
# once the backups have stopped `prune --max-unused 0` gives back every
# byte no snapshot needs.
#
# SOAK_SECONDS (default 15) is how long each configuration loops at
# least; it goes on (up to four times as long) until each client has
# backed up three times and a prune has deleted packs, which a loaded
# machine may take longer to reach. The
# whole test takes about 4 x (SOAK_SECONDS + 10) s, twice that under
# ASan. SOAK_CONFIGS picks configurations (local local-server s3
# s3-server).
# shellcheck source=lib.sh
source "$E2E_LIB"

SOAK_SECONDS=${SOAK_SECONDS:-15}
# No single command of the soak may take longer than this.
STEP_TIMEOUT=${SOAK_STEP_TIMEOUT:-120}
CLIENTS=3

# Markers are refreshed every second and stale after 4: a killed prune's
# marker stops counting within the test.
export CAIRN_MARKER_REFRESH=1 CAIRN_MARKER_GRACE=4

# mutate.py ROOT CLIENT ITERATION: changes ROOT for the next backup, the
# same way for the same arguments.
cat >"$T/mutate.py" <<-'EOF'
	import os, random, sys
	root, client, it = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
	r = random.Random("soak-%d-%d" % (client, it))

	def data(seed, n):
	    return random.Random(seed).randbytes(n)

	def write(path, body):
	    os.makedirs(os.path.dirname(path), exist_ok=True)
	    with open(path, "wb") as f:
	        f.write(body)

	shared = os.path.join(root, "shared")
	# Common to every client: one file that never changes (left alone, so
	# that backups take it from their parent's files cache), one whose
	# content comes back every fourth iteration (after the snapshots that
	# held it were forgotten and pruned), and one new at each iteration,
	# the same for the clients at the same iteration (duplicates race).
	if not os.path.exists(os.path.join(shared, "fixed")):
	    write(os.path.join(shared, "fixed"), data("shared-fixed", 200000))
	write(os.path.join(shared, "cycle"), data("shared-cycle-%d" % (it % 4), 300000))
	write(os.path.join(shared, "step"), data("shared-step-%d" % it, 150000))

	own = os.path.join(root, "own")
	# This client's own, whose content comes back every third iteration:
	# the snapshot that last held it is the one forget --keep-last 2 has
	# just removed, so its chunks are condemned while this backup may be
	# finding them in its index.
	for k in range(3):
	    write(os.path.join(root, "cycle", "c%d" % k),
	          data("cycle-%d-%d-%d" % (client, k, it % 3), 60000 + 20000 * k))
	files = []
	for d, _, names in os.walk(own):
	    files += [os.path.join(d, n) for n in names]
	files.sort()
	if it == 0:
	    for j in range(20):
	        write(os.path.join(own, "d%d" % (j % 3), "init-%d" % j),
	              data("own-%d-init-%d" % (client, j), r.randint(5000, 80000)))
	    sys.exit(0)
	# Deleted files.
	for p in r.sample(files, min(len(files), 2 if len(files) < 30 else 6)):
	    os.unlink(p)
	    files.remove(p)
	# Rewritten files: a slice in the middle replaced, or the whole file.
	for p in r.sample(files, min(len(files), 2)):
	    with open(p, "rb") as f:
	        body = f.read()
	    if r.random() < 0.5 and len(body) > 1000:
	        a = r.randrange(len(body) // 2)
	        body = body[:a] + r.randbytes(r.randint(100, 20000)) + body[a + 500:]
	    else:
	        body = r.randbytes(r.randint(5000, 80000))
	    write(p, body)
	# New files; one of them has the content of a file created three
	# iterations ago, which may have been deleted and pruned since.
	for j in range(3):
	    seed = "own-%d-%d-%d" % (client, it if j else it - 3, j)
	    size = random.Random(seed).randint(5000, 100000)
	    write(os.path.join(own, "d%d" % r.randrange(4), "f%d-%d" % (it, j)), data(seed, size))
	EOF

# The number in FILE's lines "KEY RC" whose RC matches.
count_rc()
{
	awk -v want="$2" '$2 == want' "$1" 2>/dev/null | wc -l
}

# client_loop N DIR: client N backs up its tree in DIR/src-N until
# DIR/stop exists. Each backup's exit status goes to DIR/backups-N
# ("ITERATION RC"), its output to DIR/log-N/; after a backup that exits
# 0 the tree is copied to DIR/copies/SNAPSHOT.
client_loop()
{
	local n=$1 dir=$2 it=0 rc snap
	local src="$dir/src-$n" log="$dir/log-$n"
	mkdir -p "$src" "$log" "$dir/copies"
	: >"$dir/backups-$n"
	while [ ! -e "$dir/stop" ]; do
		"$PYTHON" "$T/mutate.py" "$src" "$n" "$it" || {
			echo "$it mutate-failed" >>"$dir/backups-$n"
			return
		}
		CAIRN_CACHE_DIR="$dir/cache-$n" CAIRN_INDEX_TOKEN=$CLIENT_TOKEN \
			timeout -k 5 "$STEP_TIMEOUT" "$CAIRN_BIN" backup --json --host "client$n" "$src" \
			</dev/null >"$log/$it.out" 2>"$log/$it.err"
		rc=$?
		snap=""
		if [ "$rc" -eq 0 ]; then
			snap=$(json_get snapshot_id "$log/$it.out" 2>/dev/null)
			[ -n "$snap" ] && cp -a "$src" "$dir/copies/$snap"
		fi
		echo "$it $rc $snap" >>"$dir/backups-$n"
		it=$((it + 1))
	done
}

# prune_loop DIR KILL: forget --prune until DIR/stop exists; with KILL=1 every
# third run is killed with SIGKILL after a random 0-0.8 s. Exit statuses
# go to DIR/prunes ("RUN RC", 137 for a killed one), outputs to
# DIR/log-prune/.
prune_loop()
{
	local dir=$1 kill=$2 i=0 rc
	local log="$dir/log-prune"
	mkdir -p "$log"
	: >"$dir/prunes"
	while [ ! -e "$dir/stop" ]; do
		local cmd=("$CAIRN_BIN" forget --keep-last 2 --group-by host --prune --json)
		if [ "$kill" = 1 ] && [ $((i % 3)) -eq 2 ]; then
			timeout -s KILL "0.$((RANDOM % 8))$((RANDOM % 10))" "${cmd[@]}" \
				</dev/null >"$log/$i.out" 2>"$log/$i.err"
		else
			timeout -k 5 "$STEP_TIMEOUT" "${cmd[@]}" </dev/null >"$log/$i.out" 2>"$log/$i.err"
		fi
		rc=$?
		echo "$i $rc" >>"$dir/prunes"
		i=$((i + 1))
		sleep 0.$((RANDOM % 5))
	done
}

# Restores every snapshot of the repository and compares it with the
# copy of the tree it was made from.
restore_all()
{
	local dir=$1 what=$2 snap n=0 bad=0 missing=0 host src
	run cairn snapshots --json
	check_rc 0 "$what: snapshots exits 0"
	"$PYTHON" -c 'import json,sys
for s in json.load(open(sys.argv[1])): print(s["id"], s["host"])' "$OUT" >"$dir/left"
	while read -r snap host; do
		n=$((n + 1))
		if [ ! -d "$dir/copies/$snap" ]; then
			missing=$((missing + 1))
			fail "$what: snapshot $snap ($host) has no copy: no backup that exited 0 made it"
			continue
		fi
		src="$dir/src-${host#client}"
		rm -rf "$dir/r"
		run cairn restore "$snap" --target "$dir/r"
		if [ "$RC" -ne 0 ]; then
			bad=$((bad + 1))
			fail "$what: restore of $snap ($host) exits 0"
			continue
		fi
		run treecmp "$dir/copies/$snap" "$dir/r$src"
		if [ "$RC" -ne 0 ]; then
			bad=$((bad + 1))
			fail "$what: $snap ($host) restored bit for bit" "$(head -20 "$OUT")"
		fi
	done <"$dir/left"
	check "$what: at least one snapshot per client is left ($n)" test "$n" -ge "$CLIENTS"
	check_eq "$what: all $n snapshots restore bit for bit against their copies" \
		"$bad/$missing" 0/0
}

# Whether the loops in DIR have done what the checks below look for: three
# backups of each client that exited 0, and packs deleted by a prune.
soak_enough()
{
	local n
	for n in $(seq 1 "$CLIENTS"); do
		[ "$(count_rc "$1/backups-$n" 0)" -ge 3 ] || return 1
	done
	"$PYTHON" - "$1/log-prune" <<-'EOF'
		import glob, json, sys
		for f in glob.glob(sys.argv[1] + "/*.out"):
		    try:
		        if json.load(open(f)).get("prune", {}).get("packs_deleted", 0):
		            sys.exit(0)
		    except ValueError:
		        pass
		sys.exit(1)
	EOF
}

# soak NAME KILL: one configuration, with CAIRN_REPO, CAIRN_INDEX,
# ADMIN_TOKEN and CLIENT_TOKEN set by the caller and the repository
# initialised.
soak()
{
	local name=$1 kill=$2 dir="$T/$1" n pids=() pid i
	mkdir -p "$dir"
	say "$name: $CLIENTS clients and a pruning loop for ${SOAK_SECONDS}s or more"
	local started=$SECONDS
	for n in $(seq 1 "$CLIENTS"); do
		client_loop "$n" "$dir" &
		pids+=($!)
		e2e_bg_pids+=($!)
	done
	# Bash's notices of the killed prunes go to a file of their own.
	CAIRN_INDEX_TOKEN=$ADMIN_TOKEN prune_loop "$dir" "$kill" 2>>"$dir/prune-loop.err" &
	pids+=($!)
	e2e_bg_pids+=($!)
	sleep "$SOAK_SECONDS"
	while [ $((SECONDS - started)) -lt $((4 * SOAK_SECONDS)) ] && ! soak_enough "$dir"; do
		sleep 1
	done
	touch "$dir/stop"
	for pid in "${pids[@]}"; do
		wait "$pid"
		bg_forget "$pid"
	done
	echo "looped for $((SECONDS - started))s"
	export CAIRN_INDEX_TOKEN=$ADMIN_TOKEN
	# The failures below name their own command and output.
	LAST_CMD=""

	local backups=0 ok=0 lost_race=0 other=0 rc
	for n in $(seq 1 "$CLIENTS"); do
		while read -r i rc _; do
			backups=$((backups + 1))
			if [ "$rc" = 0 ]; then
				ok=$((ok + 1))
			elif [ "$rc" = 1 ] && grep -q "a prune may have taken this backup for dead" \
				"$dir/log-$n/$i.err"; then
				lost_race=$((lost_race + 1))
				echo "note: client $n backup $i lost the race against its marker:"
				sed 's/^/     | /' "$dir/log-$n/$i.err"
			else
				other=$((other + 1))
				fail "$name: client $n backup $i exits 0 (got $rc)" \
					"$(head -c 2000 "$dir/log-$n/$i.err")"
			fi
		done <"$dir/backups-$n"
	done
	echo "backups: $backups, $ok exited 0, $lost_race lost to a stale marker"
	check "$name: each client backed up several times" \
		test "$(for n in $(seq 1 "$CLIENTS"); do count_rc "$dir/backups-$n" 0; done | sort -n | head -1)" -ge 3
	check_eq "$name: every backup exited 0 (or 1 for a stale marker)" "$other" 0

	local prunes killed=0 bad=0 deleted=0
	prunes=$(wc -l <"$dir/prunes")
	while read -r i rc; do
		if [ "$rc" = 137 ] && [ "$kill" = 1 ]; then
			killed=$((killed + 1))
		elif [ "$rc" != 0 ]; then
			bad=$((bad + 1))
			fail "$name: forget --prune run $i exits 0 (got $rc)" \
				"$(head -c 2000 "$dir/log-prune/$i.err")"
		else
			deleted=$((deleted + $("$PYTHON" -c 'import json,sys
print(json.load(open(sys.argv[1])).get("prune", {}).get("packs_deleted", 0))' \
				"$dir/log-prune/$i.out" 2>/dev/null || echo 0)))
		fi
	done <"$dir/prunes"
	echo "prunes: $prunes, $killed killed, $deleted packs deleted"
	check_eq "$name: every prune exited 0 but the killed ones" "$bad" 0
	check "$name: the prunes deleted packs while the backups ran ($deleted)" test "$deleted" -gt 0
	if [ "$kill" = 1 ]; then
		check "$name: some prunes were killed ($killed)" test "$killed" -gt 0
	fi

	restore_all "$dir" "$name, as the loops left it"
	run cairn check --read-data --json
	check_rc 0 "$name: check --read-data exits 0"
	cp "$OUT" "$dir/check1.json"
	check_eq "$name: check finds no lost chunk" "$(json_get lost_chunks "$dir/check1.json" 2>/dev/null)" 0

	say "$name: with the backups stopped, prune --max-unused 0 gives back every unused byte"
	for i in 1 2 3 4; do
		run cairn prune --max-unused 0 --json
		check_rc 0 "$name: prune --max-unused 0 (run $i) exits 0"
		[ "$RC" -eq 0 ] || break
		[ "$(json_get waiting_generation 2>/dev/null)" = 0 ] && break
	done
	check_eq "$name: it waits for no backup" "$(json_get waiting_generation 2>/dev/null)" 0
	run cairn check --read-data --json
	check_rc 0 "$name: check --read-data afterwards exits 0"
	cp "$OUT" "$dir/check2.json"
	check_eq "$name: no pack is unreferenced" \
		"$(json_get packs_unreferenced "$dir/check2.json" 2>/dev/null)/$(json_get bytes_unreferenced "$dir/check2.json" 2>/dev/null)" 0/0
	run cairn prune --max-unused 0 --dry-run --json
	check_rc 0 "$name: prune --dry-run exits 0"
	check_eq "$name: and condemns nothing, keeps no unused byte" \
		"$(json_get packs_condemned 2>/dev/null)/$(json_get bytes_unused_kept 2>/dev/null)" 0/0
	restore_all "$dir" "$name, after the last prune"
	echo "$name took $((SECONDS - started))s"
}

# Like require, but stops the test only if this check fails: the
# configurations before may have failed checks of their own.
must()
{
	if "${@:2}"; then
		pass "$1"
	else
		fail "$1"
		e2e_abort
	fi
}

# new_repo LOCATION SERVER: a fresh repository; with SERVER=1 a
# cairn-server for it with an admin and an append token.
new_repo()
{
	export CAIRN_REPO=$1
	unset CAIRN_INDEX
	run cairn init --kdf-memory 8M --kdf-iterations 1 --json \
		--chunk-min 16K --chunk-avg 64K --chunk-max 256K
	must "cairn init creates $1" test "$RC" -eq 0
	ADMIN_TOKEN="" CLIENT_TOKEN=""
	if [ "$2" = 1 ]; then
		local id data
		id=$(json_get id)
		data="$T/server-$(basename "$1")"
		must "cairn-server starts" server_start "$data"
		ADMIN_TOKEN=$(server_token "$data" "$id" admin)
		CLIENT_TOKEN=$(server_token "$data" "$id" append)
		must "tokens are created" test -n "$ADMIN_TOKEN" -a -n "$CLIENT_TOKEN"
		export CAIRN_INDEX=$SERVER_URL
	fi
	export CAIRN_INDEX_TOKEN=$ADMIN_TOKEN
}

end_repo()
{
	if [ -n "${CAIRN_INDEX:-}" ]; then
		check "cairn-server stops cleanly" server_stop
	fi
	unset CAIRN_INDEX CAIRN_INDEX_TOKEN
}

SOAK_CONFIGS=${SOAK_CONFIGS:-local local-server s3 s3-server}
for config in $SOAK_CONFIGS; do
	case $config in
	local)
		new_repo "$T/repo-local" 0
		soak local 0
		;;
	local-server)
		new_repo "$T/repo-local-server" 1
		soak local-server 1
		;;
	s3 | s3-server)
		if [ -z "${S3_ENDPOINT:-}" ]; then
			must "the S3 server starts" s3_start "$T/s3" --bucket cairn \
				--access-key soak --secret-key soak-secret
			s3_client_env soak soak-secret
		fi
		if [ "$config" = s3 ]; then
			new_repo "s3:$S3_ENDPOINT/cairn/repo-s3" 0
		else
			new_repo "s3:$S3_ENDPOINT/cairn/repo-s3-server" 1
		fi
		soak "$config" 0
		;;
	*)
		fail "unknown configuration $config"
		;;
	esac
	end_repo
done
[ -n "${S3_ENDPOINT:-}" ] && s3_stop "$T/s3"

e2e_finish

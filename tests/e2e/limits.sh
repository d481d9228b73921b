# Bandwidth limits: --limit-upload and --limit-download pace a backup and
# a restore of 4 MiB at 1024 KiB/s, all transfers together, to a local
# repository and to an S3 server (s3rver); the elapsed time shows it (a
# test of the limit, not of speed: the bounds are wide). Bad values are
# refused, naming the option or the variable.
# shellcheck source=lib.sh
source "$E2E_LIB"

MIB=$((1024 * 1024))
SRC="$T/src"
mkdir -p "$SRC"
gen_file "$SRC/a" $((2 * MIB)) limits-a
gen_file "$SRC/b" $((2 * MIB)) limits-b

now() { date +%s.%N; }
# within LOW HIGH START: whether the time since START is in [LOW, HIGH) s.
within()
{
	"$PYTHON" -c 'import sys, time; d = time.time() - float(sys.argv[3]); print("%.2f s" % d); sys.exit(0 if float(sys.argv[1]) <= d < float(sys.argv[2]) else 1)' "$@"
}

# limited NAME: backup then restore, each at 1024 KiB/s, to $CAIRN_REPO.
limited()
{
	local name=$1 start
	say "$name: backup with --limit-upload 1024"
	init_repo
	start=$(now)
	backup --limit-upload 1024 "$SRC"
	check_rc 0 "$name: the limited backup exits 0"
	check "$name: 4 MiB up at 1 MiB/s takes 3.5 to 8 s" within 3.5 8 "$start"

	say "$name: restore with CAIRN_LIMIT_DOWNLOAD=1024"
	start=$(now)
	CAIRN_LIMIT_DOWNLOAD=1024 run cairn --cache-dir "$T/cache-$name" restore "$SNAP" \
		--target "$T/restore-$name"
	check_rc 0 "$name: the limited restore exits 0"
	check "$name: 4 MiB down at 1 MiB/s takes 3.5 to 8 s" within 3.5 8 "$start"
	run treecmp "$SRC" "$T/restore-$name$SRC"
	check_rc 0 "$name: the restored tree is bit-exact"

	say "$name: without a limit"
	start=$(now)
	run cairn --limit-download 0 --cache-dir "$T/cache-$name-2" restore "$SNAP" \
		--target "$T/restore-$name-2"
	check_rc 0 "$name: the unlimited restore exits 0"
	check "$name: 0 is no limit (under 3 s)" within 0 3 "$start"
}

say "bad limits are refused"
init_repo
run cairn --limit-upload 1.5 snapshots
check_rc 1 "a limit that is not a whole number of KiB/s exits 1"
check_grep "the message names the option" "^cairn: --limit-upload: '1.5' is not a number of KiB/s" "$ERR"
CAIRN_LIMIT_DOWNLOAD=-3 run cairn snapshots
check_rc 1 "a bad CAIRN_LIMIT_DOWNLOAD exits 1"
check_grep "the message names the variable" "CAIRN_LIMIT_DOWNLOAD: '-3' is not a number" "$ERR"
run cairn --limit-download 99999999999 snapshots
check_rc 1 "a limit past 4 TiB/s exits 1"

export CAIRN_REPO="$T/local"
limited local

AK=cairn-limits
SK=cairn-limits-secret
require "the S3 server starts" s3_start "$T/s3" --bucket cairn --access-key "$AK" \
	--secret-key "$SK"
s3_client_env "$AK" "$SK"
export CAIRN_REPO="s3:$S3_ENDPOINT/cairn/repo"
export CAIRN_CACHE_DIR="$T/cache-s3"
limited s3
s3_stop "$T/s3"
e2e_finish

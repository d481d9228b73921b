# The S3 store through a proxy that fails one request in ten (500, 503
# SlowDown, a reset connection before or after the server acted, or a
# stall): a backup of a 200 MiB tree completes and restores bit-exact.
# shellcheck source=lib.sh
source "$E2E_LIB"

TOTAL_MIB=${E2E_S3_FAULTS_MIB:-200}
RATE=${E2E_S3_FAULT_RATE:-0.1}
AK=cairn-faults
SK=cairn-faults-secret
BUCKET=cairn

say "starting the S3 server and the proxy ($RATE of requests fail)"
require "the S3 server starts" s3_start "$T/s3" --bucket "$BUCKET" --access-key "$AK" \
	--secret-key "$SK"
require "the proxy starts" s3_proxy_start "$S3_PORT" "$T/proxy" --fail-rate "$RATE" \
	--faults 500,503,reset,stall --stall-seconds 120
echo "server on port $S3_PORT, proxy on port $PROXY_PORT"
s3_client_env "$AK" "$SK"
# A stalled request is given up after 3 s without progress, then retried.
export CAIRN_S3_TIMEOUT=3
export CAIRN_REPO="s3:http://127.0.0.1:$PROXY_PORT/$BUCKET/repo"

SRC="$T/src"
say "writing $TOTAL_MIB MiB in files of 1 KiB to 8 MiB"
"$PYTHON" - "$SRC" "$TOTAL_MIB" <<-'EOF'
	import os, random, sys
	root, total = sys.argv[1], int(sys.argv[2]) << 20
	r = random.Random("faults")
	i = 0
	while total > 0:
	    d = os.path.join(root, "d%02d" % (i // 25))
	    os.makedirs(d, exist_ok=True)
	    n = min(total, r.choice([r.randint(1 << 10, 64 << 10), r.randint(1 << 20, 8 << 20)]))
	    with open(os.path.join(d, "f%04d" % i), "wb") as f:
	        if i % 5 == 0:
	            # Compressible text, so that packs differ in their ratio too.
	            line = b"line %d of a text file that compresses well\n" % i
	            f.write((line * (n // len(line) + 1))[:n])
	        else:
	            f.write(r.randbytes(n))
	    total -= n
	    i += 1
	print("%d files" % i)
EOF

say "init, backup and restore through the proxy"
init_repo
backup "$SRC"
check_rc 0 "the backup completes"
check "it names its snapshot" test -n "$SNAP"
run cairn snapshots --json
check_rc 0 "snapshots exits 0"
check_eq "it lists the snapshot" "$(snapshot_count)" 1
run cairn --cache-dir "$T/cache-restore" restore "$SNAP" --target "$T/restore"
check_rc 0 "the restore exits 0"
run treecmp "$SRC" "$T/restore$SRC"
check_rc 0 "the restored tree is bit-exact"

s3_proxy_stop
echo "proxy: $(cat "$T/proxy/stats")"
requests=$(json_get requests "$T/proxy/stats")
failed=0
for kind in 500 503 reset stall; do
	n=$(json_get "$kind" "$T/proxy/stats")
	failed=$((failed + ${n:-0}))
done
check "the proxy saw the requests ($requests)" test "${requests:-0}" -ge 40
check "and failed some of them ($failed)" test "$failed" -ge 2

s3_stop "$T/s3"
e2e_finish

# The Bloom precheck. The filter the server serves, read by an
# independent implementation of its documented layout, holds every
# registered fingerprint and has a measured false-positive rate within 2x
# of its design rate (and of what its fill predicts); a backup of new data
# asks the server about at most 2% of its chunks; an unchanged filter is
# not downloaded again.
# shellcheck source=lib.sh
source "$E2E_LIB"

init_repo --chunk-min 2K --chunk-avg 8K --chunk-max 32K
REPO=$(json_get id)
DATA="$T/server"
require "the server starts" server_start "$DATA"
TOKEN=$(server_token "$DATA" "$REPO" append)
export CAIRN_INDEX="$SERVER_URL" CAIRN_INDEX_TOKEN="$TOKEN"

say "fill the filter close to what it is sized for"
# The smallest filter is sized for 65536 fingerprints.
run "$PYTHON" "$INDEXCLIENT" register "$SERVER_URL" "$TOKEN" "$REPO" --count 60000 \
	--seed bloom --batch 2000 --ack "$T/registered"
require_rc 0 "60000 registrations are acknowledged"

say "measure the filter's false-positive rate"
run "$PYTHON" "$INDEXCLIENT" bloom "$SERVER_URL" "$TOKEN" "$REPO" --probes 300000 \
	--registered "$T/registered"
require_rc 0 "the filter downloads and parses"
cp "$OUT" "$T/bloom.json"
cat "$OUT"
b()
{
	json_get "$1" "$T/bloom.json"
}
check_eq "no registered fingerprint is missing from it" "$(b false_negatives)" 0
check_eq "it holds the 60000 fingerprints (less a few that collided)" \
	"$("$PYTHON" -c 'import sys; print(59000 <= int(sys.argv[1]) <= 60000)' "$(b items)")" True
check "it is sized at about 10 bits per fingerprint" \
	"$PYTHON" -c 'import sys; b, c = map(int, sys.argv[1:]); sys.exit(not 1.25 * c <= b <= 1.25 * c + 200)' \
	"$(b bytes)" "$(b capacity)"
check "the design rate is about 1% ($(b design))" \
	"$PYTHON" -c 'import sys; sys.exit(not 0.008 < float(sys.argv[1]) < 0.0105)' "$(b design)"
check "the measured rate $(b measured) is at most twice the design rate" \
	"$PYTHON" -c 'import sys; m, d = map(float, sys.argv[1:]); sys.exit(not m <= 2 * d)' \
	"$(b measured)" "$(b design)"
check "the measured rate $(b measured) is within 2x of what the fill predicts ($(b expected))" \
	"$PYTHON" -c 'import sys; m, e = map(float, sys.argv[1:]); sys.exit(not e / 2 <= m <= 2 * e)' \
	"$(b measured)" "$(b expected)"

say "a backup of new data"
mkdir -p "$T/src"
gen_file "$T/src/new1" 16000000 bloom-new1
gen_file "$T/src/new2" 8000000 bloom-new2
asked0=$(server_metric cairn_lookup_fingerprints_total)
downloads0=$(server_metric cairn_bloom_downloads_total)
CAIRN_CACHE_DIR="$T/c1" backup "$T/src"
require_rc 0 "the backup exits 0"
chunks=$(($(summary blobs_added) + $(summary tree_blobs_added)))
asked=$(($(server_metric cairn_lookup_fingerprints_total) - asked0))
say "$chunks chunks, $asked fingerprints asked of the server"
check "the backup had many chunks ($chunks)" test "$chunks" -gt 2000
check "it asked the server about at most 2% of them ($asked of $chunks)" \
	test $((asked * 100)) -le $((chunks * 2))
check "it downloaded the filter" test "$(server_metric cairn_bloom_downloads_total)" -gt "$downloads0"
check "the filter is cached" test -s "$(find "$T/c1" -name bloom | head -n 1)"

say "a backup of the same data by a fresh client finds everything"
cp -a "$T/src" "$T/copy"
CAIRN_CACHE_DIR="$T/c2" backup "$T/copy"
check_rc 0 "the backup exits 0"
check_eq "it stores no data chunk" "$(summary blobs_added)" 0

say "an unchanged filter is not downloaded again"
# A dry run looks chunks up as a backup does, and registers nothing.
CAIRN_CACHE_DIR="$T/c2" run cairn backup --dry-run "$T/copy"
check_rc 0 "a dry run exits 0"
downloads=$(server_metric cairn_bloom_downloads_total)
not_modified=$(server_metric cairn_bloom_not_modified_total)
CAIRN_CACHE_DIR="$T/c2" run cairn backup --dry-run "$T/copy"
check_rc 0 "another dry run exits 0"
check_eq "it downloads no filter" "$(server_metric cairn_bloom_downloads_total)" "$downloads"
check_eq "the server answered 304 Not Modified" "$(server_metric cairn_bloom_not_modified_total)" \
	$((not_modified + 1))

say "a restore asks the server, not the filter, about every chunk"
asked0=$(server_metric cairn_lookup_fingerprints_total)
CAIRN_CACHE_DIR="$T/c2" run cairn restore latest --target "$T/r2"
check_rc 0 "a restore exits 0"
check_eq "it downloads no filter" "$(server_metric cairn_bloom_downloads_total)" "$downloads"
check "it asks the server about its chunks" \
	test "$(server_metric cairn_lookup_fingerprints_total)" -gt "$asked0"
run treecmp "$T/copy" "$T/r2$T/copy"
check_rc 0 "and it restores bit for bit"

say "the filter grows past its size and stays correct"
run "$PYTHON" "$INDEXCLIENT" register "$SERVER_URL" "$TOKEN" "$REPO" --count 40000 \
	--seed bloom2 --batch 2000 --ack "$T/registered"
require_rc 0 "40000 more registrations are acknowledged"
run "$PYTHON" "$INDEXCLIENT" bloom "$SERVER_URL" "$TOKEN" "$REPO" --probes 100000 \
	--registered "$T/registered"
require_rc 0 "the grown filter downloads"
cp "$OUT" "$T/bloom.json"
check "it was sized anew ($(b capacity))" test "$(b capacity)" -gt 100000
check_eq "no registered fingerprint is missing from it" "$(b false_negatives)" 0
check "its measured rate $(b measured) is at most twice the design rate" \
	"$PYTHON" -c 'import sys; m, d = map(float, sys.argv[1:]); sys.exit(not m <= 2 * d)' \
	"$(b measured)" "$(b design)"
run "$PYTHON" "$INDEXCLIENT" verify "$SERVER_URL" "$TOKEN" "$REPO" --ack "$T/registered"
check_rc 0 "every registration is found by a lookup"

server_stop
e2e_finish

# scripts/s3-check against the local S3 server (s3rver): every behaviour
# cairn relies on passes, through the fault-injecting proxy it starts (the
# retries are seen), and nothing is left in the bucket. Against a server
# that takes any signature, it fails, naming the check.
# shellcheck source=lib.sh
source "$E2E_LIB"

: "${CAIRN_S3CHECK_BIN:?CAIRN_S3CHECK_BIN must name cairn-s3check}"
S3_CHECK="$E2E_DIR/../../scripts/s3-check"
AK=cairn-check
SK=cairn-check-secret

# objects DIR BUCKET: how many objects the server started with DIR holds.
objects()
{
	find "$1/data/$2" -name '*._S3rver_object' 2>/dev/null | wc -l
}

say "a server that checks signatures"
require "the S3 server starts" s3_start "$T/s3" --bucket cairn --access-key "$AK" \
	--secret-key "$SK"
s3_client_env "$AK" "$SK"
run "$S3_CHECK" "s3:$S3_ENDPOINT/cairn/some/prefix"
cat "$OUT"
check_rc 0 "s3-check exits 0"
for name in sigv4-put sigv4-wrong-secret error-body-403 get head delete range-a-b \
	range-open-ended range-past-end list list-pages put-once overwrite put-same-again \
	error-no-such-key error-no-such-bucket single-put-16mib parallel retry-503-put \
	retry-500-get retry-503-head retry-500-list retry-503-delete cleanup; do
	check_grep "$name passes" "^PASS $name " "$OUT"
done
check_grep "the wrong secret is refused with 403" \
	"^PASS sigv4-wrong-secret +refused: SignatureDoesNotMatch: .*\(HTTP 403\)" "$OUT"
check_grep "a range past the end is answered 416" "^PASS range-past-end .*\(HTTP 416\)" "$OUT"
check_grep "listings take 3 pages of 2" "^PASS list-pages .*: 3 pages" "$OUT"
check_grep "a SlowDown PUT is tried again" "^PASS retry-503-put .*HTTP 503 200$" "$OUT"
check_grep "s3rver ignores If-None-Match: reported, not failed" \
	"^SKIP if-none-match +not honoured \(HTTP 200\)" "$OUT"
check_eq "no FAIL line" "$(grep -c '^FAIL' "$OUT")" 0
check_eq "nothing is left in the bucket" "$(objects "$T/s3" cairn)" 0

say "the same without Python: the checks through the proxy are skipped"
mkdir -p "$T/nopy"
ln -s "$(command -v bash)" "$T/nopy/bash"
for tool in timeout dirname mktemp rm cat head sleep; do
	ln -s "$(command -v "$tool")" "$T/nopy/$tool"
done
PATH="$T/nopy" run "$S3_CHECK" "s3:$S3_ENDPOINT/cairn"
check_rc 0 "s3-check exits 0"
check_grep "retries are skipped, saying why" \
	"^SKIP retry-503-put +needs the fault-injecting proxy" "$OUT"
check_grep "it says so" "no python3" "$ERR"
s3_stop "$T/s3"

say "a server that takes any signature"
require "the S3 server starts" s3_start "$T/s3-lax" --bucket cairn --access-key "$AK" \
	--secret-key "$SK" --allow-mismatched-signatures
run "$S3_CHECK" "s3:$S3_ENDPOINT/cairn"
check_rc 1 "s3-check exits 1"
check_grep "it names the check that failed" \
	"^FAIL sigv4-wrong-secret +a request signed with a wrong secret was answered" "$OUT"
check_grep "and says cairn may not work" "^# FAILED" "$OUT"
check_eq "nothing is left in the bucket" "$(objects "$T/s3-lax" cairn)" 0
s3_stop "$T/s3-lax"

say "bad usage"
run "$S3_CHECK" /tmp/not-s3
check_rc 2 "a location that is not s3: exits 2"
check_grep "with the usage" "usage: scripts/s3-check s3:" "$ERR"
e2e_finish

#!/bin/bash
# cairn key: key files added, listed, removed and changed; the master key
# exported, every key file lost, and a key made again from the export.
source "$E2E_LIB"

# keys: the key files `key list --json` lists, as "id current" lines.
keys()
{
	"$CAIRN_BIN" key list --json </dev/null 2>/dev/null | "$PYTHON" -c '
import json, sys
for k in json.load(sys.stdin):
    print(k["id"], "current" if k["current"] else "-")'
}

SRC="$T/src"
mkdir -p "$SRC/d"
gen_file "$SRC/big" 700000 keys1
gen_file "$SRC/d/small" 3000 keys2
printf 'one\n' >"$SRC/d/text"
init_repo
REPO_ID=$(json_get id)
backup "$SRC"
require_rc 0 "a backup with the first password"

say "key list"
run cairn key list --json
check_rc 0 "key list --json exits 0"
check_eq "one key, the one in use" "$("$PYTHON" -c '
import json, sys
k = json.load(open(sys.argv[1]))
print(len(k), k[0]["current"], k[0]["host"] == sys.argv[2], len(k[0]["id"]), bool(k[0]["created"]))' "$OUT" "$(hostname)")" \
	"1 True True 64 True"
FIRST=$(keys | cut -d' ' -f1)
run cairn key list
check_grep "the text marks the key in use with *" "^\* ${FIRST:0:8} " "$OUT"

say "key add"
printf 'second password\n' >"$T/pw2"
run cairn key add --new-password-file "$T/pw2"
check_rc 0 "key add exits 0"
SECOND=$(grep -o '[0-9a-f]\{64\}' "$OUT")
check_eq "two keys are listed" "$(keys | wc -l)" 2
run cairn snapshots --json
check_rc 0 "the first password still opens the repository"
CAIRN_PASSWORD= run cairn --password-file "$T/pw2" snapshots --json
check_rc 0 "the second opens it too"
check_grep "with its own key in use" "$SECOND current" <(CAIRN_PASSWORD= CAIRN_PASSWORD_FILE="$T/pw2" keys)
check_eq "the new key has the default key derivation" "$(CAIRN_PASSWORD_FILE="$T/pw2" CAIRN_PASSWORD= \
	"$CAIRN_BIN" key list --json | "$PYTHON" -c '
import json, sys
print([(k["kdf_memory"], k["kdf_iterations"]) for k in json.load(sys.stdin) if k["current"]])')" \
	"[(19922944, 3)]"
CAIRN_PASSWORD="not it" run cairn snapshots
check_rc 12 "a wrong password exits 12"
run cairn key add
check_rc 1 "key add without --new-password-file exits 1"
check_grep "and says what it needs" "new-password-file" "$ERR"
run cairn key list --new-password-file "$T/pw2"
check_rc 1 "key list with --new-password-file is a usage error (exit 1)"
run cairn key frobnicate
check_rc 1 "an unknown key command exits 1"
check_grep "naming it" "unknown key command 'frobnicate'" "$ERR"

say "key remove"
CAIRN_PASSWORD= CAIRN_PASSWORD_FILE="$T/pw2" run cairn key remove "${FIRST:0:10}"
check_rc 0 "removing the first key by a prefix exits 0"
check_eq "one key is left" "$(CAIRN_PASSWORD= CAIRN_PASSWORD_FILE="$T/pw2" keys)" "$SECOND current"
run cairn snapshots
check_rc 12 "the first password no longer opens the repository (exit 12)"
CAIRN_PASSWORD= CAIRN_PASSWORD_FILE="$T/pw2" run cairn key remove "$SECOND"
check_rc 1 "removing the last key is refused (exit 1)"
check_grep "the message says it is the last" "last key" "$ERR"
check "its file is still there" test -e "$T/repo/keys/$SECOND"
CAIRN_PASSWORD= CAIRN_PASSWORD_FILE="$T/pw2" run cairn key remove 0000
check_rc 1 "removing a key that is not there exits 1"
check_grep "naming it" "no key 0000" "$ERR"

say "removing the key in use, while another exists"
printf 'third password\n' >"$T/pw3"
CAIRN_PASSWORD= CAIRN_PASSWORD_FILE="$T/pw2" run cairn key add --new-password-file "$T/pw3"
require_rc 0 "a third key"
CAIRN_PASSWORD= CAIRN_PASSWORD_FILE="$T/pw2" run cairn key remove "$SECOND"
check_rc 0 "the key in use may be removed when another exists"
check_grep "and the command says so" "key this command opened with is removed" "$ERR"
CAIRN_PASSWORD= CAIRN_PASSWORD_FILE="$T/pw3" run cairn snapshots
check_rc 0 "the other key opens the repository"
export CAIRN_PASSWORD= CAIRN_PASSWORD_FILE="$T/pw3"

say "key passwd"
printf 'fourth password\n' >"$T/pw4"
OLD=$(keys | cut -d' ' -f1)
run cairn key passwd --new-password-file "$T/pw4"
check_rc 0 "key passwd exits 0"
run cairn snapshots
check_rc 12 "the old password now fails with exit 12"
CAIRN_PASSWORD_FILE="$T/pw4" run cairn snapshots --json
check_rc 0 "the new one works"
NEW=$(CAIRN_PASSWORD_FILE="$T/pw4" keys)
check_eq "one key, a new one, in use" "$(echo "$NEW" | wc -l) $(echo "$NEW" | grep -c "$OLD")" "1 0"
export CAIRN_PASSWORD_FILE="$T/pw4"

say "key passwd killed between writing the new key and removing the old"
printf 'fifth password\n' >"$T/pw5"
CAIRN_TEST_HOLD="key-passwd-written:$T/hold" bg "$CAIRN_BIN" key passwd \
	--new-password-file "$T/pw5" >/dev/null 2>&1
PID=$!
require "passwd has written the new key file" wait_for "$T/hold.reached"
kill -9 "$PID"
wait "$PID" 2>/dev/null
bg_forget "$PID"
check_eq "two key files are left" "$(ls "$T/repo/keys" | wc -l)" 2
run cairn snapshots
check_rc 0 "the old password opens the repository"
CAIRN_PASSWORD_FILE="$T/pw5" run cairn snapshots
check_rc 0 "and so does the new one"

say "key export, every key lost, key import"
run cairn key export
check_rc 0 "key export exits 0"
cp "$OUT" "$T/export"
check_grep "it names the repository" "^repository $REPO_ID\$" "$T/export"
check_eq "three lines of six groups of four" \
	"$(grep -c '^[0-9A-Z]\{4\}\(-[0-9A-Z]\{4\}\)\{5\}$' "$T/export")" 3
mkdir "$T/keys-aside"
mv "$T/repo/keys/"* "$T/keys-aside/"
run cairn snapshots
check_rc 1 "with every key file gone the repository does not open"
check_grep "saying there are no keys" "no usable keys" "$ERR"

# A miscopied character: the checksum catches it.
"$PYTHON" - "$T/export" "$T/typo" <<-'PY'
	import sys
	lines = open(sys.argv[1]).read().split("\n")
	c = lines[3][5]
	lines[3] = lines[3][:5] + ("7" if c != "7" else "8") + lines[3][6:]
	open(sys.argv[2], "w").write("\n".join(lines))
PY
run cairn key import --export-file "$T/typo" --new-password-file "$T/pw2"
check_rc 1 "an export with a miscopied character is refused (exit 1)"
check_grep "by its checksum" "checksum does not match" "$ERR"
check_eq "and no key file is written" "$(ls "$T/repo/keys" | wc -l)" 0
# Lower case, a letter O for a zero, and no dashes are forgiven.
tr 'A-Z' 'a-z' <"$T/export" | sed '3,$ s/-//g; 3,$ s/0/o/g' >"$T/export-lower"

# The export of another repository.
CAIRN_PASSWORD="other" run cairn --repo "$T/other" init --kdf-memory 8M --kdf-iterations 1
require_rc 0 "another repository"
CAIRN_PASSWORD="other" run cairn --repo "$T/other" key export
cp "$OUT" "$T/other-export"
run cairn key import --export-file "$T/other-export" --new-password-file "$T/pw2"
check_rc 1 "another repository's export is refused (exit 1)"
check_grep "the message says whose it is" "the export is of repository" "$ERR"
# The right repository id with another master key, checksum made right.
"$PYTHON" - "$T/export" "$T/forged" <<-'PY'
	import hashlib, sys
	A = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	lines = open(sys.argv[1]).read().split("\n")
	chars = "".join(lines[2:5]).replace("-", "")
	n = int("".join(format(A.index(c), "05b") for c in chars), 2).to_bytes(45, "big")
	body = bytearray(n[:41])
	body[20] ^= 1
	raw = bytes(body) + hashlib.blake2b(bytes(body), digest_size=4).digest()
	bits = format(int.from_bytes(raw, "big"), "0360b")
	s = "".join(A[int(bits[i:i + 5], 2)] for i in range(0, 360, 5))
	out = lines[:2] + ["-".join(s[j:j + 4] for j in range(i, i + 24, 4)) for i in (0, 24, 48)]
	open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
run cairn key import --export-file "$T/forged" --new-password-file "$T/pw2"
check_rc 1 "an export of the right repository with a wrong key is refused (exit 1)"
check_grep "the export does not open it" "the export does not open this repository" "$ERR"
check_eq "no key file is written" "$(ls "$T/repo/keys" | wc -l)" 0

CAIRN_PASSWORD_FILE= run cairn key import --export-file "$T/export-lower" --new-password-file "$T/pw2"
check_rc 0 "the export, typed in lower case, makes a key again"
CAIRN_PASSWORD_FILE="$T/pw2" run cairn restore latest --target "$T/r"
check_rc 0 "the new password restores"
run treecmp "$SRC" "$T/r$SRC"
check_rc 0 "bit for bit"

say "a key hint"
CAIRN_PASSWORD_FILE="$T/pw2" run cairn key add --new-password-file "$T/pw3"
HINT=$(grep -o '[0-9a-f]\{64\}' "$OUT")
CAIRN_CACHE_DIR="$T/cache-new" CAIRN_KEY_HINT=${HINT:0:8} CAIRN_PASSWORD_FILE="$T/pw3" \
	run cairn key list --json
check_rc 0 "a new machine with CAIRN_KEY_HINT opens the repository"
check_grep "with the hinted key" "\"id\":\"$HINT\",\"short_id\":\"[0-9a-f]*\",\"current\":true" "$OUT"

say "an unencrypted repository has no keys"
CAIRN_PASSWORD_FILE= run cairn --repo "$T/plain" init --no-encryption
CAIRN_PASSWORD_FILE= run cairn --repo "$T/plain" key list
check_rc 1 "key list on an unencrypted repository exits 1"
check_grep "saying it has no keys" "not encrypted" "$ERR"

e2e_finish

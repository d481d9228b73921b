#!/usr/bin/env bash
# Someone who can write to the store but has no password (docs/SECURITY.md,
# "Store writers: configuration and keys"): a downgrade of config to
# "unencrypted", planted key files, and tampered chunker settings.
source "${E2E_LIB:?}"

PW="$T/pw"
printf '%s\n' "$CAIRN_PASSWORD" >"$PW"
KNOWN="known-plaintext-$RANDOM-of-the-attack-test"
SRC="$T/src"
mkdir -p "$SRC"
for i in $(seq 1 200); do echo "$KNOWN line $i"; done >"$SRC/secret.txt"
gen_file "$SRC/bulk" 300000 bulk

# Rewrites config with the settings given as JSON members after the id.
write_config()
{
	"$PYTHON" - "$CAIRN_REPO/config" "$1" <<-'EOF'
		import json, sys
		path, rest = sys.argv[1], sys.argv[2]
		with open(path) as f:
		    c = json.load(f)
		with open(path, "w") as f:
		    f.write('{"id":"%s",%s}\n' % (c["id"], rest))
	EOF
}

# Names and sizes of every object under data/, index/ and snapshots/.
store_listing()
{
	(cd "$CAIRN_REPO" && find data index snapshots -type f 2>/dev/null | sort)
}

TINY='"chunker":{"polynomial":"3da3358b4dc173","min":256,"avg":512,"max":1024},"pack_size":1048576'

say "an encrypted repository's config keeps its settings sealed"
init_repo
backup "$SRC"
require_rc 0 "the first backup exits 0"
cp "$CAIRN_REPO/config" "$T/config.good"
check_eq "config is version 3" "$(json_get version "$CAIRN_REPO/config")" 3
check "config has a sealed part" grep -q '"sealed":"[0-9a-f]*"' "$CAIRN_REPO/config"
check "the chunker polynomial is not in the clear" \
	bash -c "! grep -q -e polynomial -e chunker '$CAIRN_REPO/config'"

say "attack 1: config downgraded to unencrypted, keys/ and snapshots/ moved aside"
write_config '"version":3,"encryption":"none",'"$TINY"
mv "$CAIRN_REPO/keys" "$T/keys.aside"
mv "$CAIRN_REPO/snapshots" "$T/snapshots.aside"
mkdir "$CAIRN_REPO/snapshots"
store_listing >"$T/before"
unset CAIRN_PASSWORD
run cairn backup --password-file "$PW" "$SRC"
check_rc 1 "backup --password-file refuses the downgraded repository, exit 1"
check_grep "the error names config" 'config' "$ERR"
check_grep "and says it was seen encrypted" 'seen it encrypted' "$ERR"
run cairn backup --password-file "$PW" --cache-dir "$T/fresh-cache" "$SRC"
check_rc 1 "a client that never saw the repository refuses it too when given a password"
check_grep "telling the user to run without a password if that is right" \
	'config: this repository claims to be unencrypted; run without a password if that is right' "$ERR"
run cairn backup "$SRC"
check_rc 1 "without a password, a client that saw it encrypted refuses it as well"
check_grep "naming config" 'config' "$ERR"
export CAIRN_PASSWORD="$(head -n1 "$PW")"
store_listing >"$T/after"
check "nothing was written to data/, index/ or snapshots/" cmp -s "$T/before" "$T/after"
check "no pack holds the known plaintext" bash -c "! grep -rqa '$KNOWN' '$CAIRN_REPO/data'"
cp "$T/config.good" "$CAIRN_REPO/config"
rmdir "$CAIRN_REPO/snapshots"
mv "$T/keys.aside" "$CAIRN_REPO/keys"
mv "$T/snapshots.aside" "$CAIRN_REPO/snapshots"
backup "$SRC"
check_rc 0 "with the files put back, the backup works again"
check_eq "two snapshots" "$(snapshot_count)" 2

say "attack 4: 30 planted key files (huge cost, wrong names)"
REAL_KEY=$(ls "$CAIRN_REPO/keys")
"$PYTHON" - "$CAIRN_REPO/keys" "$REAL_KEY" <<-'EOF'
	import hashlib, os, struct, sys
	keys, real = sys.argv[1], sys.argv[2]
	with open(os.path.join(keys, real), "rb") as f:
	    good = f.read()
	for i in range(30):
	    b = bytearray(good)
	    b[26 + (i % 16)] ^= 0xFF  # another salt
	    if i < 15:
	        # A well-formed name, and a cost no one can pay.
	        b[10:18] = struct.pack("<Q", 2**32 - 1 - i)
	        name = hashlib.sha256(b).hexdigest()
	    elif i < 29:
	        # The real cost, under a name that is not its hash.
	        name = hashlib.sha256(b"planted %d" % i).hexdigest()
	    else:
	        # The real key file itself under another name.
	        b, name = good, hashlib.sha256(b"copy").hexdigest()
	    with open(os.path.join(keys, name), "wb") as f:
	        f.write(b)
EOF
check_eq "31 files under keys/" "$(ls "$CAIRN_REPO/keys" | wc -l)" 31
start=$(date +%s)
run cairn snapshots
check_rc 0 "cairn snapshots opens the repository, exit 0"
run cairn snapshots --cache-dir "$T/cache-keys"
check_rc 0 "a client that never opened it before opens it too"
elapsed=$(($(date +%s) - start))
check "both opens took under 30 s (took ${elapsed} s)" test "$elapsed" -lt 30

say "at most 16 key files are tried"
for i in $(seq 1 17); do
	printf 'other password %d\n' "$i" >"$T/other-pw"
	run cairn init --repo "$T/other$i" --password-file "$T/other-pw" \
		--kdf-memory 8M --kdf-iterations 1 --cache-dir "$T/other-cache"
	cp "$T/other$i"/keys/* "$CAIRN_REPO/keys/"
done
mv "$CAIRN_REPO/keys/$REAL_KEY" "$T/real-key"
run cairn snapshots --cache-dir "$T/cache-17"
check_rc 12 "17 key files of other passwords and not ours: wrong password, exit 12"
check_grep "after 16, a clear error" 'none of the 16 key files tried under keys/, and there are more' "$ERR"
check_grep "a file whose name is not its hash is passed over with a warning" \
	'keys/[0-9a-f]{64}: its name is not the SHA-256 of its content: skipped' "$ERR"
check_grep "the huge costs are refused with a warning, before any hashing" 'out-of-bounds KDF parameters' "$ERR"
mv "$T/real-key" "$CAIRN_REPO/keys/$REAL_KEY"
run cairn snapshots
check_rc 0 "with the real key back, the key that opened it last is tried first: exit 0"
check_eq "the cache remembers it" "$(cat "$CAIRN_CACHE_DIR"/*/key)" "$REAL_KEY"

say "attack 5: tampered chunker settings"
store_listing >"$T/before"
"$PYTHON" - "$CAIRN_REPO/config" <<-'EOF'
	import sys
	path = sys.argv[1]
	s = open(path).read()
	i = s.index('"sealed":"') + 200
	s = s[:i] + ("0" if s[i] != "0" else "1") + s[i + 1:]
	open(path, "w").write(s)
EOF
backup "$SRC"
check_rc 1 "a changed byte in the sealed settings: backup refuses, exit 1"
check_grep "naming config" 'config: the sealed settings do not open' "$ERR"
write_config '"version":2,"encryption":"xchacha20-poly1305",'"$TINY"
backup "$SRC"
check_rc 1 "settings in the clear (known polynomial, tiny chunks): backup refuses, exit 1"
check_grep "naming config" 'config has its settings in the clear' "$ERR"
store_listing >"$T/after"
check "nothing was written" cmp -s "$T/before" "$T/after"
cp "$T/config.good" "$CAIRN_REPO/config"
backup "$SRC"
check_rc 0 "the config put back: backup exits 0"
check_eq "and it added nothing (all deduplicated)" "$(summary blobs_added)" 0

say "an old-format config is sealed by the first client with the password"
export CAIRN_REPO="$T/old" CAIRN_CACHE_DIR="$T/old-cache"
init_repo
write_config '"version":2,"encryption":"xchacha20-poly1305",'"$TINY"
run cairn backup --cache-dir "$T/old-cache2" "$SRC"
check_rc 0 "a backup into it exits 0"
check_eq "config is version 3 now" "$(json_get version "$CAIRN_REPO/config")" 3
check "its settings are sealed" bash -c "! grep -q polynomial '$CAIRN_REPO/config'"
run cairn restore latest --cache-dir "$T/old-cache3" --target "$T/old-restore"
check_rc 0 "another client restores from it"
check "the tree is restored bit for bit" treecmp "$SRC" "$T/old-restore$SRC"
write_config '"version":2,"encryption":"xchacha20-poly1305",'"$TINY"
run cairn backup --cache-dir "$T/old-cache2" "$SRC"
check_rc 1 "the clear settings again: a client that saw them sealed refuses"

say "a repository made with --no-encryption keeps working"
export CAIRN_REPO="$T/plain" CAIRN_CACHE_DIR="$T/plain-cache"
run cairn init --no-encryption
require_rc 0 "init --no-encryption exits 0"
check_eq "its config is version 3, in the clear" "$(json_get version "$CAIRN_REPO/config")" 3
unset CAIRN_PASSWORD
backup "$SRC"
check_rc 0 "a backup without a password exits 0"
run cairn snapshots --cache-dir "$T/plain-cache2"
check_rc 0 "another client without a password lists it"
run cairn snapshots --cache-dir "$T/plain-cache3" --password-file "$PW"
check_rc 1 "a client given a password that never saw it refuses it"
run cairn snapshots --cache-dir "$T/plain-cache2" --password-file "$PW"
check_rc 0 "one that saw it unencrypted uses it"

e2e_finish

# One flipped byte in a pack: restore names the damaged file, exits 3,
# restores every other file bit for bit, and writes no byte it could not
# authenticate.
# shellcheck source=lib.sh
source "$E2E_LIB"

SRC="$T/src"
mkdir -p "$SRC"
for i in $(seq -w 1 20); do
	gen_file "$SRC/file$i" $(((1 + 10#$i % 3) * 1024 * 1024 + 10#$i * 1111)) "damage$i"
done
init_repo
backup "$SRC"
require_rc 0 "backup of 20 files exits 0"

say "flip one byte in the blob area of the largest pack"
pack=$(find "$CAIRN_REPO/data" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
require "the repository holds a pack" test -n "$pack"
size=$(stat -c %s "$pack")
# A quarter in: far from the trailer at the end.
off=$((size / 4))
flip_byte "$pack" "$off"
echo "flipped byte $off of $(basename "$pack") ($size bytes)"

say "restore"
run cairn restore "$SNAP" --target "$T/restore"
cp "$ERR" "$T/restore.err"
check_rc 3 "restore of damaged data exits 3"
damaged=()
for i in $(seq -w 1 20); do
	grep -qF "$SRC/file$i" "$T/restore.err" && damaged+=("file$i")
done
check "at least one damaged file is named on stderr (${damaged[*]:-none})" test ${#damaged[@]} -ge 1
check "only a few files are named (${#damaged[@]})" test ${#damaged[@]} -le 3
for i in $(seq -w 1 20); do
	f="file$i"
	case " ${damaged[*]} " in *" $f "*) continue ;; esac
	check "$f, not named, is restored bit for bit" cmp -s "$SRC/$f" "$T/restore$SRC/$f"
done
for f in "${damaged[@]}"; do
	check "$f, named, holds no byte that differs from the original except zeros" "$PYTHON" - \
		"$SRC/$f" "$T/restore$SRC/$f" <<-'EOF'
		import os, sys
		orig = open(sys.argv[1], "rb").read()
		if not os.path.exists(sys.argv[2]):
		    sys.exit(0)
		got = open(sys.argv[2], "rb").read()
		if len(got) > len(orig):
		    print("restored file is longer than the original")
		    sys.exit(1)
		bad = [i for i in range(len(got)) if got[i] != orig[i] and got[i] != 0]
		if bad:
		    print("%d bytes differ and are not zero, first at %d" % (len(bad), bad[0]))
		    sys.exit(1)
		diff = sum(1 for i in range(len(got)) if got[i] != orig[i])
		print("%s: %d of %d bytes restored, %d zeroed" % (sys.argv[2], len(got), len(orig), diff))
	EOF
done

say "the other snapshot data is untouched by the damage"
run cairn restore "$SNAP" --target "$T/restore2" --include "$SRC/file01" --include "$SRC/file20"
for f in file01 file20; do
	case " ${damaged[*]} " in *" $f "*) continue ;; esac
	check "$f restores alone as well" cmp -s "$SRC/$f" "$T/restore2$SRC/$f"
done

e2e_finish

# Every attribute survives backup and restore, and a restore never widens
# permissions: POSIX ACLs (a default ACL on a directory too), security.*
# with a file capability, trusted.*, user.*, and file flags (chattr +i,
# +a, +d, +A, an immutable directory, a hard link to an immutable file),
# compared with getfacl, getfattr, lsattr and getcap. Then as an ordinary
# user, who may not set trusted.*, security.* or +i/+a: the restore exits
# 3 naming each of those and the rest is exact. Then to a file system
# without ACLs: the mode gives the group no more than the ACL did.
# shellcheck source=lib.sh
source "$E2E_LIB"

if ! is_root; then
	skip "not root: trusted.*, file capabilities and chattr +i need root"
	exit 0
fi
for tool in setfacl:acl getfattr:attr setcap:libcap2-bin chattr:e2fsprogs setpriv:util-linux; do
	need_tool "${tool%%:*}" "${tool#*:}" || {
		skip "${tool%%:*} is missing and cannot be installed (package ${tool#*:})"
		exit 0
	}
done

SRC="$T/src"
# Immutable and append-only files outlive rm -rf: cleanup clears them.
e2e_cleanup_hooks+=("chattr -R -i -a '$T'")
# The unprivileged users below must reach what is inside $T.
chmod 0711 "$T"
GROUP_MEMBER=(setpriv --reuid=4321 --regid=1234 --clear-groups)
NAMED_USER=(setpriv --reuid=65534 --regid=65534 --clear-groups)

say "a tree with ACLs, capabilities, trusted.*, security.*, user.* and file flags"
mkdir -p "$SRC"/{acl-dir,flags/imm-dir}
# group::r-- but mask::rw- (for the named user): the mode reads 0664, and
# a restore that took the mode for the truth would let the group write.
printf 'group may only read\n' >"$SRC/acl-file"
chmod 0644 "$SRC/acl-file"
chgrp 1234 "$SRC/acl-file"
setfacl -m u:65534:rw "$SRC/acl-file"
setfacl -m u:65534:rwx "$SRC/acl-dir"
setfacl -d -m u::rwx,g::rx,o::-,g:1234:rwx "$SRC/acl-dir"
printf 'inherits the default ACL\n' >"$SRC/acl-dir/inherited"
mkdir "$SRC/acl-dir/sub"
cp "$(type -P true)" "$SRC/cap"
setcap cap_net_raw+ep "$SRC/cap"
printf 'attributes\n' >"$SRC/secret"
setfattr -n trusted.x -v "trusted value" "$SRC/secret"
setfattr -n security.cairn -v "security value" "$SRC/secret"
setfattr -n user.note -v "a note" "$SRC/secret"
setfattr -n user.binary -v 0x00ff10 "$SRC/acl-file"
ln -s secret "$SRC/link"
setfattr -h -n trusted.on-link -v 1 "$SRC/link"
for f in nodump noatime immutable append; do printf '%s\n' "$f" >"$SRC/flags/$f"; done
printf 'inside\n' >"$SRC/flags/imm-dir/inside"
printf 'appended\n' >"$SRC/flags/imm-dir/log"
ln "$SRC/flags/immutable" "$SRC/flags/immutable-link"
chattr +d "$SRC/flags/nodump"
chattr +A "$SRC/flags/noatime"
chattr +d "$SRC/acl-dir"
chattr +i "$SRC/flags/immutable"
chattr +a "$SRC/flags/append" "$SRC/flags/imm-dir/log"
chattr +i "$SRC/flags/imm-dir"

# Before comparing anything: the source really carries each attribute.
require "the file has an ACL naming another user" \
	bash -c "getfacl -pn '$SRC/acl-file' | grep -qx 'user:65534:rw-'"
require "the directory has a default ACL" \
	bash -c "getfacl -pn '$SRC/acl-dir' | grep -qx 'default:group:1234:rwx'"
require "the file inside inherited an ACL" \
	bash -c "getfacl -pn '$SRC/acl-dir/inherited' | grep -q '^group:1234:'"
require "the copy of true has a capability" \
	bash -c "getcap '$SRC/cap' | grep -q cap_net_raw"
require "trusted.* and security.* are on the file" \
	bash -c "getfattr -d -m - '$SRC/secret' | grep -q '^trusted.x=' &&
		getfattr -d -m - '$SRC/secret' | grep -q '^security.cairn='"
require "the symlink has its own trusted.*" \
	bash -c "getfattr -h -d -m - '$SRC/link' | grep -q '^trusted.on-link='"
require "the immutable file and directory are immutable" \
	bash -c "lsattr -d '$SRC/flags/immutable' '$SRC/flags/imm-dir' | grep -c '^....i' | grep -qx 2"
require "the append-only files are append-only" \
	bash -c "lsattr '$SRC/flags/append' '$SRC/flags/imm-dir/log' | grep -c '^.....a' | grep -qx 2"
require "a member of the owning group cannot write the file with the ACL" \
	bash -c "! ${GROUP_MEMBER[*]} test -w '$SRC/acl-file'"
require "the user the ACL names can" "${NAMED_USER[@]}" test -w "$SRC/acl-file"

# Every attribute under DIR, by relative path in sorted order (readdir
# order differs): the ACL, every xattr (a symlink's own), the flags and
# the capability. With "user", what an ordinary user may not set and
# whom the entries belong to are left out.
attrs_of()
{
	local dir=$1 who=${2:-root} p
	(cd "$dir" && find . | LC_ALL=C sort | while IFS= read -r p; do
		printf '== %s\n' "$p"
		if [ ! -L "$p" ]; then
			getfacl -pn "$p" 2>/dev/null | grep -v '^# file:'
		fi
		getfattr -h -d -m - -e hex "$p" 2>/dev/null | grep '=' | LC_ALL=C sort
		if [ ! -L "$p" ] && { [ -f "$p" ] || [ -d "$p" ]; }; then
			lsattr -d "$p" 2>/dev/null
			getcap "$p" 2>/dev/null
		fi
	done) | if [ "$who" = user ]; then
		grep -v -e '^# owner:' -e '^# group:' -e '^trusted\.' -e '^security\.' -e ' cap_' |
			sed -E 's/^(....)i/\1-/; s/^(.....)a/\1-/'
	else
		cat
	fi
}

init_repo
backup "$SRC"
require_rc 0 "backup of the tree exits 0"
attrs_of "$SRC" >"$T/src.attrs"
require "the listing of the source's attributes has them" grep -q 'cap_net_raw' "$T/src.attrs"

say "restore as root: every attribute"
R="$T/r"
run cairn restore "$SNAP" --target "$R"
check_rc 0 "the restore exits 0"
check "and warns of nothing" bash -c '! grep -v "^using snapshot " "$1"' _ "$ERR"
attrs_of "$R$SRC" >"$T/r.attrs"
check "ACLs, xattrs, flags and capabilities are the source's" diff "$T/src.attrs" "$T/r.attrs"
check "the restored file with the ACL still keeps the group from writing" \
	bash -c "! ${GROUP_MEMBER[*]} test -w '$R$SRC/acl-file'"
check "and lets the user it names write" "${NAMED_USER[@]}" test -w "$R$SRC/acl-file"
check_eq "its mode is the source's" "$(stat -c %a "$R$SRC/acl-file")" "$(stat -c %a "$SRC/acl-file")"
check "the immutable file is still a hard link" \
	test "$R$SRC/flags/immutable" -ef "$R$SRC/flags/immutable-link"
check "the immutable directory's content is complete" \
	cmp -s "$SRC/flags/imm-dir/inside" "$R$SRC/flags/imm-dir/inside"
check_eq "and its time is the source's" "$(stat -c %Y "$R$SRC/flags/imm-dir")" \
	"$(stat -c %Y "$SRC/flags/imm-dir")"
check "the immutable file cannot be written" bash -c "! printf x >>'$R$SRC/flags/immutable'"

say "a second backup takes attributes of unchanged files from the first"
backup "$SRC"
require_rc 0 "the second backup exits 0"
check_eq "no file is new or changed" "$(summary files_new) $(summary files_changed)" "0 0"
run cairn restore "$SNAP" --target "$T/r2"
check_rc 0 "its restore exits 0"
attrs_of "$T/r2$SRC" >"$T/r2.attrs"
check "with every attribute" diff "$T/src.attrs" "$T/r2.attrs"

say "restore as an ordinary user: what the kernel allows, and the rest named"
U="$T/u"
mkdir -p "$U" "$T/ucache"
chown -R 65534:65534 "$CAIRN_REPO" "$U" "$T/ucache"
run "${NAMED_USER[@]}" env CAIRN_CACHE_DIR="$T/ucache" "$CAIRN_BIN" restore "$SNAP" --target "$U"
check_rc 3 "the unprivileged restore exits 3"
check_grep "it names the trusted.* attribute it could not set" \
	"$SRC/secret: .*trusted\.x .*Operation not permitted" "$ERR"
check_grep "and the security.* one" "$SRC/secret: .*security\.cairn" "$ERR"
check_grep "and the capability" "$SRC/cap: .*security\.capability" "$ERR"
check_grep "and the symlink's trusted.*" "$SRC/link: .*trusted\.on-link" "$ERR"
check_grep "and the immutable file" "$SRC/flags/immutable: cannot set file flags \+i" "$ERR"
check_grep "and the append-only file" "$SRC/flags/append: cannot set file flags \+a" "$ERR"
check_grep "and the immutable directory" "$SRC/flags/imm-dir: cannot set file flags \+i" "$ERR"
check_eq "and nothing else" "$(grep -c 'warning:' "$ERR")" 7
attrs_of "$SRC" user >"$T/src.user.attrs"
attrs_of "$U$SRC" user >"$T/u.attrs"
check "everything else is exact: ACLs, user.* and the other flags" \
	diff "$T/src.user.attrs" "$T/u.attrs"
check "the file with the ACL keeps a member of its group from writing" \
	bash -c "! ${GROUP_MEMBER[*]} test -w '$U$SRC/acl-file'"

say "restore to a file system without ACLs: the group gets no more than the ACL gave it"
N="$T/noacl"
mkdir -p "$N"
if ! mount -t ramfs ramfs "$N" 2>/dev/null; then
	skip "no ramfs to mount: a target without ACLs is not tested"
else
	e2e_mounts+=("$N")
	chmod 0755 "$N"
	run cairn restore "$SNAP" --target "$N" --include "$SRC/acl-file" --include "$SRC/acl-dir"
	check_rc 3 "the restore exits 3"
	check_grep "it names the file whose ACL it could not set" \
		"$SRC/acl-file: cannot set extended attributes?: .*system\.posix_acl_access" "$ERR"
	check_eq "the file's group bits are its group entry's (r), not the mask (rw)" \
		"$(stat -c %a "$N$SRC/acl-file")" 644
	check_eq "the directory's are r-x, not rwx" "$(stat -c %a "$N$SRC/acl-dir")" 755
	check "a member of the owning group still cannot write the file" \
		bash -c "! ${GROUP_MEMBER[*]} test -w '$N$SRC/acl-file'"
	check "the content is there" cmp -s "$SRC/acl-file" "$N$SRC/acl-file"
fi

e2e_finish

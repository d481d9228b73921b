#!/usr/bin/env python3
"""Compare a source tree with its restored copy, entry by entry.

    treecmp.py [--no-owner] [--no-xattrs] [--sparse-margin BYTES] SRC DST
    treecmp.py --ls LISTING SRC

The first form checks that DST holds exactly the entries of SRC (the roots
included) with the same type, permission bits, owner, size, mtime to the
nanosecond, symlink target, user.* extended attributes and content, that
names which share an inode in SRC share one in DST and no others do, and
that a sparse file is still sparse: its allocated size in DST may exceed
the one in SRC by at most the margin.

The second form checks a `cairn ls --json` listing (one object per line)
against SRC: the entries at or below SRC must be exactly those on disk, each
with the same type and size.

Paths are handled as bytes throughout, so any file name works. Prints each
difference and exits 1 if there is one.
"""

import argparse
import json
import os
import stat
import sys

BLOCK = 4 << 20


def walk(root):
    """Relative path (bytes) -> lstat result, for root and everything below."""
    entries = {b".": os.lstat(root)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            entries[os.path.relpath(full, root)] = os.lstat(full)
    return entries


def kind(st):
    m = st.st_mode
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"),
                       (stat.S_ISLNK, "symlink"), (stat.S_ISFIFO, "fifo"),
                       (stat.S_ISCHR, "chardev"), (stat.S_ISBLK, "blockdev"),
                       (stat.S_ISSOCK, "socket")):
        if test(m):
            return name
    return "unknown"


def user_xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for n in sorted(names):
        if n.startswith("user."):
            out[n] = os.getxattr(path, n, follow_symlinks=False)
    return out


def first_difference(a, b):
    """Offset of the first differing byte of two files, or None."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        off = 0
        while True:
            x = fa.read(BLOCK)
            y = fb.read(BLOCK)
            if x != y:
                n = min(len(x), len(y))
                i = next((i for i in range(n) if x[i] != y[i]), n)
                return off + i
            if not x:
                return None
            off += len(x)


def show(rel):
    return repr(os.fsdecode(rel))


def compare(args):
    src, dst = os.fsencode(args.src), os.fsencode(args.dst)
    if not os.path.isdir(dst):
        print("treecmp: restored tree %s does not exist" % show(dst))
        return 1
    a, b = walk(src), walk(dst)
    problems = []

    def bad(rel, what):
        problems.append("%s: %s" % (show(rel), what))

    for rel in sorted(set(a) - set(b)):
        bad(rel, "missing from the restored tree")
    for rel in sorted(set(b) - set(a)):
        bad(rel, "not in the source tree")

    common = sorted(set(a) & set(b))
    for rel in common:
        sa, sb = a[rel], b[rel]
        pa, pb = os.path.join(src, rel), os.path.join(dst, rel)
        ka, kb = kind(sa), kind(sb)
        if ka != kb:
            bad(rel, "type %s, restored as %s" % (ka, kb))
            continue
        if stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode) and ka != "symlink":
            bad(rel, "mode %04o, restored %04o" % (stat.S_IMODE(sa.st_mode), stat.S_IMODE(sb.st_mode)))
        if not args.no_owner and (sa.st_uid, sa.st_gid) != (sb.st_uid, sb.st_gid):
            bad(rel, "owner %d:%d, restored %d:%d" % (sa.st_uid, sa.st_gid, sb.st_uid, sb.st_gid))
        if sa.st_mtime_ns != sb.st_mtime_ns:
            bad(rel, "mtime %d ns, restored %d ns" % (sa.st_mtime_ns, sb.st_mtime_ns))
        if ka == "symlink":
            ta, tb = os.readlink(pa), os.readlink(pb)
            if ta != tb:
                bad(rel, "symlink target %s, restored %s" % (show(ta), show(tb)))
        elif not args.no_xattrs:
            xa, xb = user_xattrs(pa), user_xattrs(pb)
            if xa != xb:
                bad(rel, "xattrs %r, restored %r" % (xa, xb))
        if ka == "file":
            if sa.st_size != sb.st_size:
                bad(rel, "size %d, restored %d" % (sa.st_size, sb.st_size))
            else:
                off = first_difference(pa, pb)
                if off is not None:
                    bad(rel, "content differs from byte %d" % off)
            alloc_a, alloc_b = sa.st_blocks * 512, sb.st_blocks * 512
            if alloc_a < sa.st_size and alloc_b > alloc_a + args.sparse_margin:
                bad(rel, "sparse file: %d bytes allocated, restored %d (margin %d)"
                    % (alloc_a, alloc_b, args.sparse_margin))

    # Hard links: names share an inode in the restored tree exactly when
    # they share one in the source.
    files = [rel for rel in common if kind(a[rel]) == "file" and kind(b[rel]) == "file"]
    groups_a, groups_b = {}, {}
    for rel in files:
        groups_a.setdefault(a[rel].st_ino, []).append(rel)
        groups_b.setdefault(b[rel].st_ino, []).append(rel)
    set_a = sorted(sorted(g) for g in groups_a.values() if len(g) > 1)
    set_b = sorted(sorted(g) for g in groups_b.values() if len(g) > 1)
    if set_a != set_b:
        problems.append("hard link groups differ: source %s, restored %s"
                        % ([[show(r) for r in g] for g in set_a],
                           [[show(r) for r in g] for g in set_b]))

    for p in problems:
        print("treecmp: " + p)
    if problems:
        return 1
    print("treecmp: %d entries identical (%d hard link groups)" % (len(a), len(set_a)))
    return 0


LS_TYPES = {
    "file": {"file", "hardlink"},
    "dir": {"dir", "directory"},
    "symlink": {"symlink"},
    "fifo": {"fifo"},
    "chardev": {"chardev"},
    "blockdev": {"blockdev"},
    "socket": {"socket"},
}


def check_listing(args):
    src = os.path.abspath(os.fsencode(args.src))
    a = walk(src)
    on_disk = {os.path.normpath(os.path.join(src, rel)): st for rel, st in a.items()}
    listed = {}
    problems = []
    with open(args.ls, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if obj.get("message_type") == "snapshot":
                    continue  # the first line: which snapshot is listed
                path = os.fsencode(obj["path"])
            except (ValueError, KeyError, TypeError) as e:
                problems.append("line %d of the listing is not an entry: %s" % (n, e))
                continue
            if path == src or path.startswith(src + b"/"):
                listed[path] = obj
    for p in sorted(set(on_disk) - set(listed)):
        problems.append("%s: on disk, not listed" % show(p))
    for p in sorted(set(listed) - set(on_disk)):
        problems.append("%s: listed, not on disk" % show(p))
    for p in sorted(set(listed) & set(on_disk)):
        st, obj = on_disk[p], listed[p]
        k = kind(st)
        if obj.get("type") not in LS_TYPES.get(k, {k}):
            problems.append("%s: listed as type %r, is a %s" % (show(p), obj.get("type"), k))
        if k == "file" and obj.get("size") != st.st_size:
            problems.append("%s: listed with size %r, is %d bytes" % (show(p), obj.get("size"), st.st_size))
    for p in problems:
        print("treecmp: " + p)
    if problems:
        return 1
    print("treecmp: listing matches %d entries" % len(on_disk))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-owner", action="store_true", help="do not compare uid/gid")
    ap.add_argument("--no-xattrs", action="store_true", help="do not compare user.* xattrs")
    ap.add_argument("--sparse-margin", type=int, default=8 << 20,
                    help="bytes a restored sparse file may allocate beyond the source")
    ap.add_argument("--ls", metavar="LISTING", help="check a `cairn ls --json` listing instead")
    ap.add_argument("src")
    ap.add_argument("dst", nargs="?")
    args = ap.parse_args()
    if args.ls:
        return check_listing(args)
    if args.dst is None:
        ap.error("DST is required")
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Copies a file with N small random edits, the same ones for the same seed.

    edit_file.py [--edits N] [--seed S] SRC DST

Each edit is, with equal odds, an insertion of 1-200 random bytes, a
deletion of 1-200 bytes, or an overwrite of 1-200 bytes with random bytes,
at a position drawn uniformly over the source. Prints what it did.
"""
import argparse
import random
import sys

BLOCK = 8 << 20


def plan(size, edits, rng):
    """Edits as (offset, kind, length, payload), sorted, not overlapping."""
    out = []
    for _ in range(edits):
        kind = rng.choice(("insert", "delete", "overwrite"))
        length = rng.randint(1, 200)
        offset = rng.randrange(0, max(size - length, 1))
        payload = rng.randbytes(length) if kind != "delete" else b""
        out.append((offset, kind, length, payload))
    out.sort(key=lambda e: e[0])
    # Two edits in the same bytes would make the count of edits a lie:
    # move a later one past the end of the one before.
    fixed, end = [], 0
    for offset, kind, length, payload in out:
        offset = max(offset, end)
        if offset + length > size:
            continue
        fixed.append((offset, kind, length, payload))
        end = offset + (0 if kind == "insert" else length)
    return fixed


def copy(src, dst, n):
    while n > 0:
        b = src.read(min(n, BLOCK))
        if not b:
            raise SystemExit("edit_file: source ended early")
        dst.write(b)
        n -= len(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edits", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("src")
    ap.add_argument("dst")
    a = ap.parse_args()

    with open(a.src, "rb") as src:
        src.seek(0, 2)
        size = src.tell()
        src.seek(0)
        edits = plan(size, a.edits, random.Random(a.seed))
        pos = 0
        counts = {"insert": 0, "delete": 0, "overwrite": 0}
        with open(a.dst, "wb") as dst:
            for offset, kind, length, payload in edits:
                copy(src, dst, offset - pos)
                pos = offset
                if kind == "insert":
                    dst.write(payload)
                elif kind == "delete":
                    src.seek(length, 1)
                    pos += length
                else:
                    dst.write(payload)
                    src.seek(length, 1)
                    pos += length
                counts[kind] += 1
            while True:
                b = src.read(BLOCK)
                if not b:
                    break
                dst.write(b)
    print(
        "edit_file: %d edits (%d inserts, %d deletes, %d overwrites), seed %d"
        % (len(edits), counts["insert"], counts["delete"], counts["overwrite"], a.seed),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()

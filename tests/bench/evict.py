#!/usr/bin/env python3
"""Drops the page cache of every regular file under the given paths.

scripts/bench keeps what a step leaves (repositories, restored trees) until
the end of the run rather than deleting it, but that data must not stay in
memory: three tools' leftovers fill the machine's RAM by the third
repetition, and the steps after that would measure page reclaim. Dirty
pages cannot be dropped: run sync first."""
import os
import sys


def evict(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main(paths):
    for top in paths:
        if os.path.isfile(top) and not os.path.islink(top):
            evict(top)
        for d, _, names in os.walk(top):
            for n in names:
                p = os.path.join(d, n)
                if os.path.isfile(p) and not os.path.islink(p):
                    evict(p)


if __name__ == "__main__":
    main(sys.argv[1:])

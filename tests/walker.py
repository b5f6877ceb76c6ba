#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A working set larger than memory, filled, walked and checked: the swap tests' load.

walker.py DIR PATTERN [RESERVE] talks with the test through FIFOs in DIR, a line each:
  1. it locks what it has mapped (mlockall(MCL_CURRENT): the interpreter and its
     libraries), so that nothing is read from the 9p root while memory is short
     (Documentation/lab.rst), and writes "locked" (or "failed") to DIR/locked;
  2. it waits for a line on DIR/go (the test pins memory meanwhile), then measures
     MemAvailable, less RESERVE MiB (default 0), and fills 1.5 times that, 1 MiB chunks
     of PATTERN;
  3. it writes the working set's size in MiB to DIR/filled and waits for a line on
     DIR/walk (the test may act on the swapped-out set meanwhile);
  4. it walks the whole set twice, so that every page is swapped in and out again, and
     checks every chunk.
It prints "MemAvailable A MiB; the working set is N MiB", then "N MiB, B bad chunks".

PATTERN is "mixed" (each 4 KiB page half text, half random: about 2:1, as most data
compresses) or "alternate" (text pages and random pages in turn: the random ones are
stored raw, and `writeback huge` takes them).
"""
import ctypes
import os
import random
import sys


def chunk(i, pattern):
    """Chunk i, the same bytes each time it is made."""
    rnd = random.Random(i)
    line = b"page %08d of a working set larger than memory; " % i
    if pattern == "mixed":
        text = (line * (2048 // len(line) + 1))[:2048]
        return b"".join(text + rnd.randbytes(2048) for _ in range(256))
    text = (line * (4096 // len(line) + 1))[:4096]
    return b"".join(text + rnd.randbytes(4096) for _ in range(128))


def main(fifos, pattern, reserve):
    with open(fifos + "/locked", "w") as locked:
        if ctypes.CDLL(None, use_errno=True).mlockall(1) != 0:
            locked.write("failed\n")
            sys.exit("mlockall: %s" % os.strerror(ctypes.get_errno()))
        locked.write("locked\n")
    with open(fifos + "/go") as go:
        go.read()
    with open("/proc/meminfo") as meminfo:
        avail = next(int(l.split()[1]) // 1024 for l in meminfo if l.startswith("MemAvailable:"))
    avail -= reserve
    mib = avail * 3 // 2
    print("MemAvailable %d MiB; the working set is %d MiB" % (avail, mib), flush=True)
    chunks = [bytearray(chunk(i, pattern)) for i in range(mib)]
    with open(fifos + "/filled", "w") as filled:
        filled.write("%d\n" % mib)
    with open(fifos + "/walk") as walk:
        walk.read()
    for _ in range(2):
        for c in chunks:
            c[0] ^= 0xFF
    bad = sum(1 for i, c in enumerate(chunks) if c != chunk(i, pattern))
    print("%d MiB, %d bad chunks" % (mib, bad))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4) or sys.argv[2] not in ("mixed", "alternate"):
        sys.exit("usage: walker.py DIR mixed|alternate [RESERVE]")
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 0)

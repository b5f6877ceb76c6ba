#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Swap under pressure: a working set of 1.5 times the memory left to it, swapped to the
# device and walked again while disksize, compact and comp_algorithm change the device,
# finishes with its data intact, no write failed and no task hung (tests/run.sh fails the
# test on a hung-task or lockdep report).
#
# While memory is short, nothing is read from the guest's 9p root, whose client breaks for
# the whole guest when one of its allocations fails (Documentation/lab.rst): the walker
# locks the pages it has mapped (the interpreter and its libraries) before its working set
# grows, and the control loop waits with a shell builtin rather than run sleep(1).
. "$(dirname "$0")/lib.sh"

check "insmod (1 GiB, lzo-rle)" load default_capacity=262144 default_compression=lzo-rle
check "mkswap" mkswap $DEV
check "swapon" swapon $DEV
ballast=$(mktemp -d)
mount -t ramfs ramfs "$ballast"
# FIFOs: the walker's "locked" and the shell's "go"; and one that nobody writes to, on
# which `read -t 2` waits two seconds without a program.
mkfifo "$ballast/locked" "$ballast/go" "$ballast/wait"
wait_fifo=$ballast/wait
# Meanwhile, the controls that can run under swap and change the table or the codecs: each
# disksize and compact closes the table to slot frees and freezes the queue.
(
	exec 3<>"$wait_fifo"
	size=$(st 0 disksize)
	while :; do
		size=$((size + (4 << 20)))
		echo $size >/sys/block/foxramdisk0/disksize || exit 1
		echo 1 >/sys/block/foxramdisk0/compact || exit 1
		for alg in lz4 lzo-rle; do echo $alg >/sys/block/foxramdisk0/comp_algorithm || exit 1; done
		read -r -t 2 -u 3 && exit 1
	done
) &
controls=$!
# The walker locks what it has mapped, says so, and waits while the shell pins memory.
python3 - "$ballast" >"$ballast/out" 2>&1 <<'PY' &
import ctypes, os, random, sys

# MCL_CURRENT: what is mapped now (the interpreter, its libraries) stays in memory; the
# working set made below is not locked and goes to swap.
with open(sys.argv[1] + "/locked", "w") as locked:
    if ctypes.CDLL(None, use_errno=True).mlockall(1) != 0:
        locked.write("failed\n")
        sys.exit("mlockall: %s" % os.strerror(ctypes.get_errno()))
    locked.write("locked\n")
with open(sys.argv[1] + "/go") as go:
    go.read()

def chunk(i, rnd):
    # Half text, half bytes from a seeded generator: about 2:1, as most data compresses.
    line = b"page %08d of a working set larger than memory; " % i
    text = (line * (2048 // len(line) + 1))[:2048]
    return b"".join(text + rnd.randbytes(2048) for _ in range(256))

# What is left once the walker's own pages are locked: its working set is 1.5 times that.
with open("/proc/meminfo") as meminfo:
    avail = next(int(l.split()[1]) // 1024 for l in meminfo if l.startswith("MemAvailable:"))
mib = avail * 3 // 2
print("MemAvailable %d MiB; the working set is %d MiB" % (avail, mib), flush=True)
chunks = [bytearray(chunk(i, random.Random(i))) for i in range(mib)]
# Walk the whole set twice more, so that every page is swapped in and out again.
for _ in range(2):
    for c in chunks:
        c[0] ^= 0xFF
bad = sum(1 for i, c in enumerate(chunks) if c != chunk(i, random.Random(i)))
print("%d MiB, %d bad chunks" % (mib, bad))
PY
walker=$!
read -r state <"$ballast/locked"
# Pin most of the memory in ramfs (never swapped), after the walker's own pages, so that
# 200 MiB are left whatever they take, and 1.5 times that is small enough under TCG.
if [ "$state" = locked ]; then
	avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
	dd if=/dev/zero of="$ballast/pinned" bs=1M count=$((avail - 200)) status=none
	echo go >"$ballast/go"
fi
wait "$walker"
out=$(cat "$ballast/out")
check "the controls ran all along (disksize, compact, comp_algorithm)" kill "$controls"
wait "$controls" 2>/dev/null
read -r avail need < <(sed -n 's/^MemAvailable \([0-9]*\) MiB; the working set is \([0-9]*\) MiB$/\1 \2/p' <<<"$out")
diag "MemAvailable ${avail:-?} MiB after pinning; the working set is ${need:-?} MiB"
check_match "a working set of 1.5x the memory (${need:-?} MiB) finishes with its data intact" "$out" "^${need:-none} MiB, 0 bad chunks$"
check "disksize grew under swap" test "$(st 0 disksize)" -gt $((262144 * BLOCK))
check "pages were swapped out to the device" test -n "$avail" -a "$(st 0 io_counters/total_bytes_written)" -gt "$((avail << 20))"
read -r failed_reads failed_writes _ notify_free <<<"$(st 0 io_stat)"
# A swap-out that finds even the reserves empty waits for reclaim and tries again
# (writestall, debug_stat's first field) rather than fail.
check_eq "no failed swap-in or swap-out" "$failed_reads $failed_writes" "0 0" ||
	diag "$(dmesg | grep -E 'foxramdisk|swap' | tail -5)"
check "freed slots were notified" test "$notify_free" -gt 0
read -r writestall miss_free <<<"$(sed -n 2p /sys/block/foxramdisk0/debug_stat)"
diag "notify_free $notify_free, miss_free $miss_free, writestall $writestall"
check "swapoff" swapoff $DEV
umount "$ballast"
rmdir "$ballast"
check "rmmod" unload
finish

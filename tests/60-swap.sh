#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Swap on the device: a process that needs more memory than the guest has free completes
# with its data intact, the device holds compressed pages, and swapoff succeeds.
. "$(dirname "$0")/lib.sh"

check "insmod (1 GiB, lzo-rle)" load default_capacity=262144 default_compression=lzo-rle
check "mkswap" mkswap $DEV
check "swapon" swapon $DEV
# Pin most of the memory in ramfs (never swapped), so the process can be small and the
# test fast, and still need more memory than is free.
ballast=$(mktemp -d)
mount -t ramfs ramfs "$ballast"
avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
dd if=/dev/zero of="$ballast/pinned" bs=1M count=$((avail - 128)) status=none
free_mib=$(awk '/^MemFree:/ { print int($2 / 1024) }' /proc/meminfo)
avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
need=$((avail + 48))
diag "MemFree $free_mib MiB, MemAvailable $avail MiB after pinning; the process needs $need MiB"
out=$(python3 - "$need" <<'PY' 2>&1
import sys

def chunk(i):
    line = b"chunk %08d of a process larger than memory; " % i
    return (line * (1048576 // len(line) + 1))[:1048576]

mib = int(sys.argv[1])
chunks = [bytearray(chunk(i)) for i in range(mib)]
bad = sum(1 for i, c in enumerate(chunks) if c != chunk(i))
print("allocated %d MiB, %d bad chunks" % (mib, bad))
PY
)
check_match "a process of MemAvailable + 48 MiB ($need MiB) completes with its data intact" "$out" "allocated $need MiB, 0 bad chunks"
check "pages were swapped out to the device" test "$(st 0 io_stat/total_bytes_written)" -gt $((16 << 20))
check "the device holds compressed pages" test "$(st 0 storage_stat/compressed_blocks_count)" -gt 0
# A swap-out that finds no memory even after reclaim fails and the kernel keeps the page
# dirty in RAM: counted, never data lost. A swap-in must never fail.
check_eq "no failed swap-in" "$(st 0 io_stat/failed_reads)" 0
diag "swap-outs refused for lack of memory: $(st 0 io_stat/failed_writes)"
check "swapoff" swapoff $DEV
umount "$ballast"
check "rmmod" unload
finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Swap-outs that find no memory, from the driver's own fault injection point. A test of
# its own, apart from 85-fault-injection, because it pins most of the memory: on the debug
# kernel kmemleak may turn itself off under it, and must not take the leak check of the
# other fault injection tests with it.
. "$(dirname "$0")/lib.sh"

FI=/sys/kernel/debug
check "insmod (no device)" load initial_devices_count=0

# Swap-outs that find no memory: the driver's own fault injection point fails the
# allocation of a block's memory, whoever makes it (fail_alloc, in its debugfs directory),
# while a program larger than the memory left to it (the rest pinned in ramfs) swaps to a
# device of its own and reads its data back. Three failures: swap-outs wait for memory
# three times (debug_stat's writestall), none fails, and the data reads back intact.
# (Memory that runs out by itself may add waits: hence "at least".) The program is 50 MiB
# larger than the 200 MiB left to it: with 150 MiB left, a host busy with other VMs slowed
# reclaim enough that the reserves ran dry for longer than a swap-out waits (303 waits,
# 12 swap-outs failed), which is not what this checks.
FA=$FI/foxramdisk/fail_alloc
# fail_alloc TIMES: the next TIMES allocations of a block's memory fail.
fail_alloc() {
	echo N >$FA/task-filter
	echo 0 >$FA/verbose
	echo 1 >$FA/interval
	echo 0 >$FA/space
	echo "$1" >$FA/times
	echo 100 >$FA/probability
}
# swapping MIB: a program makes MIB MiB of data, half random, and checks it all.
swapping() {
	python3 - "$1" <<'PY'
import random, sys

def chunk(i):
    rnd = random.Random(i)
    line = b"chunk %08d, swapped out; " % i
    text = (line * (2048 // len(line) + 1))[:2048]
    return b"".join(text + rnd.randbytes(2048) for _ in range(256))

mib = int(sys.argv[1])
chunks = [bytearray(chunk(i)) for i in range(mib)]
print("%d bad chunks" % sum(1 for i, c in enumerate(chunks) if c != chunk(i)))
PY
}
stalls() { sed -n 2p /sys/block/foxramdisk"$1"/debug_stat | awk '{ print $1 }'; }
if check "the driver's fault injection point is in debugfs" test -d $FA; then
	swapid=$(hot_add)
	check "a swap device of 256 MiB" sh -c "echo $((256 << 20)) >/sys/block/foxramdisk$swapid/disksize &&
		mkswap /dev/foxramdisk$swapid >/dev/null && swapon /dev/foxramdisk$swapid"
	ballast=$(mktemp -d)
	mount -t ramfs ramfs "$ballast"
	avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
	# On the debug kernel, room for KASAN's quarantine besides (tests/lib.sh), and a
	# process larger by as much, so that it swaps whether the quarantine fills or not.
	quarantine=$(kasan_quarantine_mib)
	dd if=/dev/zero of="$ballast/pinned" bs=1M count=$((avail - 200 - quarantine)) status=none
	fail_alloc 3
	check_eq "with three failed allocations, $((250 + quarantine)) MiB swap and come back intact" \
		"$(swapping $((250 + quarantine)))" "0 bad chunks"
	check "pages were swapped out to the device" test "$(st "$swapid" io_counters/total_bytes_written)" -gt $((16 << 20))
	check_eq "the three failures were injected" "$(cat $FA/times)" 0
	check "swap-outs waited at least three times (writestall $(stalls "$swapid"))" test "$(stalls "$swapid")" -ge 3
	check_eq "no swap-out failed" "$(st "$swapid" io_counters/failed_writes)" 0
	echo 0 >$FA/probability
	check "swapoff" swapoff /dev/foxramdisk$swapid
	umount "$ballast"
	rmdir "$ballast"
	check "hot_remove" sh -c "echo $swapid >$CONTROL/hot_remove"
fi

check "rmmod" unload
finish

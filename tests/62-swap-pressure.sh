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
# A FIFO that nobody writes to, on which `read -t 2` waits two seconds without a program.
mkfifo "$ballast/wait"
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
# The walker locks what it has mapped, and the shell then pins most of the memory in ramfs
# (never swapped), so that 200 MiB are left whatever the walker's own pages take, and 1.5
# times that is small enough under TCG.
start_walker "$ballast" mixed 200 "$ballast/out" && echo walk >"$ballast/walk"
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

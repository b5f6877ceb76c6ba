#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Swap gives its memory back: a process larger than the memory left to it swaps to the
# device, touches its pages again and exits; swap's slot-free notification then frees the
# blocks, as zram's does. zram runs the same workload in the same VM as the control.
. "$(dirname "$0")/lib.sh"

MIB=768
check "insmod ($MIB MiB, lz4)" load default_capacity=$((MIB * 256)) default_compression=lz4
check "modprobe zram" modprobe zram num_devices=1
check "zram: lz4, $MIB MiB" sh -c "echo lz4 >/sys/block/zram0/comp_algorithm && echo ${MIB}M >/sys/block/zram0/disksize"

# Pin most of the memory in ramfs (never swapped), so that the process can be smaller than
# the guest and the test fast, and still need swap for 400 MiB of it.
ballast=$(mktemp -d)
mount -t ramfs ramfs "$ballast"
avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
dd if=/dev/zero of="$ballast/pinned" bs=1M count=$((avail - 160)) status=none

# The process: MemAvailable + 400 MiB of compressible pages, each touched again (checked)
# after all are written, then it exits.
workload() {
	local need
	need=$(($(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo) + 400))
	python3 - "$need" <<'PY' 2>&1
import sys

def chunk(i):
    line = b"chunk %08d of a process larger than memory; " % i
    return (line * (1048576 // len(line) + 1))[:1048576]

mib = int(sys.argv[1])
chunks = [bytearray(chunk(i)) for i in range(mib)]
bad = sum(1 for i, c in enumerate(chunks) if c != chunk(i))
print("%d MiB, %d bad chunks" % (mib, bad))
PY
}

# mem NAME: the memory the device holds by its own account, in bytes.
mem() {
	case "$1" in
	zram0) awk '{ print $3 }' /sys/block/zram0/mm_stat ;;
	*) st 0 storage_stat/mem_used_total ;;
	esac
}
# swapped: bytes of swap in use on any device.
swapped() { awk 'NR > 1 { n += $4 } END { print n * 1024 }' /proc/swaps; }

declare -A EMPTY AFTER OFF
# run NAME: the workload with swap on /dev/NAME only; records the device's memory when
# empty (after swapon), after the process exited, and after swapoff.
run() {
	local dev=/dev/$1 out
	check "$1: mkswap and swapon" sh -c "mkswap $dev >/dev/null && swapon $dev" || return
	EMPTY[$1]=$(mem "$1")
	out=$(workload)
	check_match "$1: the process completes with its data intact" "$out" '^[0-9]+ MiB, 0 bad chunks$'
	sleep 1
	AFTER[$1]=$(mem "$1")
	diag "$1: empty ${EMPTY[$1]}, after the process ${AFTER[$1]}; swap in use $(swapped) bytes"
	check "$1: swapoff" swapoff "$dev"
	OFF[$1]=$(mem "$1")
	diag "$1: after swapoff ${OFF[$1]}"
}

run zram0
run foxramdisk0
umount "$ballast"
rmdir "$ballast"

fox=${AFTER[foxramdisk0]:-0}
zram=${AFTER[zram0]:-0}
limit=$((2 * zram))
[ "$limit" -ge $((8 << 20)) ] || limit=$((8 << 20))
diag "after the process: foxramdisk $fox bytes, zram $zram bytes; limit $limit"
check "foxramdisk gives the memory back: at most max(8 MiB, 2x zram's) after the process exits" test "$fox" -le "$limit"
check "foxramdisk holds no swap data after swapoff" test "$(awk '{ print $1 }' /sys/block/foxramdisk0/mm_stat)" -le 4096
check_eq "after swapoff and compact, foxramdisk is back to its empty figure" \
	"$(echo 1 >/sys/block/foxramdisk0/compact && mem foxramdisk0)" "${EMPTY[foxramdisk0]:-}"

read -r failed_reads failed_writes invalid_io notify_free <<<"$(cat /sys/block/foxramdisk0/io_stat)"
check "swap notified freed slots (io_stat notify_free > 0)" test "${notify_free:-0}" -gt 0
check_eq "no failed swap-in or swap-out, no invalid I/O" "$failed_reads $failed_writes $invalid_io" "0 0 0"
miss=$(sed -n 2p /sys/block/foxramdisk0/debug_stat | awk '{ print $2 }')
diag "notify_free $notify_free, miss_free $miss"
check "debug_stat: version 1, then miss_free" test "$(head -1 /sys/block/foxramdisk0/debug_stat)" = "version: 1" -a -n "$miss"
check "no more misses than notifications" test "${miss:-1}" -le "$notify_free"

check "rmmod zram" rmmod zram
check "rmmod" unload
finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo's story, run inside the lab VM by `make demo`: every command is shown, then run.
set -eu
cd "$(dirname "$0")/.."
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; eval "$@"; }
work=$(mktemp -d)
P=/sys/module/foxramdisk/parameters

step "Load the module with its default parameters"
run "insmod foxramdisk.ko"
run "ls -l /dev/foxramdisk*"
run "grep . $P/*"
run "blockdev --getsize64 --getss /dev/foxramdisk0"

step "Write 2 MiB of text and 1 MiB of random data with dd, read them back, compare"
run "yes 'foxramdisk keeps this text compressed in RAM.' | head -c 2M >$work/text"
run "head -c 1M /dev/urandom >$work/random"
run "dd if=$work/text of=/dev/foxramdisk0 bs=1M oflag=direct status=none"
run "dd if=$work/random of=/dev/foxramdisk0 bs=1M seek=2 oflag=direct status=none"
run "cmp <(dd if=/dev/foxramdisk0 bs=1M count=2 iflag=direct status=none) $work/text && echo text identical"
run "cmp <(dd if=/dev/foxramdisk0 bs=1M skip=2 count=1 iflag=direct status=none) $work/random && echo random identical"

step "Text was compressed, random data stored raw, the rest holds no memory"
run "grep . /sys/block/foxramdisk0/storage_stat/*"
run "scripts/rd_display_stats.sh -h /dev/foxramdisk0 | sed -n '/Compressed data size/,\$p'"

step "A new device at run time, with other defaults"
run "echo 65536 >$P/default_capacity; echo zstd >$P/default_compression"
run "cat /sys/class/foxramdisk-control/hot_add"
run "cat /sys/block/foxramdisk1/storage_stat/compression_name; blockdev --getsize64 /dev/foxramdisk1"
run "echo bogus >$P/default_compression || true"
run "dmesg | grep 'unknown compression algorithm' | tail -1"

step "A filesystem on it"
run "mkfs.ext4 -q /dev/foxramdisk1"
run "mkdir -p /mnt/fox && mount /dev/foxramdisk1 /mnt/fox"
run "cp -a /usr/include/linux /mnt/fox/ && du -sh /mnt/fox/linux"
run "sync; scripts/rd_display_stats.sh -h /dev/foxramdisk1 | grep -E 'Compressed data size|Memory used|ratio:'"
run "rmmod foxramdisk || echo 'refused: a disk is in use, the module stays'"
run "umount /mnt/fox"
run "fsck.ext4 -fn /dev/foxramdisk1 | tail -1"

step "Discard gives the memory back"
run "cat /sys/block/foxramdisk1/storage_stat/mem_used_total"
run "blkdiscard -f /dev/foxramdisk1"
run "cat /sys/block/foxramdisk1/storage_stat/{mem_used_total,compressed_data_size,zeroed_blocks_count}"

step "Unload"
run "rmmod foxramdisk"
run "ls /dev/foxramdisk* 2>/dev/null || echo 'no foxramdisk devices left'"
run "dmesg | grep 'foxramdisk:' | grep -v 'unknown compression\\|KUnit\\|Subtest\\|# foxramdisk'"
rm -rf "$work"

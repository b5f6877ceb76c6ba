#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo's story, run inside the lab VM by `make demo`: every command is shown, then run.
set -eu
cd "$(dirname "$0")/.."
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; eval "$@"; }
work=$(mktemp -d)

step "Load the module with its default parameters"
run "insmod foxramdisk.ko"
run "ls -l /dev/foxramdisk*"
run "blockdev --getsize64 --getss --getpbsz /dev/foxramdisk0"
run "grep . /sys/block/foxramdisk0/queue/{discard_granularity,discard_max_bytes,write_zeroes_max_bytes}"

step "Write 2 MiB of random data with dd, read it back, compare"
run "dd if=/dev/urandom of=$work/data bs=1M count=2 status=none"
run "dd if=$work/data of=/dev/foxramdisk0 bs=1M seek=3 oflag=direct status=none"
run "dd if=/dev/foxramdisk0 bs=1M skip=3 count=2 iflag=direct status=none | sha256sum"
run "sha256sum <$work/data"
run "cmp <(dd if=/dev/foxramdisk0 bs=1M skip=3 count=2 iflag=direct status=none) $work/data && echo identical"

step "Blocks never written read as zeros"
run "dd if=/dev/foxramdisk0 bs=4096 count=1 iflag=direct status=none | od -An -tx1 | sort -u"

step "A filesystem on it"
run "mkfs.ext4 -q /dev/foxramdisk0"
run "mkdir -p /mnt/fox && mount /dev/foxramdisk0 /mnt/fox"
run "cp -a /usr/share/doc/bash /usr/share/doc/fio /mnt/fox/"
run "df -h /mnt/fox | tail -1"
run "rmmod foxramdisk || echo 'refused: the disk is in use, the module stays'"
run "umount /mnt/fox"
run "fsck.ext4 -fn /dev/foxramdisk0 | tail -1"

step "Discard gives memory back: discarded blocks read as zeros and hold no memory"
nonzero() { dd if=/dev/foxramdisk0 bs=1M count=16 iflag=direct status=none | tr -d '\0' | wc -c; }
run "echo \"non-zero bytes on the disk: \$(nonzero)\""
run "blkdiscard -f /dev/foxramdisk0"
run "echo \"non-zero bytes on the disk: \$(nonzero)\""

step "Unload"
run "rmmod foxramdisk"
run "ls /dev/foxramdisk* 2>/dev/null || echo 'no foxramdisk devices left'"
run "dmesg | grep 'foxramdisk:'"
rm -rf "$work"

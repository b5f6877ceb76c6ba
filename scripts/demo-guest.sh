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

step "A block of one repeated word holds no memory: 64 KiB of 0xff over random (raw) data frees its 16 pages"
run "cat /sys/block/foxramdisk0/storage_stat/mem_used_total"
run "head -c 64K /dev/zero | tr '\\0' '\\377' | dd of=/dev/foxramdisk0 bs=64K seek=32 oflag=direct status=none"
run "cat /sys/block/foxramdisk0/storage_stat/{same_blocks_count,mem_used_total}"
run "cmp <(dd if=/dev/foxramdisk0 bs=64K skip=32 count=1 iflag=direct status=none) <(head -c 64K /dev/zero | tr '\\0' '\\377') && echo 'reads back'"

step "A new device at run time, with other defaults"
run "echo 65536 >$P/default_capacity; echo zstd >$P/default_compression"
run "cat /sys/class/foxramdisk-control/hot_add"
run "cat /sys/block/foxramdisk1/storage_stat/compression_name; blockdev --getsize64 /dev/foxramdisk1"

step "An empty device holds almost nothing: its block table comes 4 KiB per 2 MiB (8 bytes a block), on first write"
run "cat /sys/block/foxramdisk1/storage_stat/{mem_used_total,meta_data_size}"
run "dd if=$work/text of=/dev/foxramdisk1 bs=1M count=1 oflag=direct status=none"
run "cat /sys/block/foxramdisk1/storage_stat/{mem_used_total,meta_data_size}"
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

step "Grow a mounted filesystem: disksize on a live device"
run "mount /dev/foxramdisk1 /mnt/fox"
run "df -h --output=size /mnt/fox | tail -1"
run "echo 1G >/sys/block/foxramdisk1/disksize && resize2fs /dev/foxramdisk1 2>&1 | tail -1"
run "df -h --output=size /mnt/fox | tail -1"
run "echo 16M >/sys/block/foxramdisk1/disksize || echo 'shrinking over data is refused'"

step "Change the algorithm of a live device: old blocks keep theirs"
run "cat /sys/block/foxramdisk1/comp_algorithm"
run "echo deflate >/sys/block/foxramdisk1/comp_algorithm; cat /sys/block/foxramdisk1/comp_algorithm"
run "cp -a /usr/include/sound /mnt/fox/ && sync && echo 3 >/proc/sys/vm/drop_caches"
run "diff -r /usr/include/linux /mnt/fox/linux && diff -r /usr/include/sound /mnt/fox/sound && echo 'both trees identical'"

step "Limits, zram's mm_stat, and foxramdiskctl"
run "scripts/foxramdiskctl"
run "cat /sys/block/foxramdisk1/mm_stat"
run "dev=\$(scripts/foxramdiskctl --find --size 64M --algorithm lz4 --limit 1M); echo \$dev"
run "head -c 4M /dev/urandom | dd of=\$dev bs=1M oflag=direct status=none || echo 'writes past mem_limit fail'"
run "cat /sys/block/foxramdisk2/io_counters/failed_writes"
run "scripts/foxramdiskctl --limit 0 \$dev && head -c 4M /dev/urandom | dd of=\$dev bs=1M oflag=direct status=none && echo 'limit lifted: writes resume'"
run "scripts/foxramdiskctl"
run "scripts/foxramdiskctl --reset 1 || echo 'refused: mounted'"
run "umount /mnt/fox && fsck.ext4 -fn /dev/foxramdisk1 | tail -1"
run "scripts/foxramdiskctl --remove \$dev && scripts/foxramdiskctl"

step "Discard gives the data's memory back, reset the block table's too"
run "cat /sys/block/foxramdisk1/storage_stat/mem_used_total"
run "blkdiscard -f /dev/foxramdisk1"
run "cat /sys/block/foxramdisk1/storage_stat/{mem_used_total,compressed_data_size,zeroed_blocks_count}"
run "echo 1 >/sys/block/foxramdisk1/reset; cat /sys/block/foxramdisk1/storage_stat/mem_used_total"

step "Swap that gives its memory back: freed swap slots free their blocks at once"
run "echo 1 >/sys/block/foxramdisk1/reset; echo 512M >/sys/block/foxramdisk1/disksize; echo lz4 >/sys/block/foxramdisk1/comp_algorithm"
run "mkswap -q /dev/foxramdisk1 && swapon /dev/foxramdisk1"
run "mkdir -p $work/pin && mount -t ramfs ramfs $work/pin && dd if=/dev/zero of=$work/pin/ballast bs=1M count=\$((\$(awk '/MemAvailable/ { print int(\$2 / 1024) }' /proc/meminfo) - 200)) status=none"
run "python3 -c 'b = [bytearray(b\"swapped out and back %d; \" % i * 40000) for i in range(400)]; print(sum(len(x) for x in b) >> 20, \"MiB touched\")'"
run "cat /sys/block/foxramdisk1/io_stat   # failed_reads failed_writes invalid_io notify_free"
run "awk '{ print \"after the process exited: \" \$1 \" bytes of data, \" \$3 \" bytes of memory\" }' /sys/block/foxramdisk1/mm_stat"
run "swapoff /dev/foxramdisk1 && umount $work/pin"
run "echo 1 >/sys/block/foxramdisk1/compact; awk '{ print \"after swapoff and compact: \" \$3 \" bytes\" }' /sys/block/foxramdisk1/mm_stat"

step "A sparse table: a petabyte device costs a few bytes of table until it is written"
run "echo 274877906944 >$P/default_capacity; n=\$(cat /sys/class/foxramdisk-control/hot_add); echo /dev/foxramdisk\$n: \$(blockdev --getsize64 /dev/foxramdisk\$n) bytes, \$(cat /sys/block/foxramdisk\$n/storage_stat/mem_used_total) bytes of memory; dd if=$work/text of=/dev/foxramdisk\$n bs=4K seek=274877906943 count=1 oflag=direct status=none; echo after a write to its last block: \$(cat /sys/block/foxramdisk\$n/storage_stat/mem_used_total) bytes; echo \$n >/sys/class/foxramdisk-control/hot_remove"

step "Deduplication (on by default): blocks with the same data share one object"
run "echo 65536 >$P/default_capacity; echo lz4 >$P/default_compression; n=\$(cat /sys/class/foxramdisk-control/hot_add); echo /dev/foxramdisk\$n"
run "echo dedup: \$(cat /sys/block/foxramdisk\$n/dedup); tar cf - /usr/lib 2>/dev/null | head -c 8M >$work/data"
run "for off in 0 16 32 48; do dd if=$work/data of=/dev/foxramdisk\$n bs=1M seek=\$off oflag=direct status=none; done"
run "cat /sys/block/foxramdisk\$n/storage_stat/{dup_data_size,meta_data_size,mem_used_total}"
run "cmp <(dd if=/dev/foxramdisk\$n bs=1M skip=48 count=8 iflag=direct status=none) $work/data && echo 'the fourth copy reads back'"
run "blkdiscard /dev/foxramdisk\$n; sleep 1; cat /sys/block/foxramdisk\$n/storage_stat/{dup_data_size,mem_used_total}; echo \$n >/sys/class/foxramdisk-control/hot_remove"

step "Cold data to a stronger algorithm: idle marks and recompression, with zram's files"
run "n=\$(cat /sys/class/foxramdisk-control/hot_add); d=/sys/block/foxramdisk\$n; tar cf - /usr/include 2>/dev/null | head -c 16M >$work/cold"
run "dd if=$work/cold of=/dev/foxramdisk\$n bs=1M oflag=direct status=none; echo algo=zstd >\$d/recomp_algorithm; cat \$d/recomp_algorithm"
run "echo all >\$d/idle; dd if=/dev/foxramdisk\$n bs=1M count=4 iflag=direct status=none | wc -c   # the first 4 MiB are touched again"
run "cat \$d/storage_stat/compressed_data_size; echo type=idle >\$d/recompress; dmesg | tail -1; cat \$d/storage_stat/compressed_data_size"
run "cmp <(dd if=/dev/foxramdisk\$n bs=1M count=16 iflag=direct status=none) $work/cold && echo 'every block reads back'; echo \$n >/sys/class/foxramdisk-control/hot_remove"

step "Cold data to a backing file: writeback frees its memory, reads bring it back"
run "n=\$(cat /sys/class/foxramdisk-control/hot_add); d=/sys/block/foxramdisk\$n; truncate -s 64M $work/backing; echo $work/backing >\$d/backing_dev; cat \$d/backing_dev"
run "dd if=$work/cold of=/dev/foxramdisk\$n bs=1M oflag=direct status=none; echo all >\$d/idle; cat \$d/storage_stat/mem_used_total"
run "echo idle >\$d/writeback; dmesg | tail -1; cat \$d/bd_stat \$d/storage_stat/mem_used_total"
run "du -k $work/backing   # compressed blocks share 4 KiB units by 512-byte sectors"
run "cmp <(dd if=/dev/foxramdisk\$n bs=1M count=16 iflag=direct status=none) $work/cold && echo 'every block reads back, from the file'; cat \$d/bd_stat"
run "echo 1 >\$d/reset; cat \$d/bd_stat; echo \$n >/sys/class/foxramdisk-control/hot_remove"

step "Unload"
run "rmmod foxramdisk"
run "ls /dev/foxramdisk* 2>/dev/null || echo 'no foxramdisk devices left'"
run "dmesg | grep 'foxramdisk:' | grep -v 'unknown compression\\|KUnit\\|Subtest\\|# foxramdisk'"
rm -rf "$work"

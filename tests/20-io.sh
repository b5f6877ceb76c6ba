#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Raw I/O on the device: patterns written at several offsets read back identical, blocks
# never written read as zeros, and I/O beyond the end fails cleanly.
. "$(dirname "$0")/lib.sh"

BLOCKS=4096
work=$(mktemp -d)
check "insmod" load default_capacity=$BLOCKS

# Three patterns of 16 blocks each: zeros, random, text.
dd if=/dev/zero of="$work/zero" bs=$BLOCK count=16 status=none
dd if=/dev/urandom of="$work/random" bs=$BLOCK count=16 status=none
yes "foxramdisk keeps this line of text in RAM; line after line after line." |
	head -c $((16 * BLOCK)) >"$work/text"

check_eq "a fresh device reads as zeros" "$(dev_sha $DEV 0 $BLOCKS)" \
	"$(head -c $((BLOCKS * BLOCK)) /dev/zero | sha256sum | cut -d' ' -f1)"

for off in 0 1 777 2048 $((BLOCKS - 16)); do
	for pat in random text zero; do
		dd if="$work/$pat" of=$DEV bs=$BLOCK seek=$off oflag=direct conv=notrunc status=none
		check_eq "$pat at block $off reads back identical" "$(dev_sha $DEV $off 16)" "$(file_sha "$work/$pat")"
	done
done

# Random data everywhere, then read back the whole device through the page cache too.
dd if=/dev/urandom of="$work/full" bs=$BLOCK count=$BLOCKS status=none
check "whole-device write" dd if="$work/full" of=$DEV bs=1M oflag=direct status=none
check_eq "whole device reads back (direct)" "$(dev_sha $DEV 0 $BLOCKS)" "$(file_sha "$work/full")"
blockdev --flushbufs $DEV
echo 3 >/proc/sys/vm/drop_caches
check_eq "whole device reads back (buffered)" "$(sha256sum <$DEV | cut -d' ' -f1)" "$(file_sha "$work/full")"

# A direct read of 128 KiB or 1 MiB is one request (field 1 of the disk's stat: reads
# completed), not split at the block layer's default of 255 sectors, and reads back.
for kib in 128 1024; do
	reads=$(awk '{ print $1 }' /sys/block/foxramdisk0/stat)
	got=$(dd if=$DEV bs=${kib}K count=1 iflag=direct status=none | sha256sum | cut -d' ' -f1)
	check_eq "a $kib KiB direct read is one request" "$(awk '{ print $1 }' /sys/block/foxramdisk0/stat)" $((reads + 1))
	check_eq "  and reads back" "$got" "$(head -c $((kib * 1024)) "$work/full" | sha256sum | cut -d' ' -f1)"
done

# Sub-block buffered writes go through read-modify-write in the page cache.
printf 'hello, block layer' | dd of=$DEV bs=1 seek=$((100 * BLOCK + 5)) conv=notrunc status=none
sync
echo 3 >/proc/sys/vm/drop_caches
check_eq "a sub-block write lands at its byte offset" \
	"$(dd if=$DEV bs=1 skip=$((100 * BLOCK + 5)) count=18 status=none)" "hello, block layer"

# Beyond the end.
check_fails "a direct write past the end fails" \
	dd if=/dev/zero of=$DEV bs=$BLOCK seek=$BLOCKS count=1 oflag=direct status=none
check_eq "a direct read past the end returns nothing" \
	"$(dd if=$DEV bs=$BLOCK skip=$BLOCKS count=1 iflag=direct status=none | wc -c)" 0
# A write straddling the end is cut at the end by the block layer: the part inside the
# device is written, the rest is refused.
check_fails "a write straddling the end reports an error" \
	dd if=/dev/zero of=$DEV bs=$BLOCK seek=$((BLOCKS - 1)) count=2 oflag=direct status=none
check_eq "the in-range part of the straddling write landed" "$(dev_sha $DEV $((BLOCKS - 1)) 1)" \
	"$(head -c $BLOCK /dev/zero | sha256sum | cut -d' ' -f1)"
check_eq "the block before it is intact" "$(dev_sha $DEV $((BLOCKS - 2)) 1)" \
	"$(dd if="$work/full" bs=$BLOCK skip=$((BLOCKS - 2)) count=1 status=none | sha256sum | cut -d' ' -f1)"

# Discard and write-zeroes make blocks read as zeros.
check "blkdiscard of 64 blocks" blkdiscard -o $((64 * BLOCK)) -l $((64 * BLOCK)) $DEV
check_eq "discarded blocks read as zeros" "$(dev_sha $DEV 64 64)" \
	"$(head -c $((64 * BLOCK)) /dev/zero | sha256sum | cut -d' ' -f1)"
check_eq "blocks next to the discard are intact" "$(dev_sha $DEV 128 1)" \
	"$(dd if="$work/full" bs=$BLOCK skip=128 count=1 status=none | sha256sum | cut -d' ' -f1)"
check "blkdiscard -z (write-zeroes) of 8 blocks" blkdiscard -z -o $((200 * BLOCK)) -l $((8 * BLOCK)) $DEV
check_eq "write-zeroes blocks read as zeros" "$(dev_sha $DEV 200 8)" \
	"$(head -c $((8 * BLOCK)) /dev/zero | sha256sum | cut -d' ' -f1)"

# A block filled with one repeated word holds no memory: it is same-filled (zram's
# same_pages). Blocks 64-67 were discarded above, and their table chunk is there.
head -c $((4 * BLOCK)) /dev/zero | tr '\0' '\245' >"$work/same"
used=$(st 0 storage_stat/mem_used_total)
same=$(st 0 storage_stat/same_blocks_count)
check "write 4 same-filled blocks" dd if="$work/same" of=$DEV bs=$BLOCK seek=64 oflag=direct status=none
check_eq "they count as same-filled" "$(st 0 storage_stat/same_blocks_count)" $((same + 4))
check_eq "  in mm_stat same_pages too" "$(awk '{ print $6 }' /sys/block/foxramdisk0/mm_stat)" $((same + 4))
check_eq "they take no memory" "$(st 0 storage_stat/mem_used_total)" "$used"
check_eq "they read back" "$(dev_sha $DEV 64 4)" "$(sha256sum <"$work/same" | cut -d' ' -f1)"
check "one is overwritten with data" dd if="$work/full" of=$DEV bs=$BLOCK seek=65 count=1 oflag=direct status=none
check_eq "  and is no longer same-filled" "$(st 0 storage_stat/same_blocks_count)" $((same + 3))
check "one is discarded" blkdiscard -o $((66 * BLOCK)) -l $BLOCK $DEV
check_eq "  and is zeroed" "$(st 0 storage_stat/same_blocks_count)" $((same + 2))
check_eq "the others still read back" "$(dev_sha $DEV 64 1)$(dev_sha $DEV 67 1)" \
	"$(head -c $BLOCK "$work/same" | sha256sum | cut -d' ' -f1)$(head -c $BLOCK "$work/same" | sha256sum | cut -d' ' -f1)"

check "rmmod" unload
rm -rf "$work"
finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Every algorithm, each on a device made by hot_add: data patterns read back identical
# and land in the right states; ext4 with a copied tree survives fsck and remount;
# blkdiscard returns the device to its empty memory use with every block zeroed.
. "$(dirname "$0")/lib.sh"

ALGORITHMS="nocomp deflate 842 lz4 lz4hc zstd lzo-rle lzo"
BLOCKS=16384
work=$(mktemp -d)
mnt=$(mktemp -d)
src=/usr/include/x86_64-linux-gnu
want_tree=$(tree_sums $src)
yes "foxramdisk compresses text like this line, again and again, block after block." |
	head -c $((1024 * BLOCK)) >"$work/text"
head -c $((1024 * BLOCK)) /dev/urandom >"$work/random"

check "insmod with no devices" load initial_devices_count=0 default_capacity=$BLOCKS
for alg in $ALGORITHMS; do
	if ! echo "$alg" >$PARAMS/default_compression; then
		fail "$alg: accepted as default_compression"
		continue
	fi
	id=$(hot_add)
	d=/dev/foxramdisk$id
	check_eq "$alg: hot_add device uses it" "$(st "$id" storage_stat/compression_name)" "$alg"
	empty=$(st "$id" storage_stat/mem_used_total)

	dd if="$work/text" of="$d" bs=1M oflag=direct status=none
	dd if="$work/random" of="$d" bs=1M seek=4 oflag=direct status=none
	check_eq "$alg: text reads back" "$(dev_sha "$d" 0 1024)" "$(file_sha "$work/text")"
	check_eq "$alg: random reads back" "$(dev_sha "$d" 1024 1024)" "$(file_sha "$work/random")"
	check_eq "$alg: unwritten blocks read as zeros" "$(dev_sha "$d" 2048 64)" "$(zeros_sha 64)"
	if [ "$alg" = nocomp ]; then
		check_eq "$alg: every data block is raw" "$(st "$id" storage_stat/raw_blocks_count)" 2048
		check_eq "$alg: nothing compressed" "$(st "$id" storage_stat/compressed_blocks_count)" 0
	else
		check_eq "$alg: text blocks are compressed" "$(st "$id" storage_stat/compressed_blocks_count)" 1024
		check_eq "$alg: random blocks are raw" "$(st "$id" storage_stat/raw_blocks_count)" 1024
		csize=$(st "$id" storage_stat/compressed_data_size)
		check "$alg: text compresses at least 3:1 ($csize bytes for 4 MiB)" test "$csize" -lt $((1024 * BLOCK / 3))
	fi
	check_eq "$alg: zeroed count is the rest" "$(st "$id" storage_stat/zeroed_blocks_count)" $((BLOCKS - 2048))

	check "$alg: mkfs.ext4" mkfs.ext4 -q -F "$d"
	check "$alg: mount and copy $src" sh -c "mount $d $mnt && cp -a $src/. $mnt/"
	check_eq "$alg: tree checksums equal" "$(tree_sums "$mnt")" "$want_tree"
	umount "$mnt"
	check "$alg: fsck.ext4 -fn is clean" fsck.ext4 -fn "$d"
	mount "$d" "$mnt"
	check_eq "$alg: tree checksums equal after remount" "$(tree_sums "$mnt")" "$want_tree"
	umount "$mnt"

	check "$alg: blkdiscard" blkdiscard -f "$d"
	check_eq "$alg: all blocks zeroed after discard" "$(st "$id" storage_stat/zeroed_blocks_count)" $BLOCKS
	check_eq "$alg: compressed_data_size back to 0" "$(st "$id" storage_stat/compressed_data_size)" 0
	# Every object is freed; the block table keeps the 4 KiB chunks written to (one per
	# 256 blocks) until a reset, which must then come back to exactly an empty device's
	# memory: an object the table lost would still be in the pool.
	used=$(st "$id" storage_stat/mem_used_total)
	check "$alg: mem_used_total back to empty but table chunks ($used, empty $empty)" \
		test "$used" -ge "$empty" -a "$used" -le $((empty + BLOCKS * 4096 / 256))
	check "$alg: reset" sysfs_write 1 "/sys/block/foxramdisk$id/reset"
	check_eq "$alg: mem_used_total back to empty after reset" "$(st "$id" storage_stat/mem_used_total)" "$empty"
	check_eq "$alg: no failed I/O" "$(cat /sys/block/foxramdisk$id/io_counters/failed_{reads,writes,discards} | sort -u)" 0
done
check "rmmod" unload
rm -rf "$work" "$mnt"
finish

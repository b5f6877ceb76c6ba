#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A sparse table: a 1 PiB device costs a few KiB until written, with dedup's index too, a
# block at each end adds a chunk and the index above it, and a discard of the whole
# device takes time for what it holds, not for its size. ext4 made, written, checked and
# remounted on 64 TiB.
. "$(dirname "$0")/lib.sh"

PIB_BLOCKS=$((1 << 38))
mem() { st "$1" storage_stat/mem_used_total; }
# Whether device $1 comes back within 4 KiB of $2 bytes in 30 s: the table chunks a
# discard empties are freed by the device's work item, soon after the discard.
mem_back_to() {
	local now
	for _ in $(seq 300); do
		now=$(mem "$1")
		[ $((now - $2)) -le 4096 ] && [ $(($2 - now)) -le 4096 ] && return 0
		sleep 0.1
	done
	diag "mem_used_total $now bytes, fresh $2"
	return 1
}

# A 64 MiB device written whole, then discarded: its 32 table chunks (8 bytes per block)
# and the 16 pages of dedup's index (half an 8-byte entry per block) go with the data.
check "insmod (64 MiB)" load default_capacity=16384 default_compression=lz4
fresh=$(mem 0)
check "write all 64 MiB" dd if=/dev/urandom of=$DEV bs=1M count=64 oflag=direct status=none
written=$(mem 0)
check_eq "  the table grew by 8 bytes per block, the index by 4 (32 + 16 pages, beside 64 MiB of raw data)" \
	$((written - fresh)) $((64 * 1024 * 1024 + 16384 * 8 + 16384 * 4))
check "blkdiscard of the whole device" blkdiscard $DEV
check "  memory is back within 4 KiB of a fresh device, without compact" mem_back_to 0 "$fresh"
check_eq "  it reads as zeros" "$(dev_sha $DEV 0 16384)" "$(zeros_sha 16384)"
check "  and takes writes again" dd if=/dev/urandom of=$DEV bs=1M count=2 seek=10 oflag=direct status=none
check "rmmod" unload

check "insmod (1 PiB)" load default_capacity=$PIB_BLOCKS default_compression=lz4
check_eq "the disk has 1 PiB" "$(blockdev --getsize64 $DEV)" $((1 << 50))
check_eq "dedup is on (the default)" "$(cat /sys/block/foxramdisk0/dedup)" 1
fresh=$(mem 0)
check "a fresh 1 PiB device, dedup on, uses less than 64 KiB ($fresh bytes)" test "$fresh" -lt 65536

head -c $BLOCK /dev/urandom >/tmp/sp-first
head -c $BLOCK /dev/urandom >/tmp/sp-last
check "write the first block" dd if=/tmp/sp-first of=$DEV bs=$BLOCK count=1 oflag=direct status=none
after_first=$(mem 0)
check "write the last block" dd if=/tmp/sp-last of=$DEV bs=$BLOCK seek=$((PIB_BLOCKS - 1)) count=1 oflag=direct status=none
after_last=$(mem 0)
check "the last block added less than 64 KiB ($((after_last - after_first)) bytes)" \
	test $((after_last - after_first)) -lt 65536
check_eq "the first block reads back" "$(dev_sha $DEV 0 1)" "$(file_sha /tmp/sp-first)"
check_eq "the last block reads back" "$(dev_sha $DEV $((PIB_BLOCKS - 1)) 1)" "$(file_sha /tmp/sp-last)"
check_eq "a block in the middle reads as zeros" "$(dev_sha $DEV $((PIB_BLOCKS / 2)) 1)" "$(zeros_sha 1)"
check "the first block's data again, next to the last" dd if=/tmp/sp-first of=$DEV bs=$BLOCK seek=$((PIB_BLOCKS - 2)) count=1 oflag=direct status=none
check_eq "  it shares the first block's page" "$(st 0 storage_stat/dup_data_size)" "$BLOCK"
check_eq "  and reads back" "$(dev_sha $DEV $((PIB_BLOCKS - 2)) 1)" "$(file_sha /tmp/sp-first)"
# 262,144 discard requests (a bio carries at most 4 GiB), each walking only the used part
# of the table: a walk of every block would not end before tests/run.sh's time-out. No
# time bound of its own: the debug kernel (KASAN) took more than two minutes for it.
check "blkdiscard of the whole PiB" blkdiscard $DEV
check_eq "  the first block reads as zeros" "$(dev_sha $DEV 0 1)" "$(zeros_sha 1)"
check_eq "  the last block reads as zeros" "$(dev_sha $DEV $((PIB_BLOCKS - 1)) 1)" "$(zeros_sha 1)"
check_eq "  no data is stored" "$(awk '{print $1}' /sys/block/foxramdisk0/mm_stat)" 0
check "  memory is back within 4 KiB of a fresh device, without compact" mem_back_to 0 "$fresh"
check "compact" sysfs_write 1 /sys/block/foxramdisk0/compact
now=$(mem 0)
check "  memory stays within 4 KiB of a fresh device ($now vs $fresh)" test $((now - fresh)) -le 4096 -a $((fresh - now)) -le 4096
check "rmmod" unload

# ext4 on 64 TiB, in 1 MiB clusters (bigalloc): with 4 KiB ones, fsck.ext4 walks 2^34
# block bits, far too long under emulation. Inode tables are left to be initialised on
# first use.
TIB64_BLOCKS=$((1 << 34))
check "insmod (64 TiB)" load default_capacity=$TIB64_BLOCKS default_compression=lz4
check_eq "the disk has 64 TiB" "$(blockdev --getsize64 $DEV)" $((1 << 46))
check "mkfs.ext4 (bigalloc)" mkfs.ext4 -q -O bigalloc -C 1M -E lazy_itable_init=1,lazy_journal_init=1 $DEV
check "mount" mount -o noinit_itable $DEV /mnt
check_match "  df sees 64 TiB" "$(df -B1T --output=size /mnt | tail -1)" '^ *6[34]$'
cp -a /usr/include/linux /mnt/linux
sums=$(tree_sums /mnt/linux)
dd if=/dev/urandom of=/mnt/big bs=1M count=8 status=none
big=$(file_sha /mnt/big)
check "umount" umount /mnt
check "fsck.ext4 -fn: clean" fsck.ext4 -fn $DEV
check "mount again" mount -o noinit_itable $DEV /mnt
check_eq "  the tree is the same" "$(tree_sums /mnt/linux)" "$sums"
check_eq "  the big file is the same" "$(file_sha /mnt/big)" "$big"
check "umount" umount /mnt
echo "# 64 TiB device after ext4: mem_used_total $(mem 0) bytes"
check "rmmod" unload
rm -f /tmp/sp-first /tmp/sp-last
finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# disksize: sizes with memparse suffixes; a live, mounted device grows (the block layer and
# user space hear of it: a RESIZE uevent) and ext4 grows onto it; shrinking over data is
# refused and keeps the data; shrinking an empty tail, or after reset, works.
. "$(dirname "$0")/lib.sh"

A=/sys/block/foxramdisk0
set_size() { sysfs_write "$1" $A/disksize; }
size() { blockdev --getsize64 $DEV; }
seqnum() { cat /sys/kernel/uevent_seqnum; }

check "insmod (16 MiB)" load default_capacity=4096 default_compression=zstd
check_eq "disksize reads bytes" "$(cat $A/disksize)" $((16 << 20))
check_eq "disksize is 0644" "$(stat -c %a $A/disksize)" 644
for v in "32M:$((32 << 20))" "65536K:$((64 << 20))" "0x5000000:$((80 << 20))" \
	"100000000:$((24415 * 4096))" "1g:$((1 << 30))" "64m:$((64 << 20))" "4097:8192"; do
	check "disksize accepts ${v%%:*}" set_size "${v%%:*}"
	check_eq "  and the disk has ${v#*:} bytes" "$(size)" "${v#*:}"
	check_eq "  disksize agrees" "$(cat $A/disksize)" "${v#*:}"
done

# Grow a mounted ext4 filesystem online.
check "disksize 64M" set_size 64M
check "mkfs.ext4" mkfs.ext4 -q $DEV
check "mount" mount $DEV /mnt
cp -a /usr/include/linux /mnt/linux
sums=$(tree_sums /mnt/linux)
seq0=$(seqnum)
check "grow to 256M while mounted" set_size 256M
check "a uevent was sent" test "$(seqnum)" -gt "$seq0"
check_match "the block layer saw the new capacity" "$(dmesg)" 'foxramdisk0: detected capacity change from 131072 to 524288'
check "resize2fs grows ext4 online" resize2fs $DEV
check_match "ext4 now spans 256 MiB" "$(df -B1M --output=size /mnt | tail -1)" '^ *(2[4-5][0-9])$'
check "the filesystem takes more data" cp -a /usr/include/linux /mnt/linux2
check_eq "the first copy is intact" "$(tree_sums /mnt/linux)" "$sums"
umount /mnt
check "fsck is clean" fsck.ext4 -fn $DEV

# Shrinking over data is refused and changes nothing.
check_match "shrink to 16M over ext4 data: EBUSY" "$(set_size 16M)" 'Device or resource busy'
check_eq "  size unchanged" "$(size)" $((256 << 20))
check_match "  and logged" "$(dmesg)" 'cannot shrink to 4096 blocks: block [0-9]+ holds data'
check "fsck is still clean" fsck.ext4 -fn $DEV
mount $DEV /mnt
check_eq "the data is intact" "$(tree_sums /mnt/linux)" "$sums"
umount /mnt

# A tail without data can go, with the data before it kept.
echo 1 >$A/reset
head -c $((64 * BLOCK)) /dev/urandom >/tmp/ds-data
dd if=/tmp/ds-data of=$DEV bs=$BLOCK oflag=direct status=none
dd if=/tmp/ds-data of=$DEV bs=$BLOCK seek=200 count=1 oflag=direct status=none
check_match "shrink to 100 blocks over block 200: EBUSY" "$(set_size 409600)" 'busy'
dd if=/dev/zero of=$DEV bs=$BLOCK seek=200 count=1 oflag=direct status=none
check "after zeroing block 200, shrink to 100 blocks" set_size 409600
check_eq "  100 blocks" "$(size)" 409600
check_eq "  the first 64 blocks kept their data" "$(dev_sha $DEV 0 64)" "$(file_sha /tmp/ds-data)"
check_fails "I/O beyond the new end fails" dd if=/tmp/ds-data of=$DEV bs=$BLOCK seek=100 count=1 oflag=direct status=none
check "grow back to 1M" set_size 1M
check_eq "  the regrown blocks read as zeros" "$(dev_sha $DEV 100 156)" "$(zeros_sha 156)"
check_eq "  the data is still there" "$(dev_sha $DEV 0 64)" "$(file_sha /tmp/ds-data)"
check "after reset any size goes" sh -c "echo 1 >$A/reset && echo 4096 >$A/disksize"
check_eq "  one block" "$(size)" 4096

# Sizes that make no device.
check_match "disksize 0: EINVAL" "$(set_size 0)" 'Invalid argument'
check_match "disksize beyond what the block layer addresses (8 EiB): EINVAL" "$(set_size 8E)" 'Invalid argument'
check_match "disksize 20E (not a 64-bit size): EINVAL" "$(set_size 20E)" 'Invalid argument'
check_eq "the size stayed" "$(size)" 4096
check_eq "no write failed in the driver (the block layer stops I/O past the end)" "$(st 0 io_counters/failed_writes)" 0
check "rmmod" unload
rm -f /tmp/ds-data
finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# reset, mem_limit, mm_stat and compact: reset frees everything but is refused while the
# device is open; writes past mem_limit fail with an I/O error and are counted, data
# stays readable and writes resume when the limit is raised; mm_stat has zram's nine
# fields, then dup_data_size and meta_data_size, and agrees with storage_stat.
. "$(dirname "$0")/lib.sh"

A=/sys/block/foxramdisk0
put() { sysfs_write "$1" "$A/$2"; }
mm() { awk -v f="$1" '{ print $f }' $A/mm_stat; }

check "insmod (64 MiB, lz4)" load default_capacity=16384 default_compression=lz4
check_eq "reset is write-only (0200)" "$(stat -c %a $A/reset)" 200
check_eq "mem_limit is 0644" "$(stat -c %a $A/mem_limit)" 644
check_eq "mm_stat has zram's nine fields and two more" "$(awk '{ print NF }' $A/mm_stat)" 11
empty=$(mm 3)
check_eq "mm_stat mem_used_total = storage_stat/mem_used_total" "$empty" "$(st 0 storage_stat/mem_used_total)"

# Half random, half text: raw and compressed blocks.
head -c $((1024 * BLOCK)) /dev/urandom >/tmp/rl-rand
yes "foxramdisk keeps this line compressed" | head -c $((1024 * BLOCK)) >/tmp/rl-text
dd if=/tmp/rl-rand of=$DEV bs=$BLOCK oflag=direct status=none
dd if=/tmp/rl-text of=$DEV bs=$BLOCK seek=1024 oflag=direct status=none
check_eq "mm_stat orig_data_size: 2048 blocks" "$(mm 1)" $((2048 * BLOCK))
check_eq "mm_stat compr_data_size = compressed + raw" "$(mm 2)" \
	$(($(st 0 storage_stat/compressed_data_size) + $(st 0 storage_stat/raw_blocks_count) * BLOCK))
check_eq "mm_stat huge_pages = raw blocks" "$(mm 8)" "$(st 0 storage_stat/raw_blocks_count)"
check_eq "mm_stat huge_pages_since counts raw writes" "$(mm 9)" 1024
check "mm_stat mem_used_max >= mem_used_total" test "$(mm 5)" -ge "$(mm 3)"
check "compact accepts 1" put 1 compact

# mem_limit: with the limit at the current use, new data fails; old data stays.
used=$(mm 3)
check "mem_limit accepts the current use ($used)" put "$used" mem_limit
check_eq "mm_stat shows the limit" "$(mm 4)" "$used"
check_eq "mem_limit reads it back" "$(cat $A/mem_limit)" "$used"
check_fails "a write of new random data fails" dd if=/tmp/rl-rand of=$DEV bs=$BLOCK seek=4096 count=256 oflag=direct status=none
check "the failure is counted in failed_writes" test "$(st 0 io_counters/failed_writes)" -ge 1
check_match "an I/O error reached the block layer" "$(dmesg)" 'I/O error, dev foxramdisk0'
check_match "the limit is logged" "$(dmesg)" 'foxramdisk0: mem_limit of [0-9]+ bytes reached'
check "memory stays within a few objects of the limit" test "$(mm 3)" -le $((used + 2 * 4 * BLOCK))
check_eq "data stored before reads back (random)" "$(dev_sha $DEV 0 1024)" "$(file_sha /tmp/rl-rand)"
check_eq "data stored before reads back (text)" "$(dev_sha $DEV 1024 1024)" "$(file_sha /tmp/rl-text)"
check "discard still works under the limit" blkdiscard -o $((1024 * BLOCK)) -l $((512 * BLOCK)) $DEV
check "mem_limit 0 lifts it" put 0 mem_limit
check "writes resume" dd if=/tmp/rl-rand of=$DEV bs=$BLOCK seek=4096 count=256 oflag=direct status=none
check_eq "  and read back" "$(dev_sha $DEV 4096 256)" "$(head -c $((256 * BLOCK)) /tmp/rl-rand | sha256sum | cut -d' ' -f1)"
check "mem_limit accepts 1G" put 1G mem_limit
check_eq "  as bytes" "$(cat $A/mem_limit)" $((1 << 30))
check "writes pass under a high limit" dd if=/tmp/rl-text of=$DEV bs=$BLOCK seek=8192 oflag=direct status=none

# reset: refused while open or mounted, then frees everything.
exec 3<$DEV
check_match "reset while open: EBUSY" "$(put 1 reset)" 'Device or resource busy'
exec 3<&-
mkfs.ext4 -q $DEV && mount $DEV /mnt
check_match "reset while mounted: EBUSY" "$(put 1 reset)" 'Device or resource busy'
check_match "the refusal is logged" "$(dmesg)" 'foxramdisk0: reset refused: the device is in use'
umount /mnt
for v in "" 0 -1 abc "1 1"; do
	check_match "reset refuses '$v'" "$(put "$v" reset)" 'Invalid argument'
done
check "mkfs left data" test "$(mm 1)" -gt 0
check "reset" put 1 reset
check_eq "everything is zeroed" "$(st 0 storage_stat/zeroed_blocks_count)" 16384
check_eq "mm_stat data sizes are 0" "$(mm 1) $(mm 2) $(mm 8) $(mm 9)" "0 0 0 0"
check_eq "memory is back to an empty device's" "$(mm 3)" "$empty"
check_eq "the counters restart" "$(st 0 io_counters/total_bytes_written) $(st 0 io_counters/failed_writes)" "0 0"
check_eq "the limit stays" "$(cat $A/mem_limit)" $((1 << 30))
check_eq "the device reads zeros" "$(dev_sha $DEV 0 1024)" "$(zeros_sha 1024)"
check "the device takes data again" dd if=/tmp/rl-text of=$DEV bs=$BLOCK oflag=direct status=none
check "rmmod" unload
rm -f /tmp/rl-rand /tmp/rl-text
finish

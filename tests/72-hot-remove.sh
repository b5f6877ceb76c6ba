#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# hot_remove: removes a device and frees its memory; EBUSY while it is open, mounted or
# swap; ENODEV for no such device; numbers are reused smallest first. hot_add and
# hot_remove loops beside fio --verify on another device corrupt nothing.
. "$(dirname "$0")/lib.sh"

remove() { sysfs_write "$1" $CONTROL/hot_remove; }
devices() { ls /sys/block | grep '^foxramdisk' | sort -V | tr '\n' ' '; }

check "insmod with three devices" load initial_devices_count=3 default_capacity=16384 default_compression=lz4
check_eq "hot_remove is write-only for root (0200)" "$(stat -c %a $CONTROL/hot_remove)" 200
check_eq "three devices" "$(devices)" "foxramdisk0 foxramdisk1 foxramdisk2 "

# Fill device 1 with 48 MiB of random data, then remove it: the memory comes back.
sync; echo 3 >/proc/sys/vm/drop_caches
before=$(free_kib)
dd if=/dev/urandom of=/dev/foxramdisk1 bs=1M count=48 oflag=direct status=none
filled=$(free_kib)
check "device 1 took memory (free $before -> $filled KiB)" test $((before - filled)) -gt $((40 * 1024))
check "hot_remove 1" remove 1
check_eq "device 1 is gone" "$(devices)" "foxramdisk0 foxramdisk2 "
check "its node is gone" test ! -e /dev/foxramdisk1
sync; echo 3 >/proc/sys/vm/drop_caches
after=$(free_kib)
check "its memory came back (free $filled -> $after KiB, was $before)" test $((before - after)) -lt $((4 * 1024))
check_match "the removal is logged" "$(dmesg)" 'foxramdisk1: removed \(50331648 bytes of data freed\)'

# Errors.
check_match "hot_remove of a missing device: ENODEV" "$(remove 1)" 'No such device'
check_match "hot_remove 7: ENODEV" "$(remove 7)" 'No such device'
for v in "" -1 abc 1x 4294967296 99999999999999999999 "0 2" "$(head -c 5000 /dev/zero | tr '\0' 1)"; do
	check_match "hot_remove '${v:0:20}': EINVAL" "$(remove "$v")" 'Invalid argument'
done
check_eq "no device was removed by bad input" "$(devices)" "foxramdisk0 foxramdisk2 "

exec 3<>/dev/foxramdisk0
check_match "hot_remove of an open device: EBUSY" "$(remove 0)" 'Device or resource busy'
exec 3>&-
mkfs.ext4 -q /dev/foxramdisk0 && mount /dev/foxramdisk0 /mnt
check_match "hot_remove of a mounted device: EBUSY" "$(remove 0)" 'Device or resource busy'
check_match "the refusal is logged" "$(dmesg)" 'hot_remove: foxramdisk0 is in use'
umount /mnt
mkswap -q /dev/foxramdisk2 >/dev/null && swapon /dev/foxramdisk2
check_match "hot_remove of active swap: EBUSY" "$(remove 2)" 'Device or resource busy'
swapoff /dev/foxramdisk2
check_eq "refused removals removed nothing" "$(devices)" "foxramdisk0 foxramdisk2 "

# Numbers: the smallest free one is reused.
check_eq "hot_add reuses number 1" "$(hot_add)" 1
check "hot_remove 0" remove 0
check_eq "hot_add reuses number 0" "$(hot_add)" 0
check_eq "hot_add then takes 3" "$(hot_add)" 3
for n in 3 2 1 0; do remove $n >/dev/null; done
check_eq "all removed" "$(devices)" ""
check_eq "hot_add on an empty module gives 0" "$(hot_add)" 0

# Races: hot_add/hot_remove loops in two tasks beside fio --verify on device 0.
fio --name=verify --filename=/dev/foxramdisk0 --rw=randwrite --bs=4k --size=48M \
	--direct=1 --ioengine=psync --numjobs=1 --verify=crc32c --verify_fatal=1 \
	--buffer_compress_percentage=50 --refill_buffers --verify_state_save=0 --output=/tmp/fio-race.log >/dev/null 2>&1 &
fio_pid=$!
churn() {
	local i n
	for i in $(seq 1 25); do
		n=$(cat $CONTROL/hot_add) || return 1
		dd if=/dev/urandom of=/dev/foxramdisk$n bs=64k count=4 oflag=direct status=none || return 1
		echo "$n" >$CONTROL/hot_remove || return 1
	done
}
churn >/tmp/churn1.log 2>&1 &
c1=$!
churn >/tmp/churn2.log 2>&1 &
c2=$!
wait $c1; r1=$?
wait $c2; r2=$?
wait $fio_pid; rf=$?
check_eq "two hot_add/write/hot_remove loops of 25 succeed" "$r1 $r2" "0 0" ||
	diag "$(cat /tmp/churn1.log /tmp/churn2.log)"
check_eq "fio --verify beside them exits 0" "$rf" 0
check_match "fio reports no error" "$(cat /tmp/fio-race.log)" 'err= 0:'
check_eq "only device 0 is left" "$(devices)" "foxramdisk0 "
check "rmmod" unload
rm -f /tmp/fio-race.log /tmp/churn1.log /tmp/churn2.log
finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# CPU hotplug under I/O: the driver has a compression context per possible CPU and blk-mq
# a hardware queue per CPU. CPU 1 goes offline and online again, over and over, while two
# fio jobs write and verify the device: nothing may be lost or fail, and the CPU comes back.
. "$(dirname "$0")/lib.sh"

ONLINE=/sys/devices/system/cpu/cpu1/online
if ! check "CPU 1 can be taken offline (CONFIG_HOTPLUG_CPU)" test -w $ONLINE; then
	finish
	exit
fi
check "insmod (64 MiB, lz4)" load default_capacity=16384 default_compression=lz4
log=$(mktemp)
fio --name=hotplug --filename=$DEV --rw=randwrite --bs=4k --direct=1 --ioengine=psync \
	--numjobs=2 --size=32M --offset_increment=32M --loops=3 --verify=crc32c --do_verify=1 \
	--verify_fatal=1 --buffer_compress_percentage=50 --refill_buffers \
	--verify_state_save=0 --output-format=terse --output="$log" &
fio=$!
toggles=0
failed=0
while kill -0 $fio 2>/dev/null; do
	echo 0 >$ONLINE || failed=$((failed + 1))
	sleep 0.5
	echo 1 >$ONLINE || failed=$((failed + 1))
	toggles=$((toggles + 1))
	sleep 0.5
done
wait $fio
rc=$?
check_eq "fio wrote and verified 64 MiB three times, without an error" "$rc" 0 || diag "$(cat "$log")"
check "CPU 1 went offline and online meanwhile ($toggles times)" test $toggles -ge 2
check_eq "every offline and online succeeded" $failed 0
check_eq "CPU 1 is online again" "$(cat $ONLINE)" 1
check_eq "no I/O failed" "$(st 0 io_counters/failed_reads) $(st 0 io_counters/failed_writes)" "0 0"
check "rmmod" unload
rm -f "$log"
finish

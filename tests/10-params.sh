#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Loading with default and explicit parameters; bad parameters are refused cleanly.
. "$(dirname "$0")/lib.sh"

ndevs() { ls /dev | grep -c '^foxramdisk[0-9]*$'; }

# Defaults: one device of 4096 blocks of 4096 bytes.
check "insmod with default parameters" load
check_eq "defaults create exactly one device" "$(ndevs)" 1
check_eq "default capacity is 16 MiB" "$(blockdev --getsize64 $DEV 2>&1)" 16777216
check_eq "logical block size is 4096" "$(blockdev --getss $DEV 2>&1)" 4096
check_eq "physical block size is 4096" "$(blockdev --getpbsz $DEV 2>&1)" 4096
check_eq "discard is advertised" "$(cat /sys/block/foxramdisk0/queue/discard_granularity)" 4096
check_match "write-zeroes is advertised" "$(cat /sys/block/foxramdisk0/queue/write_zeroes_max_bytes)" '^[1-9]'
check_eq "a request carries up to 1 MiB" "$(cat /sys/block/foxramdisk0/queue/max_hw_sectors_kb)" 1024
check_eq "  in up to 256 segments" "$(cat /sys/block/foxramdisk0/queue/max_segments)" 256
check_eq "one hardware queue per CPU" "$(ls /sys/block/foxramdisk0/mq | wc -l)" "$(nproc)"
check_match "the load is logged" "$(dmesg)" 'foxramdisk: loaded: 1 device\(s\) of 4096 blocks, deflate'
check "rmmod" unload
check_eq "rmmod removes every device" "$(ndevs)" 0

# Explicit count and capacity.
check "insmod initial_devices_count=3 default_capacity=2560" load initial_devices_count=3 default_capacity=2560
check_eq "three devices" "$(ndevs)" 3
for i in 0 1 2; do
	check_eq "foxramdisk$i is 10 MiB" "$(blockdev --getsize64 /dev/foxramdisk$i 2>&1)" 10485760
done
check "rmmod with three devices" unload
check_eq "all three removed" "$(ndevs)" 0

check "initial_devices_count=0 loads with no device" load initial_devices_count=0
check_eq "no device" "$(ndevs)" 0
check "rmmod" unload

# Bad parameters: insmod fails with EINVAL, says why, and leaves nothing behind.
bad_param() { # PARAM MESSAGE-REGEX
	dmesg -C
	local out
	out=$(load "$1" 2>&1) && { fail "insmod $1 is refused"; unload; return; }
	check_match "insmod $1 is refused with EINVAL" "$out" 'Invalid argument|Invalid parameters'
	check_match "insmod $1 explains why in the log" "$(dmesg)" "$2"
	check_fails "insmod $1 leaves no module" loaded
	check_eq "insmod $1 leaves no device" "$(ndevs)" 0
}
bad_param initial_devices_count=100000 'foxramdisk: initial_devices_count=100000 is not a number of devices'
bad_param default_capacity=0 'foxramdisk: default_capacity=0 blocks is not in'
bad_param default_capacity=2251799813685248 'foxramdisk: default_capacity=2251799813685248 blocks is not in'
finish

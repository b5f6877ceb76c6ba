#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# hot_add ten times with changed defaults: each new device has the capacity and algorithm
# the parameters said when it was made, and serves I/O.
. "$(dirname "$0")/lib.sh"

algs=(nocomp deflate 842 lz4 lz4hc zstd lzo-rle lzo)
check "insmod with no devices" load initial_devices_count=0
check_eq "hot_add is root-only (0400)" "$(stat -c %a $CONTROL/hot_add)" 400
block=$(mktemp)
head -c $BLOCK /dev/urandom >"$block"
for i in $(seq 1 10); do
	cap=$((256 * i))
	alg=${algs[$((i % 8))]}
	echo $cap >$PARAMS/default_capacity
	echo "$alg" >$PARAMS/default_compression
	id=$(hot_add)
	check_eq "hot_add #$i prints the next number" "$id" $((i - 1))
	check_eq "foxramdisk$id has $cap blocks" "$(blockdev --getsize64 /dev/foxramdisk$id)" $((cap * BLOCK))
	check_eq "foxramdisk$id uses $alg" "$(st "$id" storage_stat/compression_name)" "$alg"
	dd if="$block" of=/dev/foxramdisk$id bs=$BLOCK seek=$((cap - 1)) oflag=direct status=none
	check_eq "foxramdisk$id serves I/O at its last block" "$(dev_sha /dev/foxramdisk$id $((cap - 1)) 1)" "$(file_sha "$block")"
done
check_eq "ten devices exist" "$(ls /sys/block | grep -c '^foxramdisk')" 10
check_eq "devices made earlier kept their capacity" "$(blockdev --getsize64 /dev/foxramdisk0)" $((256 * BLOCK))
check "rmmod removes them all" unload
check_eq "no device left" "$(ls /sys/block | grep -c '^foxramdisk')" 0
rm -f "$block"
finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bad input into every writable file is refused with an errno and a log line, and leaves
# the module, the values and the data as they were.
. "$(dirname "$0")/lib.sh"

check "insmod" load default_capacity=1024
data=$(mktemp)
head -c $((64 * BLOCK)) /dev/urandom >"$data"
dd if="$data" of=$DEV bs=$BLOCK oflag=direct status=none
long=$(head -c 5000 /dev/zero | tr '\0' 7)

# refused VALUE FILE ERRNO-TEXT: writing VALUE (with a newline) fails with it.
refused() {
	local out
	out=$(sysfs_write "$1" "$2") && { fail "$1 -> $(basename "$2") is refused"; return; }
	check_match "'${2##*/}' refuses '${1:0:24}'" "$out" "$3"
}

for v in "" bogus lz5 LZ4 " lz4" "lz4 lz4" "$long"; do
	refused "$v" $PARAMS/default_compression 'Invalid argument'
done
check_eq "default_compression is unchanged" "$(cat $PARAMS/default_compression)" deflate
check_match "an unknown algorithm is named in the log" "$(dmesg)" "foxramdisk: unknown compression algorithm 'bogus'"

for v in "" 0 -1 abc 12abc "1 2" 0x 2251799813685248 99999999999999999999 "$long"; do
	refused "$v" $PARAMS/default_capacity 'Invalid argument'
done
check_eq "default_capacity is unchanged" "$(cat $PARAMS/default_capacity)" 1024
check_match "a bad capacity is named in the log" "$(dmesg)" 'foxramdisk: default_capacity=abc blocks is not in'

# The device's controls: empty, negative, huge, non-numeric, over-long.
A=/sys/block/foxramdisk0
for v in "" -1 -4096 abc 12abc 1Q "1 2" 0x 4G4 99999999999999999999 20000000000000000000G "$long"; do
	refused "$v" $A/disksize 'Invalid argument'
	refused "$v" $A/mem_limit 'Invalid argument'
done
refused 0 $A/disksize 'Invalid argument'
refused 8E $A/disksize 'Invalid argument'
for v in "" 0 -1 abc 99999999999999999999 "$long"; do
	refused "$v" $A/reset 'Invalid argument'
	refused "$v" $A/compact 'Invalid argument'
done
for v in "" bogus LZ4 " lz4" "lz4 lz4" -1 "$long"; do
	refused "$v" $A/comp_algorithm 'Invalid argument'
done
for v in "" 1 -1 abc 99999999999999999999 "$long"; do
	refused "$v" $A/mem_used_max 'Invalid argument'
done
for v in "" -1 abc 4294967296 "$long"; do
	refused "$v" $CONTROL/hot_remove 'Invalid argument'
done
check_eq "disksize is unchanged" "$(cat $A/disksize)" $((1024 * BLOCK))
check_eq "mem_limit is unchanged" "$(cat $A/mem_limit)" 0
check_match "comp_algorithm is unchanged" "$(cat $A/comp_algorithm)" '\[deflate\]'
check_match "a bad size is named in the log" "$(dmesg)" "foxramdisk0: disksize: '12abc' is not a size in bytes"
check_match "a bad reset value is named in the log" "$(dmesg)" "foxramdisk0: reset: write 1, not 'abc'"
check_match "a bad mem_used_max value is named in the log" "$(dmesg)" "foxramdisk0: mem_used_max: write 0 to reset it, not '1'"

# Read-only files: the parameter that only counts at load, hot_add and every statistic.
refused 3 $PARAMS/initial_devices_count 'Permission denied|Invalid argument'
refused 1 $CONTROL/hot_add 'Permission denied|Invalid argument'
for f in $A/io_counters/* $A/storage_stat/* $A/mm_stat $A/io_stat $A/debug_stat; do
	refused 0 "$f" 'Permission denied|Input/output error'
done

# Good values are still accepted after all that.
check "default_capacity accepts 2048" sh -c "echo 2048 >$PARAMS/default_capacity"
check "default_compression accepts zstd" sh -c "echo zstd >$PARAMS/default_compression"
check_eq "the new values read back" "$(cat $PARAMS/default_capacity) $(cat $PARAMS/default_compression)" "2048 zstd"

check "the module is still loaded" loaded
check_eq "the data is intact" "$(dev_sha $DEV 0 64)" "$(file_sha "$data")"
check_eq "no I/O failed" "$(st 0 io_counters/failed_reads) $(st 0 io_counters/failed_writes)" "0 0"
check "rmmod" unload
rm -f "$data"
finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/rd_display_stats.sh prints every statistic and the two compression ratios.
. "$(dirname "$0")/lib.sh"

S=scripts/rd_display_stats.sh
check "insmod (zstd)" load default_compression=zstd
yes "statistics are easier to read with a script" | head -c $((512 * BLOCK)) |
	dd of=$DEV bs=1M oflag=direct status=none
head -c $((256 * BLOCK)) /dev/urandom | dd of=$DEV bs=1M seek=4 oflag=direct status=none
out=$($S $DEV 2>&1)
check_eq "it succeeds" "$?" 0
check_match "it shows bytes written" "$out" "^Bytes written: +$((768 * BLOCK))\$"
check_match "it shows incompressible blocks" "$out" '^Incompressible blocks: +256$'
check_match "it shows compressed blocks" "$out" '^Compressed blocks: +512$'
check_match "it shows the algorithm" "$out" '^Compression algorithm: +zstd$'
check_match "the compression ratio is high for text" "$out" '^Compression ratio: +([1-9][0-9]+|[5-9])\.[0-9]{3}$'
check_match "the effective ratio counts raw blocks as 1:1" "$out" '^Effective compression ratio: +[1-2]\.[0-9]{3}$'
check_match "-h shows IEC units" "$($S -h $DEV)" '^Bytes written: +3\.00 MiB$'
check_match "--si shows SI units" "$($S --si $DEV)" '^Bytes written: +3\.15 MB$'
check_fails "a non-foxramdisk device is refused" $S /dev/null
check_fails "a bad option is refused" $S -x $DEV
check "rmmod" unload
finish

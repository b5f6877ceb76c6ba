#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fio with verify: two jobs of random 4 KiB writes over the whole device (each its own
# half), then everything read back and checked (crc32c), on half-compressible data.
# Then the same with buffers 512 bytes into a page (fio mem_align), so that every block
# is split across two pages: the path that gathers and scatters through the context.
. "$(dirname "$0")/lib.sh"

for alg in lz4 zstd deflate; do
	check "$alg: insmod (64 MiB)" load default_capacity=16384 default_compression=$alg
	out=$(fio --name=verify --filename=$DEV --direct=1 --ioengine=psync --rw=randwrite \
		--bs=4k --numjobs=2 --size=32M --offset_increment=32M --verify=crc32c \
		--do_verify=1 --verify_fatal=1 --buffer_compress_percentage=50 --refill_buffers \
		--group_reporting --verify_state_save=0 2>&1)
	rc=$?
	check_eq "$alg: fio randwrite + verify exits 0" "$rc" 0
	check_fails "$alg: fio reports no verify error" grep -qiE 'verify.*(bad|fail)|crc32c: (wanted|got)' <<<"$out"
	check_match "$alg: fio wrote the whole device" "$out" 'WRITE: bw=.*io=64\.0MiB'
	check_eq "$alg: no failed reads or writes" "$(st 0 io_stat/failed_reads) $(st 0 io_stat/failed_writes)" "0 0"
	check "$alg: rmmod" unload
done

check "split blocks: insmod (16 MiB, lz4)" load default_capacity=4096 default_compression=lz4
out=$(fio --name=split --filename=$DEV --direct=1 --ioengine=psync --rw=randwrite --bs=8k \
	--mem_align=512 --size=16M --verify=crc32c --do_verify=1 --verify_fatal=1 \
	--buffer_compress_percentage=50 --refill_buffers --verify_state_save=0 2>&1)
rc=$?
check_eq "split blocks: fio randwrite + verify exits 0" "$rc" 0
check_fails "split blocks: fio reports no verify error" grep -qiE 'verify.*(bad|fail)|crc32c: (wanted|got)' <<<"$out"
check_match "split blocks: fio wrote the whole device" "$out" 'WRITE: bw=.*io=16\.0MiB'
check_eq "split blocks: no failed reads or writes" "$(st 0 io_stat/failed_reads) $(st 0 io_stat/failed_writes)" "0 0"
check "split blocks: rmmod" unload
finish

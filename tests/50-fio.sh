#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fio with verify: two jobs of random 4 KiB writes over the whole device (each its own
# half), then everything read back and checked (crc32c), on half-compressible data.
# Then the same with buffers 512 bytes into a page (fio mem_align), so that every block
# is split across two pages: the path that gathers and scatters through the context; and
# with io_uring at depth 32, whose plugged batches come through queue_rqs.
. "$(dirname "$0")/lib.sh"

# verify LABEL MIB ALG FIO-OPTION...: loads a device of MIB MiB, writes it whole with fio
# and the given options, verifying every block, and unloads it.
verify() {
	local label=$1 mib=$2 alg=$3 out rc
	shift 3
	check "$label: insmod ($mib MiB, $alg)" load default_capacity=$((mib * 256)) default_compression="$alg"
	out=$(fio --name=verify --filename="$DEV" --direct=1 --ioengine=psync --rw=randwrite \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --buffer_compress_percentage=50 \
		--refill_buffers --group_reporting --verify_state_save=0 "$@" 2>&1)
	rc=$?
	check_eq "$label: fio randwrite + verify exits 0" "$rc" 0
	check_fails "$label: fio reports no verify error" grep -qiE 'verify.*(bad|fail)|crc32c: (wanted|got)' <<<"$out"
	check_match "$label: fio wrote the whole device" "$out" "WRITE: bw=.*io=$mib\\.0MiB"
	check_eq "$label: no failed reads or writes" "$(st 0 io_counters/failed_reads) $(st 0 io_counters/failed_writes)" "0 0"
	check "$label: rmmod" unload
}

for alg in lz4 zstd deflate; do
	verify "$alg" 64 "$alg" --bs=4k --numjobs=2 --size=32M --offset_increment=32M
done
verify "split blocks" 16 lz4 --bs=8k --mem_align=512 --size=16M
# io_uring at depth 32, 16 submitted and 16 reaped at a time: every submission a plugged
# batch (queue_rqs), its requests ended together.
verify "io_uring batches" 64 lz4 --ioengine=io_uring --iodepth=32 --iodepth_batch_submit=16 \
	--iodepth_batch_complete_min=16 --bs=4k --numjobs=2 --size=32M --offset_increment=32M
finish

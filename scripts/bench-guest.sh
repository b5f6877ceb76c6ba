#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`, inside the lab VM: the same fio jobs and data against foxramdisk, zram and
# brd, one device at a time, then a report. Results go to $OUT (results/bench/).
#
# Environment: BENCH_RUNTIME (seconds per fio job, default 5), BENCH_SIZE_MIB (device size,
# default 256), BENCH_DEVICES (space-separated subset of the list below), BENCH_TREE.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-results/bench}
RUNTIME=${BENCH_RUNTIME:-5}
SIZE=${BENCH_SIZE_MIB:-256}
# Each pair runs back to back, so that drift in the host's speed during the run (the VM
# shares its machine) weighs on both sides alike.
DEVICES=${BENCH_DEVICES:-"foxramdisk:nocomp brd foxramdisk:lz4 zram:lz4 foxramdisk:zstd zram:zstd foxramdisk:deflate zram:deflate foxramdisk:842 zram:842"}
# The real-data tree: the C headers of the guest's root, 24 MiB of real source text, small
# enough to copy ten times under TCG. BENCH_TREE picks another.
TREE=${BENCH_TREE:-/usr/include}
mkdir -p "$OUT"
raw=$OUT/raw.jsonl
: >"$raw"
mnt=$(mktemp -d)
# The kernel measured on: its release and whether it has lockdep (make bench uses the bench
# kernel, without; FOXRAMDISK_KERNEL=lab measures on the tests' debug kernel).
lockdep=false
zcat /proc/config.gz 2>/dev/null | grep -qx CONFIG_PROVE_LOCKING=y && lockdep=true
printf '{"kernel": "%s", "flavour": "%s", "lockdep": %s}\n' "$(uname -r)" "${KERNEL_FLAVOUR:-lab}" "$lockdep" >>"$raw"

. scripts/bench-devices.sh
log() { printf '[bench] %s\n' "$*" >&2; }
meminfo() { awk -v k="$1:" '$1 == k { print $2 * 1024 }' /proc/meminfo; }
settle() { sync; echo 3 >/proc/sys/vm/drop_caches; sleep 1; }
emit() { printf '%s\n' "$1" >>"$raw"; }
# Seconds from $1 to $2 (date +%s.%N), as a JSON number (bc would print .5 for 0.5).
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

fio_common=(--direct=1 --ioengine=psync --time_based --runtime="$RUNTIME" --group_reporting
	--buffer_compress_percentage=50 --refill_buffers --randrepeat=0 --output-format=json)
# name rw bs [rwmixread]
JOBS="randread:randread:4k randwrite:randwrite:4k randrw70:randrw:4k:70 seqread:read:128k seqwrite:write:128k"

for dev_spec in $DEVICES; do
	kind=${dev_spec%%:*}
	alg=${dev_spec#*:}
	[ "$kind" = "$alg" ] && alg=none
	label=$kind${alg:+-$alg}
	[ "$alg" = none ] && label=$kind
	settle
	free0=$(meminfo MemFree) slab0=$(($(meminfo Slab)))
	if ! d=$(setup "$kind" "$alg"); then
		log "$label: cannot set up, skipped"
		emit "{\"device\": \"$label\", \"error\": \"setup failed\"}"
		continue
	fi
	log "$label on $d"
	# Fill the whole device with 50%-compressible data, then account memory.
	prefill "$d"
	settle
	free1=$(meminfo MemFree) slab1=$(meminfo Slab)
	emit "{\"device\": \"$label\", \"memory\": {\"stored_bytes\": $((SIZE << 20)), \"device_mem_used\": $(device_mem "$kind"), \"not_counted\": $(not_counted "$kind"), \"memfree_delta\": $((free0 - free1)), \"slab_delta\": $((slab1 - slab0))}}"

	for job in $JOBS; do
		IFS=: read -r name rw bs mix <<<"$job"
		for n in 1 2; do
			extra=()
			[ -n "${mix:-}" ] && extra=(--rwmixread="$mix")
			res=$(fio --name="$name" --filename="$d" --rw="$rw" --bs="$bs" --numjobs="$n" \
				--size="${SIZE}M" "${extra[@]}" "${fio_common[@]}" 2>/dev/null)
			r=$(printf '%s' "$res" | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
print(json.dumps({"read_iops": j["read"]["iops"], "write_iops": j["write"]["iops"],
                  "read_bw_kib": j["read"]["bw"], "write_bw_kib": j["write"]["bw"]}))' 2>/dev/null) ||
				r='{"error": "fio failed"}'
			emit "{\"device\": \"$label\", \"job\": \"$name\", \"numjobs\": $n, \"result\": $r}"
		done
	done

	# Real data: copy a tree onto ext4 on the device, then read it all back.
	blkdiscard -f "$d" 2>/dev/null
	mkfs.ext4 -q -F "$d" && mount "$d" "$mnt"
	settle
	t0=$(date +%s.%N)
	cp -a "$TREE" "$mnt/" && sync
	t1=$(date +%s.%N)
	settle
	t2=$(date +%s.%N)
	tar -cf - -C "$mnt" . | wc -c >/dev/null
	t3=$(date +%s.%N)
	tree_bytes=$(du -sb "$TREE" | cut -f1)
	case "$kind" in
	foxramdisk) stored=$(($(cat /sys/block/foxramdisk0/storage_stat/compressed_blocks_count) + $(cat /sys/block/foxramdisk0/storage_stat/raw_blocks_count))); stored=$((stored * 4096)) ;;
	zram) stored=$(awk '{ print $1 }' /sys/block/zram0/mm_stat) ;;
	*) stored=null ;;
	esac
	emit "{\"device\": \"$label\", \"realdata\": {\"tree\": \"$TREE\", \"tree_bytes\": $tree_bytes, \"copy_s\": $(seconds "$t0" "$t1"), \"read_s\": $(seconds "$t2" "$t3"), \"stored_bytes\": $stored, \"device_mem_used\": $(device_mem "$kind"), \"not_counted\": $(not_counted "$kind")}}"
	umount "$mnt"
	teardown "$kind"
done
python3 scripts/bench-report.py "$raw" "$OUT"

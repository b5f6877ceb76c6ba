#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`, inside the lab VM: the same fio jobs and data against foxramdisk, zram and
# brd, a pair of devices at a time. Results go to $OUT (results/bench/): raw.jsonl, and fio's
# own JSON output of every run in fio/; scripts/bench.sh then runs bench-report.py on them.
#
# Environment: BENCH_RUNTIME (fio's runtime of each job, default 1500ms), BENCH_ROUNDS
# (runs of each job per device, default 3), BENCH_SIZE_MIB (device size, default 128),
# BENCH_DEVICES (space-separated, in pairs compared with each other), BENCH_TREE;
# BENCH_ICOUNT, the QEMU -icount shift the VM runs with, if any (recorded in the report).
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-results/bench}
RUNTIME=${BENCH_RUNTIME:-1500ms}
ROUNDS=${BENCH_ROUNDS:-3}
SIZE=${BENCH_SIZE_MIB:-128}
# Pairs: each foxramdisk device and the device it is compared with (see bench_group).
DEVICES=${BENCH_DEVICES:-"foxramdisk:nocomp brd foxramdisk:lz4 zram:lz4 foxramdisk:zstd zram:zstd foxramdisk:deflate zram:deflate foxramdisk:842 zram:842"}
# The real-data tree: the C headers of the guest's root, 24 MiB of real source text, small
# enough to copy ten times under TCG. BENCH_TREE picks another.
TREE=${BENCH_TREE:-/usr/include}
mkdir -p "$OUT/fio"
raw=$OUT/raw.jsonl
: >"$raw"
mnt=$(mktemp -d)
# The tree is copied once into the guest's tmpfs /tmp, so that each device's copy reads RAM,
# not the 9p root (which would be most of the time, and cached differently for each run).
stage=$(mktemp -d)
cp -a "$TREE" "$stage/" || exit 1
tree_bytes=$(du -sb "$TREE" | cut -f1)
# The same tree as one ext4 image, written block for block to every device: the same data
# on each, so their memory compares exactly (two copies through ext4 differ a little in
# where and what ext4 writes). Sized for the tree and ext4's metadata, within the device.
image=$stage.img
image_mib=$((tree_bytes * 13 / 10 / 1048576 + 16))
[ "$image_mib" -le "$SIZE" ] || image_mib=$SIZE
image_bytes=$((image_mib << 20))
if ! mkfs.ext4 -q -F -b 4096 -d "$stage" "$image" "${image_mib}M"; then
	echo "[bench] cannot make an ext4 image of $TREE: no memory figures on it" >&2
	image=
fi
# The kernel measured on: its release and whether it has lockdep (make bench uses the bench
# kernel, without; FOXRAMDISK_KERNEL=lab measures on the tests' debug kernel).
lockdep=false
zcat /proc/config.gz 2>/dev/null | grep -qx CONFIG_PROVE_LOCKING=y && lockdep=true
printf '{"kernel": "%s", "flavour": "%s", "lockdep": %s, "icount": "%s"}\n' "$(uname -r)" \
	"${KERNEL_FLAVOUR:-lab}" "$lockdep" "${BENCH_ICOUNT:-}" >>"$raw"

. scripts/bench-devices.sh
log() { printf '[bench] %s %s\n' "$(date +%T)" "$*" >&2; }
meminfo() { awk -v k="$1:" '$1 == k { print $2 * 1024 }' /proc/meminfo; }
# Free memory in bytes: MemFree, plus the free pages held on per-CPU lists ("count:" of each
# pageset in /proc/zoneinfo), which MemFree leaves out. Those lists grow under a burst of
# allocation (up to an eighth of a zone) and shrink slowly, so MemFree alone would charge
# the first device filled after a quiet spell tens of MiB that the next one does not pay.
free_bytes() {
	echo $(($(meminfo MemFree) + $(awk '$1 == "count:" { n += $2 } END { print n + 0 }' /proc/zoneinfo) * $(getconf PAGESIZE)))
}
settle() { sync; echo 3 >/proc/sys/vm/drop_caches; sleep 1; }
emit() { printf '%s\n' "$1" >>"$raw"; }
# The JSON fields of a device's memory: its own account and what that leaves out.
accounts() { # KIND
	printf '"device_mem_used": %s, "not_counted": %s' "$(device_mem "$1")" "$(not_counted "$1")"
}
# Seconds from $1 to $2 (date +%s.%N), as a JSON number (bc would print .5 for 0.5).
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

fio_common=(--direct=1 --ioengine=psync --time_based --runtime="$RUNTIME" --group_reporting
	--buffer_compress_percentage=50 --refill_buffers --randrepeat=0 --output-format=json --eta=never)
# name rw bs [rwmixread] [qd32|qd32b]: psync at depth 1; with qd32, io_uring at queue depth
# 32 submitted 16 at a time, reaped as they complete (past the first batches, fio then
# submits one or two at a time); with qd32b, 16 submitted and 16 reaped at a time, so that
# every submission is a plugged batch (queue_rqs).
JOBS="randread:randread:4k randwrite:randwrite:4k randrw70:randrw:4k:70 seqread:read:128k seqwrite:write:128k
randread-qd32:randread:4k::qd32 randwrite-qd32:randwrite:4k::qd32 randrw70-qd32:randrw:4k:70:qd32
randread-qd32b:randread:4k::qd32b randwrite-qd32b:randwrite:4k::qd32b"
# Every job at 1 and 2 jobs, one after the other (stonewall), as one fio invocation per
# device and round: fio takes about two seconds to start under TCG.
fio_jobs=()
for job in $JOBS; do
	IFS=: read -r name rw bs mix qd <<<"$job"
	for n in 1 2; do
		fio_jobs+=(--name="$name-$n" --stonewall --rw="$rw" --bs="$bs" --numjobs="$n")
		[ -n "${mix:-}" ] && fio_jobs+=(--rwmixread="$mix")
		[ "${qd:-}" = qd32 ] && fio_jobs+=(--ioengine=io_uring --iodepth=32 --iodepth_batch_submit=16 --iodepth_batch_complete_min=1)
		[ "${qd:-}" = qd32b ] && fio_jobs+=(--ioengine=io_uring --iodepth=32 --iodepth_batch_submit=16 --iodepth_batch_complete_min=16)
	done
done

# Devices are set up and filled two by two, in the order listed (a foxramdisk device and the
# device it is compared with): set up and filled one after the other, then all fio jobs run
# ROUNDS times on each, alternating between the two, and the report takes the median. Drift
# in the host's speed (the VM shares its machine) then weighs on both sides alike, and one
# slow moment does not decide a row.
bench_group() { # DEVICE-SPEC...
	local spec kind alg label d free0 slab0 free1 slab1 job n round file i
	local -a labels=() paths=() kinds=()
	for spec in "$@"; do
		kind=${spec%%:*}
		alg=${spec#*:}
		[ "$kind" = "$alg" ] && alg=none
		label=$kind
		[ "$alg" = none ] || label=$kind-$alg
		settle
		free0=$(free_bytes) slab0=$(meminfo Slab)
		if ! d=$(setup "$kind" "$alg"); then
			log "$label: cannot set up, skipped"
			emit "{\"device\": \"$label\", \"error\": \"setup failed\"}"
			continue
		fi
		log "$label on $d: filling"
		# Fill the whole device with 50%-compressible data, then account memory.
		prefill "$d"
		settle
		free1=$(free_bytes) slab1=$(meminfo Slab)
		emit "{\"device\": \"$label\", \"memory\": {\"stored_bytes\": $((SIZE << 20)), $(accounts "$kind"), \"free_delta\": $((free0 - free1)), \"slab_delta\": $((slab1 - slab0))}}"
		labels+=("$label") paths+=("$d") kinds+=("$kind")
	done
	log "${labels[*]}: fio, $ROUNDS rounds of $RUNTIME a job"
	for round in $(seq "$ROUNDS"); do
		for i in "${!paths[@]}"; do
			file=fio/${labels[i]}.$round.json
			# A job that fails is marked failed in fio's output; the report skips it.
			fio --filename="${paths[i]}" --size="${SIZE}M" "${fio_common[@]}" \
				--output="$OUT/$file" "${fio_jobs[@]}" 2>/dev/null ||
				log "${labels[i]}: fio reported a failure in round $round"
			for job in $JOBS; do
				for n in 1 2; do
					emit "{\"device\": \"${labels[i]}\", \"job\": \"${job%%:*}\", \"numjobs\": $n, \"round\": $round, \"fio_output\": \"$file\"}"
				done
			done
		done
	done

	log "${labels[*]}: real data"
	for i in "${!paths[@]}"; do
		realdata "${kinds[i]}" "${labels[i]}" "${paths[i]}"
	done
	# Duplicate data, for a group with a foxramdisk device that deduplicates.
	if [[ " ${labels[*]}" == *+dedup* ]]; then
		log "${labels[*]}: duplicate data"
		for i in "${!paths[@]}"; do
			dupdata "${kinds[i]}" "${labels[i]}" "${paths[i]}"
		done
	fi
	for kind in "${kinds[@]}"; do
		teardown "$kind"
	done
}

# The data the device holds, in bytes: blocks that are neither zero nor filled with one
# value (foxramdisk), pages stored (zram).
stored_bytes() { # KIND
	case "$1" in
	foxramdisk) echo $((($(cat /sys/block/foxramdisk0/storage_stat/compressed_blocks_count) + $(cat /sys/block/foxramdisk0/storage_stat/raw_blocks_count)) * 4096)) ;;
	zram) awk '{ print $1 }' /sys/block/zram0/mm_stat ;;
	*) echo null ;;
	esac
}

# Real data: the tree's ext4 image written to the device, for its memory; then a copy of the
# tree onto a new ext4 on the device, read back in full.
realdata() { # KIND LABEL DEVICE
	local kind=$1 label=$2 d=$3 t0 t1 t2 t3
	if [ -n "$image" ]; then
		blkdiscard -f "$d" 2>/dev/null
		if dd if="$image" of="$d" bs=1M oflag=direct status=none; then
			settle
			emit "{\"device\": \"$label\", \"image\": {\"tree\": \"$TREE\", \"tree_bytes\": $tree_bytes, \"image_bytes\": $image_bytes, $(accounts "$kind")}}"
			# The same image, cold: every block marked idle and recompressed with zstd.
			if recompress_idle "$kind"; then
				settle
				emit "{\"device\": \"$label\", \"tiering\": {\"case\": \"the image, then idle blocks recompressed with zstd\", $(accounts "$kind")}}"
			fi
			# The image again, cold: every block marked idle and written back.
			blkdiscard -f "$d" 2>/dev/null
			if dd if="$image" of="$d" bs=1M oflag=direct status=none && writeback_idle "$kind"; then
				settle
				emit "{\"device\": \"$label\", \"tiering\": {\"case\": \"the image, then idle blocks written back\", $(accounts "$kind"), \"backing_bytes\": $(backing_bytes "$kind")}}"
			fi
		else
			log "$label: cannot write the tree's image"
		fi
	fi
	blkdiscard -f "$d" 2>/dev/null
	mkfs.ext4 -q -F "$d" && mount "$d" "$mnt"
	settle
	t0=$(date +%s.%N)
	cp -a "$stage/." "$mnt/" 2>/dev/null || log "$label: the tree does not fit on the device"
	sync
	t1=$(date +%s.%N)
	settle
	t2=$(date +%s.%N)
	tar -cf - -C "$mnt" . | wc -c >/dev/null
	t3=$(date +%s.%N)
	emit "{\"device\": \"$label\", \"realdata\": {\"tree\": \"$TREE\", \"tree_bytes\": $tree_bytes, \"copy_s\": $(seconds "$t0" "$t1"), \"read_s\": $(seconds "$t2" "$t3"), \"stored_bytes\": $(stored_bytes "$kind"), $(accounts "$kind")}}"
	umount "$mnt"
}

# Duplicate data, the same on every device of a group, and the memory it takes: the first
# 24 MiB of the tree's ext4 image at four offsets; ext4 holding three copies of the tree;
# fio's own duplicate data (dedupe_percentage=50, half compressible) over the device.
dupdata() { # KIND LABEL DEVICE
	local kind=$1 label=$2 d=$3 off copy
	if [ -n "$image" ] && [ "$SIZE" -ge 120 ]; then
		blkdiscard -f "$d" 2>/dev/null
		for off in 0 32 64 96; do
			dd if="$image" of="$d" bs=1M count=24 seek=$off oflag=direct status=none
		done
		settle
		emit "{\"device\": \"$label\", \"dedup\": {\"case\": \"the same 24 MiB of real data at four offsets\", \"written_bytes\": $((96 << 20)), $(accounts "$kind")}}"
	fi
	blkdiscard -f "$d" 2>/dev/null
	if mkfs.ext4 -q -F "$d" && mount "$d" "$mnt"; then
		for copy in 1 2 3; do
			if ! { mkdir "$mnt/copy$copy" && cp -a "$stage/." "$mnt/copy$copy/" 2>/dev/null; }; then
				log "$label: copy $copy of the tree does not fit"
			fi
		done
		umount "$mnt"
		settle
		emit "{\"device\": \"$label\", \"dedup\": {\"case\": \"ext4 with three copies of $TREE\", \"written_bytes\": $((3 * tree_bytes)), $(accounts "$kind")}}"
	fi
	blkdiscard -f "$d" 2>/dev/null
	fio --name=dedupe --filename="$d" --rw=write --bs=4k --size="${SIZE}M" --direct=1 \
		--dedupe_percentage=50 --buffer_compress_percentage=50 --refill_buffers \
		--output-format=json >/dev/null
	settle
	emit "{\"device\": \"$label\", \"dedup\": {\"case\": \"fio dedupe_percentage=50\", \"written_bytes\": $((SIZE << 20)), $(accounts "$kind")}}"
}

read -ra devices <<<"$DEVICES"
for ((i = 0; i < ${#devices[@]}; i += 2)); do
	bench_group "${devices[@]:i:2}"
done
log "done; the report is made on the host (scripts/bench-report.py)"

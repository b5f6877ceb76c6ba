#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make profile`, inside the lab VM: one fio job per device under `perf record` (cpu-clock,
# call graphs, whole system), then where the time went. Results go to $OUT
# (results/profile/): for each device, NAME.txt with the IOPS, the symbols by their own
# time, the I/O path's symbols with their callees' time, and the callers of the hottest
# symbols.
#
# Environment: PROFILE_DEVICES (as BENCH_DEVICES, default "foxramdisk:lz4 zram:lz4"),
# PROFILE_JOB (randread, randwrite, randrw, read or write; default randread),
# PROFILE_NUMJOBS (1), PROFILE_RUNTIME (seconds, 5), PROFILE_SIZE_MIB (128),
# PROFILE_TOP (how many symbols the own-time list shows, 40), PROFILE_QD (see below).
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-results/profile}
SIZE=${PROFILE_SIZE_MIB:-128}
JOB=${PROFILE_JOB:-randread}
NUMJOBS=${PROFILE_NUMJOBS:-1}
RUNTIME=${PROFILE_RUNTIME:-5}
# PROFILE_QD: 1 (psync), or a queue depth for io_uring, submitted in batches of half of it
# (bench's depth-32 rows: PROFILE_QD=32).
QD=${PROFILE_QD:-1}
engine=(--ioengine=psync)
engine_name=psync
if [ "$QD" -gt 1 ]; then
	engine=(--ioengine=io_uring --iodepth="$QD" --iodepth_batch_submit=$((QD / 2)) --iodepth_batch_complete_min=1)
	engine_name="io_uring depth $QD"
fi
mkdir -p "$OUT"
. scripts/bench-devices.sh

case "$JOB" in read | write) bs=128k ;; *) bs=4k ;; esac
status=0
for dev_spec in ${PROFILE_DEVICES:-foxramdisk:lz4 zram:lz4}; do
	kind=${dev_spec%%:*} alg=${dev_spec#*:}
	[ "$kind" = "$alg" ] && alg=none
	label=$kind${alg:+-$alg}
	[ "$alg" = none ] && label=$kind
	if ! d=$(setup "$kind" "$alg"); then
		echo "[profile] $label: cannot set up" >&2
		status=1
		continue
	fi
	prefill "$d"
	report=$OUT/$label-$JOB-$NUMJOBS.txt
	[ "$QD" -gt 1 ] && report=$OUT/$label-$JOB-$NUMJOBS-qd$QD.txt
	data=/tmp/perf-$label.data
	iops=$(perf record -q -e cpu-clock -F 2000 -a -g -o "$data" -- \
		fio --name="$JOB" --filename="$d" --rw="$JOB" --rwmixread=70 --bs=$bs \
		--numjobs="$NUMJOBS" --group_reporting --size="${SIZE}M" --direct=1 "${engine[@]}" \
		--time_based --runtime="$RUNTIME" --buffer_compress_percentage=50 --refill_buffers \
		--randrepeat=0 --output-format=terse | awk -F';' '{ print $8 + $49 }')
	{
		echo "# $label: fio $JOB bs=$bs numjobs=$NUMJOBS $engine_name direct, ${RUNTIME} s, under perf"
		echo "IOPS (read + write): $iops"
		echo
		echo "## Own time (--no-children)"
		perf report -i "$data" --no-children --sort sym --stdio -g none 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -"${PROFILE_TOP:-40}"
		echo
		echo "## Kernel I/O path, with callees (--children)"
		perf report -i "$data" --children --sort sym --stdio -g none 2>/dev/null |
			grep -v '^#' | grep -E '\[[k.]\] [a-zA-Z_]' | grep -vE 'idle|startup|start_kernel|rest_init|secondary' | head -50
		echo
		echo "## Callers of the hottest kernel symbols"
		perf script -i "$data" -F ip,sym 2>/dev/null | python3 -c '
import collections, sys
blocks = [[l.split(None, 1)[1] if len(l.split(None, 1)) > 1 else "?" for l in b.strip().splitlines()]
          for b in sys.stdin.read().split("\n\n") if b.strip()]
own = collections.Counter(b[0] for b in blocks)
for sym, n in [x for x in own.most_common(16) if x[0] not in ("default_idle", "?") and not x[0].startswith(("[", "0x"))][:6]:
    print(f"{sym}: {n} samples")
    callers = collections.Counter(" <- ".join(b[1:4]) for b in blocks if b[0] == sym)
    for chain, m in callers.most_common(5):
        print(f"  {m:6d} {chain}")'
	} >"$report"
	echo "[profile] $label: $iops IOPS; $report" >&2
	rm -f "$data"
	teardown "$kind"
done
exit $status

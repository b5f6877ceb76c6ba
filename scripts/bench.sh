#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`: builds the module, boots the VM once (4 GiB, KUnit off) and runs
# scripts/bench-guest.sh: foxramdisk, zram and brd under the same fio jobs and data.
# Writes results/bench/{bench.md,bench.json,bench.png,raw.jsonl} and fio/ (each run's fio
# output). Benchmarks are not tests.
# Measured on the bench kernel (scripts/kernel-bench.config: no lockdep or other debugging)
# unless FOXRAMDISK_KERNEL=lab is given. With VM_ICOUNT=0 the guest's clock counts
# instructions (see vm.sh): slower, but the figures no longer move with the host's load.
export FOXRAMDISK_KERNEL=${FOXRAMDISK_KERNEL:-bench}
. "$(dirname "$0")/lib.sh"

bash "$REPO/scripts/build.sh" modules
rm -rf "$REPO/results/bench"
export VM_MEM=${VM_MEM:-4G} VM_APPEND="${VM_APPEND:-} kunit.enable=0"
bash "$REPO/scripts/vm.sh" \
	"FOXRAMDISK_KO='$(MODULE_DIR)/foxramdisk.ko' KERNEL_FLAVOUR=$KERNEL_FLAVOUR BENCH_RUNTIME='${BENCH_RUNTIME:-}' BENCH_ROUNDS='${BENCH_ROUNDS:-}' BENCH_SIZE_MIB='${BENCH_SIZE_MIB:-}' BENCH_DEVICES='${BENCH_DEVICES:-}' BENCH_TREE='${BENCH_TREE:-}' BENCH_ICOUNT='${VM_ICOUNT:-}' bash scripts/bench-guest.sh" || exit
# The report is made here, not in the guest: Python and matplotlib start slowly under TCG.
in_root python3 "$REPO/scripts/bench-report.py" "$REPO/results/bench/raw.jsonl" "$REPO/results/bench"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`: builds the module, boots the VM once (4 GiB, KUnit off) and runs
# scripts/bench-guest.sh: foxramdisk, zram and brd under the same fio jobs and data.
# Writes results/bench/{bench.md,bench.json,bench.png,raw.jsonl}. Benchmarks are not tests.
# Measured on the bench kernel (scripts/kernel-bench.config: no lockdep or other debugging)
# unless FOXRAMDISK_KERNEL=lab is given.
export FOXRAMDISK_KERNEL=${FOXRAMDISK_KERNEL:-bench}
. "$(dirname "$0")/lib.sh"

bash "$REPO/scripts/build.sh" modules
rm -rf "$REPO/results/bench"
export VM_MEM=${VM_MEM:-4G} VM_APPEND="${VM_APPEND:-} kunit.enable=0"
exec bash "$REPO/scripts/vm.sh" \
	"FOXRAMDISK_KO='$(MODULE_DIR)/foxramdisk.ko' KERNEL_FLAVOUR=$KERNEL_FLAVOUR BENCH_RUNTIME=${BENCH_RUNTIME:-5} BENCH_SIZE_MIB=${BENCH_SIZE_MIB:-256} BENCH_DEVICES='${BENCH_DEVICES:-}' BENCH_TREE='${BENCH_TREE:-}' bash scripts/bench-guest.sh"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make profile`: builds the module, boots the VM (KUnit off) and runs
# scripts/profile-guest.sh, which profiles one fio job per device with perf. Writes
# results/profile/DEVICE-JOB-NUMJOBS.txt. See profile-guest.sh for the settings.
# Measured on the bench kernel (scripts/kernel-bench.config: no lockdep or other debugging)
# unless FOXRAMDISK_KERNEL=lab is given. With VM_ICOUNT=0 (see vm.sh) the samples count
# instructions, so two profiles compare per I/O whatever the host's load was.
export FOXRAMDISK_KERNEL=${FOXRAMDISK_KERNEL:-bench}
. "$(dirname "$0")/lib.sh"

bash "$REPO/scripts/build.sh" modules
rm -rf "$REPO/results/profile"
export VM_APPEND="${VM_APPEND:-} kunit.enable=0"
exec bash "$REPO/scripts/vm.sh" \
	"FOXRAMDISK_KO='$(MODULE_DIR)/foxramdisk.ko' KERNEL_FLAVOUR=$KERNEL_FLAVOUR PROFILE_DEVICES='${PROFILE_DEVICES:-}' PROFILE_JOB='${PROFILE_JOB:-}' PROFILE_NUMJOBS='${PROFILE_NUMJOBS:-}' PROFILE_RUNTIME='${PROFILE_RUNTIME:-}' PROFILE_SIZE_MIB='${PROFILE_SIZE_MIB:-}' PROFILE_TOP='${PROFILE_TOP:-}' PROFILE_QD='${PROFILE_QD:-}' bash scripts/profile-guest.sh"

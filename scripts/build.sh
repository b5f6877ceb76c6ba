#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the module against the lab kernel, inside the toolchain root, warnings as errors.
#   scripts/build.sh [make arguments...]    e.g. `modules`, `CLIPPY=1 modules`, `clean`
. "$(dirname "$0")/lib.sh"

bash "$REPO/scripts/lab-kernel.sh"
in_root make -s -C "$(KERNEL_DIR)" M="$REPO" LLVM=1 KCFLAGS=-Werror KRUSTFLAGS=-Dwarnings "$@"

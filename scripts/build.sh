#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the module against the lab kernel (or the $FOXRAMDISK_KERNEL flavour's, in
# MODULE_DIR), inside the toolchain root, warnings as errors.
#   scripts/build.sh [make arguments...]    e.g. `modules`, `CLIPPY=1 modules`, `clean`
. "$(dirname "$0")/lib.sh"

bash "$REPO/scripts/lab-kernel.sh"
# Another flavour's module is built from a copy of the sources in its own directory (Kbuild's
# MO= wants a source tree without the lab build's outputs).
dir=$(MODULE_DIR)
if [ "$dir" != "$REPO" ]; then
	mkdir -p "$dir"
	(cd "$REPO" && find Kbuild src -type f \( -name Kbuild -o -name '*.rs' -o -name '*.c' -o -name '*.h' \) \
		-exec cp -p --parents {} "$dir/" \;)
fi
in_root make -s -C "$(KERNEL_DIR)" M="$dir" LLVM=1 KCFLAGS=-Werror KRUSTFLAGS=-Dwarnings "$@"

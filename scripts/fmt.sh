#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rustfmt with the kernel's configuration over src/:  scripts/fmt.sh [--check]
. "$(dirname "$0")/lib.sh"

bash "$REPO/scripts/lab-kernel.sh"
mapfile -t files < <(cd "$REPO" && find src -name '*.rs' | sort)
in_root rustfmt --edition 2021 --config-path "$(KERNEL_DIR)/.rustfmt.toml" "$@" "${files[@]}"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make demo`: builds the lab and the module, boots the VM and runs scripts/demo-guest.sh.
. "$(dirname "$0")/lib.sh"

bash "$REPO/scripts/build.sh" modules
exec bash "$REPO/scripts/vm.sh" "bash scripts/demo-guest.sh"

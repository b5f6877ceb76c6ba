#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Swap at boot: scripts/foxramdisk-swap, which foxramdisk-swap.service runs, sets up swap
# from its config, tears it down, loads the module when needed, and refuses a bad config
# with a clear error, leaving nothing behind.
. "$(dirname "$0")/lib.sh"

SWAP=$REPO/scripts/foxramdisk-swap
conf=$(mktemp)
export FOXRAMDISK_SWAP_STATE
FOXRAMDISK_SWAP_STATE=$(mktemp -u)
ram=$(awk '$1 == "MemTotal:" { print $2 * 1024 }' /proc/meminfo)

# The module not loaded: start loads it (FOXRAMDISK_MODULE, else modprobe).
printf '# swap in RAM\nsize = 25%%\nalgorithm = lz4   # fast\npriority = 50\nmem_limit = 64M\n' >"$conf"
check "start: loads the module and sets up swap" env FOXRAMDISK_MODULE="$MODULE" "$SWAP" -c "$conf" start
check "the module is loaded" loaded
check_match "the device is swap, priority 50" "$(cat /proc/swaps)" '^/dev/foxramdisk0[[:space:]]+partition[[:space:]]+[0-9]+[[:space:]]+[0-9]+[[:space:]]+50$'
check_eq "disksize is 25% of RAM, in whole blocks" "$(st 0 disksize)" $(((ram / 4 + BLOCK - 1) / BLOCK * BLOCK))
check_match "the algorithm is lz4" "$(st 0 comp_algorithm)" '\[lz4\]'
check_eq "mem_limit is 64 MiB" "$(st 0 mem_limit)" $((64 << 20))
check_fails "a second start is refused" "$SWAP" -c "$conf" start
check "stop" "$SWAP" -c "$conf" stop
check_fails "the device is no longer swap" grep -q foxramdisk /proc/swaps
check_fails "the device is gone" test -e /sys/block/foxramdisk0
check "stop again does nothing, successfully" "$SWAP" -c "$conf" stop

# Loaded already (with no device), and the other size forms.
check "rmmod" unload
check "insmod (no devices)" load initial_devices_count=0
printf 'size = ram / 8\n' >"$conf"
check "start with size = ram / 8" "$SWAP" -c "$conf" start
check_eq "disksize is an eighth of RAM" "$(st 0 disksize)" $(((ram / 8 + BLOCK - 1) / BLOCK * BLOCK))
check_match "the default algorithm is lz4" "$(st 0 comp_algorithm)" '\[lz4\]'
check_match "the default swap priority is 100" "$(cat /proc/swaps)" '^/dev/foxramdisk0[[:space:]].*[[:space:]]100$'
check "stop" "$SWAP" -c "$conf" stop
printf 'size = 96M\nalgorithm = zstd\n' >"$conf"
check "start with size = 96M, zstd" "$SWAP" -c "$conf" start
check_eq "disksize is 96 MiB" "$(st 0 disksize)" $((96 << 20))
check "stop" "$SWAP" -c "$conf" stop

# bad CONFIG ERROR: start fails with ERROR on stderr and leaves no device and no swap.
bad() {
	local out
	printf '%b' "$1" >"$conf"
	out=$("$SWAP" -c "$conf" start 2>&1) && { fail "a config of '$1' is refused"; return; }
	check_match "a config of '$1' is refused: $2" "$out" "$2"
	check_fails "... and leaves no device behind" test -e /sys/block/foxramdisk0
}
bad 'size = lots\n' "size = 'lots': not a size"
bad 'size = 0%\n' 'less than 1 MiB'
bad 'algorithm = lz4\n' 'no size'
bad 'size = 64M\npriority = 99999\n' "priority = '99999': not a swap priority"
bad 'size = 64M\ncolour = blue\n' "unknown key 'colour'"
bad 'size 64M\n' "not 'key = value'"
bad 'size = 64M\nalgorithm = lz5\n' 'comp_algorithm = lz5: Invalid argument'
bad 'size = 64M\nmem_limit = much\n' "mem_limit = 'much'"
check_fails "a missing config is refused" "$SWAP" -c /nonexistent start
check_fails "no swap was left behind" grep -q foxramdisk /proc/swaps
check "check prints the settings" "$SWAP" -c "$REPO/scripts/systemd/swap.conf" check
check_match "the shipped config is valid" "$("$SWAP" -c "$REPO/scripts/systemd/swap.conf" check)" '^size [0-9]+ bytes, algorithm zstd, priority 100, mem_limit 0$'
check "shellcheck foxramdisk-swap" shellcheck "$SWAP"
rm -f "$conf" "$FOXRAMDISK_SWAP_STATE"
check "rmmod" unload
finish

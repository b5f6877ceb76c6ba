#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/foxramdiskctl: the device table, --find with size/algorithm/limit, changing a
# live device, --reset, --remove, --help, and bad arguments (non-zero exit, a message).
. "$(dirname "$0")/lib.sh"

ctl() { "$REPO/scripts/foxramdiskctl" "$@"; }

check_fails "without the module it says so and fails" ctl
check_match "  naming the cause" "$(ctl 2>&1)" 'is the foxramdisk module loaded'
check "insmod with one device" load default_capacity=4096 default_compression=lz4

check_eq "the table has zramctl-like columns" "$(ctl | head -1 | tr -s ' ')" \
	"NAME ALGORITHM DISKSIZE DATA COMPR TOTAL LIMIT MOUNTPOINT"
check_match "device 0 is listed with its algorithm and size" "$(ctl)" '^/dev/foxramdisk0 +lz4 +16M +0B '

dev=$(ctl --find --size 1G --algorithm zstd --limit 512M)
check_eq "--find prints the new device" "$dev" /dev/foxramdisk1
check_eq "  of 1 GiB" "$(blockdev --getsize64 /dev/foxramdisk1)" $((1 << 30))
check_eq "  with zstd" "$(st 1 storage_stat/compression_name)" zstd
check_eq "  and the limit" "$(cat /sys/block/foxramdisk1/mem_limit)" $((512 << 20))
yes "foxramdiskctl table line" | head -c $((4 << 20)) | dd of=/dev/foxramdisk1 bs=1M oflag=direct status=none
mkswap -q /dev/foxramdisk0 >/dev/null && swapon /dev/foxramdisk0
out=$(ctl)
check_match "the table shows data, compressed size, total and limit" "$out" \
	'^/dev/foxramdisk1 +zstd +1G +4M +[0-9.]+K +[0-9.]+[KM] +512M *$'
check_match "swap shows as [SWAP]" "$out" '^/dev/foxramdisk0 .*\[SWAP\]$'
check_match "--bytes prints bytes" "$(ctl --bytes /dev/foxramdisk1)" "^/dev/foxramdisk1 +zstd +1073741824 +4194304 "
check_eq "--noheadings drops the header" "$(ctl -n | wc -l)" 2
check_match "--reset of swap in use fails" "$(ctl --reset 0 2>&1 | tr '\n' ' '; echo "rc=${PIPESTATUS[0]}")" 'busy.*rc=1'
check_match "--remove of swap in use fails" "$(ctl --remove foxramdisk0 2>&1 | tr '\n' ' '; echo "rc=${PIPESTATUS[0]}")" 'busy.*rc=1'
swapoff /dev/foxramdisk0

check "changing a live device: -a lz4hc -s 2G" ctl -a lz4hc -s 2G /dev/foxramdisk1
check_match "  shows in the table" "$(ctl foxramdisk1)" '^/dev/foxramdisk1 +lz4hc +2G +4M '
check_eq "  and the data is still there" "$(dev_sha /dev/foxramdisk1 0 1024)" \
	"$(yes "foxramdiskctl table line" | head -c $((4 << 20)) | sha256sum | cut -d' ' -f1)"
check "--reset" ctl --reset /dev/foxramdisk1
check_match "  empties it" "$(ctl -b 1)" '^/dev/foxramdisk1 +lz4hc +2147483648 +0 +0 '
check "--remove two devices" ctl --remove 1 /dev/foxramdisk0
check_eq "  none left" "$(ctl -n)" ""

# --help names every option the admin guide documents.
help=$(ctl --help)
for o in --find --size --algorithm --limit --reset --remove --bytes --noheadings --help; do
	check_match "--help documents $o" "$help" "$o"
done
for o in $(printf '%s\n' "$help" | grep -oE -- '--[a-z]+' | sort -u); do
	check_match "the admin guide documents $o" "$(cat "$REPO/Documentation/admin-guide.rst")" "$o"
done

# Bad arguments: exit 2 for usage, 1 for failures, always a message.
rc() { "$@" >/dev/null 2>/tmp/ctl-err; echo "$? $(head -c 80 /tmp/ctl-err)"; }
check_match "unknown option: exit 2" "$(rc ctl --bogus)" "^2 .*unknown option"
check_match "--size without a value: exit 2" "$(rc ctl --find --size)" "^2 .*needs a value"
check_match "--reset without a device: exit 2" "$(rc ctl --reset)" "^2 .*needs a device"
check_match "a device that is not one: exit 2" "$(rc ctl --reset /dev/sda)" "^2 .*not a foxramdisk device"
check_match "a missing device: exit 1" "$(rc ctl --remove 9)" "^1 .*no such device"
check_match "-s without a device: exit 2" "$(rc ctl -s 1G)" "^2 "
check_match "--find with a bad size: exit 1, the kernel's reason" "$(rc ctl --find --size 12X)" "^1 .*Invalid argument"
check_match "--find with a bad algorithm: exit 1" "$(rc ctl --find -a lz5)" "^1 .*Invalid argument"
check_eq "failed --find leaves no device behind" "$(ls /sys/block | grep -c '^foxramdisk')" 0
check "shellcheck is clean" shellcheck "$REPO/scripts/foxramdiskctl"
check "rmmod" unload
rm -f /tmp/ctl-err
finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ext4 on the device: a copied tree survives umount, fsck and remount; the module cannot
# be removed while the filesystem is mounted.
. "$(dirname "$0")/lib.sh"

mnt=$(mktemp -d)
src=/usr/include
tree_sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

check "insmod (128 MiB)" load default_capacity=32768
check "mkfs.ext4" mkfs.ext4 -q -F -b 4096 $DEV
check "mount" mount -t ext4 $DEV "$mnt"
check "copy a directory tree ($src)" cp -a "$src/." "$mnt/"
want=$(tree_sums "$src" | sha256sum)
check_eq "checksums equal while mounted" "$(tree_sums "$mnt" | sha256sum)" "$want"

check_fails "rmmod while mounted is refused" rmmod foxramdisk
check "the module is still loaded" loaded

check "umount" umount "$mnt"
check "fsck.ext4 -fn is clean" fsck.ext4 -fn $DEV
check "remount" mount -t ext4 $DEV "$mnt"
check_eq "checksums equal after remount" "$(tree_sums "$mnt" | sha256sum)" "$want"
check_eq "file count equal" "$(find "$mnt" -type f | wc -l)" "$(find "$src" -type f | wc -l)"
check "umount" umount "$mnt"
check "rmmod after umount" unload
check_fails "the module is gone" loaded
rmdir "$mnt"
finish

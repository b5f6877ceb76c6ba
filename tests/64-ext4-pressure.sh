#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A filesystem writer while a hog holds all but about 100 MiB of the guest's memory (and,
# on the debug kernel, what KASAN's quarantine may hold): the device's allocations wait for
# reclaim instead of failing, so no write fails, fsck finds nothing, and every file reads
# back as written.
. "$(dirname "$0")/lib.sh"

check "insmod (1 GiB, zstd)" load default_capacity=262144 default_compression=zstd
check "mkfs.ext4" mkfs.ext4 -q -F $DEV
mnt=$(mktemp -d)
check "mount" mount $DEV "$mnt"
hog=$(mktemp -d)
mount -t ramfs ramfs "$hog"
avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
dd if=/dev/zero of="$hog/pinned" bs=1M count=$((avail - 100 - $(kasan_quarantine_mib))) status=none
diag "MemAvailable $(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo) MiB with the hog"
# 160 MiB in 40 files of half text, half random bytes (about 80 MiB stored), written and
# synced one by one; the sums of what was written go to sums.
sums=$(mktemp)
out=$(python3 - "$mnt" "$sums" <<'PY' 2>&1
import hashlib, os, random, sys

mnt, sums = sys.argv[1], sys.argv[2]
with open(sums, "w") as out:
    for f in range(40):
        rnd = random.Random(f)
        h = hashlib.sha256()
        with open(os.path.join(mnt, "f%02d" % f), "wb") as fh:
            for b in range(1024):
                text = (b"file %02d block %04d; " % (f, b)) * 110
                block = text[:2048] + rnd.randbytes(2048)
                h.update(block)
                fh.write(block)
            fh.flush()
            os.fsync(fh.fileno())
        out.write("%s  %s\n" % (h.hexdigest(), os.path.join(mnt, "f%02d" % f)))
print("written")
PY
)
check_eq "the writer finishes" "$out" "written"
umount "$hog"
rmdir "$hog"
check_eq "no write failed" "$(st 0 io_counters/failed_writes) $(awk '{ print $2 }' /sys/block/foxramdisk0/io_stat)" "0 0"
check "umount" umount "$mnt"
check "fsck -fn is clean" fsck.ext4 -fn $DEV
check "mount again" mount $DEV "$mnt"
echo 3 >/proc/sys/vm/drop_caches
check "every file reads back as written" sha256sum -c --quiet "$sums"
check "umount" umount "$mnt"
rm -f "$sums"
rmdir "$mnt"
check "rmmod" unload
finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Writeback to a backing store, with zram's ABI: `backing_dev` takes a regular file or a
# block device (only while the device holds no data); `writeback` writes the blocks its
# mode selects (idle, huge, huge_idle, incompressible, page_index=, page_indexes=) there
# and frees their memory; `writeback_limit(_enable)` bound it; `bd_stat` counts. Every
# block reads back as written, from a file, from a loop device and under ext4; compressed
# blocks are packed by 512-byte sectors into 4 KiB backing units, raw ones take a unit each;
# overwrite, discard and reset give the units back when their last block goes; a backing store that fails (device
# mapper's error target) fails only the reads of its blocks, counted; one that stalls holds
# up no other read, since a worker waits for it; blocks that share their data (dedup) are
# written back one by one, and their object freed with the last; swap on a device
# with a backing file, written back under memory pressure, keeps its data.
. "$(dirname "$0")/lib.sh"

A=/sys/block/foxramdisk0
# bd COUNT|READS|WRITES: a field of bd_stat.
bd() {
	local f
	read -r -a f <$A/bd_stat
	case $1 in count) echo "${f[0]}" ;; reads) echo "${f[1]}" ;; writes) echo "${f[2]}" ;; esac
}
compressed() { st 0 storage_stat/compressed_data_size; }
raw_count() { st 0 storage_stat/raw_blocks_count; }
compressed_blocks() { st 0 storage_stat/compressed_blocks_count; }
# Device mapper without udev: dmsetup makes the nodes itself.
export DM_DISABLE_UDEV=1
WORK=$(mktemp -d)
mount -t tmpfs tmpfs "$WORK"

check "insmod (64 MiB, lz4)" load default_capacity=16384 default_compression=lz4
check_eq "writeback is write-only" "$(stat -c %a $A/writeback)" 200
check_eq "backing_dev is 0644" "$(stat -c %a $A/backing_dev)" 644
check_eq "no backing store at first" "$(cat $A/backing_dev)" none
check_eq "bd_stat is zram's three fields, all 0" "$(cat $A/bd_stat)" "       0        0        0"
check_eq "writeback_limit_enable is 0" "$(cat $A/writeback_limit_enable)" 0

# Bad input changes nothing.
check_match "writeback without a backing store: ENODEV" "$(sysfs_write idle $A/writeback)" 'No such device'
truncate -s 0 "$WORK/empty"
truncate -s 32M "$WORK/back"
for v in "$WORK/missing:No such file" "$WORK:Is a directory" "/dev/null:Block device required" \
	"$WORK/empty:Invalid argument" "$DEV:Too many levels" ":Invalid argument"; do
	check_match "backing_dev refuses ${v%%:*}" "$(sysfs_write "${v%%:*}" $A/backing_dev)" "${v#*:}"
done
exec 7>>"$WORK/back"
check_match "backing_dev refuses a file open for writing elsewhere" \
	"$(sysfs_write "$WORK/back" $A/backing_dev)" 'busy'
exec 7>&-
check_eq "  and still has none" "$(cat $A/backing_dev)" none
check "backing_dev takes a file" sysfs_write "$WORK/back" $A/backing_dev
check_eq "  and shows it" "$(cat $A/backing_dev)" "$WORK/back"
for v in "" cold type=cold "type=" page_index=x page_index=16384 page_indexes=5 \
	page_indexes=5-3 page_indexes=1-16384 "type=idle colour=red"; do
	check_match "writeback refuses '$v'" "$(sysfs_write "$v" $A/writeback)" 'Invalid argument|Numerical result'
done
for v in "" x -1; do
	check_match "writeback_limit refuses '$v'" "$(sysfs_write "$v" $A/writeback_limit)" 'Invalid argument'
done
for v in "" 2 yes; do
	check_match "writeback_limit_enable refuses '$v'" \
		"$(sysfs_write "$v" $A/writeback_limit_enable)" 'Invalid argument'
done

# 16 MiB: half text, half random blocks, written with lz4; all marked idle; the first
# 1024 blocks read back, so that only the other 3072 stay idle. A text block compresses
# below 512 bytes (checked), so eight share a backing unit.
python3 - "$WORK/data" <<'PY'
import random, sys
r = random.Random(7)
with open(sys.argv[1], "wb") as f:
    for i in range(4096):
        if i % 2:
            f.write(r.randbytes(4096))
        else:
            line = b"block %05d, text that compresses; " % i
            f.write((line * 120)[:4096])
PY
data_sha=$(file_sha "$WORK/data")
check "write 16 MiB" dd if="$WORK/data" of=$DEV bs=1M oflag=direct status=none
check_match "backing_dev is refused while the device holds data" \
	"$(sysfs_write "$WORK/back" $A/backing_dev)" 'busy'
check "idle: all" sysfs_write all $A/idle
check "read the first 1024 blocks" dd if=$DEV of=/dev/null bs=$BLOCK count=1024 iflag=direct status=none
used_before=$(st 0 storage_stat/mem_used_total)
compressed_before=$(compressed)
raw_before=$(raw_count)
check "  a text block takes one sector" test "$compressed_before" -le $((2048 * 511))
check "writeback idle" sysfs_write idle $A/writeback
# Batches of 32 blocks, 16 text and 16 random: 2 shared units and 16 raw ones each, 96
# batches.
check_eq "bd_stat: 1728 units on the file, 1728 written" "$(bd count) $(bd writes)" "1728 1728"
check_eq "  of which the raw are gone from memory" "$(raw_count)" $((raw_before - 1536))
check "  the compressed data is down by their share" \
	test "$(compressed)" -lt $((compressed_before * 30 / 100))
used_after=$(st 0 storage_stat/mem_used_total)
# 1536 raw pages and the text's objects: at least the raw pages' memory is freed.
check "  and mem_used_total dropped by at least 1536 pages" \
	test $((used_before - used_after)) -ge $((1536 * 4096)) ||
	diag "before $used_before, after $used_after"
check_eq "every block reads back" "$(dev_sha $DEV 0 4096)" "$data_sha"
check_eq "  3072 of them from the file, a unit each" "$(bd reads)" 3072
check "writeback idle again: nothing is idle" sysfs_write idle $A/writeback
check_eq "  and nothing more was written" "$(bd writes)" 1728

# Overwrite and discard give a unit back when its last block goes.
overwrite() { dd if=/dev/urandom of=$DEV bs=$BLOCK seek="$1" count="$2" oflag=direct status=none; }
check "overwrite block 1024 (text)" overwrite 1024 1
check_eq "  its unit stays, for the 7 other text blocks in it" "$(bd count)" 1728
check "overwrite block 1025 (random)" overwrite 1025 1
check_eq "  its unit is given back" "$(bd count)" 1727
check "overwrite blocks 1026-1038: the 7 other text blocks and 6 random" overwrite 1026 13
check_eq "  7 units are given back" "$(bd count)" 1720
check "discard blocks 2048-4095" blkdiscard -f -o $((2048 * BLOCK)) -l $((2048 * BLOCK)) $DEV
check_eq "  theirs too: 128 shared units and 1024 raw" "$(bd count)" 568
check_match "backing_dev none is refused while blocks are written back" \
	"$(sysfs_write none $A/backing_dev)" 'busy'
check "reset" sysfs_write 1 $A/reset
check_eq "reset gives every unit back, and restarts bd_stat" "$(cat $A/bd_stat)" "       0        0        0"
check_eq "  and keeps the backing store" "$(cat $A/backing_dev)" "$WORK/back"

# huge, page_index, page_indexes, and the limit.
check "write 16 MiB again" dd if="$WORK/data" of=$DEV bs=1M oflag=direct status=none
check "writeback huge" sysfs_write huge $A/writeback
check_eq "  writes the 2048 raw blocks, a unit each" "$(bd count) $(raw_count)" "2048 0"
check "writeback page_index=0 page_index=2 page_indexes=10-19" \
	sysfs_write "page_index=0 page_index=2 page_indexes=10-19" $A/writeback
# Each page_index and page_indexes is a writeback of its own: blocks 0, 2 and 10-18.
check_eq "  writes those 7 compressed blocks, in three units" "$(bd count)" 2051
# The limit counts units written. With the raw blocks gone, a batch is 32 text blocks in
# 4 units: the first batch takes 4 of the 5, the second one more (8 blocks) and stops.
check "writeback_limit 5" sysfs_write 5 $A/writeback_limit
check "writeback_limit_enable 1" sysfs_write 1 $A/writeback_limit_enable
check "idle: all" sysfs_write all $A/idle
check_match "writeback idle stops with EIO at the limit" "$(sysfs_write idle $A/writeback)" 'Input/output error'
check_eq "  after 5 units" "$(bd count) $(cat $A/writeback_limit)" "2056 0"
check_eq "  holding 40 blocks" "$(compressed_blocks)" $((2048 - 7 - 40))
check "writeback_limit_enable 0" sysfs_write 0 $A/writeback_limit_enable
check "writeback type=huge_idle" sysfs_write type=huge_idle $A/writeback
check "writeback incompressible" sysfs_write incompressible $A/writeback
check_eq "  neither writes anything: no raw block is left" "$(bd writes)" 2056
check "writeback type=idle" sysfs_write type=idle $A/writeback
# 2001 text blocks: 62 batches of 32 in 4 units, and 17 in 3.
check_eq "  takes the rest, in 251 units" "$(bd count) $(compressed_blocks)" "2307 0"
check_eq "every block reads back" "$(dev_sha $DEV 0 4096)" "$data_sha"
check "reset" sysfs_write 1 $A/reset
check "backing_dev none" sysfs_write none $A/backing_dev
check_eq "  shows none" "$(cat $A/backing_dev)" none

# A block device: a loop device over a file.
truncate -s 32M "$WORK/loop-back"
loop=$(losetup -f --show "$WORK/loop-back")
check "backing_dev takes a loop device" sysfs_write "$loop" $A/backing_dev
check_fails "  which is then held exclusively" mkfs.ext4 -q -F "$loop"
check "write 16 MiB" dd if="$WORK/data" of=$DEV bs=1M oflag=direct status=none
check "idle: all" sysfs_write all $A/idle
check "writeback idle" sysfs_write idle $A/writeback
check_eq "  4096 blocks on the device, in 2048 + 2048 / 8 units" "$(bd count)" 2304
check_eq "every block reads back from it" "$(dev_sha $DEV 0 4096)" "$data_sha"

# ext4 on the device, its files written back while mounted, read back after a remount.
check "reset" sysfs_write 1 $A/reset
check "mkfs.ext4" mkfs.ext4 -q -F $DEV
check "mount" mount $DEV /mnt
cp -a /usr/include/linux /mnt/
sums=$(tree_sums /mnt/linux)
sync
check "idle: all" sysfs_write all $A/idle
check "writeback idle under a mounted filesystem" sysfs_write idle $A/writeback
check "  wrote blocks" test "$(bd count)" -gt 1000
check_remount_tree /mnt/linux "$sums"
check "reset" sysfs_write 1 $A/reset
check "backing_dev none" sysfs_write none $A/backing_dev
losetup -d "$loop"

# Blocks that share their data (dedup): each is written back on its own, and the shared
# object is freed with the last block that refers to it. 64 distinct text blocks, each at
# four places.
check "backing_dev takes the file again" sysfs_write "$WORK/back" $A/backing_dev
check "dedup on" sysfs_write 1 $A/dedup
meta_free() { echo $(($(st 0 storage_stat/mem_used_total) - $(st 0 storage_stat/meta_data_size))); }
fresh=$(meta_free)
fresh_meta=$(st 0 storage_stat/meta_data_size)
head -c $((64 * BLOCK)) "$WORK/data" | python3 -c '
import sys
data = sys.stdin.buffer.read()
text = b"".join(data[i * 8192:][:4096] for i in range(32))
sys.stdout.buffer.write(text * 8)' >"$WORK/copies"
copies_sha=$(file_sha "$WORK/copies")
check_eq "the data: 8 copies of 32 blocks" "$(stat -c %s "$WORK/copies")" $((256 * BLOCK))
check "write 256 blocks: 32 text blocks at eight places" \
	dd if="$WORK/copies" of=$DEV bs=64K oflag=direct status=none
check_eq "  the copies share: 7 of 8 saved" "$(st 0 storage_stat/dup_data_size)" \
	$((7 * $(compressed) / 8))
check "writeback page_indexes=0-127" sysfs_write page_indexes=0-127 $A/writeback
check_eq "  writes 128 blocks, 8 to a unit" "$(bd count)" 16
check_eq "  the others still share: 3 of 4 saved" "$(st 0 storage_stat/dup_data_size)" \
	$((3 * $(compressed) / 4))
check "writeback page_indexes=128-255" sysfs_write page_indexes=128-255 $A/writeback
check_eq "  writes the other 128" "$(bd count)" 32
check_eq "  nothing is shared or compressed any more" \
	"$(st 0 storage_stat/dup_data_size) $(compressed_blocks)" "0 0"
check_eq "  and the objects are freed" "$(meta_free)" "$fresh"
check_eq "  and the index's entries: the metadata is a fresh device's and one table chunk" \
	"$(st 0 storage_stat/meta_data_size)" $((fresh_meta + 4096))
check_eq "every block reads back" "$(dev_sha $DEV 0 256)" "$copies_sha"
check "reset" sysfs_write 1 $A/reset
check "dedup off" sysfs_write 0 $A/dedup
check "backing_dev none" sysfs_write none $A/backing_dev

# A backing store that fails: device mapper's linear target over a loop device, then its
# first 256 units switched to the error target. Random data, a unit per block, so that
# exactly the first 256 blocks are on the failing part.
head -c $((4096 * BLOCK)) /dev/urandom >"$WORK/random"
random_sha=$(file_sha "$WORK/random")
loop=$(losetup -f --show "$WORK/loop-back")
sectors=$(blockdev --getsz "$loop")
dmsetup create fbk-back --table "0 $sectors linear $loop 0"
check "backing_dev takes a device-mapper device" sysfs_write /dev/mapper/fbk-back $A/backing_dev
check "write 16 MiB of random data" dd if="$WORK/random" of=$DEV bs=1M oflag=direct status=none
check "writeback page_indexes=0-1023" sysfs_write page_indexes=0-1023 $A/writeback
check_eq "  1024 blocks on it" "$(bd count)" 1024
dmsetup suspend fbk-back
printf '0 2048 error\n2048 %d linear %s 2048\n' $((sectors - 2048)) "$loop" | dmsetup load fbk-back
dmsetup resume fbk-back
failed_before=$(st 0 io_counters/failed_reads)
bad=0
for i in $(seq 0 255); do
	dd if=$DEV of=/dev/null bs=$BLOCK skip="$i" count=1 iflag=direct status=none 2>/dev/null && bad=$((bad + 1))
done
check_eq "the 256 blocks on the failing part read as EIO" "$bad" 0
check_eq "  each counted in failed_reads" "$(st 0 io_counters/failed_reads)" $((failed_before + 256))
check_eq "every other block reads back" "$(dev_sha $DEV 256 3840)" \
	"$(tail -c $((3840 * BLOCK)) "$WORK/random" | sha256sum | cut -d' ' -f1)"
check "overwrite the failed blocks" dd if="$WORK/random" of=$DEV bs=$BLOCK count=256 oflag=direct status=none
check_eq "  which then read back" "$(dev_sha $DEV 0 4096)" "$random_sha"

# A backing store that stalls holds up nothing else: a read of a written-back block is
# served by a worker, which waits for the backing store holding no compression context.
# With the device-mapper device suspended (it queues its I/O until it resumes), a read
# of a written-back text block stays in flight while reads of compressed blocks in RAM, on
# the same CPU, complete.
dmsetup suspend fbk-back
dmsetup load fbk-back --table "0 $sectors linear $loop 0"
dmsetup resume fbk-back
check "write 16 MiB, half text" dd if="$WORK/data" of=$DEV bs=1M oflag=direct status=none
check "writeback page_indexes=0-1023" sysfs_write page_indexes=0-1023 $A/writeback
in_flight() { read -r r _ <$A/inflight && echo "$r"; }
# block_sha N: the sha256 of block N of the data written.
block_sha() { dd if="$WORK/data" bs=$BLOCK skip="$1" count=1 status=none | sha256sum | cut -d' ' -f1; }
dmsetup suspend fbk-back
taskset -c 0 dd if=$DEV of="$WORK/held" bs=$BLOCK skip=2 count=1 iflag=direct status=none &
held=$!
for _ in $(seq 600); do [ "$(in_flight)" = 1 ] && break; sleep 0.1; done
check_eq "a read of a written-back block waits while the backing store is suspended" "$(in_flight)" 1
# A read that waited for the first would sleep uninterruptibly until the backing store
# resumes: it runs in the background, and is given two minutes (it needs a second or two).
taskset -c 0 dd if=$DEV of=/dev/null bs=$BLOCK skip=1024 count=1024 iflag=direct status=none &
ram=$!
for _ in $(seq 1200); do kill -0 $ram 2>/dev/null || break; sleep 0.1; done
check_fails "  while 1024 compressed blocks in RAM read on the same CPU" kill -0 $ram
check_eq "  and the first read is still waiting" "$(in_flight)" 1
dmsetup resume fbk-back
check "  the reads of RAM succeeded" wait $ram
check "  the first ends once the backing store resumes" wait $held
check_eq "  with the block's data" "$(file_sha "$WORK/held")" "$(block_sha 2)"
# Direct reads into a buffer that is not page-aligned: a written-back block then spans two
# pages of the request, and is read through the compression context's buffer.
unaligned() {
	python3 - "$DEV" "$1" <<'PY'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 3 * 4096)
view = memoryview(buf)[512:512 + 2 * 4096]
if os.preadv(fd, [view], int(sys.argv[2]) * 4096) != 2 * 4096:
    sys.exit("short read")
sys.stdout.buffer.write(view)
PY
}
check_eq "a text and a random block written back, read into an unaligned buffer" \
	"$(unaligned 4 | sha256sum | cut -d' ' -f1)" \
	"$(dd if="$WORK/data" bs=$BLOCK skip=4 count=2 status=none | sha256sum | cut -d' ' -f1)"
check_eq "every block reads back" "$(dev_sha $DEV 0 4096)" "$data_sha"
check "reset" sysfs_write 1 $A/reset
check "backing_dev none" sysfs_write none $A/backing_dev
dmsetup remove fbk-back
losetup -d "$loop"
check "rmmod" unload

# Swap with a backing file under memory pressure. The file is on ramfs, which is never
# swapped (a swapped backing file would be read back through the device it backs). Half
# the walker's pages are random, stored raw: `writeback huge` moves them, and few of the
# other programs' pages, to the file, which takes what it frees.
check "insmod (1 GiB, lz4)" load default_capacity=262144 default_compression=lz4
ballast=$(mktemp -d)
mount -t ramfs ramfs "$ballast"
truncate -s 256M "$ballast/back"
check "backing_dev on ramfs" sysfs_write "$ballast/back" $A/backing_dev
check "mkswap" mkswap $DEV
check "swapon" swapon $DEV
# The walker (tests/walker.py) locks what it has mapped, the shell pins memory, and the
# walker fills 1.5 times what is left; the raw pages are written back while it is swapped
# out, then it walks the set twice and checks it. 240 MiB left: what the test left when it
# pinned before the walker had locked its pages (250 MiB less the walker's ~13); with 250
# after, half its set being raw, a full run saw 41 swap-outs fail for want of memory.
start_walker "$ballast" alternate 240 "$WORK/walker.out"
# How much is swapped out when the writeback starts depends on reclaim: the checks below
# take it from the raw blocks then, not from the set's size.
raw_before=$(raw_count)
check "writeback huge, while swapped out" sysfs_write huge $A/writeback
[ -n "$need" ] && echo walk >"$ballast/walk"
wait "$walker"
written=$(bd count)
check "  the set's random pages were swapped out raw (at least 1/32 of the set)" \
	test "$raw_before" -ge $((${need:-0} * 8)) || diag "$raw_before raw blocks, working set $need MiB"
check "  and at least 90% of the raw blocks were written to the file" \
	test "$(bd writes)" -ge $((raw_before * 9 / 10)) ||
	diag "bd_stat $(cat $A/bd_stat), $raw_before raw blocks before, working set $need MiB"
check_match "the working set (${need:-?} MiB) finishes with its data intact" "$(cat "$WORK/walker.out")" \
	"^${need:-none} MiB, 0 bad chunks$"
check "  and pages were read back from the file" test "$(bd reads)" -gt 0
read -r failed_reads failed_writes _ <<<"$(st 0 io_stat)"
check_eq "no failed swap-in or swap-out" "$failed_reads $failed_writes" "0 0"
check "swapoff" swapoff $DEV
check "  freed slots give their backing blocks back" test "$(bd count)" -lt "$written" ||
	diag "bd_stat $(cat $A/bd_stat)"
check "rmmod" unload
umount "$ballast"
rmdir "$ballast"
umount "$WORK"
rmdir "$WORK"
finish

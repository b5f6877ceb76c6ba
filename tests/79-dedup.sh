#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Deduplication (the dedup attribute, on by default): blocks whose data is stored already
# share its object. The same data at four offsets, three copies of a tree on ext4, fio with verify
# over duplicate data and overwrites, swap: all read back intact, cost less than on zram
# (the control, in the same VM), and give all their memory back on discard and reset.
. "$(dirname "$0")/lib.sh"

A=/sys/block/foxramdisk0
mem() { st "$1" storage_stat/mem_used_total; }
dup() { st "$1" storage_stat/dup_data_size; }
zram_mem() { awk '{ print $3 }' /sys/block/zram0/mm_stat; }
# within4k A B: whether A and B are at most 4 KiB apart.
within4k() { [ $(($1 - $2)) -le 4096 ] && [ $(($2 - $1)) -le 4096 ]; }
# back_to ID BYTES: whether device ID's memory comes back within 4 KiB of BYTES in 30 s
# (the table chunks a discard empties are freed by a work item, soon after).
back_to() {
	local now
	for _ in $(seq 300); do
		now=$(mem "$1")
		within4k "$now" "$2" && return 0
		sleep 0.1
	done
	diag "mem_used_total $now bytes, expected $2"
	return 1
}

check "insmod (2 devices of 256 MiB, lz4)" load initial_devices_count=2 default_capacity=65536 default_compression=lz4
check "modprobe zram" modprobe zram num_devices=1
check "zram: lz4, 256 MiB" sh -c "echo lz4 >/sys/block/zram0/comp_algorithm && echo 256M >/sys/block/zram0/disksize"

# The attribute.
check_eq "dedup is on by default" "$(cat $A/dedup) $(cat /sys/block/foxramdisk1/dedup)" "1 1"
check_eq "dedup is 0644" "$(stat -c %a $A/dedup)" 644
for bad in 2 -1 yes "" 0x2 "1 1" 18446744073709551617; do
	check_match "dedup refuses '$bad' with EINVAL" "$(sysfs_write "$bad" $A/dedup)" 'Invalid argument'
done
check_eq "  and stays on" "$(cat $A/dedup)" 1
check "dedup can be switched off" sysfs_write 0 $A/dedup
check_eq "  it reads 0" "$(cat $A/dedup)" 0
check "dedup can be switched on" sysfs_write 1 $A/dedup
check_eq "  it reads 1" "$(cat $A/dedup)" 1
check "dedup off on foxramdisk1, the device to compare with" sysfs_write 0 /sys/block/foxramdisk1/dedup
check_eq "mm_stat has zram's nine fields and dup_data_size, meta_data_size" "$(awk '{ print NF }' $A/mm_stat)" 11
check_eq "  dup_data_size is 0 on an empty device" "$(awk '{ print $10 }' $A/mm_stat)" 0
check_eq "  meta_data_size = storage_stat/meta_data_size" "$(awk '{ print $11 }' $A/mm_stat)" "$(st 0 storage_stat/meta_data_size)"
fresh=$(mem 0)
fresh1=$(mem 1)

# The same 24 MiB of real data (a tar stream of programs and libraries) at four offsets:
# on foxramdisk with dedup, on foxramdisk without (device 1), and on zram.
tar cf - /usr/lib /usr/bin 2>/dev/null | head -c $((24 << 20)) >/tmp/dd-data
check_eq "24 MiB of real data" "$(stat -c %s /tmp/dd-data)" $((24 << 20))
data_sha=$(file_sha /tmp/dd-data)
for dev in foxramdisk0 foxramdisk1 zram0; do
	for off in 0 40 100 200; do
		dd if=/tmp/dd-data of=/dev/$dev bs=1M seek=$off oflag=direct status=none
	done
done
on=$(($(mem 0) - fresh))
off=$(($(mem 1) - fresh1))
zram=$(zram_mem)
echo "# 24 MiB at four offsets: foxramdisk dedup $on bytes, without $off, zram $zram; dup_data_size $(dup 0)"
check "  dedup stores it once: at most 0.35x zram's memory" test $((on * 100)) -le $((zram * 35))
check "  and at most 0.35x the memory without dedup" test $((on * 100)) -le $((off * 35))
# Without dedup, the same data is compressed to the same bytes: three of the four copies'
# compressed size is what sharing saved.
compr1=$(awk '{ print $2 }' /sys/block/foxramdisk1/mm_stat)
check "  dup_data_size is three copies' compressed size ($(dup 0) vs 3/4 of $compr1)" \
	test $(($(dup 0) * 100)) -ge $((compr1 * 3 * 98 / 4))
check "discard the copies on foxramdisk1 and zram" sh -c "blkdiscard /dev/foxramdisk1 && blkdiscard /dev/zram0"
for off in 0 40 100 200; do
	check_eq "  copy at $off MiB reads back" "$(dd if=$DEV bs=1M skip=$off count=24 iflag=direct status=none | sha256sum | cut -d' ' -f1)" "$data_sha"
done
# Overwrite one copy with other data: the others stay, and the shared objects with them.
check "overwrite the copy at 40 MiB" dd if=/dev/urandom of=$DEV bs=1M seek=40 count=24 oflag=direct status=none
check_eq "  the copy at 100 MiB still reads back" "$(dd if=$DEV bs=1M skip=100 count=24 iflag=direct status=none | sha256sum | cut -d' ' -f1)" "$data_sha"
check "blkdiscard of the whole device" blkdiscard $DEV
check "  memory is back within 4 KiB of a fresh device" back_to 0 "$fresh"
check_eq "  dup_data_size is 0" "$(dup 0)" 0
rm -f /tmp/dd-data

# ext4 holding three copies of the same tree.
check "mkfs.ext4" mkfs.ext4 -q $DEV
check "mount" mount $DEV /mnt
sums=$(tree_sums /usr/include/linux)
for copy in 1 2 3; do
	cp -a /usr/include/linux /mnt/copy$copy
done
sync
check "  three copies written" test -d /mnt/copy3
check "umount" umount /mnt
check "fsck.ext4 -fn: clean" fsck.ext4 -fn $DEV
check "mount again" mount $DEV /mnt
for copy in 1 2 3; do
	check_eq "  copy $copy is the tree" "$(tree_sums /mnt/copy$copy)" "$sums"
done
check "umount" umount /mnt
shared=$(dup 0)
echo "# ext4 with three copies of /usr/include/linux: dup_data_size $shared bytes, mem_used_total $(mem 0)"
check "  the copies share their blocks (dup_data_size > 0)" test "$shared" -gt 0
check "reset" sysfs_write 1 $A/reset
check "  memory is back within 4 KiB of a fresh device" within4k "$(mem 0)" "$fresh"
check_eq "  dedup stays on after a reset" "$(cat $A/dedup)" 1

# fio with verify, two jobs, on fio's own duplicate data, then overwritten in random
# order: every block checked after each pass.
fio_pass() {
	local seed=$1 out rc
	out=$(fio --name=dedup --filename=$DEV --direct=1 --ioengine=psync --rw=randwrite --bs=4k \
		--numjobs=2 --size=32M --offset_increment=32M --dedupe_percentage=50 \
		--buffer_compress_percentage=50 --refill_buffers --randseed="$seed" \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 --group_reporting 2>&1)
	rc=$?
	check_eq "fio dedupe_percentage=50 pass $seed: exits 0" "$rc" 0
	check_fails "  fio reports no verify error" grep -qiE 'verify.*(bad|fail)|crc32c: (wanted|got)' <<<"$out"
}
fio_pass 1
fio_pass 2
check "blkdiscard" blkdiscard $DEV
# fio's verify headers make every block unique; a pattern longer than a word gives blocks
# that are all the same, and not same-filled: all share one object.
out=$(fio --name=pattern --filename=$DEV --direct=1 --ioengine=psync --rw=randwrite --bs=4k \
	--numjobs=2 --size=16M --offset_increment=16M --verify=pattern \
	--verify_pattern=0x0123456789abcdeffedcba98765432100011223344 --do_verify=1 \
	--verify_fatal=1 --verify_state_save=0 --group_reporting 2>&1)
check_eq "fio verify=pattern over 32 MiB, two jobs: exits 0" "$?" 0
check_fails "  fio reports no verify error" grep -qiE 'verify.*(bad|fail)' <<<"$out"
compr=$(st 0 storage_stat/compressed_data_size)
check "  8192 equal blocks share their data: dup_data_size $(dup 0) is 8191/8192 of $compr, give or take" \
	test $(($(dup 0) * 100)) -ge $((compr * 98)) -a "$(dup 0)" -lt "$compr"
check_eq "no failed reads or writes" "$(st 0 io_counters/failed_reads) $(st 0 io_counters/failed_writes)" "0 0"
check "blkdiscard" blkdiscard $DEV
check "  memory is back within 4 KiB of a fresh device" back_to 0 "$fresh"

# Swap with dedup on: a process larger than the memory left to it, whose pages repeat.
ballast=$(mktemp -d)
mount -t ramfs ramfs "$ballast"
avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
dd if=/dev/zero of="$ballast/pinned" bs=1M count=$((avail - 160)) status=none
check "mkswap and swapon" sh -c "mkswap $DEV >/dev/null && swapon $DEV"
need=$(($(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo) + 150))
rm -f /tmp/dd-ready /tmp/dd-go
touch /tmp/dd-go
python3 - "$need" >/tmp/dd-out 2>&1 <<'PY' &
import os, sys, time

def chunk(i):
    line = b"chunk %08d of a process larger than memory; " % (i % 8)
    return (line * (1048576 // len(line) + 1))[:1048576]

mib = int(sys.argv[1])
chunks = [bytearray(chunk(i)) for i in range(mib)]
bad = sum(1 for i, c in enumerate(chunks) if c != chunk(i))
print("%d MiB, %d bad chunks" % (mib, bad), flush=True)
open("/tmp/dd-ready", "w").close()
while os.path.exists("/tmp/dd-go"):
    time.sleep(0.1)
PY
pid=$!
for _ in $(seq 1200); do
	[ -e /tmp/dd-ready ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.5
done
swapped_dup=$(dup 0)
swap_used=$(awk 'NR > 1 { n += $4 } END { print n * 1024 }' /proc/swaps)
rm -f /tmp/dd-go
wait $pid
check_match "the process completes with its data intact" "$(cat /tmp/dd-out)" '^[0-9]+ MiB, 0 bad chunks$'
echo "# swap: $swap_used bytes swapped out, dup_data_size $swapped_dup"
check "  its swapped pages share their data (dup_data_size > 0)" test "$swapped_dup" -gt 0
check "swapoff" swapoff $DEV
umount "$ballast"
rmdir "$ballast"
rm -f /tmp/dd-out /tmp/dd-ready
check "  after swapoff no data is stored" test "$(awk '{ print $1 }' $A/mm_stat)" -le 4096
check "reset" sysfs_write 1 $A/reset
check "  memory is back within 4 KiB of a fresh device" within4k "$(mem 0)" "$fresh"
check "rmmod zram" rmmod zram
check "rmmod" unload
finish

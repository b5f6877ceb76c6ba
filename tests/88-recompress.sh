#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Idle marks and recompression, with zram's ABI: `idle` marks the blocks that hold memory,
# and any access clears a block's mark; `recomp_algorithm` sets secondary algorithms by
# priority; `recompress` compresses the blocks it selects (idle, huge, all) again with one,
# keeping the result only where it takes less memory. Every block reads back as written,
# also when recompression runs under a filesystem being written; bad input is refused.
# The data is small (16 MiB of text, a 7 MiB tree) so that the debug tier runs it in time.
. "$(dirname "$0")/lib.sh"

A=/sys/block/foxramdisk0
# compressed: the compressed size of the compressed blocks, in bytes.
compressed() { st 0 storage_stat/compressed_data_size; }
# last_log: the driver's last recompress line.
last_log() { dmesg | grep 'foxramdisk0: recompress:' | tail -1; }

check "insmod (64 MiB, lz4)" load default_capacity=16384 default_compression=lz4
check_eq "idle is write-only" "$(stat -c %a $A/idle)" 200
check_eq "recompress is write-only" "$(stat -c %a $A/recompress)" 200
check_eq "recomp_algorithm is 0644" "$(stat -c %a $A/recomp_algorithm)" 644
check_eq "no secondary algorithm at first" "$(cat $A/recomp_algorithm)" ""
check_match "recompress without one is refused" "$(sysfs_write "" $A/recompress)" 'Invalid argument'

# Bad input changes nothing.
for v in "" algo algo= =zstd algo=bogus algo=nocomp "algo=zstd priority=0" \
	"algo=zstd priority=4" "algo=zstd priority=x" "algo=zstd colour=red" priority=2; do
	check_match "recomp_algorithm refuses '$v'" "$(sysfs_write "$v" $A/recomp_algorithm)" \
		'Invalid argument'
done
check_eq "  and still has none" "$(cat $A/recomp_algorithm)" ""
check "recomp_algorithm algo=zstd" sysfs_write algo=zstd $A/recomp_algorithm
check "recomp_algorithm algo=lz4hc priority=3" sysfs_write "algo=lz4hc priority=3" $A/recomp_algorithm
check_eq "recomp_algorithm lists them by priority" "$(cat $A/recomp_algorithm)" \
	"$(printf '#1: nocomp deflate 842 lz4 lz4hc [zstd] lzo-rle lzo\n#3: nocomp deflate 842 lz4 [lz4hc] zstd lzo-rle lzo')"
for v in type=cold type= "max_pages=-1" threshold=x threshold=4096 algo=lzo priority=2 \
	"algo=zstd priority=3" "algo=zstd bogus=1" bogus; do
	check_match "recompress refuses '$v'" "$(sysfs_write "$v" $A/recompress)" 'Invalid argument'
done
for v in "" some -1 4294967296 60s; do
	check_match "idle refuses '$v'" "$(sysfs_write "$v" $A/idle)" 'Invalid argument'
done
check_match "  and says why" "$(dmesg | tail -1)" "write 'all' or an age in seconds, not '60s'"

# Two regions of text, A and B, written with lz4; all marked idle; A read back.
tar cf - /usr/include 2>/dev/null | head -c $((4096 * BLOCK)) >/tmp/rc-text
check "the text is 16 MiB" test "$(stat -c %s /tmp/rc-text)" -eq $((4096 * BLOCK))
# held: the blocks that hold memory (compressed or raw).
held() { echo $(($(st 0 storage_stat/compressed_blocks_count) + $(st 0 storage_stat/raw_blocks_count))); }
# tried, stored: the counts of the driver's last recompress line.
tried() { last_log | sed -n 's/.*: [0-9]* of \([0-9]*\) blocks tried.*/\1/p'; }
stored() { last_log | sed -n 's/.*recompress: \([0-9]*\) of .*/\1/p'; }
check "write A" dd if=/tmp/rc-text of=$DEV bs=$BLOCK count=2048 oflag=direct status=none
held_a=$(held)
check "write B" dd if=/tmp/rc-text of=$DEV bs=$BLOCK skip=2048 seek=2048 oflag=direct status=none
held_b=$(($(held) - held_a))
text_sha=$(file_sha /tmp/rc-text)
lz4_size=$(compressed)
check "idle: all" sysfs_write all $A/idle
check_eq "A reads back" "$(dev_sha $DEV 0 2048)" "$(head -c $((2048 * BLOCK)) /tmp/rc-text | sha256sum | cut -d' ' -f1)"

check "recompress type=idle" sysfs_write type=idle $A/recompress
idle_size=$(compressed)
stored_b=$(stored)
check_eq "  tried B's blocks only (A's reads cleared their marks)" "$(tried)" "$held_b"
check "  stored most of them smaller ($stored_b)" test "$stored_b" -gt $((held_b / 2))
check "  and the compressed size went down ($lz4_size -> $idle_size)" test "$idle_size" -lt "$lz4_size"
check "recompress type=idle again" sysfs_write type=idle $A/recompress
check_match "  finds nothing idle: recompression cleared the marks" "$(last_log)" \
	': 0 of 0 blocks tried'
check "recompress (all blocks)" sysfs_write "" $A/recompress
all_size=$(compressed)
check_eq "  tried A's blocks and B's that zstd did not store, none twice" "$(tried)" \
	$((held_a + held_b - stored_b))
check "  and the compressed size went down again ($idle_size -> $all_size)" test "$all_size" -lt "$idle_size"
check_eq "A and B read back" "$(dev_sha $DEV 0 4096)" "$text_sha"
check "recompress with priority 3 (lz4hc after zstd)" sysfs_write "algo=lz4hc" $A/recompress
check_eq "  tries every block again, at a higher priority" "$(tried)" $((held_a + held_b))
check_match "  with lz4hc" "$(last_log)" 'stored smaller with lz4hc'
check_eq "A and B read back" "$(dev_sha $DEV 0 4096)" "$text_sha"

# max_pages bounds the blocks tried.
check "idle: all" sysfs_write all $A/idle
check "recompress type=idle max_pages=100 priority=3" sysfs_write "type=idle max_pages=100 priority=3" $A/recompress
check_match "  tried 100" "$(last_log)" ' of 100 blocks tried'

# Huge blocks: hex digits do not compress under lz4 but do under zstd.
head -c $((512 * BLOCK / 2)) /dev/urandom | od -An -v -tx1 | tr -d ' \n' | head -c $((512 * BLOCK)) >/tmp/rc-hex
check "write 2 MiB of hex digits" dd if=/tmp/rc-hex of=$DEV bs=$BLOCK seek=9000 oflag=direct status=none
raw=$(st 0 storage_stat/raw_blocks_count)
check "  stored raw by lz4 ($raw blocks)" test "$raw" -ge 500
check "recompress type=huge" sysfs_write type=huge $A/recompress
check_eq "  leaves no raw block" "$(st 0 storage_stat/raw_blocks_count)" 0
check_eq "  and they read back" "$(dev_sha $DEV 9000 512)" "$(file_sha /tmp/rc-hex)"
check_eq "the text still reads back" "$(dev_sha $DEV 0 4096)" "$text_sha"
check_eq "no read failed" "$(st 0 io_counters/failed_reads)" 0

# An allocation that fails stops recompression with ENOMEM and the block keeps its data;
# the next recompression goes on. (fail_alloc is the driver's fault injection point, in
# kernels with CONFIG_FAULT_INJECTION_DEBUG_FS.)
FA=/sys/kernel/debug/foxramdisk/fail_alloc
if [ -d $FA ]; then
	check "write 4 MiB of text with lz4" dd if=/tmp/rc-text of=$DEV bs=$BLOCK count=1024 seek=12000 oflag=direct status=none
	c_sha=$(head -c $((1024 * BLOCK)) /tmp/rc-text | sha256sum | cut -d' ' -f1)
	echo N >$FA/task-filter
	echo 0 >$FA/verbose
	echo 1 >$FA/interval
	echo 0 >$FA/space
	echo 1 >$FA/times
	echo 100 >$FA/probability
	check_match "recompress with one allocation failing is ENOMEM" \
		"$(sysfs_write type=idle $A/recompress; sysfs_write "" $A/recompress)" 'Cannot allocate memory'
	echo 0 >$FA/probability
	check_match "  and says so" "$(dmesg | tail -3)" 'recompress with zstd stopped: (ENOMEM|Error\(12\))'
	check_eq "  the blocks read back" "$(dev_sha $DEV 12000 1024)" "$c_sha"
	check "recompress again" sysfs_write "" $A/recompress
	check "  stores the rest" test "$(stored)" -gt 500
	check_eq "  and they read back" "$(dev_sha $DEV 12000 1024)" "$c_sha"
else
	skip "recompress under failed allocations" "no $FA (CONFIG_FAULT_INJECTION_DEBUG_FS)"
fi

# algorithm_params: zstd's level, from the next block on; blocks stored before stay
# readable whatever level wrote them.
check_eq "algorithm_params is empty at first" "$(cat $A/algorithm_params)" ""
for v in "" level=3 "algo=lz4 level=1" "algo=zstd level=23" "algo=zstd level=x" \
	"priority=2 level=3" "algo=lz4 priority=1" "algo=zstd dict=/tmp/d" \
	"algo=zstd deflate.winbits=12" bogus=1; do
	check_match "algorithm_params refuses '$v'" "$(sysfs_write "$v" $A/algorithm_params)" \
		'Invalid argument'
done
check_match "  and says why" "$(dmesg | grep algorithm_params | tail -9 | tr '\n' ' ')" \
	'lz4 takes no level.*zstd level 23 is not -[0-9]+ to 22.*dict is not supported'
check "comp_algorithm zstd" sysfs_write zstd $A/comp_algorithm
check "algorithm_params algo=zstd level=1" sysfs_write "algo=zstd level=1" $A/algorithm_params
check_eq "algorithm_params shows it" "$(cat $A/algorithm_params)" "algo=zstd level=1"
before=$(compressed)
check "write 4 MiB of text at level 1" dd if=/tmp/rc-text of=$DEV bs=$BLOCK count=1024 seek=14000 oflag=direct status=none
level1=$(($(compressed) - before))
check "algorithm_params priority=0 level=19 (comp_algorithm's)" sysfs_write "priority=0 level=19" $A/algorithm_params
before=$(compressed)
check "write the same text at level 19" dd if=/tmp/rc-text of=$DEV bs=$BLOCK count=1024 seek=10000 oflag=direct status=none
level19=$(($(compressed) - before))
check "  level 19 stores it smaller ($level1 -> $level19 bytes)" test "$level19" -lt "$level1"
c_sha=$(head -c $((1024 * BLOCK)) /tmp/rc-text | sha256sum | cut -d' ' -f1)
check_eq "  both copies read back" "$(dev_sha $DEV 14000 1024) $(dev_sha $DEV 10000 1024)" "$c_sha $c_sha"
check "algorithm_params algo=zstd (the default again)" sysfs_write algo=zstd $A/algorithm_params
check_eq "  shows no level" "$(cat $A/algorithm_params)" ""
# lz4hc's level, 1 to 16, through the LZ4HC library.
for v in "algo=lz4hc level=0" "algo=lz4hc level=17" "algo=lz4hc level=-1"; do
	check_match "algorithm_params refuses '$v'" "$(sysfs_write "$v" $A/algorithm_params)" \
		'Invalid argument'
done
check_match "  and says why" "$(dmesg | grep algorithm_params | tail -1)" 'lz4hc level -1 is not 1 to 16'
check "discard the zstd copies" blkdiscard -f -o $((10000 * BLOCK)) -l $((5024 * BLOCK)) $DEV
check "comp_algorithm lz4hc" sysfs_write lz4hc $A/comp_algorithm
check "algorithm_params algo=lz4hc level=1" sysfs_write "algo=lz4hc level=1" $A/algorithm_params
before=$(compressed)
check "write 4 MiB of text with lz4hc at level 1" dd if=/tmp/rc-text of=$DEV bs=$BLOCK count=1024 seek=14000 oflag=direct status=none
level1=$(($(compressed) - before))
check "algorithm_params algo=lz4hc level=16" sysfs_write "algo=lz4hc level=16" $A/algorithm_params
check_eq "  shows it" "$(cat $A/algorithm_params)" "algo=lz4hc level=16"
before=$(compressed)
check "write the same text at level 16" dd if=/tmp/rc-text of=$DEV bs=$BLOCK count=1024 seek=10000 oflag=direct status=none
level16=$(($(compressed) - before))
check "  level 16 stores it smaller ($level1 -> $level16 bytes)" test "$level16" -lt "$level1"
check_eq "  both copies read back" "$(dev_sha $DEV 14000 1024) $(dev_sha $DEV 10000 1024)" "$c_sha $c_sha"
check "algorithm_params algo=lz4hc (the default again)" sysfs_write algo=lz4hc $A/algorithm_params
# deflate's level, -1 (zlib's default) to 9, through the zlib library.
for v in "algo=deflate level=-2" "algo=deflate level=10"; do
	check_match "algorithm_params refuses '$v'" "$(sysfs_write "$v" $A/algorithm_params)" \
		'Invalid argument'
done
check_match "  and says why" "$(dmesg | grep algorithm_params | tail -1)" 'deflate level 10 is not -1 to 9'
check "discard the lz4hc copies" blkdiscard -f -o $((10000 * BLOCK)) -l $((5024 * BLOCK)) $DEV
check "comp_algorithm deflate" sysfs_write deflate $A/comp_algorithm
check "algorithm_params algo=deflate level=1" sysfs_write "algo=deflate level=1" $A/algorithm_params
before=$(compressed)
check "write 4 MiB of text with deflate at level 1" dd if=/tmp/rc-text of=$DEV bs=$BLOCK count=1024 seek=14000 oflag=direct status=none
level1=$(($(compressed) - before))
check "algorithm_params algo=deflate level=9" sysfs_write "algo=deflate level=9" $A/algorithm_params
before=$(compressed)
check "write the same text at level 9" dd if=/tmp/rc-text of=$DEV bs=$BLOCK count=1024 seek=10000 oflag=direct status=none
level9=$(($(compressed) - before))
check "  level 9 stores it smaller ($level1 -> $level9 bytes)" test "$level9" -lt "$level1"
check_eq "  both copies read back" "$(dev_sha $DEV 14000 1024) $(dev_sha $DEV 10000 1024)" "$c_sha $c_sha"
check "algorithm_params algo=deflate (the default again)" sysfs_write algo=deflate $A/algorithm_params
check "comp_algorithm lz4" sysfs_write lz4 $A/comp_algorithm

# idle by age: the first `idle N` starts keeping access times, and a block not accessed
# since counts as accessed then; later ones mark the blocks not read or written for N
# seconds and unmark the others. The reads are 6 s after the start and the age 5 s, so
# that only a guest stalled for 5 s between a read and the next write could change it.
check "reset" sysfs_write 1 $A/reset
empty=$(st 0 storage_stat/mem_used_total)
check "write C: 1024 blocks of text" dd if=/tmp/rc-text of=$DEV bs=$BLOCK count=1024 oflag=direct status=none
check "idle 0: access times are kept from now" sysfs_write 0 $A/idle
check "recompress type=idle" sysfs_write type=idle $A/recompress
check_match "  finds nothing idle: every block counts as accessed just now" "$(last_log)" \
	': 0 of 0 blocks tried'
sleep 6
check "read C's first 512 blocks" dd if=$DEV of=/dev/null bs=$BLOCK count=512 iflag=direct status=none
check "idle 5" sysfs_write 5 $A/idle
check "recompress type=idle" sysfs_write type=idle $A/recompress
check_eq "  tries the 512 blocks not read for 5 s" "$(tried)" 512
check "idle: all" sysfs_write all $A/idle
check "idle 4294967295: nothing is that old, and every mark goes" sysfs_write 4294967295 $A/idle
check "recompress type=idle priority=3" sysfs_write "type=idle priority=3" $A/recompress
check_match "  finds nothing idle" "$(last_log)" ': 0 of 0 blocks tried'
check_eq "C reads back" "$(dev_sha $DEV 0 1024)" "$(head -c $((1024 * BLOCK)) /tmp/rc-text | sha256sum | cut -d' ' -f1)"
check "blkdiscard" blkdiscard $DEV
check "compact" sysfs_write 1 $A/compact
used=$(st 0 storage_stat/mem_used_total)
check "  the memory is back within 4 KiB of the empty device's, access times included ($empty -> $used)" \
	test $((used - empty)) -le 4096

# Recompression under a filesystem being written: ext4 with a tree copied onto it while
# every block is marked idle and recompressed, over and over.
check "reset" sysfs_write 1 $A/reset
check_eq "reset keeps the secondary algorithms" "$(cat $A/recomp_algorithm | cut -c1-3 | tr '\n' ' ')" "#1: #3: "
check "mkfs.ext4" mkfs.ext4 -q $DEV
check "mount" mount $DEV /mnt
src=/usr/include/linux
sums=$(tree_sums $src)
cp -a $src /mnt/tree &
copy=$!
rounds=0 failed=0
while kill -0 $copy 2>/dev/null || [ $rounds -lt 3 ]; do
	sync
	echo all >$A/idle || failed=$((failed + 1))
	echo type=idle >$A/recompress || failed=$((failed + 1))
	rounds=$((rounds + 1))
done
check "the copy finished" wait $copy
check_eq "no idle or recompress write failed ($rounds rounds)" "$failed" 0
check_remount_tree /mnt/tree "$sums"
check_eq "no read failed" "$(st 0 io_counters/failed_reads)" 0
check "rmmod" unload
rm -f /tmp/rc-text /tmp/rc-hex
finish

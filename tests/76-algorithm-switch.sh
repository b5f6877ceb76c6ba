#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# comp_algorithm on a live device: it lists what the kernel has with the current one in
# brackets; switching it mid-way through a tree copy onto mounted ext4 keeps every file
# readable (each block is read with the algorithm it was written with); bad names are
# refused; reset frees the codecs of the algorithms no longer in use.
. "$(dirname "$0")/lib.sh"

A=/sys/block/foxramdisk0
set_alg() { sysfs_write "$1" $A/comp_algorithm; }
current() { sed -n 's/.*\[\(.*\)\].*/\1/p' $A/comp_algorithm; }

check "insmod (256 MiB, lz4)" load default_capacity=65536 default_compression=lz4
check_eq "comp_algorithm lists all, the current in brackets" "$(cat $A/comp_algorithm)" \
	"nocomp deflate 842 [lz4] lz4hc zstd lzo-rle lzo"
check_eq "comp_algorithm is 0644" "$(stat -c %a $A/comp_algorithm)" 644

check "mkfs.ext4" mkfs.ext4 -q $DEV
check "mount" mount $DEV /mnt
src=/usr/include
sums=$(tree_sums $src)
# Copy the tree in parts, switching algorithm before each part, with the page cache
# flushed so that every part is written with the algorithm of its turn.
parts=$(cd $src && find . -mindepth 1 -maxdepth 1 | sort)
algs=(zstd deflate 842 lzo-rle nocomp lz4hc lzo lz4)
i=0
for p in $parts; do
	alg=${algs[$((i % ${#algs[@]}))]}
	set_alg "$alg" >/dev/null
	(cd $src && cp -a --parents "$p" /mnt/)
	sync
	i=$((i + 1))
done
check "the copy used every algorithm in turn (${#algs[@]} of $i parts)" test $i -ge ${#algs[@]}
check_eq "the last switch took" "$(current)" "${algs[$(((i - 1) % ${#algs[@]}))]}"
check_eq "storage_stat/compression_name agrees" "$(st 0 storage_stat/compression_name)" "$(current)"
check_remount_tree /mnt "$sums"
check_eq "no read failed" "$(st 0 io_counters/failed_reads)" 0

# Raw blocks too: the same random block under each algorithm, read back after the last.
head -c $((8 * BLOCK)) /dev/urandom >/tmp/alg-rand
for alg in nocomp zstd lz4; do
	set_alg $alg >/dev/null
	dd if=/tmp/alg-rand of=$DEV bs=$BLOCK seek=60000 oflag=direct status=none
	check_eq "random data under $alg reads back" "$(dev_sha $DEV 60000 8)" "$(file_sha /tmp/alg-rand)"
done

# Bad names change nothing.
for v in "" bogus LZ4 " lz4" "lz4 zstd" "[lz4]" "$(head -c 5000 /dev/zero | tr '\0' z)"; do
	check_match "comp_algorithm refuses '${v:0:20}'" "$(set_alg "$v")" 'Invalid argument'
done
check_eq "the algorithm is unchanged" "$(current)" lz4
check_match "a bad name is logged" "$(dmesg)" "unknown compression algorithm 'bogus'"

# Reset drops the data and the codecs of other algorithms; the device still works.
base=$(st 0 storage_stat/mem_used_total)
check "reset" sh -c "echo 1 >$A/reset"
check_eq "reset keeps the algorithm" "$(current)" lz4
check "the device works after reset" sh -c "dd if=/tmp/alg-rand of=$DEV bs=$BLOCK oflag=direct status=none"
check_eq "  and reads back" "$(dev_sha $DEV 0 8)" "$(file_sha /tmp/alg-rand)"
check "mem_used_total is small again ($base before reset)" test "$(st 0 storage_stat/mem_used_total)" -lt $((2 << 20))
check "rmmod" unload
rm -f /tmp/alg-rand
finish

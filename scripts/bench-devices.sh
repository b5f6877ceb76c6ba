# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Sourced by the benchmark and profile scripts inside the lab VM: setting up and tearing
# down one device under test of $SIZE MiB, and its own account of its memory.
# $FOXRAMDISK_KO is the module built for the running kernel (default: foxramdisk.ko).

# KIND ALG -> prints the device path. foxramdisk's ALG+dedup has dedup on (the default),
# plain ALG has it off: the rows compared with zram, which has none, measure the codec path.
setup() {
	case "$1" in
	foxramdisk)
		insmod "${FOXRAMDISK_KO:-foxramdisk.ko}" default_capacity=$((SIZE * 256)) default_compression="${2%+dedup}" &&
			{ [ "$2" != "${2%+dedup}" ] || echo 0 >/sys/block/foxramdisk0/dedup; } &&
			attach_backing foxramdisk /sys/block/foxramdisk0 && echo /dev/foxramdisk0 ;;
	zram)
		# zram takes its secondary algorithms and its backing device only before
		# disksize, and has them only with CONFIG_ZRAM_MULTI_COMP and
		# CONFIG_ZRAM_WRITEBACK.
		modprobe zram num_devices=1 &&
			echo "$2" >/sys/block/zram0/comp_algorithm &&
			{ [ ! -e /sys/block/zram0/recomp_algorithm ] ||
				echo algo=zstd >/sys/block/zram0/recomp_algorithm; } &&
			attach_backing zram /sys/block/zram0 &&
			echo "${SIZE}M" >/sys/block/zram0/disksize && echo /dev/zram0 ;;
	brd)
		modprobe brd rd_nr=1 rd_size=$((SIZE * 1024)) && echo /dev/ram0 ;;
	nullblk)
		# blk-mq's own ceiling for a RAM disk: null_blk keeping the data in pages, a
		# queue per CPU, completing in queue_rq as foxramdisk does.
		modprobe null_blk nr_devices=1 queue_mode=2 memory_backed=1 bs=4096 \
			gb=$(((SIZE + 1023) / 1024)) submit_queues="$(nproc)" irqmode=0 &&
			echo /dev/nullb0 ;;
	esac
}
teardown() {
	case "$1" in
	foxramdisk) rmmod foxramdisk ;; zram) rmmod zram ;; brd) rmmod brd ;; nullblk) rmmod null_blk ;;
	esac
	detach_backing "$1"
}

# A backing store for writeback, the same for each device: a loop device over a file of the
# device's size in the guest's tmpfs /tmp (zram takes only a block device). Not made where
# the device has no writeback (zram without CONFIG_ZRAM_WRITEBACK).
attach_backing() { # KIND SYSFS_DIR
	local loop
	[ -e "$2/backing_dev" ] || return 0
	truncate -s "${SIZE}M" "/tmp/backing-$1" && loop=$(losetup -f --show "/tmp/backing-$1") &&
		echo "$loop" >"$2/backing_dev"
}
detach_backing() { # KIND
	local loop
	[ -e "/tmp/backing-$1" ] || return 0
	loop=$(losetup -j "/tmp/backing-$1" | cut -d: -f1)
	[ -z "$loop" ] || losetup -d "$loop"
	rm -f "/tmp/backing-$1"
}

# Marks every stored block idle and writes the idle ones to the backing store, with zram's
# ABI (`idle`, `writeback idle`); fails where the device cannot.
writeback_idle() { # KIND
	local b
	case "$1" in foxramdisk) b=/sys/block/foxramdisk0 ;; zram) b=/sys/block/zram0 ;; *) return 1 ;; esac
	[ -w $b/writeback ] && [ "$(cat $b/backing_dev)" != none ] &&
		echo all >$b/idle && echo idle >$b/writeback
}

# The bytes the device holds on its backing store (bd_stat's first field, in 4 KiB pages).
backing_bytes() { # KIND
	case "$1" in
	foxramdisk) awk '{ print $1 * 4096 }' /sys/block/foxramdisk0/bd_stat ;;
	zram) awk '{ print $1 * 4096 }' /sys/block/zram0/bd_stat ;;
	*) echo null ;;
	esac
}

# Marks every stored block idle and compresses the idle ones again with zstd, with zram's
# ABI (`idle`, `recompress type=idle`); fails where the device cannot (brd; zram without
# CONFIG_ZRAM_MULTI_COMP).
recompress_idle() { # KIND
	local b
	case "$1" in
	foxramdisk) b=/sys/block/foxramdisk0 && echo algo=zstd >$b/recomp_algorithm || return 1 ;;
	zram) b=/sys/block/zram0 ;;
	*) return 1 ;;
	esac
	[ -w $b/recompress ] && echo all >$b/idle && echo type=idle >$b/recompress
}

# The device's own account of the memory it uses, in bytes (brd and null_blk have none).
device_mem() {
	case "$1" in
	foxramdisk) cat /sys/block/foxramdisk0/storage_stat/mem_used_total ;;
	zram) awk '{ print $3 }' /sys/block/zram0/mm_stat ;;
	*) echo null ;;
	esac
}

# Memory the device uses that its own account leaves out, in bytes, so that every device is
# charged alike. zram's mem_used_total leaves out its block table, vzalloc'ed at disksize:
# 16 bytes per page (struct zram_table_entry on 64-bit without
# CONFIG_ZRAM_TRACK_ENTRY_ACTIME) in whole pages, plus vmalloc's array of 8-byte pointers to
# those pages; and its per-CPU stream buffers, 3 vzalloc'ed pages per online CPU.
# foxramdisk's mem_used_total counts its table (chunks and their pointers) and buffers.
not_counted() {
	local table_pages
	case "$1" in
	foxramdisk) echo 0 ;;
	zram)
		table_pages=$((($(cat /sys/block/zram0/disksize) * 16 / 4096 + 4095) / 4096))
		echo $((table_pages * (4096 + 8) + $(nproc) * 3 * 4096)) ;;
	*) echo null ;;
	esac
}

# Fills the whole device with 50%-compressible data, as every benchmark job assumes.
prefill() {
	fio --name=prefill --filename="$1" --rw=write --bs=1M --size="${SIZE}M" \
		--direct=1 --buffer_compress_percentage=50 --refill_buffers --output-format=json >/dev/null
}

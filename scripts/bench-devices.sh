# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Sourced by the benchmark and profile scripts inside the lab VM: setting up and tearing
# down one device under test of $SIZE MiB, and its own account of its memory.

setup() { # KIND ALG -> prints the device path
	case "$1" in
	foxramdisk)
		insmod foxramdisk.ko default_capacity=$((SIZE * 256)) default_compression="$2" && echo /dev/foxramdisk0 ;;
	zram)
		modprobe zram num_devices=1 &&
			echo "$2" >/sys/block/zram0/comp_algorithm &&
			echo "${SIZE}M" >/sys/block/zram0/disksize && echo /dev/zram0 ;;
	brd)
		modprobe brd rd_nr=1 rd_size=$((SIZE * 1024)) && echo /dev/ram0 ;;
	esac
}
teardown() { case "$1" in foxramdisk) rmmod foxramdisk ;; zram) rmmod zram ;; brd) rmmod brd ;; esac; }

# The device's own account of the memory it uses, in bytes (brd has none).
device_mem() {
	case "$1" in
	foxramdisk) cat /sys/block/foxramdisk0/storage_stat/mem_used_total ;;
	zram) awk '{ print $3 }' /sys/block/zram0/mm_stat ;;
	brd) echo null ;;
	esac
}

# Fills the whole device with 50%-compressible data, as every benchmark job assumes.
prefill() {
	fio --name=prefill --filename="$1" --rw=write --bs=1M --size="${SIZE}M" \
		--direct=1 --buffer_compress_percentage=50 --refill_buffers --output-format=json >/dev/null
}

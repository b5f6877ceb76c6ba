#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Prints every statistic of a foxramdisk device in a readable form, with its compression
# ratio counting only compressed blocks and counting incompressible (raw) blocks as 1:1.
set -euo pipefail

units=bytes
usage() {
	cat <<USAGE
Usage: $(basename "$0") [-h | --si] /dev/foxramdiskN
  -h        sizes in IEC units (KiB, MiB, GiB, ...)
  --si      sizes in SI units (kB, MB, GB, ...)
  --help    this help
USAGE
}

while [ $# -gt 0 ]; do
	case "$1" in
	-h) units=iec ;;
	--si) units=si ;;
	--help) usage; exit 0 ;;
	-*) echo "$(basename "$0"): unknown option '$1'" >&2; usage >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
[ $# -eq 1 ] || { usage >&2; exit 2; }

name=$(basename "$1")
sys=/sys/block/$name
if [ ! -d "$sys/storage_stat" ]; then
	echo "$(basename "$0"): $1 is not a foxramdisk device" >&2
	exit 1
fi

stat() { cat "$sys/$1"; }

# size BYTES: the size in the chosen units.
size() {
	case "$units" in
	bytes) printf '%s' "$1" ;;
	iec) awk -v n="$1" 'BEGIN { split("B KiB MiB GiB TiB PiB", u); i = 1
		while (n >= 1024 && i < 6) { n /= 1024; i++ }; printf "%.2f %s", n, u[i] }' ;;
	si) awk -v n="$1" 'BEGIN { split("B kB MB GB TB PB", u); i = 1
		while (n >= 1000 && i < 6) { n /= 1000; i++ }; printf "%.2f %s", n, u[i] }' ;;
	esac
}

# ratio A B: A / B with three decimals, or N/A when B is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "N/A" }'; }

line() { printf '%-34s %s\n' "$1" "$2"; }

block=$(stat storage_stat/block_size)
raw=$(stat storage_stat/raw_blocks_count)
zeroed=$(stat storage_stat/zeroed_blocks_count)
compressed=$(stat storage_stat/compressed_blocks_count)
compressed_size=$(stat storage_stat/compressed_data_size)
algorithm=$(stat storage_stat/compression_name)
mem=$(stat storage_stat/mem_used_total)
raw_bytes=$((raw * block))
compressed_logical=$((compressed * block))

line "Bytes written:" "$(size "$(stat io_counters/total_bytes_written)")"
line "Bytes read:" "$(size "$(stat io_counters/total_bytes_read)")"
line "Bytes discarded:" "$(size "$(stat io_counters/total_bytes_discarded)")"
line "Failed reads:" "$(stat io_counters/failed_reads)"
line "Failed writes:" "$(stat io_counters/failed_writes)"
line "Failed discards:" "$(stat io_counters/failed_discards)"
echo
line "Block size in bytes:" "$block"
line "Incompressible blocks:" "$raw"
line "Incompressible blocks data size:" "$(size "$raw_bytes")"
line "Zeroed blocks:" "$zeroed"
line "Zeroed blocks logical size:" "$(size $((zeroed * block)))"
line "Compressed blocks:" "$compressed"
line "Compressed blocks logical size:" "$(size "$compressed_logical")"
line "Compressed data size:" "$(size "$compressed_size")"
line "Memory used in total:" "$(size "$mem")"
echo
if [ "$algorithm" = nocomp ]; then
	echo "Compression is disabled for this device."
else
	line "Compression algorithm:" "$algorithm"
fi
echo
line "Compression ratio:" "$(ratio "$compressed_logical" "$compressed_size")"
echo "    Incompressible blocks are not considered."
line "Effective compression ratio:" "$(ratio $((compressed_logical + raw_bytes)) $((compressed_size + raw_bytes)))"
echo "    Incompressible blocks are treated as compression ratio 1:1."
line "Stored data / memory used:" "$(ratio $((compressed_logical + raw_bytes)) "$mem")"
echo "    Counts every byte the device holds: allocator pages, block table, buffers."

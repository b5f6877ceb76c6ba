# SPDX-License-Identifier: GPL-2.0
# TAP helpers for the foxramdisk tests. Sourced by every tests/*.sh, which run as root
# inside the lab VM (scripts/vm.sh) with the repository as the current directory.
#
# Every check prints one TAP line: `ok N - what` or `not ok N - what`, with `# ` lines of
# diagnostics after a failure. A skip is `ok N - what # SKIP why`: counted as skipped,
# never as passed. `finish` prints the plan and exits non-zero if anything failed.

set -u
T_N=0
T_FAILED=0
REPO=${REPO:-$(pwd)}
# The module under test: the lab kernel's build, or the one scripts/check.sh names.
MODULE=${FOXRAMDISK_KO:-$REPO/foxramdisk.ko}
DEV=/dev/foxramdisk0
BLOCK=4096

# diag LINES...: diagnostics after a failure, at most 20 lines.
diag() { [ -n "$*" ] && printf '%s\n' "$@" | head -20 | cut -c1-200 | sed 's/^/# /'; return 0; }
pass() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
fail() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }
skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP $2"; }

# Every check_* returns non-zero when it fails, for `check ... || diag ...`.

# check WHAT CMD...: passes when CMD exits 0.
check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$what"; else fail "$what"; diag "\$ $*" "$out"; return 1; fi
}

# check_fails WHAT CMD...: passes when CMD exits non-zero.
check_fails() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then fail "$what"; diag "\$ $* (succeeded, must fail)" "$out"; return 1; else pass "$what"; fi
}

# check_eq WHAT GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1"; diag "got:  '$2'" "want: '$3'"; return 1; fi
}

# check_match WHAT TEXT REGEX (extended)
check_match() {
	if printf '%s\n' "$2" | grep -Eq -- "$3"; then pass "$1"; else fail "$1"; diag "no match for /$3/ in:" "$2"; return 1; fi
}

finish() {
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}

# Module helpers. `load` fails the calling check when insmod fails.
loaded() { grep -q '^foxramdisk ' /proc/modules; }
load() { insmod "$MODULE" "$@"; }
unload() { ! loaded || rmmod foxramdisk; }

# sha256 of LEN bytes at byte OFFSET of a device, read with O_DIRECT (bypasses the page
# cache, so the driver serves it).
dev_sha() { # DEV OFFSET_BLOCKS COUNT_BLOCKS
	dd if="$1" bs=$BLOCK skip="$2" count="$3" iflag=direct status=none | sha256sum | cut -d' ' -f1
}
file_sha() { sha256sum "$1" | cut -d' ' -f1; }

# start_walker DIR PATTERN LEFT OUT: the swap tests' working set (tests/walker.py, its
# output to OUT) on FIFOs in DIR, a ramfs: once the walker has locked its own pages, pins
# memory in DIR so that LEFT MiB are left, lets it fill 1.5 times what is left, and returns
# with the set filled and swapped out: $walker is its pid, $need the set's size in MiB.
# Fails, $need empty, if the walker could not lock its pages. Then write a line to
# DIR/walk to let it walk the set and check it, and wait for $walker. On the debug kernel
# what KASAN's quarantine may take is left besides, and not counted as what is left.
start_walker() {
	local state avail quarantine
	quarantine=$(kasan_quarantine_mib)
	mkfifo "$1/locked" "$1/go" "$1/filled" "$1/walk"
	python3 "$(dirname "$0")/walker.py" "$1" "$2" "$quarantine" >"$4" 2>&1 &
	walker=$!
	need=
	read -r state <"$1/locked"
	[ "$state" = locked ] || return 1
	avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
	dd if=/dev/zero of="$1/pinned" bs=1M count=$((avail - $3 - quarantine)) status=none
	echo go >"$1/go"
	read -r need <"$1/filled"
}

# kasan_quarantine_mib: the most memory, in MiB, that KASAN (generic) keeps in its
# quarantine of freed objects, a 32nd of the guest's; 0 on a kernel without it. The
# quarantine has no shrinker: under pressure that memory is not given back, so a test
# that pins all but a margin of memory leaves this much more on the debug kernel.
kasan_quarantine_mib() {
	if zcat /proc/config.gz 2>/dev/null | grep -qx CONFIG_KASAN_GENERIC=y; then
		awk '/^MemTotal:/ { print int($2 / 1024 / 32) }' /proc/meminfo
	else
		echo 0
	fi
}

# sysfs_write VALUE FILE: writes VALUE and a newline to FILE, prints the error if any and
# returns its status. bash, not sh: dash reports every failed write as "I/O error",
# whatever the errno, and the tests check the errno.
sysfs_write() { bash -c 'echo "$1" >"$2"' bash "$1" "$2" 2>&1; }

# Device helpers.
PARAMS=/sys/module/foxramdisk/parameters
CONTROL=/sys/class/foxramdisk-control
# st ID FILE: a statistic of /dev/foxramdiskID, e.g. `st 0 storage_stat/raw_blocks_count`.
st() { cat "/sys/block/foxramdisk$1/$2"; }
# hot_add: creates a device, prints its number.
hot_add() { cat $CONTROL/hot_add; }
# zeros_sha BLOCKS: the sha256 of that many zero blocks.
zeros_sha() { head -c $(($1 * BLOCK)) /dev/zero | sha256sum | cut -d' ' -f1; }
# free_kib: free memory in KiB, counting the pages on the per-CPU free lists, which
# MemFree leaves out (a burst of frees can park tens of MiB there).
free_kib() {
	local free pcp
	free=$(awk '$1 == "MemFree:" { print $2 }' /proc/meminfo)
	pcp=$(awk '$1 == "count:" { n += $2 } END { print n + 0 }' /proc/zoneinfo)
	echo $((free + pcp * 4))
}
tree_sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1; }

# check_remount_tree DIR SUMS: unmounts the filesystem on /mnt (on $DEV), drops the page
# cache, checks it with fsck, mounts it again, compares the tree_sums of DIR with SUMS and
# unmounts it: three checks.
check_remount_tree() {
	umount /mnt
	echo 3 >/proc/sys/vm/drop_caches
	check "fsck is clean" fsck.ext4 -fn $DEV
	check "remount" mount $DEV /mnt
	check_eq "every file reads back as written" "$(tree_sums "$1")" "$2"
	umount /mnt
}

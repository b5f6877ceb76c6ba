#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Allocation failures under I/O, as the fault-injection tier makes them: failslab and
# fail_page_alloc fail a tenth of one writer's allocations (task-filter; sleeping and
# highmem ones too, from order 0) while it writes 4 KiB direct random writes. Its writes
# may fail, with EIO, counted in failed_writes; nothing else may go wrong: no oops, warning
# or leak (tests/run.sh scans the log, and for leaks on the debug kernel), every block
# holds what its last successful write put there, the data written before is intact,
# programs still run, and a discard and a compaction give all the memory back. Then the
# same faults hit the controls (hot_add, disksize growing, comp_algorithm): each fails
# with ENOMEM or works, and leaves nothing half-made. Then each allocation of a hot_add
# is failed in turn (fail-nth), with the same outcome. (Swap-outs that find no memory:
# 86-swap-fault.sh.)
. "$(dirname "$0")/lib.sh"

FI=/sys/kernel/debug
SECONDS_OF_FAULTS=8
BLOCKS=16384 # 64 MiB; the first quarter is written before the faults, the rest during
REF_BLOCKS=$((BLOCKS / 4))
TIMES=1000000
work=$(mktemp -d)

if ! check "the kernel injects faults (failslab, fail_page_alloc)" test -d $FI/failslab -a -d $FI/fail_page_alloc; then
	finish
	exit
fi
check "insmod (64 MiB, lz4)" load default_capacity=$BLOCKS default_compression=lz4
empty=$(st 0 storage_stat/mem_used_total)
head -c $((REF_BLOCKS * BLOCK)) /dev/urandom >"$work/ref"
check "reference data written" dd if="$work/ref" of=$DEV bs=1M oflag=direct status=none

# faults VALUE: the probability (percent) of both, and their settings.
faults() {
	local d
	for d in failslab fail_page_alloc; do
		echo Y >$FI/$d/task-filter
		echo N >$FI/$d/ignore-gfp-wait
		echo 1 >$FI/$d/interval
		echo $TIMES >$FI/$d/times
		echo 0 >$FI/$d/verbose
		echo "$1" >$FI/$d/probability
	done
	echo 0 >$FI/fail_page_alloc/min-order
	echo N >$FI/fail_page_alloc/ignore-gfp-highmem
}
injected() { echo $((TIMES - $(cat $FI/$1/times))); }

# The writer: waits for `go`, writes for SECONDS_OF_FAULTS, waits for `stop` (the faults
# are off by then), and writes the generation of each block's last successful write. It
# touches nothing on the 9p root while its allocations may fail (see mlockall below).
# Odd generations are random bytes (stored raw), even ones text (stored compressed).
python3 - "$DEV" "$work" $REF_BLOCKS $BLOCKS $SECONDS_OF_FAULTS <<'PY' &
import ctypes, mmap, os, random, sys, time

dev, work, first, end, duration = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
# Every page of the process stays in memory (MCL_CURRENT | MCL_FUTURE): a fault on a page
# of python or a library would read it from the lab's 9p root with failing allocations,
# and a 9p read that fails that way breaks the root for the whole guest (every later read
# of a file there fails with EINVAL), with or without foxramdisk. Nothing below imports
# or opens a file on the root either.
if ctypes.CDLL(None, use_errno=True).mlockall(3) != 0:
    sys.exit("mlockall: %s" % os.strerror(ctypes.get_errno()))

def content(block, gen):
    if gen % 2:
        return random.Random(block * 1000003 + gen).randbytes(4096)
    line = b"block %08d generation %08d; " % (block, gen)
    return (line * (4096 // len(line) + 1))[:4096]

buf = mmap.mmap(-1, 4096)
fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
last, ok, failed, errors, nomem = {}, 0, 0, {}, 0
open(os.path.join(work, "ready"), "w").close()
while not os.path.exists(os.path.join(work, "go")):
    time.sleep(0.05)
rng = random.Random(7)
stop_at = time.monotonic() + duration
gen = 0
while time.monotonic() < stop_at:
    gen += 1
    block = rng.randrange(first, end)
    try:
        buf[:] = content(block, gen)
        os.pwrite(fd, buf, block * 4096)
        last[block] = gen
        ok += 1
    except OSError as e:
        # A failed write must leave the block's old data: checked below.
        failed += 1
        errors[e.errno] = errors.get(e.errno, 0) + 1
    except MemoryError:
        nomem += 1
while not os.path.exists(os.path.join(work, "stop")):
    time.sleep(0.05)
with open(os.path.join(work, "result"), "w") as f:
    f.write("%d %d %d %s\n" % (ok, failed, nomem, errors))
    for block, gen in last.items():
        f.write("%d %d\n" % (block, gen))
PY
writer=$!
for _ in $(seq 100); do [ -e "$work/ready" ] && break; sleep 0.1; done
check "the writer is ready" test -e "$work/ready"
check "the writer's allocations may fail (make-it-fail)" sh -c "echo 1 >/proc/$writer/make-it-fail"
faults 10
touch "$work/go"
sleep $((SECONDS_OF_FAULTS + 1))
slab=$(injected failslab) pages=$(injected fail_page_alloc)
faults 0
touch "$work/stop"
wait "$writer"
check_eq "the writer finished" "$?" 0
check "faults were injected (slab $slab, pages $pages)" test $((slab + pages)) -gt 0
read -r ok failed nomem errors <"$work/result"
diag "writes: $ok succeeded, $failed failed $errors (errno: count), $nomem MemoryErrors in python"
check "writes went through meanwhile" test "$ok" -gt 0
check "some writes failed (the faults reached the driver)" test "$failed" -gt 0
check_match "the failed writes failed with EIO" "$errors" '^\{5: [0-9]+\}$'
check_eq "every failed write is counted in failed_writes" "$(st 0 io_counters/failed_writes)" "$failed"

check "programs still run after the faults" sh -c 'cat /proc/version >/dev/null && dd if=/dev/zero of=/dev/null count=1 status=none'
check_eq "the data written before is intact" "$(dev_sha $DEV 0 $REF_BLOCKS)" "$(file_sha "$work/ref")"
dd if=$DEV of="$work/dump" bs=1M iflag=direct status=none
out=$(python3 - "$work" $REF_BLOCKS $BLOCKS <<'PY' 2>&1
import random, sys

work, first, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def content(block, gen):
    if gen % 2:
        return random.Random(block * 1000003 + gen).randbytes(4096)
    line = b"block %08d generation %08d; " % (block, gen)
    return (line * (4096 // len(line) + 1))[:4096]

last = {}
with open(work + "/result") as f:
    next(f)
    for line in f:
        block, gen = map(int, line.split())
        last[block] = gen
bad = 0
with open(work + "/dump", "rb") as f:
    f.seek(first * 4096)
    for block in range(first, end):
        data = f.read(4096)
        # A block never written successfully is still zeroed.
        bad += data != (content(block, last[block]) if block in last else bytes(4096))
print("%d blocks written, %d bad" % (len(last), bad))
PY
)
check_match "every block holds its last successful write" "$out" '^[0-9]+ blocks written, 0 bad$'
check_eq "no read failed" "$(st 0 io_counters/failed_reads)" 0

check "blkdiscard" blkdiscard $DEV
check "compact" sh -c 'echo 1 >/sys/block/foxramdisk0/compact'
check_eq "the memory is back to the empty device's" "$(st 0 storage_stat/mem_used_total)" "$empty"

# The controls under the same faults, from a process that keeps its pages in memory too.
# It writes what each call did: `op errno` (0 for success).
python3 - "$work" <<'PY' &
import ctypes, os, sys, time

work = sys.argv[1]
if ctypes.CDLL(None, use_errno=True).mlockall(3) != 0:
    sys.exit("mlockall: %s" % os.strerror(ctypes.get_errno()))
dev0 = "/sys/block/foxramdisk0/"
size = int(open(dev0 + "disksize").read())
log = []

def attempt(op, f):
    try:
        f()
        log.append((op, 0))
    except OSError as e:
        log.append((op, e.errno))

def hot_add():
    with open("/sys/class/foxramdisk-control/hot_add") as f:
        log.append(("added", int(f.read())))

# One write(2) per control, unbuffered: a text file's close() retries a failed write
# from its buffer, so a control that failed could still be applied by a second write.
def write_attr(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)

def grow():
    global size
    write_attr(dev0 + "disksize", "%d\n" % (size + (1 << 20)))
    size += 1 << 20

def algorithm(name):
    write_attr(dev0 + "comp_algorithm", name + "\n")

open(os.path.join(work, "ready2"), "w").close()
while not os.path.exists(os.path.join(work, "go2")):
    time.sleep(0.05)
for i in range(40):
    attempt("hot_add", hot_add)
    attempt("disksize", grow)
    name = ("zstd", "lz4", "deflate")[i % 3]
    attempt("comp_algorithm " + name, lambda: algorithm(name))
while True:
    try:
        open(os.path.join(work, "done2"), "w").close()
        break
    except OSError:
        time.sleep(0.01)
while not os.path.exists(os.path.join(work, "stop2")):
    time.sleep(0.05)
with open(os.path.join(work, "controls"), "w") as f:
    f.write("size %d\n" % size)
    for op, value in log:
        f.write("%s %d\n" % (op, value))
PY
controller=$!
for _ in $(seq 100); do [ -e "$work/ready2" ] && break; sleep 0.1; done
check "the controller's allocations may fail (make-it-fail)" sh -c "echo 1 >/proc/$controller/make-it-fail"
# A control makes tens of allocations, hot_add hundreds: at 1% each, some calls of each
# fail and some work.
faults 1
touch "$work/go2"
for _ in $(seq 1200); do [ -e "$work/done2" ] || ! [ -d /proc/$controller ] && break; sleep 0.1; done
slab=$(injected failslab) pages=$(injected fail_page_alloc)
faults 0
touch "$work/stop2"
wait "$controller"
check_eq "the controller finished" "$?" 0
ctl=$(cat "$work/controls")
diag "faults injected: slab $slab, pages $pages" "$(printf '%s\n' "$ctl" | sed 1d | sort | uniq -c | sort -rn | head -12)"
check "some controls failed under the faults" grep -qv ' 0$' <<<"$(printf '%s\n' "$ctl" | grep -v '^added\|^size')"
check_eq "disksize and comp_algorithm failed with ENOMEM only" \
	"$(printf '%s\n' "$ctl" | grep -v '^added\|^size\|^hot_add' | awk '$NF != 0 { print $NF }' | sort -u)" 12
# hot_add fails with ENOMEM, whichever allocation failed (the disk's device is named before
# add_disk(), which would turn a failed name into EINVAL).
hot_errnos=$(printf '%s\n' "$ctl" | awk '$1 == "hot_add" && $NF != 0 { print $NF }' | sort -u | tr '\n' ' ')
check "hot_add failed with ENOMEM only ('$hot_errnos')" test "$hot_errnos" = "12 " -o "$hot_errnos" = ""
added=$(printf '%s\n' "$ctl" | awk '$1 == "added" { print $2 }')
check_eq "a device for every hot_add that succeeded, and no other" \
	"$(ls -d /sys/block/foxramdisk* | sed 's/.*foxramdisk//' | sort -n | tr '\n' ' ')" \
	"$(printf '0\n%s\n' "$added" | sed '/^$/d' | sort -n | tr '\n' ' ')"
check_eq "disksize grew by every write that succeeded" "$(st 0 disksize)" "$(printf '%s\n' "$ctl" | awk '$1 == "size" { print $2 }')"
last_alg=$(printf '%s\n' "$ctl" | awk '$1 == "comp_algorithm" && $3 == 0 { a = $2 } END { print a ? a : "lz4" }')
check_match "comp_algorithm is the last one set" "$(st 0 comp_algorithm)" "\\[$last_alg\\]"
for id in $added; do
	head -c $BLOCK /dev/urandom >"$work/block"
	dd if="$work/block" of=/dev/foxramdisk$id bs=$BLOCK oflag=direct status=none &&
		[ "$(dev_sha /dev/foxramdisk$id 0 1)" = "$(file_sha "$work/block")" ] ||
		{ fail "device $id, added under the faults, works"; continue; }
	echo "$id" >$CONTROL/hot_remove || fail "hot_remove $id"
done
# The devices there are besides foxramdisk0.
others() { find /sys/block -maxdepth 1 -name 'foxramdisk*' ! -name foxramdisk0; }
check "the devices added under the faults work and go" test -z "$(others)"

# Then every allocation of one hot_add, failed in turn (/proc/thread-self/fail-nth: the
# Nth slab or page allocation of the next system calls fails, whatever the probability):
# each read of hot_add fails with ENOMEM and leaves no device, or works. It prints one
# `N errno` line per allocation, 0 for a hot_add that worked all the same.
faults 0
nth=$(python3 - <<'PY'
import os

control = "/sys/class/foxramdisk-control/"
nth = os.open("/proc/thread-self/fail-nth", os.O_RDWR)
for n in range(1, 5000):
    fd = os.open(control + "hot_add", os.O_RDONLY)
    os.write(nth, b"%d" % n)
    try:
        added, errno = int(os.read(fd, 64)), 0
    except OSError as e:
        added, errno = None, e.errno
    left = int(os.pread(nth, 16, 0))
    os.write(nth, b"0")
    os.close(fd)
    if added is not None:
        with open(control + "hot_remove", "w") as f:
            f.write("%d\n" % added)
    if left:
        # Fewer than n allocations: the call above ran without a fault.
        print("done %d %d" % (n - 1, errno))
        break
    print("%d %d" % (n, errno))
PY
)
points=$(awk '$1 == "done" { print $2 }' <<<"$nth")
check "every allocation of hot_add was failed in turn (${points:-no} allocations)" test "${points:-0}" -gt 0
check_eq "a hot_add with no fault works" "$(awk '$1 == "done" { print $3 }' <<<"$nth")" 0
check_eq "each failed with ENOMEM or worked all the same" \
	"$(awk '$1 != "done" && $2 != 0 { print $2 }' <<<"$nth" | sort -un | tr '\n' ' ')" "12 "
odd=$(awk '$1 != "done" && $2 != 0 && $2 != 12' <<<"$nth" | head -5)
[ -n "$odd" ] && diag "allocations failed, and errnos hot_add gave:" "$odd"
diag "hot_add: $(awk '$1 != "done" && $2 == 0' <<<"$nth" | wc -l) of its allocations may fail and it still works"
check "no device was left behind" test -z "$(others)"

head -c $BLOCK /dev/urandom >"$work/block"
check "device 0 still takes writes" dd if="$work/block" of=$DEV bs=$BLOCK oflag=direct status=none
check_eq "device 0 still reads them back" "$(dev_sha $DEV 0 1)" "$(file_sha "$work/block")"

check "rmmod" unload
rm -rf "$work"
finish

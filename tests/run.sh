#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the lab VM: every tests/[0-9]*.sh (or the ones named), each followed by a
# scan of the kernel log for warnings, lockdep reports, BUGs and oopses, which fail the
# test that caused them. Prints `# test: NAME`, the test's TAP lines prefixed by its name,
# and one `ok`/`not ok` line for its kernel log.
cd "$(dirname "$0")/.." || exit 1
export REPO=$PWD

bad='blocked for more than|WARNING:|BUG:|Oops|general protection|Kernel panic|kernel BUG|possible (recursive|circular) locking|inconsistent lock state|lock held when returning|UBSAN|rust_panic|panicked at|INFO: task .* blocked|soft lockup|unreferenced object'

# A test that takes longer than this has hung: it is stopped and reported.
TEST_TIMEOUT=${TEST_TIMEOUT:-900}

# A task stuck for 60 s is reported with its stack, which fails the test (see $bad).
echo 60 >/proc/sys/kernel/hung_task_timeout_secs

# With kmemleak on (the debug kernel), leaks are reported in its debugfs file, not in the
# kernel log: each test starts with the file cleared and ends with a scan of it.
LEAKS=/sys/kernel/debug/kmemleak
kmemleak=
kmemleak_off=
grep -qw kmemleak=on /proc/cmdline && kmemleak=1
if [ -n "$kmemleak" ] && [ ! -w $LEAKS ]; then
	echo "not ok - kmemleak: $LEAKS is writable (booted with kmemleak=on)"
	kmemleak=
fi
# What the boot left unreferenced (the debug kernel reports one ramfs context of the
# initial mount tree) is the kernel's, not a test's: scanned and cleared before the first,
# and objects allocated by start_kernel() are left out of every test's report below.
if [ -n "$kmemleak" ]; then
	echo scan >$LEAKS
	echo clear >$LEAKS
fi

# The module's KUnit suites run whenever it is loaded (CONFIG_KUNIT). 00-kunit runs them
# and sets this filter to its suites itself; for every other test it matches no suite, so
# that its loads of the module (95-load-cycles loads it 90 times) do not run them again:
# each run takes about a second on the lab kernel and a minute and more on the debug one.
# Written with printf: a newline would be part of the glob.
KUNIT_FILTER=/sys/module/kunit/parameters/filter_glob
KUNIT_NONE=foxramdisk_kunit_off

# Tests that pin most of the guest's memory on purpose. kmemleak cannot allocate its own
# records under them and may turn itself off for good (see below): with kmemleak on and
# no tests named, they run after all the others, so that every other test is leak-checked,
# and in this order, the three seen to turn it off (89-writeback, in its swap phase,
# 86-swap-fault, 62-swap-pressure) last.
pressure=(79-dedup 64-ext4-pressure 60-swap 89-writeback 86-swap-fault 62-swap-pressure)

tests=("$@")
if [ ${#tests[@]} = 0 ]; then
	for t in tests/[0-9]*.sh; do
		[ -n "$kmemleak" ] && [[ " ${pressure[*]} " == *" $(basename "$t" .sh) "* ]] && continue
		tests+=("$t")
	done
	if [ -n "$kmemleak" ]; then
		for p in "${pressure[@]}"; do tests+=("tests/$p.sh"); done
	fi
fi
status=0
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	echo "# test: $name"
	if [ ! -f "$t" ]; then
		echo "not ok - $name: no such test ($t)"
		status=1
		continue
	fi
	started=$(date +%s)
	dmesg -C
	[ -n "$kmemleak" ] && echo clear 2>/dev/null >$LEAKS
	[ -w $KUNIT_FILTER ] && printf %s $KUNIT_NONE >$KUNIT_FILTER
	# Its own output is kept to see whether it got to its plan (`finish`): a test that dies
	# before, from a syntax error or an `exit`, has no `not ok` line of its own to count.
	own=$(mktemp)
	timeout -k 10 "$TEST_TIMEOUT" bash "$t" 2>&1 | tee "$own" | sed -u "s/^\(ok\|not ok\) \([0-9]*\) - /\1 \2 - $name: /"
	rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || status=1
	if [ "$rc" != 124 ] && [ "$rc" != 137 ] && ! grep -q '^1\.\.[0-9]' "$own"; then
		echo "not ok - $name: ran to its end (no plan line; exit status $rc)"
		status=1
	fi
	rm -f "$own"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "not ok - $name: finished within $TEST_TIMEOUT s"
		# Blocked tasks and every CPU's stack into the log, shown below.
		echo w >/proc/sysrq-trigger
		echo l >/proc/sysrq-trigger
		sleep 2
		dmesg | grep -A40 -E 'blocked for more than|task:.* state:D|NMI backtrace|sysrq: Show' | head -150 | sed 's/^/# /'
	fi
	# Leaks of this test, reported under its name. kmemleak reports an object only once it
	# has been unreferenced for 5 s, so the test's last objects are given that long.
	# kmemleak turns itself off for good when it cannot allocate its own records (memory
	# pressure, as in the swap tests), and its file then refuses writes: from there on no
	# test can be checked for leaks, and each says so, as a skip, never as a pass.
	[ -n "$kmemleak" ] && sleep 6
	if [ -n "$kmemleak" ] && ! echo scan 2>/dev/null >$LEAKS; then
		kmemleak=
		# Its reason and its farewell; not "Cannot allocate a scan area", which it survives.
		kmemleak_off=$(dmesg | grep -iE 'kmemleak.*(pool empty|kmemleak_object|disabled)' |
			sed 's/^\[[^]]*\] //' | paste -sd ';' -)
		kmemleak_off=${kmemleak_off:-its file refuses writes}
	fi
	if [ -n "$kmemleak_off" ]; then
		echo "ok - $name: no memory leaked (kmemleak) # SKIP kmemleak is off: $kmemleak_off"
	elif [ -n "$kmemleak" ]; then
		# Objects allocated by start_kernel() are the boot's, whenever kmemleak first
		# sees them unreferenced (the initial mount tree's ramfs context can be seen only
		# after the boot scan): not this test's.
		leaks=$(awk '/^unreferenced object/ { if (rec != "" && rec !~ /start_kernel\+/) printf "%s", rec; rec = "" }
			{ rec = rec $0 "\n" }
			END { if (rec != "" && rec !~ /start_kernel\+/) printf "%s", rec }' $LEAKS)
		if [ -n "$leaks" ]; then
			echo "not ok - $name: no memory leaked (kmemleak)"
			printf '%s\n' "$leaks" | head -60 | sed 's/^/# /'
			status=1
		else
			echo "ok - $name: no memory leaked (kmemleak)"
		fi
	fi
	# grep: 0 = a bad line was found, 1 = none; anything else means the scan itself
	# failed, which must not pass as a clean log.
	log=$(dmesg 2>&1)
	scan=$?
	printf '%s\n' "$log" | grep -qE "$bad"
	found=$?
	if [ "$scan" != 0 ] || [ "$found" -gt 1 ]; then
		echo "not ok - $name: kernel log clean (could not read it: dmesg $scan, grep $found)"
		status=1
	elif [ "$found" = 0 ]; then
		echo "not ok - $name: kernel log clean"
		printf '%s\n' "$log" | grep -E -A12 "$bad" | head -60 | sed 's/^/# /'
		status=1
	else
		echo "ok - $name: kernel log clean"
	fi
	echo "# $name took $(($(date +%s) - started)) s"
	# Never leave the module behind for the next test.
	grep -q '^foxramdisk ' /proc/modules && { rmmod foxramdisk 2>/dev/null || true; }
done
exit $status

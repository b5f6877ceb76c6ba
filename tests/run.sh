#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the lab VM: every tests/[0-9]*.sh (or the ones named), each followed by a
# scan of the kernel log for warnings, lockdep reports, BUGs and oopses, which fail the
# test that caused them. Prints `# test: NAME`, the test's TAP lines prefixed by its name,
# and one `ok`/`not ok` line for its kernel log.
cd "$(dirname "$0")/.." || exit 1
export REPO=$PWD

bad='WARNING:|BUG:|Oops|general protection|Kernel panic|kernel BUG|possible (recursive|circular) locking|inconsistent lock state|lock held when returning|UBSAN|rust_panic|panicked at|INFO: task .* blocked|soft lockup|unreferenced object'

tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(tests/[0-9]*.sh)
status=0
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	echo "# test: $name"
	dmesg -C
	bash "$t" 2>&1 | sed -u "s/^\(ok\|not ok\) \([0-9]*\) - /\1 \2 - $name: /"
	[ "${PIPESTATUS[0]}" = 0 ] || status=1
	# Make sure leaks of this test are reported under its name.
	if grep -qw kmemleak=on /proc/cmdline; then echo scan >/sys/kernel/debug/kmemleak; fi
	log=$(dmesg)
	if hits=$(printf '%s\n' "$log" | grep -E "$bad"); then
		echo "not ok - $name: kernel log clean"
		printf '%s\n' "$log" | grep -E -A12 "$bad" | head -60 | sed 's/^/# /'
		status=1
	else
		echo "ok - $name: kernel log clean"
	fi
	# Never leave the module behind for the next test.
	grep -q '^foxramdisk ' /proc/modules && { rmmod foxramdisk 2>/dev/null || true; }
done
exit $status

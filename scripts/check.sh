#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: builds the lab (cached), checks the module builds warning-free with and
# without clippy and is rustfmt-clean, then runs tests/run.sh in the VM. Prints one line
# per test and ends with `N passed, N failed[, N skipped]`; exits non-zero on any failure
# or if the VM did not come back. With FOXRAMDISK_KERNEL=debug (`make check-debug`), the
# same on the debug kernel (KASAN), booted with kmemleak on: tests/run.sh then scans for
# leaks after every test.
#   scripts/check.sh [tests/NN-name.sh ...]    only the named VM tests
. "$(dirname "$0")/lib.sh"

start=$SECONDS
results=$REPO/results
mkdir -p "$results"
out=$results/check.log
: >"$out"

bash "$REPO/scripts/lab-kernel.sh"

# host_check WHAT CMD...: one counted line for a build-side check.
host_check() {
	local what=$1 log
	shift
	if log=$("$@" 2>&1); then
		echo "ok - $what" | tee -a "$out"
	else
		echo "not ok - $what" | tee -a "$out"
		printf '%s\n' "$log" | tail -40 | sed 's/^/# /' | tee -a "$out"
	fi
}

host_check "rustfmt: src/ is formatted (kernel .rustfmt.toml)" bash "$REPO/scripts/fmt.sh" --check
host_check "clippy: CLIPPY=1 build has no warnings" bash "$REPO/scripts/build.sh" CLIPPY=1 modules
host_check "build: foxramdisk.ko builds with -Werror / -Dwarnings" bash "$REPO/scripts/build.sh" modules

# `make install` into a staging root, against the lab kernel: the module where modprobe
# finds it (with depmod's index), the tools, the unit pointing at them, and the config.
install_check() {
	local stage=$REPO/results/install-stage
	rm -rf "$stage"
	in_root env KDIR="$(KERNEL_DIR)" DESTDIR="$stage" bash scripts/install.sh &&
		ls "$stage"/lib/modules/*/updates/foxramdisk.ko &&
		grep -q 'updates/foxramdisk.ko:' "$stage"/lib/modules/*/modules.dep &&
		test -x "$stage/usr/local/sbin/foxramdiskctl" -a -x "$stage/usr/local/sbin/foxramdisk-swap" &&
		grep -qx 'ExecStart=/usr/local/sbin/foxramdisk-swap start' "$stage/etc/systemd/system/foxramdisk-swap.service" &&
		cmp "$REPO/scripts/systemd/swap.conf" "$stage/etc/foxramdisk/swap.conf" &&
		rm -rf "$stage"
}
host_check "make install: module (depmod), foxramdiskctl, foxramdisk-swap, unit and config staged" install_check

untracked() { git -C "$REPO" status --porcelain --untracked-files=all 2>/dev/null | grep '^??' | sort || true; }
before=$(untracked)
ko=$(MODULE_DIR)/foxramdisk.ko
if [ "$KERNEL_FLAVOUR" = debug ]; then
	# KASAN's shadow takes an eighth of the memory, and its checks slow every access: the
	# suite runs four to five times longer than on the lab kernel, well past vm.sh's
	# default time-out of an hour.
	export VM_APPEND="${VM_APPEND:-} kmemleak=on" VM_MEM=${VM_MEM:-3G}
	export TEST_TIMEOUT=${TEST_TIMEOUT:-2700} VM_TIMEOUT=${VM_TIMEOUT:-28800}
fi
if [ -f "$ko" ]; then
	set +e
	VM_LOG=$results/console.log bash "$REPO/scripts/vm.sh" "FOXRAMDISK_KO='$ko' TEST_TIMEOUT=${TEST_TIMEOUT:-900} tests/run.sh $*" 2>&1 | tee -a "$out"
	vm_rc=${PIPESTATUS[0]}
	set -e
	if [ "$vm_rc" = 125 ]; then
		echo "not ok - vm: the VM came back with a result (see results/console.log)" | tee -a "$out"
	fi
	if stray=$(comm -13 <(printf '%s\n' "$before") <(untracked) | grep .); then
		echo "not ok - vm: the tests left no files in the repository" | tee -a "$out"
		printf '%s\n' "$stray" | head -10 | sed 's/^/# /' | tee -a "$out"
	else
		echo "ok - vm: the tests left no files in the repository" | tee -a "$out"
	fi
else
	echo "not ok - vm: tests not run, the module did not build" | tee -a "$out"
fi

passed=$(grep -Ec '^ok ' "$out" | tr -d ' ' || true)
skipped=$(grep -Ec '^ok .*# SKIP' "$out" || true)
failed=$(grep -Ec '^not ok ' "$out" || true)
passed=$((passed - skipped))
echo "# make check took $((SECONDS - start)) s; log in results/check.log"
summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary+=", $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

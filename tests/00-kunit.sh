#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The module's KUnit suites run when it is loaded (CONFIG_KUNIT); their KTAP results are
# read back from the kernel log, one TAP line per case. A suite that did not run fails.
. "$(dirname "$0")/lib.sh"

SUITES="foxramdisk_store foxramdisk_algorithm foxramdisk_codec foxramdisk_parse foxramdisk_raw_buf foxramdisk_bio foxramdisk_chunk_table foxramdisk_object_table foxramdisk_percpu_rw_sem foxramdisk_access_times foxramdisk_dedup_index"

# tests/run.sh sets kunit's filter to match none of them, for the other tests' loads.
check "kunit's filter selects the module's suites" sh -c "printf %s 'foxramdisk_*' >/sys/module/kunit/parameters/filter_glob"
check "insmod runs the KUnit suites" load initial_devices_count=0
ktap=$(dmesg -t)
unload

for suite in $SUITES; do
	# The suite's block: from its "# Subtest:" line to its own result line.
	block=$(printf '%s\n' "$ktap" | sed -n "/# Subtest: $suite\$/,/^\(not \)\?ok [0-9]* $suite\$/p")
	if [ -z "$block" ]; then
		fail "KUnit suite $suite ran"
		diag "$(printf '%s\n' "$ktap" | tail -20)"
		continue
	fi
	cases=0
	while read -r line; do
		case "$line" in
		"ok "*"# SKIP"*) skip "kunit $suite.${line#ok * }" "skipped by KUnit"; cases=$((cases + 1)) ;;
		"ok "*) pass "kunit $suite.$(echo "$line" | cut -d' ' -f3)"; cases=$((cases + 1)) ;;
		"not ok "*) fail "kunit $suite.$(echo "$line" | cut -d' ' -f4)"; cases=$((cases + 1))
			diag "$(printf '%s\n' "$block" | grep -B8 -F "$line" | head -12)" ;;
		esac
	done < <(printf '%s\n' "$block" | sed -n 's/^ \{4\}\(\(not \)\?ok [0-9]* .*\)$/\1/p')
	plan=$(printf '%s\n' "$block" | sed -n 's/^ \{4\}1\.\.\([0-9]*\)$/\1/p' | head -1)
	check_eq "KUnit suite $suite ran every case of its plan" "$cases" "${plan:-none}"
	check_match "KUnit suite $suite passed" "$(printf '%s\n' "$block" | tail -1)" "^ok [0-9]+ $suite\$"
done
finish

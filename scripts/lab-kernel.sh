#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds (once per key) the lab kernel: tinyconfig + scripts/kernel.config, LLVM=1,
# bzImage and modules, installed into <kernel dir>/../modroot for the guest. With
# FOXRAMDISK_KERNEL=bench, the bench kernel: scripts/kernel-bench.config on top.
. "$(dirname "$0")/lib.sh"

bash "$REPO/scripts/lab-root.sh"
kdir=$(KERNEL_DIR)
top=$(dirname "$kdir")
[ -f "$top/.foxramdisk-ready" ] && exit 0

# Stale builds of this flavour only: keys are hex, so another flavour's kernel-<flavour>-<key>
# never matches <prefix>-<key>.
prefix=$(kernel_prefix)
for old in "$CACHE/$prefix"-*; do
	case "${old##*/"$prefix"-}" in *-*) continue ;; esac
	[ -e "$old" ] && [ "$old" != "$top" ] && { log "removing stale $old"; rm -rf "$old"; }
done
mkdir -p "$top"
if [ ! -f "$kdir/Makefile" ]; then
	log "unpacking linux-source $(lab_kernel_version)"
	rm -rf "$kdir.tmp" && mkdir -p "$kdir.tmp"
	in_root tar -xJf "/usr/src/linux-source-$KERNEL_SERIES.tar.xz" -C "$kdir.tmp" --strip-components=1
	mv "$kdir.tmp" "$kdir"
fi

# The flavour's fragments as one, each option at its last value.
mapfile -t fragments < <(kernel_fragments)
fragment="$top/fragment.config"
awk '/^CONFIG_/ { split($0, kv, "="); if (!(kv[1] in v)) order[n++] = kv[1]; v[kv[1]] = $0 }
	END { for (i = 0; i < n; i++) print v[order[i]] }' "${fragments[@]}" >"$fragment"

log "configuring $KERNEL_FLAVOUR kernel (tinyconfig + ${fragments[*]##*/})"
in_root bash -c '
	set -e; cd "$1"
	make -s LLVM=1 tinyconfig
	scripts/kconfig/merge_config.sh -m -O . .config "$2" >/dev/null
	make -s LLVM=1 olddefconfig
' bash "$kdir" "$fragment"

# Every option of the fragments must have survived olddefconfig.
missing=0
while IFS= read -r line; do
	case "$line" in "" | \#*) continue ;; esac
	opt=${line%%=*} val=${line#*=}
	if [ "$val" = n ]; then
		grep -qx "$opt=y\|$opt=m" "$kdir/.config" && { log "option lost: $line"; missing=1; }
	else
		grep -qx "$line" "$kdir/.config" || { log "option lost: $line (have: $(grep "^$opt=\|# $opt " "$kdir/.config"))"; missing=1; }
	fi
done <"$fragment"
[ "$missing" = 0 ] || die "kconfig dropped options of ${fragments[*]##*/} (dependencies missing)"

[ -n "${LAB_CONFIG_ONLY:-}" ] && exit 0
log "building the kernel: 8 to 25 min on 2 cores, by machine (log: $top/build.log)"
start=$SECONDS
in_root make -C "$kdir" LLVM=1 -j"$(($(nproc) + 1))" bzImage modules >"$top/build.log" 2>&1 ||
	{ tail -40 "$top/build.log"; die "kernel build failed"; }
rm -rf "$top/modroot"
in_root make -C "$kdir" LLVM=1 -s INSTALL_MOD_PATH="$top/modroot" modules_install >>"$top/build.log" 2>&1 ||
	{ tail -20 "$top/build.log"; die "modules_install failed"; }
log "kernel built in $((SECONDS - start)) s"
touch "$top/.foxramdisk-ready"

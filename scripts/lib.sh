# SPDX-License-Identifier: GPL-2.0
# Shared settings of the foxramdisk lab scripts. Sourced, never run.
#
# Everything the lab builds lives under $FOXRAMDISK_CACHE, outside the repository, in
# directories named after a hash of the inputs that built them:
#   root-<key>/    Debian trixie root: toolchain, linux-source, QEMU and the guest's tools.
#   kernel-<key>/  the kernel tree built from tinyconfig + scripts/kernel.config.
#   kernel-bench-<key>/  the bench kernel: the same with scripts/kernel-bench.config on top.
# Changing an input changes the key, so the next run builds a new directory and removes
# the stale one.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${FOXRAMDISK_CACHE:-/var/cache/foxramdisk}
SUITE=trixie
MIRROR=${FOXRAMDISK_MIRROR:-http://deb.debian.org/debian}

# The kernel the lab builds: this exact Debian package version is tried first; when the
# archive no longer has it, the newest linux-source-7.3 from trixie-backports is used and
# its version is recorded in the root (see lab_kernel_version).
KERNEL_SERIES=7.3
KERNEL_PIN=7.3.4-1~bpo13+1

# Packages of the toolchain root. The kernel's documented minimum Rust toolchain is
# trixie's (rustc 1.85, bindgen 0.71); the rest is what the guest needs to test devices.
ROOT_PACKAGES=(
	rustc rust-src rustfmt rust-clippy bindgen libclang-dev clang lld llvm
	make gcc libc6-dev bc flex bison libelf-dev libssl-dev cpio kmod python3 xz-utils
	dwarves busybox-static qemu-system-x86 e2fsprogs util-linux fio procps
	python3-matplotlib
)
# Test tools added since: they key the root but not the kernel build (see toolchain_key),
# so adding one costs a new root (about 80 s), not a kernel build.
TOOL_PACKAGES=(shellcheck linux-perf)

log() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

# Recipe versions: bump one when a change to lab-root.sh or lab-kernel.sh changes what
# they build, so that cached builds are redone. (Hashing the scripts themselves would
# throw a 20-minute kernel build away on every comment edit.)
ROOT_RECIPE=1
KERNEL_RECIPE=1

# Key of the toolchain: suite, package list, kernel pin and recipe.
toolchain_key() {
	printf '%s\n' "$SUITE" "$KERNEL_SERIES" "$KERNEL_PIN" "$ROOT_RECIPE" "${ROOT_PACKAGES[@]}" |
		sha256sum | cut -c1-16
}

# Key of the root: the toolchain and the test tools.
root_key() {
	printf '%s\n' "$(toolchain_key)" "${TOOL_PACKAGES[@]}" | sha256sum | cut -c1-16
}

ROOT_DIR() { printf '%s/root-%s' "$CACHE" "$(root_key)"; }

# The version of linux-source installed in the root.
lab_kernel_version() { cat "$(ROOT_DIR)/.foxramdisk-linux-source-version"; }

# The kernel flavour ($FOXRAMDISK_KERNEL): `lab` (default), the kernel every test runs on,
# built from scripts/kernel.config with its debugging options; `bench`, the same kernel
# with scripts/kernel-bench.config on top (those options off), that `make bench` and
# `make profile` measure on; or `debug`, with scripts/kernel-debug.config on top (KASAN),
# that `make check-debug` tests on. Each flavour has its own cache directory and module
# build.
KERNEL_FLAVOUR=${FOXRAMDISK_KERNEL:-lab}
case "$KERNEL_FLAVOUR" in lab | bench | debug) ;; *) die "FOXRAMDISK_KERNEL must be lab, bench or debug" ;; esac

# The config fragments of the flavour, in merge order (a later value wins).
kernel_fragments() {
	echo "$REPO/scripts/kernel.config"
	[ "$KERNEL_FLAVOUR" = lab ] || echo "$REPO/scripts/kernel-$KERNEL_FLAVOUR.config"
}

# Key of the kernel build: the toolchain, the exact source version, the fragments and recipe.
# (The lab flavour hashes exactly what it did before flavours existed.)
kernel_key() {
	{
		toolchain_key
		lab_kernel_version
		echo "$KERNEL_RECIPE"
		cat "$REPO/scripts/kernel.config"
		if [ "$KERNEL_FLAVOUR" != lab ]; then
			echo "$KERNEL_FLAVOUR"
			cat "$REPO/scripts/kernel-$KERNEL_FLAVOUR.config"
		fi
	} | sha256sum | cut -c1-16
}

# Cache directory name prefix of the flavour's kernels.
kernel_prefix() { [ "$KERNEL_FLAVOUR" = lab ] && echo kernel || echo "kernel-$KERNEL_FLAVOUR"; }

KERNEL_DIR() { printf '%s/%s-%s/linux' "$CACHE" "$(kernel_prefix)" "$(kernel_key)"; }

# Where the module is built for the flavour: the repository for the lab kernel (tests load
# $REPO/foxramdisk.ko), results/module-<flavour>/ for another.
MODULE_DIR() { [ "$KERNEL_FLAVOUR" = lab ] && echo "$REPO" || echo "$REPO/results/module-$KERNEL_FLAVOUR"; }

# Runs a command inside the toolchain root, in a private mount namespace so that nothing
# stays mounted when it ends. The repository and the cache appear at the same paths as
# outside, so paths printed by tools are the same in both worlds.
in_root() {
	local root
	root=$(ROOT_DIR)
	[ -x "$root/usr/bin/rustc" ] || die "toolchain root missing: run scripts/lab-root.sh"
	unshare --mount --propagation private -- /bin/bash -c '
		set -e
		root=$1 repo=$2 cache=$3; shift 3
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		mount -t tmpfs tmpfs "$root/tmp"
		mkdir -p "$root$repo" "$root$cache"
		mount --bind "$cache" "$root$cache"
		mount --bind "$repo" "$root$repo"
		cd "$repo"
		exec chroot "$root" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" \
			PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 \
			/bin/bash -c "cd \"$repo\" && exec \"\$@\"" bash "$@"
	' bash "$root" "$REPO" "$CACHE" "$@"
}

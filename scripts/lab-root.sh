#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds (once per key) the Debian trixie toolchain root under $FOXRAMDISK_CACHE.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "the lab needs root (debootstrap, chroot, mounts)"

root=$(ROOT_DIR)
if [ -f "$root/.foxramdisk-ready" ]; then
	exit 0
fi

if ! command -v debootstrap >/dev/null; then
	log "installing debootstrap on the host"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

mkdir -p "$CACHE"
# Only one root is kept: a stale one (other key) is removed.
for old in "$CACHE"/root-*; do
	[ -e "$old" ] && [ "$old" != "$root" ] && { log "removing stale $old"; rm -rf --one-file-system "$old"; }
done
rm -rf --one-file-system "$root"

log "debootstrap $SUITE into $root"
start=$SECONDS
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
	{ tail -20 "$CACHE/debootstrap.log"; die "debootstrap failed"; }

cat >"$root/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $MIRROR $SUITE-backports main
SRC
printf 'foxramdisk-lab\n' >"$root/etc/hostname"

in_root_raw() {
	unshare --mount --propagation private -- /bin/bash -c '
		set -e; root=$1; shift
		mount -t proc proc "$root/proc"; mount --rbind /dev "$root/dev"
		exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin:/usr/sbin:/sbin \
			DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"
	' bash "$root" "$@"
}

log "installing the toolchain and tools: ${ROOT_PACKAGES[*]} ${TOOL_PACKAGES[*]}"
in_root_raw apt-get update -qq
in_root_raw apt-get install -y -qq --no-install-recommends "${ROOT_PACKAGES[@]}" "${TOOL_PACKAGES[@]}" \
	>"$CACHE/apt.log" 2>&1 || { tail -30 "$CACHE/apt.log"; die "apt-get install failed"; }

log "installing linux-source-$KERNEL_SERIES ($KERNEL_PIN, or the newest if gone)"
if ! in_root_raw apt-get install -y -qq --no-install-recommends -t "$SUITE-backports" \
	"linux-source-$KERNEL_SERIES=$KERNEL_PIN" >>"$CACHE/apt.log" 2>&1; then
	log "pinned $KERNEL_PIN is gone from the archive: taking the newest $KERNEL_SERIES"
	in_root_raw apt-get install -y -qq --no-install-recommends -t "$SUITE-backports" \
		"linux-source-$KERNEL_SERIES" >>"$CACHE/apt.log" 2>&1 ||
		{ tail -30 "$CACHE/apt.log"; die "no linux-source-$KERNEL_SERIES in $SUITE-backports"; }
fi
in_root_raw dpkg-query -W -f '${Version}\n' "linux-source-$KERNEL_SERIES" \
	>"$root/.foxramdisk-linux-source-version"
in_root_raw apt-get clean

{
	printf 'linux-source-%s %s\n' "$KERNEL_SERIES" "$(cat "$root/.foxramdisk-linux-source-version")"
	in_root_raw dpkg-query -W -f '${Package} ${Version}\n' rustc bindgen clang lld qemu-system-x86 fio
} >"$root/.foxramdisk-versions"
log "root ready in $((SECONDS - start)) s:"
sed 's/^/[lab]   /' "$root/.foxramdisk-versions" >&2
touch "$root/.foxramdisk-ready"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make install KDIR=<kernel build tree>`: installs the module built against that tree
# (`modules_install`, then `depmod`), foxramdiskctl, foxramdisk-swap and its systemd unit,
# and /etc/foxramdisk/swap.conf unless it exists. DESTDIR stages into another root, PREFIX
# (default /usr/local) is where the programs go. Run with the same LLVM toolchain that
# built the kernel, as root.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
KDIR=${KDIR:-}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
[ -n "$KDIR" ] || { echo "make install: set KDIR to the build tree of the kernel to install for" >&2; exit 2; }
release=$(make -s -C "$KDIR" kernelrelease)
make -C "$KDIR" M="$REPO" LLVM=1 modules
make -C "$KDIR" M="$REPO" LLVM=1 ${DESTDIR:+INSTALL_MOD_PATH="$DESTDIR"} DEPMOD=true modules_install
depmod ${DESTDIR:+-b "$DESTDIR"} "$release"
sbindir=$PREFIX/sbin
install -D -m 0755 "$REPO/scripts/foxramdiskctl" "$DESTDIR$sbindir/foxramdiskctl"
install -D -m 0755 "$REPO/scripts/foxramdisk-swap" "$DESTDIR$sbindir/foxramdisk-swap"
unit=$DESTDIR/etc/systemd/system/foxramdisk-swap.service
mkdir -p "$(dirname "$unit")"
sed "s|@SBINDIR@|$sbindir|g" "$REPO/scripts/systemd/foxramdisk-swap.service" >"$unit"
chmod 0644 "$unit"
if [ -e "$DESTDIR/etc/foxramdisk/swap.conf" ]; then
	echo "kept $DESTDIR/etc/foxramdisk/swap.conf"
else
	install -D -m 0644 "$REPO/scripts/systemd/swap.conf" "$DESTDIR/etc/foxramdisk/swap.conf"
fi
echo "installed foxramdisk for $release${DESTDIR:+ into $DESTDIR}"
[ -n "$DESTDIR" ] || echo "enable swap at boot: systemctl daemon-reload && systemctl enable --now foxramdisk-swap"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boots the lab kernel under QEMU (TCG, 2 vCPUs) with the toolchain root as the guest's /
# and the repository read-write at its host path.
#
#   scripts/vm.sh                 interactive shell in the guest
#   scripts/vm.sh 'command ...'   runs the command as root in the repository directory,
#                                 prints its output and exits with its status
#
# Environment: VM_MEM (default 2G), VM_CPUS (2), VM_TIMEOUT (seconds, default 3600),
# VM_APPEND (extra kernel command line), VM_LOG (where the kernel console goes),
# VM_ICOUNT (QEMU -icount shift: the guest clock counts instructions, not host time).
# A non-interactive VM has a QEMU monitor on $FOXRAMDISK_CACHE/monitor.PID.sock (PID: this
# script's, logged at start; one per VM, so that VMs run side by side each keep their own),
# to look at a guest that hangs (`info registers -a`, `nmi`).
. "$(dirname "$0")/lib.sh"

bash "$REPO/scripts/lab-kernel.sh"
kdir=$(KERNEL_DIR)
top=$(dirname "$kdir")
mods="$top/modroot/lib/modules"
# The guest mounts the kernel's modules here; the root has no kernel of its own.
mkdir -p "$(ROOT_DIR)/usr/lib/modules"
mem=${VM_MEM:-2G} cpus=${VM_CPUS:-2}
log_file=${VM_LOG:-$CACHE/console.log}

append="console=ttyS0 root=/dev/root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose ro"
append+=" init=$REPO/scripts/guest-init panic=-1 oops=panic softlockup_panic=0 loglevel=4"
append+=" foxramdisk.repo=$REPO foxramdisk.mods=$mods ${VM_APPEND:-}"

qemu=(qemu-system-x86_64 -accel tcg -cpu max -smp "$cpus" -m "$mem" -no-reboot
	-kernel "$kdir/arch/x86/boot/bzImage"
	-fsdev "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap"
	-device virtio-9p-pci,fsdev=root,mount_tag=/dev/root
	-fsdev "local,id=repo,path=$REPO,security_model=none,multidevs=remap"
	-device virtio-9p-pci,fsdev=repo,mount_tag=repo
	-fsdev "local,id=mods,path=$mods,security_model=none,readonly=on"
	-device virtio-9p-pci,fsdev=mods,mount_tag=mods)
[ -n "${VM_ICOUNT:-}" ] && qemu+=(-icount "shift=$VM_ICOUNT,sleep=off")

if [ $# -eq 0 ]; then
	in_root "${qemu[@]}" -nographic -serial mon:stdio -append "$append foxramdisk.interactive=1"
	exit $?
fi

cmd=$(printf '%s' "$*" | base64 -w0)
out=$(mktemp)
monitor=$CACHE/monitor.$$.sock
trap 'rm -f "$out" "$monitor"' EXIT
log "QEMU monitor: $monitor"
set +e
# ttyS0 (kernel console) goes to the log file, ttyS1 (the command) to our stdout. No
# --foreground: on time-out the whole process group, QEMU included, is killed.
timeout -k 10 "${VM_TIMEOUT:-3600}" \
	bash -c '. "$1/scripts/lib.sh"; shift; in_root "$@"' bash "$REPO" \
	"${qemu[@]}" -display none -vga none -serial "file:$log_file" -serial stdio \
	-monitor "unix:$monitor,server=on,wait=off" \
	-append "$append foxramdisk.cmd=$cmd" </dev/null | sed -u 's/\r$//' | tee "$out" | grep --line-buffered -v '^FOXRAMDISK-EXIT: '
qrc=${PIPESTATUS[0]}
set -e
rc=$(sed -n 's/^FOXRAMDISK-EXIT: \([0-9]*\)$/\1/p' "$out" | tail -1)
if [ -z "$rc" ]; then
	log "the VM did not come back (QEMU status $qrc); last kernel messages ($log_file):"
	tail -40 "$log_file" >&2
	exit 125
fi
exit "$rc"

#!/usr/bin/env bash
# Usage: run-vm.sh WORKDIR QMP_SOCKET GUEST_COMMAND [extra qemu args...]
# Boots the cached kernel under software emulation (TCG: KVM on these machines
# opens but hangs guest kernels), host / shared read-only, WORKDIR read-write.
set -euo pipefail
CACHE=${PANTAU_HIL_CACHE:-/var/cache/pantau-hil}
WORK=$1; QMP=$2; RUN=$3; shift 3
KVER=$(ls "$CACHE/kernel/lib/modules" | head -1)
exec qemu-system-x86_64 -accel "${ACCEL:-tcg}" -cpu max -m "${MEM:-768}" -smp 1 \
  -nodefaults -no-user-config -display none -no-reboot -serial stdio \
  -kernel "$CACHE/kernel/boot/vmlinuz-$KVER" -initrd "$CACHE/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet loglevel=4 panic=-1 pantau.run=$RUN" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$WORK,mount_tag=work,security_model=none,multidevs=remap" \
  -qmp "unix:$QMP,server=on,wait=off" \
  "$@"

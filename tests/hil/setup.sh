#!/usr/bin/env bash
# Cached, idempotent set-up for the QEMU USB hardware-in-the-loop test.
# Installs QEMU and friends from Debian, downloads the guest kernel ONCE (pinned
# package, falling back to what linux-image-amd64 points at, with a message),
# and builds the initramfs. Everything lands in $PANTAU_HIL_CACHE so later runs
# (and CI on the same machine) start in seconds.
# Exit codes: 0 ready; 3 QEMU cannot be installed here (the test then skips).
set -euo pipefail
CACHE=${PANTAU_HIL_CACHE:-/var/cache/pantau-hil}
KPKG_PINNED=${PANTAU_HIL_KERNEL:-linux-image-6.1.0-57-amd64}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$CACHE/debs"
export DEBIAN_FRONTEND=noninteractive

need=""
for p in qemu-system-x86 busybox-static cpio kmod libusb-1.0-0; do
  dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
  if [ "$(id -u)" != 0 ]; then echo "hil setup: need root to apt-get install:$need" >&2; exit 3; fi
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends $need >/dev/null; } \
    || { echo "hil setup: could not install$need (no package registry?)" >&2; exit 3; }
fi

cd "$CACHE/debs"
if ! ls linux-image-*.deb >/dev/null 2>&1; then
  if ! apt-get download -qq "$KPKG_PINNED" 2>/dev/null; then
    KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
    echo "hil setup: pinned kernel $KPKG_PINNED is gone from the archive; using $KPKG" >&2
    apt-get download -qq "$KPKG"
  fi
fi
if [ ! -d "$CACHE/kernel/boot" ]; then
  rm -rf "$CACHE/kernel.tmp"
  dpkg -x linux-image-*.deb "$CACHE/kernel.tmp"
  mv "$CACHE/kernel.tmp" "$CACHE/kernel"
fi
KVER=$(ls "$CACHE/kernel/lib/modules" | head -1)
[ -f "$CACHE/kernel/lib/modules/$KVER/modules.dep" ] || depmod -b "$CACHE/kernel" "$KVER"
if [ ! -f "$CACHE/initramfs.cpio.gz" ] || [ "$HERE/guest-init.sh" -nt "$CACHE/initramfs.cpio.gz" ]; then
  "$HERE/build-initramfs.sh" "$CACHE"
fi
echo "hil setup ok: kernel $KVER, cache $CACHE"

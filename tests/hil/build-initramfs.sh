#!/usr/bin/env bash
# A ~2 MB initramfs: static busybox, the modules for virtio/9p, xHCI and
# virtio-net (dependency order from modprobe), and guest-init.sh as /init.
set -euo pipefail
CACHE=$1
HERE=$(cd "$(dirname "$0")" && pwd)
KROOT=$CACHE/kernel
KVER=$(ls "$KROOT/lib/modules" | head -1)
W=$CACHE/initramfs.d
rm -rf "$W"; mkdir -p "$W"/{bin,proc,sys,dev,host,lib/modules,etc}
cp /bin/busybox "$W/bin/busybox"
MODS="virtio_pci virtio_net 9pnet_virtio 9p xhci_pci usbhid hid_generic usb_storage"
for m in $MODS; do
  modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
  cp "$ko" "$W/lib/modules/"; basename "$ko" >> "$W/modules.list"
done
cp "$HERE/guest-init.sh" "$W/init"; chmod +x "$W/init"
(cd "$W" && find . | cpio -o -H newc --quiet | gzip -1) > "$CACHE/initramfs.cpio.gz.tmp"
mv "$CACHE/initramfs.cpio.gz.tmp" "$CACHE/initramfs.cpio.gz"

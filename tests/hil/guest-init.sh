#!/bin/busybox sh
# PID 1 in the guest: load modules, mount the host's / read-only over 9p and the
# run's work dir read-write, give the guest slirp networking, then run the
# command from the kernel command line in /run/work (pantau.run=..., which must come last)
# chrooted into the host root, so the guest runs the host's own Python and venv.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules.list); do insmod "/lib/modules/$m" 2>/dev/null; done
O9="trans=virtio,version=9p2000.L,msize=262144"
mount -t 9p -o "$O9,cache=loose,ro" hostroot /host || { echo "PANTAU-HIL: 9p mount failed"; reboot -f; }
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
# /tmp stays the host's (read-only): the repo and its venv may live there (CI clones).
mount -t tmpfs tmpfs /host/run
mkdir -p /host/run/work /host/run/tmp
mount -t 9p -o "$O9" work /host/run/work
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
fi
hostname pantau-hil-guest
RUN=$(sed -n 's/.*pantau\.run=//p' /proc/cmdline)
echo "PANTAU-HIL: init ready at uptime $(cut -d' ' -f1 /proc/uptime)s"
chroot /host /usr/bin/env TMPDIR=/run/tmp /bin/sh -c "cd /run/work && $RUN"
echo "PANTAU-HIL: command exited with $?"
sync
reboot -f

#!/usr/bin/env bash
# Cached, idempotent set-up for the install test (tests/install): a minimal
# Debian 12 root made by mmdebstrap from Debian's archive (variant "important":
# what the installer puts on a server with no task selected, systemd and procps
# included), plus a local APT
# repository inside it holding every package the install docs ask apt for (and
# their dependencies), so the docs' `apt-get update && apt-get install …` run
# for real in a root that has no network. Everything lands in
# $PANTAU_INSTALL_CACHE/<key>/root.tar; the key changes when this file does, so
# a new package list rebuilds the cache. Later runs start in seconds.
#
#   tests/install/setup.sh          print the path of the cached root.tar
#
# Exit codes: 0 ready; 3 mmdebstrap cannot be installed or Debian's archive
# cannot be reached (the test then skips, saying so).
set -euo pipefail
CACHE=${PANTAU_INSTALL_CACHE:-/var/cache/pantau-install}
MIRROR=${PANTAU_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${PANTAU_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
HERE=$(cd "$(dirname "$0")" && pwd)
# What the docs install with apt (docs/install-central.md, docs/install-station.md)
# and what the two .debs depend on or recommend. apt fails with "Unable to
# locate package" when a doc asks for one missing here: add it.
PACKAGES=(
  mosquitto mosquitto-clients prometheus prometheus-alertmanager openssl curl
  python3 python3-venv libusb-1.0-0 systemd
)
export DEBIAN_FRONTEND=noninteractive

if [[ ${1:-} == --help ]]; then sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0; fi

key=$(sha256sum < "$0" | cut -c1-16)
out=$CACHE/$key
if [[ -f $out/root.tar ]]; then echo "$out/root.tar"; exit 0; fi

need=""
for p in mmdebstrap dpkg-dev; do dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"; done
if [[ -n $need ]]; then
  if [[ $(id -u) != 0 ]]; then echo "install setup: need root to apt-get install:$need" >&2; exit 3; fi
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends $need >/dev/null; } \
    || { echo "install setup: could not install$need (no package registry?)" >&2; exit 3; }
fi

rm -rf "$CACHE"/*.tmp
mkdir -p "$out.tmp"
# The customize hook runs on this machine with the root's path as $1: apt inside
# the root downloads (only) what an administrator's apt-get would install, the
# files become a flat repository in /srv/pantau-apt, and the root's sources are
# pointed at it. systemctl is diverted so tests/install/systemctl_shim.py can
# take its place: by its path in the systemd package, /bin/systemctl (the same
# file as /usr/bin/systemctl on bookworm's merged /usr; dpkg only knows the
# former, and a diversion of the latter would let apt overwrite the shim).
# (A policy-rc.d made here would not stay: mmdebstrap removes its own at the
# end. tests/install/root.py puts one in each fresh root.)
if ! mmdebstrap --quiet --variant=important \
    --customize-hook='chroot "$1" apt-get install --download-only -y -qq '"${PACKAGES[*]}" \
    --customize-hook='mkdir -p "$1/srv/pantau-apt" && mv "$1"/var/cache/apt/archives/*.deb "$1/srv/pantau-apt/"' \
    --customize-hook='cd "$1/srv/pantau-apt" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null > Packages' \
    --customize-hook='echo "deb [trusted=yes] file:/srv/pantau-apt ./" > "$1/etc/apt/sources.list"; rm -rf "$1"/var/lib/apt/lists/*' \
    --customize-hook='chroot "$1" dpkg-divert --quiet --local --rename --add /bin/systemctl' \
    bookworm "$out.tmp/root.tar" \
    "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
    "deb $SECURITY bookworm-security main"; then
  echo "install setup: mmdebstrap failed (is $MIRROR reachable?)" >&2
  rm -rf "$out.tmp"
  exit 3
fi
mv "$out.tmp" "$out"
# Roots made by older versions of this file are of no further use.
find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -path "$out" -exec rm -rf {} +
echo "$out/root.tar"

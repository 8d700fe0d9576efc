"""What is plugged in versus what the inventory expects: pure functions, no I/O to devices.

`UsbDeviceInfo` is the plain record the USB adapter (`agent.probes.usb.backend`) makes
of every device it lists; everything here works on those records only, so the
rules can be tested table-driven without pyusb or a bus.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

import msgspec

from agent.config import USB_SPEED_ORDER, ComponentSpec, UsbMatch, UsbPolicy
from pantau.wire import Device, UnexpectedDevice

ControlResult = Literal["unchecked", "ok", "failed", "denied"]
HUB_CLASS: Final = 9
HID_CLASS: Final = 3
HID_BOOT_SUBCLASS: Final = 1
LINUX_FOUNDATION_VID: Final = 0x1D6B  # root hubs (and gadget ids, never on a station)
USB_IDS_PATH: Final = Path("/usr/share/misc/usb.ids")
_SHORT: Final = 256
_CONTROL_CHARS: Final = re.compile(r"[\x00-\x1f\x7f]")


class UsbDeviceInfo(msgspec.Struct, frozen=True):
    """One USB device as seen in one poll.

    `interface_classes` holds (class, subclass, protocol) per interface.
    `control` is the outcome of the opt-in GET_STATUS check ("unchecked" unless
    a component asked for it), with `control_detail` saying why it failed.
    """

    vid: int
    pid: int
    bus: int
    address: int
    port: str  # sysfs name: "1-2.3"; "usb1" for root hubs
    speed: str = "unknown"  # low|full|high|super|super_plus|unknown
    serial: str = ""
    manufacturer: str = ""
    product: str = ""
    device_class: int = 0
    interface_classes: tuple[tuple[int, int, int], ...] = ()
    control: ControlResult = "unchecked"
    control_detail: str = ""

    @property
    def key(self) -> tuple[int, int]:
        """Bus and address: a re-enumerated device gets a new address."""
        return (self.bus, self.address)

    @property
    def ids(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}"


def _short(text: str) -> str:
    # Strings come from the device itself: no control characters, bounded length.
    return _CONTROL_CHARS.sub("", text)[:_SHORT]


def to_device(info: UsbDeviceInfo) -> Device:
    return Device(
        vid=f"{info.vid:04x}", pid=f"{info.pid:04x}", serial=_short(info.serial),
        bus=info.bus, port=_short(info.port), speed=info.speed,
        manufacturer=_short(info.manufacturer), product=_short(info.product),
    )


def to_unexpected(info: UsbDeviceInfo) -> UnexpectedDevice:
    return UnexpectedDevice(
        vid=f"{info.vid:04x}", pid=f"{info.pid:04x}", product=_short(info.product),
        port=_short(info.port), serial=_short(info.serial),
    )


# --- matching ----------------------------------------------------------------

def matches(match: UsbMatch, info: UsbDeviceInfo) -> bool:
    return (match.vid, match.pid) == (info.vid, info.pid) and (
        match.serial is None or match.serial == info.serial
    )


def is_standin(spec: ComponentSpec, info: UsbDeviceInfo) -> bool:
    """True when every entry of the role that `info` matches is a stand-in entry."""
    found = [m.standin for m in spec.match if matches(m, info)]
    return bool(found) and all(found)


def claim_devices(
    specs: Sequence[ComponentSpec], devices: Iterable[UsbDeviceInfo]
) -> dict[str, tuple[UsbDeviceInfo, ...]]:
    """Give each USB component up to `count` devices matching any of its `match` entries.

    A device serves one role only. Roles pinned to a serial choose first, so a
    pinned scanner is not taken by a second role that accepts any serial of
    the same model. A role takes its real parts before stand-ins (the scanner
    back from repair wins over the single-finger reader still plugged in),
    then devices in port order, for stable results.
    """
    free = sorted(devices, key=lambda d: (d.bus, d.port, d.address))
    pinned_first = sorted(
        (s for s in specs if s.kind == "usb"),
        key=lambda s: not any(m.serial is not None for m in s.match),
    )
    claimed: dict[str, tuple[UsbDeviceInfo, ...]] = {}
    for spec in pinned_first:
        hits = [d for d in free if any(matches(m, d) for m in spec.match)]
        hits = sorted(hits, key=lambda d: is_standin(spec, d))[: spec.count]  # stable sort
        claimed[spec.id] = tuple(hits)
        free = [d for d in free if d not in hits]
    return claimed


def expected_models(spec: ComponentSpec) -> tuple[tuple[int, int], ...]:
    """The (vid, pid) that fill the role for good, in config order, each once."""
    return tuple(dict.fromkeys((m.vid, m.pid) for m in spec.match if not m.standin))


def is_infrastructure(info: UsbDeviceInfo) -> bool:
    """Hubs, root hubs and plain HID boot keyboards/mice: part of every station."""
    if info.vid == LINUX_FOUNDATION_VID or info.device_class == HUB_CLASS:
        return True
    interfaces = info.interface_classes
    # All interfaces must be HID: a "keyboard" that also exposes mass storage
    # (a classic BadUSB shape) stays unexpected.
    return bool(interfaces) and all(c == HID_CLASS for c, _, _ in interfaces) and any(
        sub == HID_BOOT_SUBCLASS for _, sub, _ in interfaces
    )


def is_allowed(info: UsbDeviceInfo, policy: UsbPolicy) -> bool:
    if any(matches(m, info) for m in policy.allow):
        return True
    allowed = set(policy.allow_classes)
    if info.device_class and info.device_class in allowed:
        return True
    # A composite device is allowed only if every interface class is allowed.
    return bool(info.interface_classes) and all(c in allowed for c, _, _ in info.interface_classes)


def unexpected_devices(
    devices: Iterable[UsbDeviceInfo],
    claimed: Mapping[str, Iterable[UsbDeviceInfo]],
    policy: UsbPolicy,
) -> tuple[UsbDeviceInfo, ...]:
    taken = {d.key for group in claimed.values() for d in group}
    return tuple(
        d for d in sorted(devices, key=lambda d: (d.bus, d.port))
        if d.key not in taken and not is_infrastructure(d) and not is_allowed(d, policy)
    )


# --- speed -------------------------------------------------------------------

def below_speed(actual: str, minimum: str | None) -> bool:
    """True only when both speeds are known and `actual` is slower than `minimum`."""
    if minimum is None or actual not in USB_SPEED_ORDER:
        return False
    return USB_SPEED_ORDER.index(actual) < USB_SPEED_ORDER.index(minimum)


# --- technician wording ------------------------------------------------------

def describe_expected(spec: ComponentSpec, names_path: Path = USB_IDS_PATH) -> str:
    """"05ba:000a DigitalPersona, Inc. Fingerprint Reader, 080b:0010 ..." for details."""
    return _describe_matches(spec.match, names_path)


# Worded once per role: the detail of a missing part is rebuilt every poll while it is missing.
@lru_cache(maxsize=256)
def _describe_matches(match: tuple[UsbMatch, ...], names_path: Path) -> str:
    names = usb_id_names(names_path, {(m.vid, m.pid) for m in match})
    parts = []
    for m in match:
        vendor, product = names.get((m.vid, m.pid), ("", ""))
        label = " ".join(p for p in (f"{m.vid:04x}:{m.pid:04x}", vendor, product) if p)
        parts.append(label + (f" serial {m.serial}" if m.serial else "")
                     + (" (stand-in)" if m.standin else ""))
    return ", ".join(parts)


def usb_id_names(
    path: Path, wanted: Collection[tuple[int, int]] | None = None
) -> dict[tuple[int, int], tuple[str, str]]:
    """Vendor and product names from hwdata's usb.ids; empty when it is not installed.

    Only the `wanted` (vid, pid) pairs are kept (all of them when None): the
    whole table is ~20 000 names and held ~8 MiB, more than the rest of the
    agent's own data. The file is streamed line by line and never kept.
    """
    names: dict[tuple[int, int], tuple[str, str]] = {}
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            vid, vendor = -1, ""
            for line in lines:
                if line.startswith("C "):
                    break  # device classes and other tables follow the vendor list
                if line[:1].isalnum() and line[4:6] == "  ":
                    vid, vendor = _hex(line[:4]), line[6:].strip()
                elif line.startswith("\t") and not line.startswith("\t\t") and vid >= 0:
                    key = (vid, _hex(line[1:5]))
                    if key[1] >= 0 and (wanted is None or key in wanted):
                        names[key] = (vendor, line[7:].strip())
    except OSError:
        return {}
    return names


def _hex(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        return -1

"""A simulated USB bus behind a real pyusb backend interface.

The hardware boundary of the agent is a pyusb backend object. Tests and the
fleet simulator hand `SimulatedUsbBackend` to the agent so that
`usb.core.find(backend=...)`, pyusb's descriptor objects and its string
descriptor reads run for real; only the bus underneath is made up.

The bus is a mutable model shared by every context made with `new_context()`:
`plug`, `unplug`, `replug` and `replace` change it. With
`snapshot_on_init=True` a context freezes the device list it saw when it was
created, as libusb does without udev, which is what the agent's
fresh-context-per-poll design guards against.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any, Literal

from agent.probes.usb.backend import SPEED_FULL, SPEED_HIGH, BackendBase, UsbIoError

_LIBUSB_CODES = {errno.EIO: -1, errno.EACCES: -3, errno.ENODEV: -4, errno.ETIMEDOUT: -7,
                 errno.EPIPE: -9}
_STRING = 3  # descriptor type
_GET_STATUS, _GET_DESCRIPTOR = 0x00, 0x06
_LANGID_EN_US = 0x0409


def usb_error(err: int, text: str) -> Exception:
    """The error libusb1 would raise: USBError with the libusb code and the errno."""
    return UsbIoError(text, _LIBUSB_CODES.get(err, -99), err)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class SimDevice:
    """One simulated device; `speed` uses pyusb's SPEED_* values (5 = super_plus).

    `interface_classes` lists (class, subclass, protocol) per interface.
    `unresponsive` makes every control transfer fail with `unresponsive_errno`.
    """

    vid: int
    pid: int
    manufacturer: str = ""
    product: str = ""
    serial: str = ""
    bus: int = 1
    port_numbers: tuple[int, ...] = (1,)
    speed: int = SPEED_HIGH
    device_class: int = 0
    interface_classes: tuple[tuple[int, int, int], ...] = ((0xFF, 0, 0),)
    unresponsive: bool = False
    unresponsive_errno: int = errno.ETIMEDOUT
    bcd_usb: int = 0x0200

    @property
    def port(self) -> str:
        return f"{self.bus}-" + ".".join(map(str, self.port_numbers)) if self.port_numbers \
            else f"usb{self.bus}"


DeviceMatch = SimDevice | Callable[[SimDevice], bool]


@dataclass(eq=False)
class _Attached:
    """A device on the bus at an address: pyusb's opaque device identification."""

    device: SimDevice
    address: int


@dataclass
class _Bus:
    attached: list[_Attached] = field(default_factory=list)
    next_address: dict[int, int] = field(default_factory=dict)
    contexts_created: int = 0
    enumerate_errno: int | None = None
    open_errno: int | None = None
    # The fleet simulator's fault injector changes the bus while an agent thread polls it.
    lock: threading.RLock = field(default_factory=threading.RLock)

    def address_for(self, dev: SimDevice) -> int:
        if not dev.port_numbers:
            return 1  # root hubs are always address 1
        # Like the kernel: addresses grow on every (re-)enumeration, wrapping below 128.
        nxt = self.next_address.get(dev.bus, 2)
        self.next_address[dev.bus] = 2 + (nxt - 1) % 126
        return nxt


class SimulatedUsbBackend(BackendBase):  # type: ignore[misc]
    """A pyusb `IBackend` over a simulated bus (see module doc)."""

    def __init__(
        self,
        devices: Iterable[SimDevice] = (),
        *,
        snapshot_on_init: bool = False,
        string_source: Literal["backend", "sysfs", "descriptor"] = "backend",
        _bus: _Bus | None = None,
    ) -> None:
        super().__init__()
        self._bus = _bus if _bus is not None else _Bus()
        for dev in devices:
            self.plug(dev)
        self._bus.contexts_created += 1
        self.snapshot_on_init = snapshot_on_init
        self.string_source = string_source
        self._snapshot = tuple(self._bus.attached) if snapshot_on_init else None

    # --- the model ---------------------------------------------------------

    def new_context(self) -> SimulatedUsbBackend:
        """Another backend over the same bus, as a fresh libusb_init would be."""
        return SimulatedUsbBackend(
            snapshot_on_init=self.snapshot_on_init, string_source=self.string_source,
            _bus=self._bus,
        )

    @property
    def contexts_created(self) -> int:
        return self._bus.contexts_created

    def devices(self) -> list[SimDevice]:
        return [a.device for a in self._bus.attached]

    def plug(self, dev: SimDevice) -> SimDevice:
        with self._bus.lock:
            taken = [a.device for a in self._bus.attached if a.device.port == dev.port]
            if taken:
                t = taken[0]
                raise ValueError(f"port {dev.port} already holds {t.vid:04x}:{t.pid:04x}")
            self._bus.attached.append(_Attached(dev, self._bus.address_for(dev)))
        return dev

    def unplug(self, match: DeviceMatch) -> list[SimDevice]:
        with self._bus.lock:
            gone = [a for a in self._bus.attached if _matches(match, a.device)]
            self._bus.attached = [a for a in self._bus.attached if a not in gone]
        return [a.device for a in gone]

    def replug(self, match: DeviceMatch) -> list[SimDevice]:
        """Unplug and plug back at once: the device re-enumerates with a new address."""
        with self._bus.lock:  # no poll sees the gap: the next one finds a new address
            return [self.plug(d) for d in self.unplug(match)]

    def replace(self, match: DeviceMatch, **changes: Any) -> list[SimDevice]:
        """Change matching devices in place (same address), e.g. `unresponsive=True`."""
        out = []
        with self._bus.lock:
            for att in self._bus.attached:
                if _matches(match, att.device):
                    att.device = replace(att.device, **changes)
                    out.append(att.device)
        return out

    def deny_access(self, *, enumerate: bool = False, open: bool = True) -> None:
        """Simulate missing permissions (EACCES) for listing and/or opening devices."""
        self._bus.enumerate_errno = errno.EACCES if enumerate else None
        self._bus.open_errno = errno.EACCES if open else None

    def cached_strings(self, bus: int, address: int) -> tuple[str, str, str]:
        """What the kernel cached at enumeration (sysfs stand-in): no device I/O."""
        for att in self._visible():
            if (att.device.bus, att.address) == (bus, address):
                d = att.device
                return (d.manufacturer, d.product, d.serial)
        return ("", "", "")

    # --- pyusb IBackend ----------------------------------------------------

    def _visible(self) -> tuple[_Attached, ...]:
        return self._snapshot if self._snapshot is not None else tuple(self._bus.attached)

    def enumerate_devices(self) -> Iterator[_Attached]:
        if self._bus.enumerate_errno is not None:
            raise usb_error(self._bus.enumerate_errno, "Access denied (insufficient permissions)")
        return iter(self._visible())

    def get_parent(self, dev: _Attached) -> None:
        return None

    def get_device_descriptor(self, dev: _Attached) -> SimpleNamespace:
        d = dev.device
        return SimpleNamespace(
            bLength=18, bDescriptorType=1, bcdUSB=d.bcd_usb, bDeviceClass=d.device_class,
            bDeviceSubClass=0, bDeviceProtocol=0, bMaxPacketSize0=64, idVendor=d.vid,
            idProduct=d.pid, bcdDevice=0x0100, iManufacturer=1 if d.manufacturer else 0,
            iProduct=2 if d.product else 0, iSerialNumber=3 if d.serial else 0,
            bNumConfigurations=1, address=dev.address, bus=d.bus,
            port_number=d.port_numbers[-1] if d.port_numbers else 0,
            port_numbers=d.port_numbers or None, speed=d.speed,
        )

    def get_configuration_descriptor(self, dev: _Attached, config: int) -> SimpleNamespace:
        if config != 0:
            raise usb_error(errno.EIO, f"no configuration {config}")
        n = len(dev.device.interface_classes)
        return SimpleNamespace(
            bLength=9, bDescriptorType=2, wTotalLength=9 + n * (9 + 7), bNumInterfaces=n,
            bConfigurationValue=1, iConfiguration=0, bmAttributes=0x80, bMaxPower=50,
            extra_descriptors=[],
        )

    def get_interface_descriptor(
        self, dev: _Attached, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        classes = dev.device.interface_classes
        if config != 0 or alt != 0 or not 0 <= intf < len(classes):
            raise IndexError(f"invalid interface {intf}/{alt} in configuration {config}")
        cls, sub, proto = classes[intf]
        return SimpleNamespace(
            bLength=9, bDescriptorType=4, bInterfaceNumber=intf, bAlternateSetting=0,
            bNumEndpoints=1, bInterfaceClass=cls, bInterfaceSubClass=sub,
            bInterfaceProtocol=proto, iInterface=0, extra_descriptors=[],
        )

    def get_endpoint_descriptor(
        self, dev: _Attached, ep: int, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        self.get_interface_descriptor(dev, intf, alt, config)
        if ep != 0:
            raise IndexError(f"invalid endpoint index {ep}")
        return SimpleNamespace(
            bLength=7, bDescriptorType=5, bEndpointAddress=0x81 + intf, bmAttributes=0x03,
            wMaxPacketSize=64, bInterval=10, bRefresh=0, bSynchAddress=0, extra_descriptors=[],
        )

    def open_device(self, dev: _Attached) -> _Attached:
        if self._bus.open_errno is not None:
            raise usb_error(self._bus.open_errno, "Access denied (insufficient permissions)")
        if dev not in self._bus.attached:
            raise usb_error(errno.ENODEV, "No such device (it may have been disconnected)")
        return dev

    def close_device(self, dev_handle: _Attached) -> None:
        return None

    def get_configuration(self, dev_handle: _Attached) -> int:
        return 1

    def set_configuration(self, dev_handle: _Attached, config_value: int) -> None:
        return None

    def ctrl_transfer(
        self, dev_handle: _Attached, bmRequestType: int, bRequest: int, wValue: int,
        wIndex: int, data: Any, timeout: int,
    ) -> int:
        if dev_handle not in self._bus.attached:
            raise usb_error(errno.ENODEV, "No such device (it may have been disconnected)")
        dev = dev_handle.device
        if dev.unresponsive:
            raise usb_error(dev.unresponsive_errno, "simulated device does not answer")
        reply = _standard_reply(dev, bmRequestType, bRequest, wValue)
        n = min(len(reply), len(data))
        data[:n] = type(data)(data.typecode, reply[:n])
        return n


def _standard_reply(dev: SimDevice, request_type: int, request: int, value: int) -> bytes:
    if request_type == 0x80 and request == _GET_STATUS:
        return b"\x00\x00"  # bus powered, no remote wakeup
    if request_type == 0x80 and request == _GET_DESCRIPTOR and value >> 8 == _STRING:
        return _string_descriptor(dev, value & 0xFF)
    raise usb_error(errno.EPIPE, "Pipe error (request not supported)")  # a STALL


def _string_descriptor(dev: SimDevice, index: int) -> bytes:
    if index == 0:
        return bytes([4, _STRING]) + _LANGID_EN_US.to_bytes(2, "little")
    text = {1: dev.manufacturer, 2: dev.product, 3: dev.serial}.get(index, "")
    if not text:
        raise usb_error(errno.EPIPE, "Pipe error (no such string)")
    body = text.encode("utf-16-le")[:252]
    return bytes([2 + len(body), _STRING]) + body


def _matches(match: DeviceMatch, dev: SimDevice) -> bool:
    return match == dev if isinstance(match, SimDevice) else bool(match(dev))


# --- the standard e-KTP enrollment kit ---------------------------------------
# Ids are real entries of hwdata's usb.ids and must stay in step with
# deploy/profiles/ektp-enrollment.toml (tests/agent/usb checks both).
_VENDOR, _HID, _CCID, _VIDEO = 0xFF, 0x03, 0x0B, 0x0E
_BOOT_KEYBOARD, _BOOT_MOUSE = (_HID, 1, 1), (_HID, 1, 2)
# usb.ids knows no iris scanner, so the profile leaves "iris" to each station.
# The simulated one uses pid.codes' test id; a simulated station declares
#   [[components]] id = "iris" kind = "usb" match = [{vid = "1209", pid = "0001"}]
SIM_IRIS_IDS: tuple[int, int] = (0x1209, 0x0001)

KIT_DEVICES: dict[str, SimDevice] = {
    "root-hub": SimDevice(0x1D6B, 0x0002, "Linux 6.1.0 xhci-hcd", "xHCI Host Controller",
                          "0000:00:14.0", port_numbers=(), device_class=9,
                          interface_classes=((9, 0, 0),)),
    "fingerprint": SimDevice(0x080B, 0x0002, "Cross Match Technologies",
                             "Fingerprint Scanner", port_numbers=(1,),
                             interface_classes=((_VENDOR, 0, 0),)),
    "iris": SimDevice(*SIM_IRIS_IDS, "Simulated", "Iris Scanner", port_numbers=(2,),
                      interface_classes=((_VENDOR, 0, 0),)),
    "camera": SimDevice(0x046D, 0x082D, "Logitech", "HD Pro Webcam C920", port_numbers=(3,),
                        device_class=0xEF, interface_classes=((_VIDEO, 1, 0), (_VIDEO, 2, 0))),
    "signature-pad": SimDevice(0x056A, 0x00A2, "Wacom Co.,Ltd.", "STU-300B", port_numbers=(4,),
                               speed=SPEED_FULL, interface_classes=((_HID, 0, 0),)),
    "card-reader": SimDevice(0x076B, 0x5321, "OMNIKEY", "CardMan 5321", port_numbers=(5,),
                             speed=SPEED_FULL, interface_classes=((_CCID, 0, 0),)),
    "keyboard": SimDevice(0x413C, 0x2113, "Dell", "Dell KB216 Wired Keyboard", port_numbers=(6,),
                          speed=SPEED_FULL, interface_classes=(_BOOT_KEYBOARD, (_HID, 0, 0))),
    "mouse": SimDevice(0x046D, 0xC077, "Logitech", "USB Optical Mouse", port_numbers=(7,),
                       speed=SPEED_FULL, interface_classes=(_BOOT_MOUSE,)),
}
"""Role → device of a healthy kit, without serials (`kit_devices` adds them)."""

_SERIAL_ROLES = ("fingerprint", "iris", "camera", "signature-pad", "card-reader")


def kit_devices(serial_prefix: str) -> dict[str, SimDevice]:
    """The standard kit with serials "<prefix>-<role>" on the parts that carry one."""
    return {
        role: replace(dev, serial=f"{serial_prefix}-{role}") if role in _SERIAL_ROLES else dev
        for role, dev in KIT_DEVICES.items()
    }


def kit_backend(serial_prefix: str, **options: Any) -> SimulatedUsbBackend:
    """A simulated bus holding one healthy kit; `options` go to `SimulatedUsbBackend`."""
    return SimulatedUsbBackend(kit_devices(serial_prefix).values(), **options)

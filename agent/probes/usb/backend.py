"""The USB adapter: the only module of the agent that imports pyusb.

Each poll opens a backend, lists every device with `usb.core.find` into plain
`UsbDeviceInfo` records, and closes the backend again. Nothing pyusb-shaped
leaves this module.

Why a fresh libusb context per poll: libusb learns about plug/unplug through
its hotplug thread (udev or netlink). Without a running udevd a long-lived
context keeps the device list it saw at `libusb_init` forever, so a scanner
pulled out an hour ago would still look attached. A new context re-scans
sysfs (libusb_init + list + libusb_exit took ~0.1 ms on a machine without a
USB bus; tests/agent/usb/bench_usb_probe.py prints the figures).

Why strings come from sysfs by default: the kernel read manufacturer, product
and serial once at enumeration and keeps them in
`/sys/bus/usb/devices/<bus>-<ports>/`. Reading them there is no I/O to the
device, so the probe never competes with the enrollment application for a
scanner. Asking the device itself (GET_DESCRIPTOR) is done only for devices of
a component that opted into active checks, and only when sysfs has no entry
(e.g. a container without /sys): such a component accepted talking to its
device already. A backend may also declare `string_source = "backend"` and
serve its own kernel-cached strings through `cached_strings(bus, address)` (the
simulated backend does: it has no sysfs); "descriptor" forces pyusb's reads.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Final, Literal

import msgspec
import usb.backend
import usb.core
import usb.util

from agent.probes.usb.inventory import ControlResult, UsbDeviceInfo

_log = logging.getLogger(__name__)

# Re-exported so the simulated backend (a stand-in for the hardware) needs no pyusb import.
BackendBase = usb.backend.IBackend
UsbIoError = usb.core.USBError
SPEED_UNKNOWN: Final[int] = usb.util.SPEED_UNKNOWN
SPEED_LOW: Final[int] = usb.util.SPEED_LOW
SPEED_FULL: Final[int] = usb.util.SPEED_FULL
SPEED_HIGH: Final[int] = usb.util.SPEED_HIGH
SPEED_SUPER: Final[int] = usb.util.SPEED_SUPER
SPEED_SUPER_PLUS: Final[int] = 5  # LIBUSB_SPEED_SUPER_PLUS; pyusb has no name for it
_SPEED_NAMES: Final = {
    SPEED_LOW: "low", SPEED_FULL: "full", SPEED_HIGH: "high",
    SPEED_SUPER: "super", SPEED_SUPER_PLUS: "super_plus", 6: "super_plus",
}
GET_STATUS_TIMEOUT_MS: Final = 500
StringSource = Literal["sysfs", "backend", "descriptor"]
BackendFactory = Callable[[], Any]

NO_PERMISSION_HINT: Final = (
    "no permission to read USB devices: install deploy/udev/70-pantau.rules into "
    "/etc/udev/rules.d, run `udevadm control --reload && udevadm trigger`, and run "
    "the agent as a member of group pantau"
)
NO_LIBUSB_HINT: Final = (
    "cannot read USB devices: libusb-1.0 is not installed (apt install libusb-1.0-0)"
)


class UsbUnavailable(Exception):
    """The USB bus could not be listed at all; the message tells the technician what to do."""


class PollRequest(msgspec.Struct, frozen=True):
    """Which devices may be talked to in this poll (opt-in per component), by (vid, pid)."""

    control_ids: Collection[tuple[int, int]] = ()
    descriptor_ids: Collection[tuple[int, int]] = ()


NO_IO: Final = PollRequest()  # talk to no device: list them only


def fresh_libusb1_backend() -> Any:
    """A new libusb context (libusb_init) for one poll; the caller must `finalize()` it.

    pyusb's `libusb1.get_backend()` caches one `_LibUSB` (one context) for the
    whole process; we use it only to load the library, then build our own.
    """
    import usb.backend.libusb1 as libusb1

    if libusb1.get_backend() is None:
        raise UsbUnavailable(NO_LIBUSB_HINT)
    return libusb1._LibUSB(libusb1._lib)


def is_backend(obj: object) -> bool:
    return hasattr(obj, "enumerate_devices")


class UsbSource:
    """Lists USB devices once per `poll()`, through a backend made for that poll.

    `backend`: None = a fresh libusb1 context per poll; a backend object = use
    that one (it stays open, the caller owns it); a zero-argument callable = a
    factory called per poll, whose result is finalized after the poll.
    """

    def __init__(self, backend: Any = None, sysfs_root: Path = Path("/sys")) -> None:
        self._devices_dir = sysfs_root / "bus" / "usb" / "devices"
        if backend is None:
            self._factory: BackendFactory = fresh_libusb1_backend
            self._owns = True
        elif is_backend(backend):
            self._factory, self._owns = (lambda: backend), False
        elif callable(backend):
            self._factory, self._owns = backend, True
        else:
            raise TypeError(f"usb backend must be a pyusb backend or a factory, not {backend!r}")

    def poll(self, request: PollRequest = NO_IO) -> list[UsbDeviceInfo]:
        """All devices now attached; raises `UsbUnavailable` when the bus cannot be read."""
        backend = self._open()
        try:
            # `_list` never lets an exception out: a traceback would keep pyusb
            # device objects alive past libusb_exit below (use after free).
            infos, failure = self._list(backend, request)
        finally:
            if self._owns and hasattr(backend, "finalize"):
                backend.finalize()
        if failure is not None:
            raise UsbUnavailable(failure)
        return infos

    def _open(self) -> Any:
        try:
            backend = self._factory()
        except usb.core.NoBackendError:
            raise UsbUnavailable(NO_LIBUSB_HINT) from None
        except usb.core.USBError as exc:
            raise UsbUnavailable(_access_message(exc, "open the USB bus")) from None
        if backend is None:
            raise UsbUnavailable(NO_LIBUSB_HINT)
        return backend

    def _list(self, backend: Any, request: PollRequest) -> tuple[list[UsbDeviceInfo], str | None]:
        try:
            devices = list(usb.core.find(find_all=True, backend=backend))
            infos = [self._describe(dev, backend, request) for dev in devices]
        except usb.core.USBError as exc:
            return [], _access_message(exc, "list USB devices")
        except Exception as exc:  # a backend bug must not crash the agent's loop
            _log.debug("listing USB devices failed", exc_info=True)  # the probe logs it once
            return [], f"listing USB devices failed unexpectedly ({exc!r}); see the agent log"
        for dev in devices:
            usb.util.dispose_resources(dev)
        return infos, None

    def _describe(self, dev: Any, backend: Any, request: PollRequest) -> UsbDeviceInfo:
        ids = (int(dev.idVendor), int(dev.idProduct))
        port = port_name(int(dev.bus), dev.port_numbers)
        strings = self._strings(dev, backend, port, ids in request.descriptor_ids)
        control, detail = get_status(dev) if ids in request.control_ids else ("unchecked", "")
        return UsbDeviceInfo(
            vid=ids[0], pid=ids[1], bus=int(dev.bus), address=int(dev.address or 0), port=port,
            speed=_SPEED_NAMES.get(int(dev.speed or 0), "unknown"),
            manufacturer=strings[0], product=strings[1], serial=strings[2],
            device_class=int(dev.bDeviceClass), interface_classes=interface_classes(dev),
            control=control, control_detail=detail,
        )

    def _strings(
        self, dev: Any, backend: Any, port: str, may_ask_device: bool
    ) -> tuple[str, str, str]:
        source: StringSource = getattr(backend, "string_source", "sysfs")
        if source == "backend":
            cached: tuple[str, str, str] = backend.cached_strings(int(dev.bus), int(dev.address))
            return cached
        if source == "sysfs":
            kernel = sysfs_strings(self._devices_dir / port)
            if kernel is not None or not may_ask_device:
                return kernel or ("", "", "")
        return descriptor_strings(dev)


def port_name(bus: int, port_numbers: tuple[int, ...] | None) -> str:
    """The kernel's name for a device: "1-2.3" (bus 1, port 2, then port 3); "usb1" = root hub."""
    if not port_numbers:
        return f"usb{bus}"
    return f"{bus}-" + ".".join(str(p) for p in port_numbers)


def sysfs_strings(device_dir: Path) -> tuple[str, str, str] | None:
    """(manufacturer, product, serial) as the kernel cached them; None: no such device dir."""
    if not device_dir.is_dir():
        return None
    return (_read(device_dir / "manufacturer"), _read(device_dir / "product"),
            _read(device_dir / "serial"))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""  # the device simply has no such string


def descriptor_strings(dev: Any) -> tuple[str, str, str]:
    """Ask the device for its string descriptors (I/O to the device: opt-in only)."""
    out = []
    for index in (dev.iManufacturer, dev.iProduct, dev.iSerialNumber):
        try:
            out.append(usb.util.get_string(dev, index) or "")
        except (usb.core.USBError, ValueError):
            out.append("")
    return (out[0], out[1], out[2])


def interface_classes(dev: Any) -> tuple[tuple[int, int, int], ...]:
    """(class, subclass, protocol) of every interface, from descriptors the kernel holds."""
    return tuple(
        (int(i.bInterfaceClass), int(i.bInterfaceSubClass), int(i.bInterfaceProtocol))
        for cfg in dev for i in cfg
    )


def get_status(dev: Any) -> tuple[ControlResult, str]:
    """The opt-in active check: a standard GET_STATUS control transfer, short timeout."""
    try:
        dev.ctrl_transfer(0x80, 0x00, 0, 0, 2, timeout=GET_STATUS_TIMEOUT_MS)
    except usb.core.USBError as exc:
        if exc.errno == errno.EACCES:
            return "denied", NO_PERMISSION_HINT
        return "failed", _transfer_error(exc)
    return "ok", ""


def _transfer_error(exc: usb.core.USBError) -> str:
    if exc.errno == errno.ETIMEDOUT:
        return f"does not answer on the USB bus (no reply within {GET_STATUS_TIMEOUT_MS} ms)"
    if exc.errno == errno.ENODEV:
        return "disappeared while being checked"
    return f"does not answer on the USB bus ({exc.strerror or exc})"


def _access_message(exc: usb.core.USBError, action: str) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return NO_PERMISSION_HINT
    return f"could not {action} ({exc.strerror or exc}); the agent retries every poll"

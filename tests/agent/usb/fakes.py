"""Small fakes for the USB tests: a clock the test moves, configs and fake sysfs trees."""

from __future__ import annotations

from pathlib import Path

from agent.config import AgentConfig, ComponentSpec, UsbMatch, UsbPolicy
from agent.probes.base import ProbeEnv
from agent.sim.usb_backend import SimDevice, SimulatedUsbBackend


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def usb_spec(
    role: str, *ids: tuple[int, int] | tuple[int, int, str], **kw: object
) -> ComponentSpec:
    matches = tuple(UsbMatch(*i) for i in ids)
    return ComponentSpec(id=role, kind="usb", match=matches, **kw)  # type: ignore[arg-type]


def config(*components: ComponentSpec, **policy: object) -> AgentConfig:
    return AgentConfig(
        station="st-01", site="medan-baru", components=components,
        usb=UsbPolicy(**policy),  # type: ignore[arg-type]
    )


def env(
    backend: object, clock: FakeClock | None = None, sysfs: Path = Path("/nonexistent")
) -> ProbeEnv:
    return ProbeEnv(usb_backend=backend, sysfs_root=sysfs, monotonic=clock or FakeClock())


def write_sysfs(root: Path, dev: SimDevice, **strings: str) -> None:
    """The kernel's cached strings for `dev`, as /sys/bus/usb/devices/<port>/ holds them."""
    d = root / "bus" / "usb" / "devices" / dev.port
    d.mkdir(parents=True, exist_ok=True)
    for name in ("manufacturer", "product", "serial"):
        value = strings.get(name, getattr(dev, name))
        if value:
            (d / name).write_text(value + "\n")


FLASH_DRIVE = SimDevice(0x0781, 0x5567, "SanDisk", "Cruzer Blade", "4C530001", port_numbers=(8,),
                        interface_classes=((8, 6, 0x50),))


def bus_with(*devices: SimDevice, **options: object) -> SimulatedUsbBackend:
    return SimulatedUsbBackend(devices, **options)  # type: ignore[arg-type]

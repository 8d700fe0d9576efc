"""What every probe shares: its environment, its result, and the Probe protocol.

A probe turns what it can observe (through the injectable `ProbeEnv`) into a
`ProbeResult`. Probes are synchronous and must bound their own time (timeouts
on every network call, no I/O to USB devices unless a component opts in).
Components' `since` is kept by the agent's state machine, which sees the
transitions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

import msgspec

from agent.config import AgentConfig
from pantau.wire import Check, ComponentStatus, Device, Host, UnexpectedDevice, UsbId


class ComponentReading(msgspec.Struct, frozen=True):
    """One role as a probe saw it; the last three only for USB roles (see wire.Component)."""

    id: str
    kind: str
    required: bool
    status: ComponentStatus
    detail: str = ""
    device: Device | None = None
    standin: bool = False  # served by a device that matched only stand-in entries
    expected: tuple[UsbId, ...] = ()  # while missing or on a stand-in: the models to order
    missing_units: int = 0  # while missing: units absent, when the role wants more than one


class ProbeResult(msgspec.Struct, frozen=True):
    components: tuple[ComponentReading, ...] = ()
    checks: tuple[Check, ...] = ()
    unexpected: tuple[UnexpectedDevice, ...] = ()
    host: Host | None = None


class ProbeEnv(msgspec.Struct, frozen=True):
    """Everything a probe reads from the outside world, injectable for tests."""

    # None = a fresh libusb1 context per poll; or a pyusb backend object (used as
    # is); or a zero-argument factory of backends (called, then closed, per poll).
    usb_backend: Any = None
    sysfs_root: Path = Path("/sys")
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


class Probe(Protocol):
    name: ClassVar[str]

    def probe(self) -> ProbeResult: ...


ProbeFactory = Callable[[AgentConfig, ProbeEnv], Probe]

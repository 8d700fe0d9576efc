"""USB probe: the attached devices against the station's USB inventory.

Per poll: list the bus (agent.probes.usb.backend), give each component its devices
(agent.probes.usb.inventory, pure), then decide each status with a little memory per
component, because a single poll lies in two ways:

* a USB reset or a brief re-enumeration makes a part vanish for one poll; it
  becomes `missing` only after `usb.debounce_polls` polls in a row without it
  (except on the first poll, which has nothing to keep);
* a bad cable makes a part come and go; `usb.flap_changes` appear/disappear
  changes within `usb.flap_window_s` make it `failed` until the window is calm.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections import deque
from typing import ClassVar

import msgspec

from agent.config import AgentConfig, ComponentSpec
from agent.probes.base import ComponentReading, ProbeEnv, ProbeResult
from agent.probes.usb.backend import NO_PERMISSION_HINT, PollRequest, UsbSource, UsbUnavailable
from agent.probes.usb.inventory import (
    USB_IDS_PATH,
    UsbDeviceInfo,
    below_speed,
    claim_devices,
    describe_expected,
    expected_models,
    is_standin,
    to_device,
    to_unexpected,
    unexpected_devices,
    usb_id_names,
)
from pantau.wire import ComponentStatus, Device, UsbId

log = logging.getLogger(__name__)
Verdict = tuple[ComponentStatus, str]
_SPEED_ADVICE = {
    "high": "plug it straight into a USB 2.0 or faster port of the PC, not into a hub",
    "super": "plug it into a blue USB 3 port of the PC with a USB 3 cable, not into a hub",
}


class RoleMemory(msgspec.Struct):
    """What one component looked like on earlier polls."""

    status: ComponentStatus | None = None
    detail: str = ""
    device: Device | None = None
    standin: bool = False
    absent_polls: int = 0
    keys: frozenset[tuple[int, int]] | None = None  # (bus, address) of its devices
    # monotonic times of appear/disappear
    changes: deque[float] = msgspec.field(default_factory=deque)

    def observe(self, found: tuple[UsbDeviceInfo, ...], now: float, window_s: float) -> None:
        keys = frozenset(d.key for d in found)
        if self.keys is not None:  # the first poll is a baseline, not a change
            # A re-plug between two polls shows as a new address: one disappear + one appear.
            self.changes.extend([now] * len(keys ^ self.keys))
        self.keys = keys
        while self.changes and self.changes[0] <= now - window_s:
            self.changes.popleft()


class UsbProbe:
    name: ClassVar[str] = "usb"

    def __init__(self, config: AgentConfig, env: ProbeEnv) -> None:
        self._config = config
        self._specs = tuple(s for s in config.components if s.kind == "usb")
        self._source = UsbSource(env.usb_backend, env.sysfs_root)
        self._monotonic = env.monotonic
        self._memory = {s.id: RoleMemory() for s in self._specs}
        self._expected = expected_ids(self._specs)
        active = [s for s in self._specs if s.active_check != "none" or s.health_command]
        control = [s for s in self._specs if s.active_check == "control"]
        self._request = PollRequest(
            control_ids=frozenset((m.vid, m.pid) for s in control for m in s.match),
            descriptor_ids=frozenset((m.vid, m.pid) for s in active for m in s.match),
        )
        self._bus_error = ""

    def probe(self) -> ProbeResult:
        try:
            devices = self._source.poll(self._request)
        except UsbUnavailable as exc:
            return self._unavailable(str(exc))
        if self._bus_error:
            log.info("USB devices can be read again")
            self._bus_error = ""
        now = self._monotonic()
        claimed = claim_devices(self._specs, devices)
        readings = tuple(self._assess(s, claimed[s.id], now) for s in self._specs)
        strangers = unexpected_devices(devices, claimed, self._config.usb)
        return ProbeResult(components=readings, unexpected=tuple(map(to_unexpected, strangers)))

    def _unavailable(self, why: str) -> ProbeResult:
        if why != self._bus_error:  # log once per distinct problem, not every poll
            log.warning("cannot read the USB bus, USB parts are reported unknown: %s", why)
            self._bus_error = why
        return ProbeResult(components=tuple(
            ComponentReading(s.id, "usb", s.required, "unknown", why) for s in self._specs
        ))

    def _assess(
        self, spec: ComponentSpec, found: tuple[UsbDeviceInfo, ...], now: float
    ) -> ComponentReading:
        memory = self._memory[spec.id]
        memory.observe(found, now, self._config.usb.flap_window_s)
        status, detail = self._decide(spec, found, memory)
        # While debouncing, show the part last seen; a missing part has none.
        device = to_device(found[0]) if found else None if status == "missing" else memory.device
        standin = (any(is_standin(spec, d) for d in found) if found
                   else status != "missing" and memory.standin)
        memory.status, memory.detail, memory.device = status, detail, device
        memory.standin = standin
        missing = status == "missing"
        return ComponentReading(
            spec.id, "usb", spec.required, status, detail, device, standin,
            expected=self._expected[spec.id] if missing or standin else (),
            missing_units=spec.count - len(found) if missing and spec.count > 1 else 0,
        )

    def _decide(
        self, spec: ComponentSpec, found: tuple[UsbDeviceInfo, ...], memory: RoleMemory
    ) -> Verdict:
        policy = self._config.usb
        complete = len(found) >= spec.count
        memory.absent_polls = 0 if complete else memory.absent_polls + 1
        if not complete and (memory.status is None or memory.absent_polls >= policy.debounce_polls):
            return "missing", missing_detail(spec, found)
        if len(memory.changes) >= policy.flap_changes:
            return "failed", (
                f"{_name(spec)} keeps dropping off the USB bus ({len(memory.changes)} "
                f"connects/disconnects in {policy.flap_window_s:g} s): check the cable and "
                "the port, and avoid unpowered hubs"
            )
        if not complete and memory.status is not None:
            return memory.status, memory.detail  # maybe a USB reset: keep the last word
        return health_verdict(spec, found)


def expected_ids(specs: tuple[ComponentSpec, ...]) -> dict[str, tuple[UsbId, ...]]:
    """Per role, the models to order, named from usb.ids (read once, at start)."""
    models = {s.id: expected_models(s) for s in specs}
    names = usb_id_names(USB_IDS_PATH, {m for ids in models.values() for m in ids})
    return {
        role: tuple(UsbId(vid=f"{v:04x}", pid=f"{p:04x}", name=" ".join(names.get((v, p), ())))
                    for v, p in ids)
        for role, ids in models.items()
    }


def health_verdict(spec: ComponentSpec, found: tuple[UsbDeviceInfo, ...]) -> Verdict:
    """ok, or why a part that is present is not healthy (speed, opt-in active checks)."""
    for dev in found:
        if below_speed(dev.speed, spec.min_speed):
            advice = _SPEED_ADVICE.get(spec.min_speed or "", "use a faster port")
            return "failed", (
                f"{_name(spec)} is running at {dev.speed} speed on port {dev.port}, "
                f"needs {spec.min_speed}: {advice}"
            )
        if spec.active_check == "control" and dev.control == "denied":
            return "unknown", dev.control_detail or NO_PERMISSION_HINT
        if spec.active_check == "control" and dev.control == "failed":
            return "failed", (
                f"{_name(spec)} on port {dev.port} {dev.control_detail}: unplug it and plug it "
                "back in; if it stays failed, replace the cable, then the part"
            )
    if spec.health_command and found:
        return run_health_command(spec, found[0])
    return "ok", ""


def missing_detail(spec: ComponentSpec, found: tuple[UsbDeviceInfo, ...]) -> str:
    expected = f"(expected one of {describe_expected(spec)})"
    if not found:
        return f"{_name(spec)} not found on any USB port {expected}"
    ports = ", ".join(d.port for d in found)
    return (f"{_name(spec)}: only {len(found)} of {spec.count} found (port {ports}); "
            f"the others are not on any USB port {expected}")


def run_health_command(spec: ComponentSpec, dev: UsbDeviceInfo) -> Verdict:
    """The component's own health command: exit 0 within the timeout = healthy.

    It runs in its own process group so that a hung command is killed with
    everything it started. The device is named in PANTAU_USB_* variables.
    """
    shown = " ".join(spec.health_command)
    env = os.environ | {
        "PANTAU_COMPONENT": spec.id, "PANTAU_USB_PORT": dev.port, "PANTAU_USB_BUS": str(dev.bus),
        "PANTAU_USB_ADDRESS": str(dev.address), "PANTAU_USB_SERIAL": dev.serial,
    }
    try:
        proc = subprocess.Popen(
            spec.health_command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    except OSError as exc:
        return "unknown", (f"health command `{shown}` cannot run ({exc.strerror}): fix "
                           f"health_command of component {spec.id} in the agent config")
    try:
        out, _ = proc.communicate(timeout=spec.health_timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return "failed", (f"health command `{shown}` did not finish within "
                          f"{spec.health_timeout_s:g} s: the part may be hung; re-plug it")
    return _exit_verdict(shown, proc.returncode, out)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have just finished
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def _exit_verdict(shown: str, code: int, output: bytes) -> Verdict:
    if code == 0:
        return "ok", ""
    last = (output.decode(errors="replace").strip().splitlines() or [""])[-1][:200]
    said = f": {last}" if last else ""
    return "failed", f"health command `{shown}` failed (exit {code}){said}"


def _name(spec: ComponentSpec) -> str:
    return spec.description or spec.id

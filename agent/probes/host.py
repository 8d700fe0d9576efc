"""Host probe: the station PC's own health. The agent's only psutil import.

Every figure is cheap and non-blocking: `cpu_percent(interval=None)` measures
since the previous call (primed in the constructor), so a probe never sleeps.
Ratios are clamped to 0..1 because the wire contract refuses anything else and
a single odd reading must not cost the whole heartbeat.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar, Protocol

import psutil

from agent.config import AgentConfig
from agent.probes.base import ProbeEnv, ProbeResult
from pantau.wire import MAX_DISKS, Disk, Host

log = logging.getLogger(__name__)
# Sensors that are absent or broken report 0, -273 or 255; none of those is a real reading.
_PLAUSIBLE_C = (-40.0, 150.0)


class TemperatureReading(Protocol):
    @property
    def current(self) -> float | None: ...


def clamp_ratio(value: float) -> float:
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, value))


def hottest(sensors: Mapping[str, Sequence[TemperatureReading]]) -> float | None:
    """The highest plausible temperature over all sensors, or None when there is none."""
    readings = [
        float(r.current) for group in sensors.values() for r in group
        if r.current is not None and math.isfinite(r.current)
        and _PLAUSIBLE_C[0] < r.current < _PLAUSIBLE_C[1]
    ]
    return max(readings, default=None)


class HostProbe:
    name: ClassVar[str] = "host"

    def __init__(self, config: AgentConfig, env: ProbeEnv) -> None:
        self._config = config.host
        self._skipped: set[str] = set()  # mounts already logged as absent
        self._cut_logged = False  # more mounts than the protocol carries: said once
        if self._config.enabled:
            psutil.cpu_percent(interval=None)  # the first call only starts the measurement

    def probe(self) -> ProbeResult:
        if not self._config.enabled:
            return ProbeResult()
        swap = psutil.swap_memory()
        host = Host(
            hostname=socket.gethostname()[:256],
            boot_time=psutil.boot_time(),
            cpu_ratio=clamp_ratio(psutil.cpu_percent(interval=None) / 100.0),
            load1=max(0.0, psutil.getloadavg()[0]),
            memory_used_ratio=clamp_ratio(psutil.virtual_memory().percent / 100.0),
            swap_used_ratio=clamp_ratio(swap.used / swap.total) if swap.total else 0.0,
            disks=self._disks(self._config.mounts),
            temperature_c=self._temperature(),
            clock_offset_s=None,  # estimated by the collector from heartbeat timestamps
        )
        return ProbeResult(host=host)

    def _disks(self, mounts: Iterable[str]) -> list[Disk]:
        """The mounts in config order, each once (the collector refuses a repeated
        mount), at most MAX_DISKS of them (it refuses more)."""
        disks: dict[str, Disk] = {}
        for mount in mounts:
            if mount[:256] in disks:
                continue
            try:
                if not os.path.ismount(mount):
                    raise FileNotFoundError(f"{mount} is not a mount point")
                usage = psutil.disk_usage(mount)
            except OSError as exc:
                self._skip(mount, exc)
                continue
            self._skipped.discard(mount)  # log again if it disappears later
            disks[mount[:256]] = Disk(
                mount=mount[:256], used_ratio=clamp_ratio(usage.percent / 100.0),
                free_bytes=max(0, usage.free),
            )
        return self._cut(list(disks.values()))

    def _cut(self, disks: list[Disk]) -> list[Disk]:
        if len(disks) > MAX_DISKS and not self._cut_logged:
            self._cut_logged = True
            log.warning("%d disks found in [host] mounts, the protocol carries %d: the first %d "
                        "in config order are reported (said once); shorten [host] mounts",
                        len(disks), MAX_DISKS, MAX_DISKS)
        return disks[:MAX_DISKS]

    def _skip(self, mount: str, exc: OSError) -> None:
        if mount not in self._skipped:
            self._skipped.add(mount)
            log.warning("disk %s skipped in host figures: %s; check [host] mounts", mount, exc)

    @staticmethod
    def _temperature() -> float | None:
        read = getattr(psutil, "sensors_temperatures", None)  # absent on some platforms
        if read is None:
            return None
        try:
            return hottest(read())
        except (OSError, ValueError):  # odd sysfs entries; temperature is optional
            return None

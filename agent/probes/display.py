"""Display probe: is the operator's monitor plugged in, per DRM connector status in sysfs.

Reads `<sysfs_root>/class/drm/card*-<connector>/{status,enabled,edid}`. These
files are what the kernel already knows; nothing talks to the monitor.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import ClassVar

import msgspec

from agent.config import AgentConfig, ComponentSpec
from agent.probes.base import ComponentReading, ProbeEnv, ProbeResult
from pantau.wire import ComponentStatus

_CONNECTOR_DIR = re.compile(r"^card\d+-(?P<connector>.+)$")
_EDID_HEADER = bytes([0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00])
_DESCRIPTOR_OFFSETS = (54, 72, 90, 108)
_MONITOR_NAME_TAG = 0xFC


class MonitorId(msgspec.Struct, frozen=True):
    manufacturer: str  # 3-letter PNP id, e.g. "DEL"
    product_code: int
    name: str  # from the 0xFC descriptor; "" when the EDID has none

    def label(self) -> str:
        return self.name or f"{self.manufacturer} {self.product_code:04x}"


class Connector(msgspec.Struct, frozen=True):
    name: str  # "card0-HDMI-A-1"
    connector: str  # "HDMI-A-1"
    status: str  # "connected" | "disconnected" | "unknown" | "" when unreadable
    enabled: str
    monitor: MonitorId | None


def parse_edid(data: bytes) -> MonitorId | None:
    """Manufacturer, product code and monitor name; None for short or garbage EDID."""
    if len(data) < 128 or data[:8] != _EDID_HEADER:
        return None
    word = int.from_bytes(data[8:10], "big")
    letters = [(word >> shift) & 0x1F for shift in (10, 5, 0)]
    if not all(1 <= v <= 26 for v in letters):
        return None
    manufacturer = "".join(chr(ord("A") + v - 1) for v in letters)
    code = int.from_bytes(data[10:12], "little")
    return MonitorId(manufacturer, code, _monitor_name(data))


def _monitor_name(data: bytes) -> str:
    for offset in _DESCRIPTOR_OFFSETS:
        desc = data[offset : offset + 18]
        if desc[0:3] == b"\0\0\0" and desc[3] == _MONITOR_NAME_TAG:
            raw = desc[5:18].split(b"\n", 1)[0]
            text = raw.decode("ascii", errors="replace")
            return "".join(c for c in text if c.isprintable()).strip()
    return ""


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return ""


def read_connectors(drm: Path) -> list[Connector]:
    """All connectors under `drm` (raises OSError when the directory cannot be listed)."""
    found = []
    for entry in sorted(drm.iterdir()):
        matched = _CONNECTOR_DIR.match(entry.name)
        if not matched:
            continue  # card0 itself, renderD128, version
        try:
            edid = (entry / "edid").read_bytes()
        except OSError:
            edid = b""
        found.append(Connector(
            entry.name, matched["connector"], _read_text(entry / "status"),
            _read_text(entry / "enabled"), parse_edid(edid),
        ))
    return found


class DisplayProbe:
    name: ClassVar[str] = "display"

    def __init__(self, config: AgentConfig, env: ProbeEnv) -> None:
        self._components = tuple(c for c in config.components if c.kind == "display")
        self._drm = env.sysfs_root / "class" / "drm"

    def probe(self) -> ProbeResult:
        if not self._components:
            return ProbeResult()
        try:
            connectors = read_connectors(self._drm)
        except OSError as exc:
            detail = _unreadable(self._drm, exc)
            readings = tuple(_reading(c, "unknown", detail) for c in self._components)
            return ProbeResult(components=readings)
        return ProbeResult(components=tuple(judge(c, connectors) for c in self._components))


def judge(spec: ComponentSpec, connectors: list[Connector]) -> ComponentReading:
    """ok when at least `count` matching connectors report a connected monitor."""
    matching = [c for c in connectors if fnmatch.fnmatchcase(c.connector, spec.connector)]
    connected = [c for c in matching if c.status == "connected"]
    if len(connected) >= spec.count:
        return _reading(spec, "ok", "; ".join(_describe(c) for c in connected))
    seen = ", ".join(f"{c.connector} {c.status or 'unreadable'}" for c in matching) or "none"
    wanted = "a connected display" if spec.count == 1 else f"{spec.count} connected displays"
    detail = f"expected {wanted} on {spec.connector}, {len(connected)} found; seen: {seen}"
    return _reading(spec, "missing", detail)


def _describe(conn: Connector) -> str:
    model = conn.monitor.label() if conn.monitor else "unknown monitor (no readable EDID)"
    note = " (output disabled)" if conn.enabled == "disabled" else ""
    return f"{conn.connector}: {model}{note}"


def _unreadable(drm: Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"no {drm}: headless machine or no DRM graphics driver loaded"
    return f"cannot read {drm}: {exc.strerror or exc}"


def _reading(spec: ComponentSpec, status: ComponentStatus, detail: str) -> ComponentReading:
    # detail is capped to fit the protocol's 1 KiB limit even with many connectors
    return ComponentReading(
        id=spec.id, kind=spec.kind, required=spec.required, status=status, detail=detail[:1024]
    )

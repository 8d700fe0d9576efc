"""Valid payloads of every message kind, as JSON-shaped builtins, to mutate from.

Fuzzing near-valid input finds more than random bytes: a decoder rejects
garbage at the first byte, but a valid Struct with one field wrong reaches the
deep validation paths (nested lists, constraints, the version fallback).
"""

from __future__ import annotations

import json
from typing import Any, Final

from pantau import wire

SITE: Final = "medan-baru"
STATION: Final = "medan-baru-01"
BOOT: Final = "3f2b8c1e-0000-4000-8000-000000000001"


def _device() -> wire.Device:
    return wire.Device(vid="05ba", pid="000a", serial="FS-1", bus=1, port="1-2",
                           speed="high", manufacturer="Crossmatch", product="Guardian")


def _heartbeat() -> wire.Heartbeat:
    host = wire.Host(
        hostname="pc-01", boot_time=1.7e9, cpu_ratio=0.12, load1=0.4, memory_used_ratio=0.5,
        swap_used_ratio=0.0, disks=[wire.Disk(mount="/", used_ratio=0.6, free_bytes=10**10)],
        temperature_c=54.0, clock_offset_s=None,
    )
    return wire.Heartbeat(
        v=1, site=SITE, station=STATION, seq=12, boot_id=BOOT, ts=1.7e9, interval_s=15.0,
        agent=wire.AgentInfo(version="0.1.0", uptime_s=3600.0), host=host,
        components=[wire.Component(id="fingerprint", kind="usb", required=True,
                                       status="ok", since=1.7e9, device=_device()),
                    # Every optional field of a component: a role on a stand-in that still
                    # lacks one of its two units.
                    wire.Component(id="card-reader", kind="usb", required=True,
                                   status="missing", since=1.7e9, standin=True,
                                   expected=[wire.UsbId(vid="076b", pid="5321")],
                                   missing_units=1)],
        checks=[wire.Check(id="enrollment-server", kind="tcp", status="ok", latency_s=0.01)],
        unexpected=[wire.UnexpectedDevice(vid="0781", pid="5567", product="flash")],
    )


VALID: Final[dict[wire.MessageKind, wire.Payload]] = {
    "heartbeat": _heartbeat(),
    "status": wire.Status(state="online", boot_id=BOOT, session=3, ts=1.7e9),
    "event": wire.Event(v=1, site=SITE, station=STATION, boot_id=BOOT, seq=5, ts=1.7e9,
                            component="camera", from_="ok", to="missing", detail="unplugged"),
    "ack": wire.Ack(boot_id=BOOT, seq=5),
    "command": wire.Command(cmd="report"),
}


def valid_builtin(kind: wire.MessageKind) -> Any:
    """A fresh, mutable JSON-shaped copy of the valid `kind` payload."""
    return json.loads(wire.encode(VALID[kind]))


def valid_topic(kind: wire.MessageKind) -> str:
    return wire.topic_for(SITE, STATION, kind)


Path = tuple[str | int, ...]


def node_paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every path to a node (the root is `()`), in a stable order."""
    found: list[Path] = [prefix]
    if isinstance(value, dict):
        for key in value:
            found += node_paths(value[key], (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += node_paths(item, (*prefix, i))
    return found


def replace_at(root: Any, path: Path, new: Any) -> Any:
    """`root` with the node at `path` replaced (in place below the root)."""
    if not path:
        return new
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    return root


def delete_at(root: Any, path: Path) -> Any:
    if not path:
        return None
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return root


def deep_nesting(depth: int, open_: str = "[", close: str = "]") -> bytes:
    """Raw nested JSON text: built as text because json.dumps would recurse too deep."""
    return (open_ * depth + "0" + close * depth).encode() if open_ == "[" else (
        ('{"a":' * depth) + "0" + ("}" * depth)).encode()


def to_json(value: Any, *, ascii_only: bool = True) -> bytes:
    """JSON text; NaN/Infinity come out as their (invalid JSON) bare tokens on purpose."""
    text = json.dumps(value, allow_nan=True, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")

"""`pantau-agent probe`: one look at the kit, as a table a technician reads or as JSON.

The table says per role what the inventory expects, what was found, the
status and why; colour only when the output is a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from agent.config import AgentConfig, ComponentSpec
from pantau.wire import Check, Component, Heartbeat

_COLOURS = {"ok": "32", "missing": "31", "failed": "31", "unknown": "33"}


def required_ok(components: Sequence[Component]) -> bool:
    return all(c.status == "ok" for c in components if c.required)


def _expected(spec: ComponentSpec | None) -> str:
    if spec is None:
        return ""
    if spec.kind == "display":
        return spec.description or f"display on {spec.connector}"
    ids = ", ".join(f"{m.vid:04x}:{m.pid:04x}" for m in spec.match[:2])
    more = f" +{len(spec.match) - 2}" if len(spec.match) > 2 else ""
    count = f"{spec.count} x " if spec.count > 1 else ""
    name = spec.description or "USB device"
    return f"{count}{name} ({ids}{more})"


def _found(component: Component) -> str:
    device = component.device
    if device is None:
        return "-"
    name = " ".join(p for p in (device.manufacturer, device.product) if p) or \
        f"{device.vid}:{device.pid}"
    serial = f" s/n {device.serial}" if device.serial else ""
    port = f" @ {device.port}" if device.port else ""
    return f"{name}{serial}{port}"


def _paint(status: str, colour: bool) -> str:
    return f"\033[{_COLOURS.get(status, '0')}m{status}\033[0m" if colour else status


def _table(rows: list[list[str]], colour_col: int | None, colour: bool) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        if n > 0 and colour_col is not None:  # pad first, then colour: escapes have no width
            cells[colour_col] = _paint(row[colour_col], colour) + " " * (
                widths[colour_col] - len(row[colour_col]))
        lines.append("  ".join(cells).rstrip())
    return lines


def render_table(config: AgentConfig, heartbeat: Heartbeat, colour: bool) -> str:
    specs = {s.id: s for s in config.components}
    rows = [["ROLE", "EXPECTED", "FOUND", "STATUS", "WHY"]]
    for c in heartbeat.components:
        role = c.id if c.required else f"{c.id} (optional)"
        rows.append([role, _expected(specs.get(c.id)), _found(c), c.status, c.detail])
    out = [f"Station {config.station} at site {config.site}", "", *_table(rows, 3, colour)]
    out += _checks_section(heartbeat.checks, colour)
    if heartbeat.unexpected:
        out += ["", "Devices attached that the inventory does not expect:"]
        out += [f"  {u.vid}:{u.pid} {u.product or '(no name)'} @ {u.port}"
                for u in heartbeat.unexpected]
    out += ["", _verdict(heartbeat.components)]
    return "\n".join(out)


def _checks_section(checks: Sequence[Check], colour: bool) -> list[str]:
    if not checks:
        return []
    rows = [["CHECK", "KIND", "STATUS", "LATENCY", "WHY"]]
    for ch in checks:
        latency = f"{ch.latency_s * 1000:.0f} ms" if ch.latency_s is not None else "-"
        rows.append([ch.id, ch.kind, ch.status, latency, ch.detail])
    return ["", *_table(rows, 2, colour)]


def _verdict(components: Sequence[Component]) -> str:
    bad = [f"{c.id} ({c.status})" for c in components if c.required and c.status != "ok"]
    if not bad:
        return "All required parts are OK."
    return (f"{len(bad)} required part(s) not OK: {', '.join(bad)}. "
            "Check the cable and the USB port, or replace the part.")


def render_json(heartbeat: Heartbeat, probe_errors: dict[str, str]) -> str:
    document: dict[str, Any] = {
        "ok": required_ok(heartbeat.components),
        "probe_errors": probe_errors,
        "heartbeat": heartbeat,  # exactly what `run` would publish
    }
    return msgspec.json.format(msgspec.json.encode(document).decode(), indent=2)

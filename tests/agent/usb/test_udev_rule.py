"""deploy/udev/70-pantau.rules: well-formed, and it grants what the agent needs."""

from __future__ import annotations

import re
from pathlib import Path

RULES = Path(__file__).resolve().parents[3] / "deploy" / "udev" / "70-pantau.rules"
# KEY or KEY{attr}, an operator, a double-quoted value: udev's own syntax.
TOKEN = re.compile(r'\s*([A-Z_]+(?:\{[A-Za-z_]+\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(?:,|$)')


def parse(line: str) -> list[tuple[str, str, str]]:
    tokens, pos = [], 0
    while pos < len(line):
        m = TOKEN.match(line, pos)
        assert m is not None, f"cannot parse {line[pos:]!r}"
        tokens.append((m.group(1), m.group(2), m.group(3)))
        pos = m.end()
    return tokens


def rule() -> dict[tuple[str, str], str]:
    lines = [ln for ln in RULES.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1
    return {(k, op): v for k, op, v in parse(lines[0])}


def test_rule_gives_group_pantau_rw_on_whole_usb_devices() -> None:
    assert rule()[("SUBSYSTEM", "==")] == "usb"
    assert rule()[("ENV{DEVTYPE}", "==")] == "usb_device"
    assert rule()[("GROUP", "=")] == "pantau"
    assert int(rule()[("MODE", "=")], 8) & 0o060 == 0o060  # group read + write (libusb opens rw)
    assert not any(k == "TAG" for k, _ in rule())


def test_rule_touches_only_devices_marked_for_an_active_check() -> None:
    """A passive agent needs no rights: unmarked devices keep their vendors' GROUP/MODE."""
    assert rule()[("ENV{PANTAU_ACTIVE_CHECK}", "==")] == "1"
    # The header shows the marking rule an operator writes; it must set that very key.
    example = [ln.lstrip("# ").strip() for ln in RULES.read_text().splitlines()
               if 'ENV{PANTAU_ACTIVE_CHECK}="1"' in ln]
    assert example, "the header must show how to mark a part"
    marks = {(k, op): v for k, op, v in parse(example[0])}
    assert marks[("ENV{PANTAU_ACTIVE_CHECK}", "=")] == "1"
    assert {("ATTR{idVendor}", "=="), ("ATTR{idProduct}", "==")} <= set(marks)

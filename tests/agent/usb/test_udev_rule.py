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


def test_rule_matches_usb_devices_and_gives_group_pantau_rw() -> None:
    lines = [ln for ln in RULES.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1
    rule = {(k, op): v for k, op, v in parse(lines[0])}
    assert rule[("SUBSYSTEM", "==")] == "usb"
    assert rule[("ENV{DEVTYPE}", "==")] == "usb_device"
    assert rule[("GROUP", "=")] == "pantau"
    assert int(rule[("MODE", "=")], 8) & 0o060 == 0o060  # group read + write (libusb opens rw)
    assert not any(k == "TAG" for k, _ in rule)

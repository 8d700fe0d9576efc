"""The shipped profile and example config load, and every USB id in the profile is real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.config import AgentConfig, load_config

REPO = Path(__file__).resolve().parents[3]
PROFILE = REPO / "deploy" / "profiles" / "ektp-enrollment.toml"
EXAMPLE = REPO / "deploy" / "agent.example.toml"
USB_IDS = Path("/usr/share/misc/usb.ids")


def read_usb_ids(path: Path) -> dict[tuple[int, int], str]:
    """`{(vid, pid): "Vendor: Product"}` from the usb.ids vendor section."""
    found: dict[tuple[int, int], str] = {}
    vendor: tuple[int, str] | None = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("C "):  # device classes follow the vendor list
            break
        if head := re.match(r"^([0-9a-f]{4})  (.+)$", line):
            vendor = (int(head.group(1), 16), head.group(2))
        elif (item := re.match(r"^\t([0-9a-f]{4})  (.+)$", line)) and vendor:
            found[(vendor[0], int(item.group(1), 16))] = f"{vendor[1]}: {item.group(2)}"
    return found


def load_profile_alone(tmp_path: Path) -> AgentConfig:
    station = tmp_path / "agent.toml"
    station.write_text('station = "s1"\nsite = "x"\ninclude = ["ektp-enrollment"]\n')
    return load_config(station, profile_dirs=[PROFILE.parent])


def test_shipped_profile_loads_with_the_kit(tmp_path: Path) -> None:
    config = load_profile_alone(tmp_path)
    assert config.profiles == ("ektp-enrollment",)
    roles = {c.id: c.kind for c in config.components}
    assert roles == {
        "fingerprint": "usb", "camera": "usb", "signature-pad": "usb",
        "card-reader": "usb", "monitor": "display",
    }
    assert all(c.required for c in config.components)


def test_shipped_profile_is_found_by_default(tmp_path: Path) -> None:
    station = tmp_path / "agent.toml"
    station.write_text('station = "s"\nsite = "x"\ninclude = ["ektp-enrollment"]\n')
    assert len(load_config(station).components) == 5


def test_every_profile_usb_id_is_in_usb_ids(tmp_path: Path) -> None:
    if not USB_IDS.exists():
        pytest.skip(f"{USB_IDS} missing: install Debian's usbutils/hwdata to check the profile ids")
    known = read_usb_ids(USB_IDS)
    config = load_profile_alone(tmp_path)
    pairs = [(c.id, m.vid, m.pid) for c in config.components for m in c.match]
    assert len(pairs) >= 20
    unknown = [f"{role} {vid:04x}:{pid:04x}" for role, vid, pid in pairs if (vid, pid) not in known]
    assert unknown == [], "ids not in usb.ids"
    # the comment beside each id is the usb.ids name, so a reader can trust it
    text = PROFILE.read_text()
    for _, vid, pid in pairs:
        line = next(ln for ln in text.splitlines() if f'vid = "{vid:04x}", pid = "{pid:04x}"' in ln)
        assert line.split("# ", 1)[1] == known[(vid, pid)]


def test_example_station_config_loads(tmp_path: Path) -> None:
    # The example points at /etc/pantau secrets; put stand-ins beside a copy.
    (tmp_path / "pw").write_text("secret")
    (tmp_path / "ca.crt").write_text("ca")
    text = EXAMPLE.read_text().replace("/etc/pantau/agent.password", "pw")
    (tmp_path / "agent.toml").write_text(text.replace("/etc/pantau/ca.crt", "ca.crt"))
    config = load_config(tmp_path / "agent.toml", profile_dirs=[PROFILE.parent])
    assert (config.station, config.site, config.broker.tls, config.broker.port) == (
        "medan-baru-01", "medan-baru", True, 8883)
    assert next(c for c in config.components if c.id == "camera").required is False
    assert [c.id for c in config.checks] == ["enrollment-server", "enrollment-api"]


def test_the_profile_lists_the_single_finger_readers_as_stand_ins(tmp_path: Path) -> None:
    fingerprint = next(c for c in load_profile_alone(tmp_path).components
                       if c.id == "fingerprint")
    standins = {(m.vid, m.pid) for m in fingerprint.match if m.standin}
    assert standins == {(0x1491, 0x0088), (0x16D1, 0x0401), (0x05BA, 0x000A)}
    # The ten-print scanners stay the models to order, the first one first.
    assert next((m.vid, m.pid) for m in fingerprint.match if not m.standin) == (0x080B, 0x0002)

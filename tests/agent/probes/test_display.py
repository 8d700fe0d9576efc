"""Display probe over a simulated sysfs tree (and once over this machine's real /sys)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.config import AgentConfig, ComponentSpec
from agent.probes.base import ComponentReading, ProbeEnv
from agent.probes.display import DisplayProbe, MonitorId, parse_edid
from agent.sim.sysfs import make_edid, write_drm_connector

DELL = make_edid("DEL", "DELL P2419H", product_code=0xA0C3)
SAMSUNG = make_edid("SAM", "S24F350")
NAMELESS = bytearray(DELL)
NAMELESS[72:90] = bytes([0, 0, 0, 0x10, 0]) + bytes(13)  # replace the 0xFC name with a dummy


def probe(root: Path, *specs: ComponentSpec) -> tuple[ComponentReading, ...]:
    config = AgentConfig(station="s1", site="x", components=specs)
    return DisplayProbe(config, ProbeEnv(sysfs_root=root)).probe().components


def monitor(connector: str = "*", count: int = 1, required: bool = True) -> ComponentSpec:
    return ComponentSpec(
        id="monitor", kind="display", connector=connector, count=count, required=required
    )


# connectors: (card, connector, status, edid)
CASES = [
    ("named-monitor", [("card0", "HDMI-A-1", "connected", DELL)], monitor(),
     "ok", "HDMI-A-1: DELL P2419H"),
    ("no-edid", [("card0", "DP-1", "connected", None)], monitor(),
     "ok", "DP-1: unknown monitor (no readable EDID)"),
    ("garbage-edid", [("card0", "DP-1", "connected", b"\x00\xff\x17garbage")], monitor(),
     "ok", "DP-1: unknown monitor (no readable EDID)"),
    ("edid-without-name", [("card0", "VGA-1", "connected", bytes(NAMELESS))], monitor(),
     "ok", "VGA-1: DEL a0c3"),
    ("unplugged", [("card0", "HDMI-A-1", "disconnected", None), ("card0", "DP-1", "disconnected",
     None)], monitor(), "missing",
     "expected a connected display on *, 0 found; seen: DP-1 disconnected, HDMI-A-1 disconnected"),
    ("other-connector-only", [("card0", "HDMI-A-1", "disconnected", None),
     ("card0", "DP-1", "connected", DELL)], monitor("HDMI-A-*"), "missing",
     "expected a connected display on HDMI-A-*, 0 found; seen: HDMI-A-1 disconnected"),
    ("no-connectors", [], monitor(), "missing",
     "expected a connected display on *, 0 found; seen: none"),
    ("two-wanted-one-there", [("card0", "HDMI-A-1", "connected", DELL),
     ("card0", "HDMI-A-2", "disconnected", None)], monitor(count=2), "missing",
     "expected 2 connected displays on *, 1 found; seen: HDMI-A-1 connected, "
     "HDMI-A-2 disconnected"),
    ("two-wanted-two-there", [("card0", "HDMI-A-1", "connected", DELL),
     ("card1", "DP-2", "connected", SAMSUNG)], monitor(count=2),
     "ok", "HDMI-A-1: DELL P2419H; DP-2: S24F350"),
    ("not-required-still-missing", [("card0", "eDP-1", "disconnected", None)],
     monitor(required=False), "missing",
     "expected a connected display on *, 0 found; seen: eDP-1 disconnected"),
]


@pytest.mark.parametrize(
    ("connectors", "spec", "status", "detail"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_display_status_and_detail(
    tmp_path: Path, connectors: list[tuple[str, str, str, bytes | None]],
    spec: ComponentSpec, status: str, detail: str,
) -> None:
    (tmp_path / "class" / "drm").mkdir(parents=True)
    (tmp_path / "class" / "drm" / "card0").mkdir()  # the card itself is not a connector
    for card, connector, state, edid in connectors:
        write_drm_connector(tmp_path, card, connector, state, edid)
    (reading,) = probe(tmp_path, spec)
    assert reading == ComponentReading(
        id="monitor", kind="display", required=spec.required, status=status, detail=detail  # type: ignore[arg-type]
    )


def test_connected_but_disabled_output_is_noted(tmp_path: Path) -> None:
    conn = write_drm_connector(tmp_path, "card0", "HDMI-A-1", "connected", DELL)
    (conn / "enabled").write_text("disabled\n")
    (reading,) = probe(tmp_path, monitor())
    assert (reading.status, reading.detail) == ("ok", "HDMI-A-1: DELL P2419H (output disabled)")


def test_unreadable_status_file_counts_as_not_connected(tmp_path: Path) -> None:
    conn = write_drm_connector(tmp_path, "card0", "HDMI-A-1", "connected", DELL)
    (conn / "status").unlink()
    (reading,) = probe(tmp_path, monitor())
    assert reading.status == "missing"
    assert reading.detail.endswith("seen: HDMI-A-1 unreadable")


def test_no_drm_directory_is_unknown_for_every_display(tmp_path: Path) -> None:
    second = ComponentSpec(id="second-monitor", kind="display", required=False)
    readings = probe(tmp_path, monitor(), second)
    drm = tmp_path / "class" / "drm"
    assert [(r.id, r.status, r.detail) for r in readings] == [
        (name, "unknown", f"no {drm}: headless machine or no DRM graphics driver loaded")
        for name in ("monitor", "second-monitor")
    ]


def test_drm_path_that_is_not_a_directory_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "drm").write_text("not a directory")
    (reading,) = probe(tmp_path, monitor())
    assert reading.status == "unknown"
    assert reading.detail == f"cannot read {tmp_path / 'class' / 'drm'}: Not a directory"


def test_no_display_components_reads_nothing(tmp_path: Path) -> None:
    usb_only = ComponentSpec(id="camera", kind="usb")
    assert probe(tmp_path, usb_only) == ()


def test_real_sysfs_gives_a_definite_answer() -> None:
    (reading,) = probe(Path("/sys"), monitor())
    if not Path("/sys/class/drm").is_dir():
        assert reading.status == "unknown"
        assert "no DRM graphics driver" in reading.detail
    else:
        assert reading.status in ("ok", "missing")


@pytest.mark.parametrize(
    ("edid", "expected"),
    [
        (DELL, MonitorId("DEL", 0xA0C3, "DELL P2419H")),
        (make_edid("ACI", "ASUS VG248"), MonitorId("ACI", 1, "ASUS VG248")),
        (make_edid("LEN", "ThinkVision13"), MonitorId("LEN", 1, "ThinkVision13")),  # 13 chars
        (DELL[:127], None),  # truncated
        (b"", None),
        (bytes(128), None),  # no header
        (DELL[:8] + b"\x00\x00" + DELL[10:], None),  # manufacturer letters out of range
    ],
    ids=["dell", "asus", "max-length-name", "truncated", "empty", "no-header", "bad-maker"],
)
def test_parse_edid(edid: bytes, expected: MonitorId | None) -> None:
    assert parse_edid(edid) == expected


def test_make_edid_is_valid() -> None:
    assert len(DELL) == 128
    assert sum(DELL) % 256 == 0  # the EDID checksum rule
    with pytest.raises(ValueError, match="3 capital letters"):
        make_edid("dell", "x")
    with pytest.raises(ValueError, match="at most 13"):
        make_edid("DEL", "A" * 14)


@given(st.binary(min_size=0, max_size=300))
def test_parse_edid_never_raises_on_garbage(data: bytes) -> None:
    result = parse_edid(data)
    assert result is None or len(result.manufacturer) == 3


@given(st.binary(min_size=120, max_size=120))
def test_parse_edid_survives_any_body_after_a_valid_header(body: bytes) -> None:
    result = parse_edid(DELL[:8] + body)
    assert result is None or result.name.isprintable()

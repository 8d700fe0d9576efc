"""The demo's parts side: every district has a rollout deadline (two are behind it), and
one kit enrolls with a stand-in while its ten-print scanner is away."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from agent.probes.usb.probe import UsbProbe
from agent.sim.station import SimStation
from collector.registry import load_registry
from stack.demo import BEHIND, BROKEN, lend_a_stand_in, medan_fleet
from stack.demo_schedule import default_table

DAY = date(2026, 12, 14)


def test_every_district_has_a_deadline_and_two_are_behind(tmp_path: Path) -> None:
    _, text = medan_fleet(default_table(tmp_path), DAY)
    (tmp_path / "fleet.toml").write_text(text)
    registry = load_registry(tmp_path / "fleet.toml")
    deadlines = {site: info.install_by for site, info in registry.sites.items()}
    assert {site for site, day in deadlines.items() if day is not None and day < DAY} == set(
        BEHIND)
    assert all(day == DAY + timedelta(days=30) for site, day in deadlines.items()
               if site not in BEHIND)
    assert any(e.lifecycle == "planned" and e.site in BEHIND for e in registry.stations.values())


def test_the_stand_in_kit_is_ok_on_a_stand_in(tmp_path: Path) -> None:
    assert BROKEN["medan-helvetia-01"][1] is lend_a_stand_in
    station = SimStation("medan-helvetia", "medan-helvetia-01", "mqtt://127.0.0.1:9",
                         tmp_path / "st", boot_ids=iter(["b"]))
    lend_a_stand_in(station)
    reading = next(c for c in UsbProbe(station.config, station.env).probe().components
                   if c.id == "fingerprint")
    assert (reading.status, reading.standin) == ("ok", True)
    assert reading.device is not None and reading.device.vid == "1491"

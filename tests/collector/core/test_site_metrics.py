"""/metrics rows of opening hours, maintenance and capacity: golden text, promtool, and
the growth the issue allows (per-site rows, one per station in maintenance).

Regenerate the golden file after an intended change with

    PANTAU_UPDATE_GOLDEN=1 python -m pytest tests/collector/core/test_site_metrics.py
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from collector.exposition import MetricsRenderer
from collector.fleet import Fleet
from collector.registry import Registry, load_registry
from collector.site_capacity import capacity_by_site
from collector.site_schedule import SiteSchedules
from collector.site_schedule_metrics import SiteMetrics, site_text
from collector.stats import IngestStats
from tests.collector.core.messages import component, heartbeat, status

GOLDEN = Path(__file__).parent / "golden" / "site-metrics.txt"
PROMTOOL = Path("/usr/bin/promtool")
FLEET = """
[sites.open]
schedule = { timezone = "Asia/Jakarta", holidays = [2026-12-25], hours = { mon = ["08:00-16:00"] } }
[sites.wit]
schedule = { timezone = "Asia/Jayapura", hours = { tue = ["08:00-16:00"] } }
[sites.maint]
schedule = { timezone = "Asia/Jakarta", holidays = [2026-08-17], hours = { mon = ["08:00-16:00"] } }
[[sites.maint.maintenance]]
start = 2026-12-07T09:00:00+07:00
end = 2026-12-07T12:00:00+07:00
reason = "new switch"
[[sites.maint.maintenance]]
start = 2026-12-07T09:30:00+07:00
end = 2026-12-07T11:00:00+07:00
reason = "scanner"
stations = ["maint-01"]
[sites.plain]
[stations.open-01]
site = "open"
[stations.open-02]
site = "open"
capacity_per_day = 60
[stations.maint-01]
site = "maint"
[stations.plain-01]
site = "plain"
"""
NOW = datetime.fromisoformat("2026-12-07T10:00:00+07:00").timestamp()  # Monday


def fleet_at_ten(tmp_path: Path) -> tuple[Registry, Fleet, SiteSchedules]:
    (tmp_path / "fleet.toml").write_text(FLEET)
    registry = load_registry(tmp_path / "fleet.toml")
    fleet = Fleet(registry, now=NOW - 3600)
    for site, station in (("open", "open-01"), ("open", "open-02"), ("plain", "plain-01")):
        fleet.apply_status(site, station, status("online", site=site, station=station), NOW - 60)
        hb = heartbeat(station, site=site, ts=NOW - 5, components=[component("fingerprint")])
        fleet.apply_heartbeat(hb, NOW - 5)
    schedules = SiteSchedules()
    schedules.refresh(registry, NOW)
    return registry, fleet, schedules


def test_golden_site_metrics(tmp_path: Path) -> None:
    _, fleet, schedules = fleet_at_ten(tmp_path)
    text = site_text(schedules, capacity_by_site(fleet.stations(), schedules))
    if os.environ.get("PANTAU_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "rerun with PANTAU_UPDATE_GOLDEN=1 and review the diff"


def test_promtool_accepts_the_whole_scrape(tmp_path: Path) -> None:
    _, fleet, schedules = fleet_at_ten(tmp_path)
    hours = SiteMetrics().render(schedules, capacity_by_site(fleet.stations(), schedules))
    body = MetricsRenderer("0.1.0").render(fleet, IngestStats(), None, hours)
    if not PROMTOOL.exists():
        pytest.skip("promtool not installed (Debian package prometheus)")
    done = subprocess.run([str(PROMTOOL), "check", "metrics"], input=body, capture_output=True,
                          timeout=30, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def samples(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_growth_is_per_site_plus_stations_in_maintenance(tmp_path: Path) -> None:
    registry, fleet, schedules = fleet_at_ten(tmp_path)
    rows = samples(site_text(schedules, capacity_by_site(fleet.stations(), schedules)))
    scheduled = sum(info.schedule is not None for info in registry.sites.values())
    # open, maintenance, capacity: every site; since and next: scheduled sites;
    # one per station in a window; one fleet-wide holiday row.
    assert len(rows) == 3 * len(registry.sites) + 2 * scheduled + 1 + 1


def test_text_is_rebuilt_only_when_hours_or_capacity_move(tmp_path: Path) -> None:
    registry, fleet, schedules = fleet_at_ten(tmp_path)
    metrics = SiteMetrics()
    capacity = capacity_by_site(fleet.stations(), schedules)
    first = metrics.render(schedules, capacity)
    assert metrics.render(schedules, capacity) is first
    schedules.refresh(registry, NOW + 3600)  # 11:00: maint-01's window ends
    assert metrics.render(schedules, capacity) is not first
    assert b"pantau_station_maintenance{" not in metrics.render(schedules, capacity)

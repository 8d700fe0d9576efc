"""SiteSchedules: every registered site's hours now, evaluated only at boundaries;
maintenance windows; the holiday-list check and its warning; a compressed office day."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from collector import schedule as schedule_module
from collector import site_schedule
from collector.registry import Registry, load_registry
from collector.schedule import OpenState, Schedule
from collector.site_schedule import SiteSchedules, holiday_warnings
from stack.compressed_day import CompressedDay

FLEET = """
[schedule]
timezone = "Asia/Jakarta"
holidays = [2026-12-25]
hours = { mon = ["08:00-12:00", "13:00-16:00"], tue = ["08:00-16:00"] }

[sites.wib]
[sites.wit]
schedule = { timezone = "Asia/Jayapura", holidays = [2025-01-01] }
[[sites.wit.maintenance]]
start = 2026-12-07T09:00:00+09:00
end = 2026-12-07T10:00:00+09:00
reason = "switch"
[[sites.wit.maintenance]]
start = 2026-12-07T09:30:00+09:00
end = 2026-12-07T11:00:00+09:00
reason = "scanner"
stations = ["wit-01"]
[sites.free]
[stations.wit-01]
site = "wit"
"""


def registry(tmp_path: Path, text: str = FLEET) -> Registry:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    return load_registry(path)


def wib(text: str) -> float:
    return datetime.fromisoformat(f"{text}+07:00").timestamp()


@pytest.fixture
def fleet(tmp_path: Path) -> Registry:
    return registry(tmp_path)


def test_sites_are_open_closed_or_in_maintenance(fleet: Registry) -> None:
    schedules = SiteSchedules()
    schedules.refresh(fleet, wib("2026-12-07T07:45"))  # 09:45 WIT
    wib_site, wit = schedules.sites["wib"], schedules.sites["wit"]
    assert (wib_site.state, wib_site.open_since, wib_site.next_open) == (
        "closed", None, wib("2026-12-07T08:00"))
    assert (wit.state, wit.open_since) == ("maintenance", wib("2026-12-07T06:00"))
    assert wit.maintenance is not None and wit.maintenance.reason == "switch"
    assert dict(schedules.stations_in_maintenance) == {
        "wit-01": ("wit", fleet.sites["wit"].maintenance[1])}
    assert schedules.site("unregistered").state == "open"  # no schedule: always open


def test_evaluation_happens_at_boundaries_only(
    fleet: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[float] = []

    def counted(schedule: Schedule, now: float) -> OpenState:
        calls.append(now)
        return real_open_state(schedule, now)

    real_open_state = schedule_module.open_state
    monkeypatch.setattr(site_schedule, "open_state", counted)
    schedules = SiteSchedules()
    assert schedules.refresh(fleet, wib("2026-12-07T07:00"))
    assert len(calls) == 2  # wib and free share the default schedule: one evaluation
    # 07:30 WIB = 09:30 WIT: wit-01's window starts; no opening hours changed.
    assert schedules.refresh(fleet, wib("2026-12-07T07:30")) and len(calls) == 2
    assert "wit-01" in schedules.stations_in_maintenance
    generation = schedules.generation
    for second in range(1, 30 * 60):  # the app's tick, once a second: nothing to do
        assert not schedules.refresh(fleet, wib("2026-12-07T07:30") + second)
    assert (len(calls), schedules.generation) == (2, generation)
    assert schedules.refresh(fleet, wib("2026-12-07T08:00"))  # WIB opens: again
    assert schedules.sites["wib"].open and len(calls) == 3  # WIT's answer still holds


def test_a_reloaded_registry_is_evaluated_at_once(fleet: Registry, tmp_path: Path) -> None:
    schedules = SiteSchedules()
    schedules.refresh(fleet, wib("2026-12-07T09:00"))
    assert schedules.sites["wib"].open
    closed_mondays = registry(tmp_path, FLEET.replace('mon = ["08:00-12:00", "13:00-16:00"], ',
                                                      ""))
    assert schedules.refresh(closed_mondays, wib("2026-12-07T09:00"))
    assert not schedules.sites["wib"].open


def test_holiday_gaps_and_warnings(fleet: Registry) -> None:
    schedules = SiteSchedules()
    schedules.refresh(fleet, wib("2026-12-07T09:00"))
    assert schedules.holiday_gaps == 1  # wit's list holds only 2025
    assert holiday_warnings(fleet, wib("2026-12-07T09:00")) == [
        f"{fleet.source}: sites.wit.schedule: no holiday in 2026, the current year in "
        "Asia/Jayapura: national holidays would count as working days (and page). Add this "
        "year's dates to holidays or holidays_file; deploy/holidays-id.toml lists Indonesia's "
        "(SKB 3 Menteri)"]
    next_year = wib("2027-01-04T09:00")
    assert len(holiday_warnings(fleet, next_year)) == 2  # the default's list ends in 2026 too
    assert schedules.refresh(fleet, next_year) and schedules.holiday_gaps == 3


def test_no_schedule_no_holiday_row(tmp_path: Path) -> None:
    schedules = SiteSchedules()
    schedules.refresh(registry(tmp_path, "[sites.a]\n"), 0.0)
    assert schedules.holiday_gaps is None and schedules.sites["a"].open


def test_a_compressed_day_maps_office_hours_to_real_instants(fleet: Registry) -> None:
    # The office clock starts at Monday 07:59 WIB when the real one says 1000 and runs
    # 60 times faster: the office opens one real second later.
    day = CompressedDay(real_start=1000.0, office_start=wib("2026-12-07T07:59"), speed=60.0)
    schedules = SiteSchedules(day)
    schedules.refresh(fleet, 1000.0)
    assert schedules.sites["wib"].next_open == pytest.approx(1001.0)
    assert not schedules.refresh(fleet, 1000.9)
    assert schedules.refresh(fleet, 1001.0) and schedules.sites["wib"].open
    assert schedules.sites["wib"].open_since == pytest.approx(1001.0)
    local = schedules.local_time(schedules.sites["wib"], 1001.0)
    assert local is not None and local.strftime("%H:%M %Z") == "08:00 WIB"

"""The demo's and the test stack's office clock, and the demo's opening hours."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collector.registry import load_registry
from collector.site_schedule import SiteSchedules
from stack.compressed_day import CompressedDay, compressed_day, office_instant
from stack.demo import medan_fleet, office_day
from stack.demo_schedule import DRIVE_SITES, default_start_at, default_table

JAKARTA = ZoneInfo("Asia/Jakarta")


def wib(text: str) -> float:
    return datetime.fromisoformat(f"{text}+07:00").timestamp()


@pytest.mark.parametrize(("text", "expected"), [
    ("07:55", "2026-12-07T07:55"),
    ("2026-12-12T21:30", "2026-12-12T21:30"),
    ("2026-12-12 6:05", "2026-12-12T06:05"),
])
def test_office_start_is_local_time(text: str, expected: str) -> None:
    assert office_instant(text, JAKARTA, date(2026, 12, 7)) == wib(expected)


@pytest.mark.parametrize(("text", "message"), [
    ("7.55", "expected HH:MM or YYYY-MM-DDTHH:MM, got '7.55'"),
    ("25:00", "hour must be in 0..23"),
])
def test_a_bad_start_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        office_instant(text, JAKARTA, date(2026, 12, 7))


def test_a_compressed_day_runs_faster_and_maps_back() -> None:
    day = compressed_day("08:00", 864.0, "Asia/Jakarta", real_now=wib("2026-12-07T02:00"))
    assert day == CompressedDay(wib("2026-12-07T02:00"), wib("2026-12-07T08:00"), 100.0)
    assert day.office(day.real_start + 36.0) == wib("2026-12-07T09:00")  # an hour in 36 s
    assert day.real(wib("2026-12-07T09:00")) == day.real_start + 36.0
    with pytest.raises(ValueError, match="the day length must be > 0 seconds, got 0"):
        compressed_day(None, 0.0, "Asia/Jakarta", real_now=0.0)


def test_the_demo_starts_on_a_working_day_with_open_and_closed_offices(tmp_path: Path) -> None:
    sunday_noon = wib("2026-12-13T12:00")
    start = default_start_at(sunday_noon)
    assert start == "2026-12-14T07:55"  # Monday
    _, text = medan_fleet(default_table(tmp_path), office_day(start))
    (tmp_path / "fleet.toml").write_text(text)
    registry = load_registry(tmp_path / "fleet.toml")
    schedules = SiteSchedules()
    schedules.refresh(registry, wib("2026-12-14T07:55"))
    opened = {site for site, hours in schedules.sites.items() if hours.open}
    assert opened == set(DRIVE_SITES)  # the drives open at 07:00, the rest at 08:00
    assert registry.schedule is not None and registry.schedule.holidays_in(2026) >= 25
    schedules.refresh(registry, wib("2026-12-14T08:45"))
    assert schedules.sites["medan-deli"].state == "maintenance"
    assert "medan-johor-01" in schedules.stations_in_maintenance

"""Capacity today: ready kits while open, kits expected ready at the next opening while
closed; and the tally that runs at most once a second."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from collector.fleet import Fleet
from collector.registry import Registry, load_registry
from collector.site_capacity import CapacityTally, capacity_by_site, counts_today
from collector.site_schedule import SiteSchedules
from pantau import wire
from tests.collector.core.messages import component, heartbeat, status

FLEET = """
[schedule]
timezone = "Asia/Jakarta"
hours = { mon = ["08:00-16:00"], tue = ["08:00-16:00"] }
[sites.s]
[stations.ready]
site = "s"
[stations.offline]
site = "s"
[stations.dark-after-close]
site = "s"
[stations.died-at-noon]
site = "s"
[stations.broken-part]
site = "s"
[stations.small]
site = "s"
capacity_per_day = 40
[stations.never]
site = "s"
"""


def wib(text: str) -> float:
    return datetime.fromisoformat(f"{text}+07:00").timestamp()


MONDAY_NOON, MONDAY_EVENING = wib("2026-12-07T12:00"), wib("2026-12-07T17:00")


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    (tmp_path / "fleet.toml").write_text(FLEET)
    return load_registry(tmp_path / "fleet.toml")


def report(fleet: Fleet, station: str, at: float, part: wire.ComponentStatus = "ok") -> None:
    fleet.apply_status("s", station, status("online", station=station, site="s"), at)
    hb = heartbeat(station, seq=int(at), ts=at, site="s",
                   components=[component("fingerprint", part)])
    fleet.apply_heartbeat(hb, at)


def go(fleet: Fleet, station: str, state: wire.StationLinkState, at: float) -> None:
    fleet.apply_status("s", station, status(state, station=station, site="s"), at)


def monday(registry: Registry, until: float = wib("2026-12-07T18:00")) -> Fleet:
    """The kits' Monday up to `until`; "ready" and "small" stay on all day."""
    fleet = Fleet(registry, now=wib("2026-12-07T07:00"))
    for station in ("ready", "offline", "dark-after-close", "died-at-noon", "small"):
        report(fleet, station, wib("2026-12-07T08:05"))
    report(fleet, "broken-part", wib("2026-12-07T08:05"), part="missing")
    go(fleet, "died-at-noon", "lost", MONDAY_NOON)
    report(fleet, "dark-after-close", wib("2026-12-07T16:20"))
    go(fleet, "dark-after-close", "lost", wib("2026-12-07T16:22"))
    go(fleet, "offline", "offline", wib("2026-12-07T15:00"))  # clean stop, even while open
    go(fleet, "broken-part", "lost", wib("2026-12-07T16:30"))
    for station in ("ready", "small"):
        report(fleet, station, until - 5)
    return fleet


@pytest.mark.parametrize(("at", "expected"), [
    # Open at 15:30: only kits ready now (online, every required part ok).
    (wib("2026-12-07T15:30"), {"ready", "small"}),
    # Closed at 18:00: ready now, stopped cleanly, or gone after closing time with
    # every part ok. Not: died while open, a missing part, never reported.
    (wib("2026-12-07T18:00"), {"ready", "small", "offline", "dark-after-close"}),
])
def test_which_kits_count_today(registry: Registry, at: float, expected: set[str]) -> None:
    fleet = monday(registry, at)
    schedules = SiteSchedules()
    schedules.refresh(registry, at)
    hours = schedules.sites["s"]
    assert {v.station for v in fleet.stations() if counts_today(v, hours)} == expected


def test_capacity_sums_each_kits_own_daily_figure(registry: Registry) -> None:
    fleet, schedules = monday(registry), SiteSchedules()
    schedules.refresh(registry, wib("2026-12-07T18:00"))
    capacity = capacity_by_site(fleet.stations(), schedules)["s"]
    assert (capacity.kits, capacity.people) == (4, 3 * 100 + 40)


def test_the_tally_runs_at_most_once_a_second_unless_the_hours_move(registry: Registry) -> None:
    fleet, schedules, tally = monday(registry), SiteSchedules(), CapacityTally()
    evening = wib("2026-12-07T18:00")
    schedules.refresh(registry, evening)
    first = tally.get(fleet, schedules, evening)
    report(fleet, "never", evening + 0.1)  # the fleet moves ...
    assert tally.get(fleet, schedules, evening + 0.5) is first  # ... within the second: kept
    again = tally.get(fleet, schedules, evening + 1.0)
    assert again is not first and again["s"].kits == 5
    assert tally.get(fleet, schedules, evening + 1.2) is again  # nothing moved
    schedules.refresh(registry, wib("2026-12-08T08:00"))  # opening: the hours moved
    opened = tally.get(fleet, schedules, evening + 1.3)
    assert opened is not again and opened["s"].kits == 3  # open: only kits online and ready


def test_the_tally_is_kept_while_heartbeats_move_only_live_figures(registry: Registry) -> None:
    fleet, schedules, tally = monday(registry), SiteSchedules(), CapacityTally()
    evening = wib("2026-12-07T18:00")
    schedules.refresh(registry, evening)
    first = tally.get(fleet, schedules, evening)

    def beat(at: float, part: wire.ComponentStatus = "ok") -> None:
        fleet.apply_heartbeat(heartbeat("ready", seq=int(at), ts=at, site="s",
                                        components=[component("fingerprint", part)]), at)
    beat(evening + 1)  # a later heartbeat, the same parts: live figures only
    assert tally.get(fleet, schedules, evening + 5) is first
    beat(evening + 6, part="failed")  # a part failed: the kit no longer counts
    assert tally.get(fleet, schedules, evening + 10)["s"].kits == first["s"].kits - 1

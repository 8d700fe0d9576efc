"""Rollout deadlines: the end of the day in the site's zone, the station's own date first,
the earliest among stations still planned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from collector.rollout import deadline, rollout_due

WIB, WIT = ZoneInfo("Asia/Jakarta"), ZoneInfo("Asia/Jayapura")


@dataclass(frozen=True)
class Planned:
    id: str
    site: str
    install_by: date | None = None


def test_the_deadline_is_the_end_of_that_day_in_the_site_zone() -> None:
    assert deadline(date(2026, 12, 31), WIB) == datetime(2027, 1, 1, tzinfo=WIB).timestamp()
    assert deadline(date(2026, 12, 31), WIB) - deadline(date(2026, 12, 31), WIT) == 2 * 3600


def test_the_earliest_deadline_of_stations_still_planned() -> None:
    sites = {"medan-baru": date(2026, 12, 31), "jayapura": date(2026, 12, 31)}
    stations = [
        Planned("mb-03", "medan-baru"),  # the site's date
        Planned("mb-04", "medan-baru", date(2026, 11, 30)),  # its own, earlier
        Planned("mb-05", "medan-baru", date(2026, 10, 31)),  # earliest, but reporting now
        Planned("jp-01", "jayapura"),
        Planned("bj-01", "binjai"),  # no date anywhere
    ]
    zones = {"jayapura": WIT}
    due = rollout_due(stations, sites.get, lambda site: zones.get(site, WIB),
                      lambda station: station != "mb-05")
    assert due == {"medan-baru": deadline(date(2026, 11, 30), WIB),
                   "jayapura": deadline(date(2026, 12, 31), WIT)}
    assert rollout_due(stations, sites.get, lambda site: WIB, lambda station: False) == {}

"""Rollout deadlines: when each site's planned stations must be installed. Pure.

The registry's `install_by` (a TOML date) on a site, or on a planned station
(the station's wins for that station). The deadline is the end of that day in
the site's time zone: the next local midnight. A site's due time is the
earliest deadline among its stations still *planned* (registered planned and
not reporting yet: one that reports is simply online); a site with none has
no due time, and `pantau_site_rollout_due_timestamp_seconds` is absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class PlannedStation(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def install_by(self) -> date | None: ...


def deadline(day: date, zone: ZoneInfo) -> float:
    """The end of `day` in `zone`, as epoch seconds (the following local midnight)."""
    following = day + timedelta(days=1)
    return datetime(following.year, following.month, following.day, tzinfo=zone).timestamp()


def rollout_due(stations: Iterable[PlannedStation], site_install_by: Callable[[str], date | None],
                zone_of: Callable[[str], ZoneInfo],
                still_planned: Callable[[str], bool]) -> dict[str, float]:
    """Site -> the earliest deadline among its stations still planned (sites without one
    are left out)."""
    due: dict[str, float] = {}
    for station in stations:
        day = station.install_by or site_install_by(station.site)
        if day is None or not still_planned(station.id):
            continue
        at = deadline(day, zone_of(station.site))
        due[station.site] = min(at, due.get(station.site, at))
    return due

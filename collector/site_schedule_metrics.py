"""/metrics rows of opening hours, maintenance and capacity: per registered site, plus
one per station in a maintenance window and one fleet-wide holiday-list row.

Rendered from snapshots (`SiteSchedules`, the capacity tally), never from a
schedule: the text is kept and rebuilt only when either snapshot moved, so a
scrape of a large fleet costs a lookup here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from collector.exposition_text import Family, escape_label, num
from collector.site_capacity import NO_CAPACITY, SiteCapacity
from collector.site_schedule import SiteSchedules

_OPEN: Final = Family(
    "pantau_site_open", "gauge",
    "1 inside the site's opening hours (special hours first, then weekday hours; 0 on "
    "holidays); always 1 for a site without a schedule.",
)
_SINCE: Final = Family(
    "pantau_site_open_since_timestamp_seconds", "gauge",
    "Start of the site's current opening period; 0 while closed. Absent without a schedule.",
)
_NEXT: Final = Family(
    "pantau_site_next_open_timestamp_seconds", "gauge",
    "Start of the site's next opening period after now (while open: after the current one).",
)
_SITE_MAINTENANCE: Final = Family(
    "pantau_site_maintenance", "gauge", "1 while a maintenance window of the whole site is on.",
)
_STATION_MAINTENANCE: Final = Family(
    "pantau_station_maintenance", "gauge",
    "1 while a maintenance window of the station is on; absent otherwise.",
)
_CAPACITY: Final = Family(
    "pantau_site_capacity_today", "gauge",
    "People the site can enroll today: kits ready (while open) or expected ready at the next "
    "opening (while closed), times each kit's capacity per day.",
)
_HOLIDAYS: Final = Family(
    "pantau_schedule_sites_without_holidays_this_year", "gauge",
    "Sites with a schedule whose holiday list holds no date of the current year; absent "
    "while no site has a schedule.",
)
FAMILIES: Final = (_OPEN, _SINCE, _NEXT, _SITE_MAINTENANCE, _STATION_MAINTENANCE, _CAPACITY,
                   _HOLIDAYS)


class SiteMetrics:
    """The rows above as bytes, re-rendered only when the hours or the capacity moved."""

    def __init__(self) -> None:
        self._key: tuple[int, int, int] = (-1, -1, -1)
        self._text = b""

    def render(self, schedules: SiteSchedules, capacity: Mapping[str, SiteCapacity]) -> bytes:
        key = (id(schedules), schedules.generation, id(capacity))
        if key != self._key:
            self._text = site_text(schedules, capacity).encode()
            self._key = key
        return self._text


def site_text(schedules: SiteSchedules, capacity: Mapping[str, SiteCapacity]) -> str:
    rows: dict[Family, list[str]] = {family: [family.header] for family in FAMILIES}
    for site_id in sorted(schedules.sites):
        hours = schedules.sites[site_id]
        lab = f'site="{escape_label(site_id)}"'
        rows[_OPEN].append(f"pantau_site_open{{{lab}}} {num(hours.open)}\n")
        if hours.schedule is not None:
            since = hours.open_since if hours.open_since is not None else 0
            rows[_SINCE].append(f"{_SINCE.name}{{{lab}}} {num(since)}\n")
            if hours.next_open is not None:
                rows[_NEXT].append(f"{_NEXT.name}{{{lab}}} {num(hours.next_open)}\n")
        on = hours.maintenance is not None
        rows[_SITE_MAINTENANCE].append(f"pantau_site_maintenance{{{lab}}} {num(on)}\n")
        people = capacity.get(site_id, NO_CAPACITY).people
        rows[_CAPACITY].append(f"pantau_site_capacity_today{{{lab}}} {people}\n")
    for station, (site_id, _) in sorted(schedules.stations_in_maintenance.items()):
        lab = f'site="{escape_label(site_id)}",station="{escape_label(station)}"'
        rows[_STATION_MAINTENANCE].append(f"pantau_station_maintenance{{{lab}}} 1\n")
    if schedules.holiday_gaps is not None:
        rows[_HOLIDAYS].append(f"{_HOLIDAYS.name} {schedules.holiday_gaps}\n")
    return "".join("".join(lines) for lines in rows.values())

"""How many people each office can enroll today: its ready kits while open, the kits
expected ready at the next opening while closed, times each kit's daily capacity.

A kit is *expected ready* when its last report had every required part ok and
it then went `offline` (a clean stop) or `lost`/`stale` after the site's last
closing time (switched off at the power strip, a power cut at night). A kit
that went away while the office was open is not: someone has to look at it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from collector.site_schedule import SiteHours, SiteSchedules
from collector.station import StationView

if TYPE_CHECKING:
    from collector.fleet import Fleet

MIN_PERIOD_S: Final = 1.0  # a busy fleet changes every millisecond: tally at most this often


@dataclass(frozen=True, slots=True)
class SiteCapacity:
    kits: int  # ready now (open) or expected ready at the next opening (closed)
    people: int  # those kits' daily capacity, summed


NO_CAPACITY: Final = SiteCapacity(0, 0)


def counts_today(view: StationView, hours: SiteHours) -> bool:
    """Whether the kit adds its capacity to the site's today."""
    if hours.open:
        return view.ready
    if view.last_heartbeat_ts is None or not view.components_ok:
        return False
    if view.state in ("online", "offline"):
        return True
    last_close, seen = hours.last_close, view.last_seen
    return (view.state in ("lost", "stale") and last_close is not None and seen is not None
            and seen >= last_close)


def capacity_by_site(
    stations: Iterable[StationView], schedules: SiteSchedules
) -> dict[str, SiteCapacity]:
    """Every registered site's capacity today, and that of unregistered sites with a kit
    (always open: they have no schedule). One pass over the fleet, plain attribute reads:
    it runs at fleet scale (at most once a second, see `CapacityTally`)."""
    kits = dict.fromkeys(schedules.sites, 0)
    people = dict.fromkeys(schedules.sites, 0)
    hours_of: dict[str, SiteHours] = dict(schedules.sites)
    for view in stations:
        site = view.site
        hours = hours_of.get(site)
        if hours is None:
            hours = hours_of[site] = schedules.site(site)
        if hours.open:  # the common case, inlined: StationView.ready
            if not (view.state == "online" and view.components_ok
                    and view.last_heartbeat_ts is not None):
                continue
        elif not counts_today(view, hours):
            continue
        entry = view.entry
        own = entry.capacity_per_day if entry is not None else None
        kits[site] = kits.get(site, 0) + 1
        people[site] = people.get(site, 0) + (own or hours.capacity_per_day)
    return {site: SiteCapacity(kits[site], people[site]) for site in kits}


class CapacityTally:
    """`capacity_by_site`, tallied again only when the hours or more than heartbeats' live
    figures moved (`Fleet.shape_generation`), and for fleet changes at most once per
    `MIN_PERIOD_S`: a scrape, an API call and a page view in the same second share one
    pass over the stations."""

    def __init__(self) -> None:
        self._key: tuple[int, int, int] = (-1, -1, -1)
        self._at = -math.inf
        self._value: Mapping[str, SiteCapacity] = MappingProxyType({})

    def get(self, fleet: Fleet, schedules: SiteSchedules, now: float) -> Mapping[str, SiteCapacity]:
        key = (id(fleet), fleet.shape_generation, schedules.generation)
        if key == self._key:
            return self._value
        hours_moved = key[0] != self._key[0] or key[2] != self._key[2]
        if hours_moved or not 0 <= now - self._at < MIN_PERIOD_S:
            self._value = MappingProxyType(capacity_by_site(fleet.stations(), schedules))
            self._key, self._at = key, now
        return self._value

"""Each office as people read it today: open or closed, its local time, the next
opening, its capacity, and whether it can enroll; plus the fleet line
"N of M offices open now · K can enroll · capacity today P people".

Built from the snapshots the views share (fleet rollups, `SiteSchedules`, the
capacity tally) for the API and the status page; no schedule is evaluated here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from collector.app_keys import CAPACITY_KEY, FLEET_KEY, SCHEDULES_KEY
from collector.schedule import ScheduleClock, Window
from collector.site_capacity import NO_CAPACITY, SiteCapacity
from collector.site_rollup import SiteView
from collector.site_schedule import SiteHours, SiteSchedules, SiteState


@dataclass(frozen=True, slots=True)
class Office:
    site: SiteView
    hours: SiteHours
    capacity: SiteCapacity
    local: datetime | None  # the office's wall clock now; None without a schedule
    next_open_local: datetime | None
    stations_in_maintenance: tuple[tuple[str, Window], ...]  # windows on the office clock
    clock: ScheduleClock  # office clock <-> collector clock

    def local_at(self, office_ts: float) -> datetime | None:
        """An office-clock instant (a window's end) as the office's wall-clock time."""
        if self.local is None:
            return None
        return datetime.fromtimestamp(office_ts, self.local.tzinfo)

    @property
    def state(self) -> SiteState:
        return self.hours.state

    @property
    def opens_today(self) -> bool:
        """Closed now, and its next opening is on today's local date."""
        local, nxt = self.local, self.next_open_local
        return local is not None and nxt is not None and nxt.date() == local.date()

    @property
    def can_enroll_today(self) -> bool:
        """Open with a ready kit, or opening later today with a kit expected ready."""
        if self.site.total == 0 or self.state == "maintenance":
            return False
        if self.hours.open:
            return self.site.ready > 0
        return self.opens_today and self.capacity.kits > 0

    @property
    def short_of_kits(self) -> bool:
        """No kit ready (open) or expected ready at the next opening (closed): a problem."""
        if self.site.total == 0 or self.state == "maintenance":
            return False
        return self.site.ready == 0 if self.hours.open else self.capacity.kits == 0


@dataclass(frozen=True, slots=True)
class FleetLine:
    offices: int  # offices with an installed kit
    open: int
    can_enroll: int
    capacity_today: int


def offices(
    sites: Sequence[SiteView], schedules: SiteSchedules,
    capacity: Mapping[str, SiteCapacity], now: float,
) -> list[Office]:
    """One `Office` per site the fleet shows, in the order given."""
    by_site: dict[str, list[tuple[str, Window]]] = {}
    for station, (site, window) in sorted(schedules.stations_in_maintenance.items()):
        by_site.setdefault(site, []).append((station, window))
    built = []
    for view in sites:
        hours = schedules.site(view.site)
        local = schedules.local_time(hours, now)
        nxt = None
        if local is not None and hours.next_open is not None:
            nxt = datetime.fromtimestamp(schedules.clock.office(hours.next_open), local.tzinfo)
        built.append(Office(view, hours, capacity.get(view.site, NO_CAPACITY), local, nxt,
                            tuple(by_site.get(view.site, ())), schedules.clock))
    return built


def office_list(app: web.Application, at: float) -> list[Office]:
    """Every site the app's fleet shows, with its hours and capacity at `at` (API, page)."""
    fleet, schedules = app[FLEET_KEY], app[SCHEDULES_KEY]
    capacity = app[CAPACITY_KEY].get(fleet, schedules, at)
    return offices(fleet.sites(), schedules, capacity, at)


def fleet_line(all_offices: Sequence[Office]) -> FleetLine:
    serving = [o for o in all_offices if o.site.total > 0]
    return FleetLine(
        offices=len(serving),
        open=sum(o.state == "open" for o in serving),
        can_enroll=sum(o.state == "open" and o.site.ready > 0 for o in serving),
        capacity_today=sum(o.capacity.people for o in serving),
    )

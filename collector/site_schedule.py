"""Every registered site's opening state now, kept by the app's tick and read by every view.

`SiteSchedules.refresh(registry, now)` runs once a second but evaluates only
when the registry changed or an answer ran out (`OpenState.until`: the next
opening or closing, a maintenance window's edge, a local midnight); sites
sharing a `Schedule` share one evaluation. Views (/metrics, API, page) read
the resulting `SiteHours` and never evaluate a schedule themselves.

Times in `SiteHours` are on the collector's clock: with a compressed day the
offices' clock runs faster (see `collector.schedule.ScheduleClock`), yet the
exported timestamps stay comparable with heartbeat timestamps and Prometheus'.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final, Literal

from collector.registry import Registry, SiteInfo
from collector.schedule import (
    DEFAULT_CAPACITY_PER_DAY,
    REAL_TIME,
    OpenState,
    Schedule,
    ScheduleClock,
    Window,
    local_date,
    open_state,
)

SiteState = Literal["open", "closed", "maintenance"]
SITE_STATES: Final[tuple[SiteState, ...]] = ("open", "closed", "maintenance")


@dataclass(frozen=True, slots=True)
class SiteHours:
    """One site at the last evaluation; instants on the collector's clock."""

    site: str
    schedule: Schedule | None  # None: always open
    open: bool
    open_since: float | None  # start of the current opening; None while closed or unscheduled
    next_open: float | None  # the next opening after the current one / after now
    last_close: float | None  # while closed: when the last opening ended
    maintenance: Window | None  # a whole-site window that is on

    @property
    def state(self) -> SiteState:
        if self.maintenance is not None:
            return "maintenance"
        return "open" if self.open else "closed"

    @property
    def capacity_per_day(self) -> int:
        return self.schedule.capacity_per_day if self.schedule else DEFAULT_CAPACITY_PER_DAY


def always_open(site: str) -> SiteHours:
    """A site without a schedule, or one the registry does not know."""
    return SiteHours(site, None, True, None, None, None, None)


class SiteSchedules:
    def __init__(self, clock: ScheduleClock = REAL_TIME) -> None:
        self.clock = clock
        self.generation = 0  # moves whenever the views below may have changed
        self._registry: Registry | None = None
        self._until = -math.inf  # office clock: evaluate again from then on
        self._states: dict[int, tuple[Schedule, OpenState]] = {}  # by id(schedule)
        self._sites: Mapping[str, SiteHours] = MappingProxyType({})
        self._stations: Mapping[str, tuple[str, Window]] = MappingProxyType({})
        self._holiday_gaps: int | None = None

    def refresh(self, registry: Registry, now: float) -> bool:
        """Evaluate again if the registry changed or an answer ran out; True if it did."""
        office = self.clock.office(now)
        if registry is self._registry and office < self._until:
            return False
        if registry is not self._registry:
            self._registry, self._states = registry, {}
        self._evaluate(registry, office)
        self.generation += 1
        return True

    def site(self, site_id: str) -> SiteHours:
        """The site's hours; unregistered sites are always open."""
        return self._sites.get(site_id) or always_open(site_id)

    @property
    def sites(self) -> Mapping[str, SiteHours]:
        """Every registered site, in registry order."""
        return self._sites

    @property
    def stations_in_maintenance(self) -> Mapping[str, tuple[str, Window]]:
        """Station id -> (its site, the station window that is on); whole-site windows are
        in `SiteHours.maintenance`."""
        return self._stations

    @property
    def holiday_gaps(self) -> int | None:
        """Scheduled sites whose holidays hold no date of their current year; None: no schedule."""
        return self._holiday_gaps

    def local_time(self, hours: SiteHours, now: float) -> datetime | None:
        """The office's wall-clock time at `now` (collector clock); None without a schedule."""
        if hours.schedule is None:
            return None
        return datetime.fromtimestamp(self.clock.office(now), hours.schedule.zone)

    def _evaluate(self, registry: Registry, office: float) -> None:
        until = math.inf
        sites: dict[str, SiteHours] = {}
        stations: dict[str, tuple[str, Window]] = {}
        for info in registry.sites.values():
            state = self._state(info.schedule, office)
            until = min(until, state.until if state else math.inf, _next_edge(info, office))
            on = [w for w in info.maintenance if w.on(office)]
            whole = next((w for w in on if not w.stations), None)
            stations.update((s, (info.id, w)) for w in on for s in w.stations)
            sites[info.id] = self._hours(info, state, whole)
        self._until = until
        self._sites, self._stations = MappingProxyType(sites), MappingProxyType(stations)
        self._holiday_gaps = _holiday_gaps(registry.sites.values(), office)

    def _state(self, schedule: Schedule | None, office: float) -> OpenState | None:
        if schedule is None:
            return None
        known = self._states.get(id(schedule))
        if known is None or known[0] is not schedule or office >= known[1].until:
            known = self._states[id(schedule)] = (schedule, open_state(schedule, office))
        return known[1]

    def _hours(self, info: SiteInfo, state: OpenState | None, whole: Window | None) -> SiteHours:
        if state is None:
            return SiteHours(info.id, None, True, None, None, None, whole)
        real = self.clock.real
        return SiteHours(
            info.id, info.schedule, state.open,
            None if state.since is None else real(state.since),
            None if state.next_open is None else real(state.next_open),
            None if state.last_close is None else real(state.last_close), whole,
        )


def _next_edge(info: SiteInfo, office: float) -> float:
    """The next start or end of one of the site's maintenance windows."""
    edges = [edge for w in info.maintenance for edge in (w.start, w.end) if edge > office]
    return min(edges, default=math.inf)


def _holiday_gaps(sites: Iterable[SiteInfo], office: float) -> int | None:
    scheduled = [info.schedule for info in sites if info.schedule is not None]
    if not scheduled:
        return None
    stale: dict[int, bool] = {}  # most sites share the default schedule: check it once
    for s in scheduled:
        if id(s) not in stale:
            stale[id(s)] = s.holidays_in(local_date(s, office).year) == 0
    return sum(stale[id(s)] for s in scheduled)


def holiday_warnings(registry: Registry, now: float, clock: ScheduleClock = REAL_TIME) -> list[str]:
    """For check-config and the log: schedules whose holidays hold no date of the current year.

    A warning, not a refusal: the office still opens and closes by its week,
    but would count this year's national holidays as working days.
    """
    warnings: list[str] = []
    seen: set[int] = set()
    for info in registry.sites.values():
        schedule = info.schedule
        if schedule is None or id(schedule) in seen:
            continue
        seen.add(id(schedule))
        year = local_date(schedule, clock.office(now)).year
        if schedule.holidays_in(year) == 0:
            key = "schedule" if schedule is registry.schedule else f"sites.{info.id}.schedule"
            warnings.append(
                f"{registry.source}: {key}: no holiday in {year}, the current year in "
                f"{schedule.zone.key}: national holidays would count as working days (and "
                "page). Add this year's dates to holidays or holidays_file; "
                "deploy/holidays-id.toml lists Indonesia's (SKB 3 Menteri)"
            )
    return warnings

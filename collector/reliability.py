"""Availability, time to repair and failures per model, from the asset database. Pure.

* **Availability** of a station on a local day: the seconds it was `ready`
  within the site's opening hours (maintenance taken out) over the opening
  seconds it was expected to work (readiness `ready` or `down`; before its
  first row, planned or gone it is not counted). A site's is the same sum over
  its stations, a window's the sum over its days. None when nothing counted.
* **Time to repair**: `closed_at - opened_at` of the repairs closed in the
  window, per site and per (site, role): the median and the 90th percentile,
  interpolated linearly between the two closest ranks (as NumPy's default).
* **Failures per model** (vid:pid): repairs opened in the window whose model
  was a device seen in the role (a part missing since install is no failure
  of any model) over the kit-days of that model in the window: the days its
  units were installed, stand-ins left out. Per 1,000 kit-days, and the mean
  time between failures in days (kit-days / failures).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from collector.assets import Spell
from collector.open_hours import SiteCalendar, Span, overlap
from collector.readiness import ReadinessRow
from collector.repairs import Repair

DAY_S = 86400.0


@dataclass(slots=True)
class Tally:
    open_s: float = 0.0  # opening seconds the station was expected to work
    ready_s: float = 0.0  # of those, the seconds it was ready

    def add(self, other: Tally) -> None:
        self.open_s += other.open_s
        self.ready_s += other.ready_s

    @property
    def ratio(self) -> float | None:
        return self.ready_s / self.open_s if self.open_s > 0 else None


Days = dict[date, Tally]


@dataclass(slots=True)
class Availability:
    stations: dict[str, Days] = field(default_factory=lambda: defaultdict(dict))
    sites: dict[str, Days] = field(default_factory=lambda: defaultdict(dict))
    station_sites: dict[str, str] = field(default_factory=dict)  # the last site of each


def readiness_spells(rows: Sequence[ReadinessRow], start: float,
                     end: float) -> Iterator[tuple[ReadinessRow, float, float]]:
    """Each row with the part of [start, end) it holds for (until the station's next row)."""
    by_station: dict[str, list[ReadinessRow]] = defaultdict(list)
    for row in rows:
        by_station[row.station].append(row)
    for station_rows in by_station.values():
        station_rows.sort(key=lambda r: r.at)
        ends = [r.at for r in station_rows[1:]] + [end]
        for row, until in zip(station_rows, ends, strict=True):
            a, b = max(row.at, start), min(until, end)
            if b > a:
                yield row, a, b


class _SiteDays:
    """One site's local days over [start, end): their bounds once, for bisecting, and the
    counted hours per day (per station only where a maintenance window names stations)."""

    def __init__(self, calendar: SiteCalendar, start: float, end: float) -> None:
        self.calendar = calendar
        found = list(calendar.days(start, end))
        self.days = [day for day, _, _ in found]
        self.bounds = [begin for _, begin, _ in found] + [found[-1][2]] if found else [start]
        self._by_station = any(w.stations for w in calendar.maintenance)
        self._spans: dict[tuple[int, str], list[Span]] = {}

    def covering(self, a: float, b: float) -> Iterator[tuple[int, float, float]]:
        """(day index, overlap start, overlap end) for each day [a, b) touches."""
        i = max(0, bisect_right(self.bounds, a) - 1)
        while i < len(self.days) and self.bounds[i] < b:
            yield i, max(a, self.bounds[i]), min(b, self.bounds[i + 1])
            i += 1

    def counted(self, i: int, station: str) -> list[Span]:
        key = (i, station if self._by_station else "")
        spans = self._spans.get(key)
        if spans is None:
            spans = self._spans[key] = self.calendar.counted(self.days[i], station)
        return spans


def availability(rows: Sequence[ReadinessRow], calendars: Mapping[str, SiteCalendar],
                 start: float, end: float) -> Availability:
    out = Availability()
    sites: dict[str, _SiteDays] = {}
    default = SiteCalendar()
    for row, a, b in readiness_spells(rows, start, end):
        if row.readiness == "excluded":
            continue
        site = sites.get(row.site)
        if site is None:
            site = sites[row.site] = _SiteDays(calendars.get(row.site, default), start, end)
        station_days, site_days = out.stations[row.station], out.sites[row.site]
        for i, x, y in site.covering(a, b):
            counted = overlap(site.counted(i, row.station), x, y)
            if counted <= 0:
                continue
            ready = counted if row.readiness == "ready" else 0.0
            day = site.days[i]
            for days in (station_days, site_days):
                tally = days.get(day)
                if tally is None:
                    tally = days[day] = Tally()
                tally.open_s += counted
                tally.ready_s += ready
        out.station_sites[row.station] = row.site
    return out


def over(days: Days, wanted: Iterable[date]) -> float | None:
    """The ratio over some days; None when none of them counted a second."""
    total = Tally()
    for day in wanted:
        if day in days:
            total.add(days[day])
    return total.ratio


# --- time to repair -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RepairTimes:
    closed: int
    median_s: float | None
    p90_s: float | None


def quantile(ordered: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks; `ordered` sorted ascending."""
    if not ordered:
        return None
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def repair_times(durations: Iterable[float]) -> RepairTimes:
    ordered = sorted(durations)
    return RepairTimes(len(ordered), quantile(ordered, 0.5), quantile(ordered, 0.9))


def time_to_repair(repairs: Iterable[Repair], windows: Mapping[str, Span]
                   ) -> dict[tuple[str, str | None], RepairTimes]:
    """Per (site, None) and (site, role), over repairs closed in the site's window."""
    found: dict[tuple[str, str | None], list[float]] = defaultdict(list)
    for r in repairs:
        window = windows.get(r.site)
        if r.closed_at is None or window is None or not window[0] <= r.closed_at < window[1]:
            continue
        found[(r.site, None)].append(r.closed_at - r.opened_at)
        found[(r.site, r.role)].append(r.closed_at - r.opened_at)
    return {key: repair_times(values) for key, values in found.items()}


# --- failures per model -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ModelFigures:
    vid: str
    pid: str
    name: str
    kit_days: float
    failures: int

    @property
    def per_1000_kit_days(self) -> float | None:
        return self.failures / self.kit_days * 1000 if self.kit_days > 0 else None

    @property
    def mtbf_days(self) -> float | None:
        return self.kit_days / self.failures if self.failures else None


def model_figures(spells: Iterable[Spell], repairs: Iterable[Repair], start: float,
                  end: float) -> list[ModelFigures]:
    """Models with kit-days or failures in [start, end), most failures per kit-day first."""
    days: dict[tuple[str, str], float] = defaultdict(float)
    names: dict[tuple[str, str], str] = {}
    for s in spells:
        if s.standin:
            continue
        key = (s.device.vid, s.device.pid)
        days[key] += max(0.0, min(end, s.end if s.end is not None else end) - max(start, s.start))
        names[key] = s.name or names.get(key, "")
    failures: dict[tuple[str, str], int] = defaultdict(int)
    for r in repairs:
        if r.model.seen and start <= r.opened_at < end:
            key = (r.model.vid, r.model.pid)
            failures[key] += 1
            names.setdefault(key, r.model.name)
    figures = [ModelFigures(vid, pid, names.get((vid, pid), ""), days.get((vid, pid), 0.0) / DAY_S,
                            failures.get((vid, pid), 0))
               for vid, pid in sorted({*days, *failures})]
    return sorted(figures, key=lambda m: (-_rate(m), m.vid, m.pid))


def _rate(m: ModelFigures) -> float:
    """Failures per kit-day for ordering; failures without kit-days first of all."""
    if not m.failures:
        return 0.0
    rate = m.per_1000_kit_days
    return math.inf if rate is None else rate

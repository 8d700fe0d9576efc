"""When an office counts for availability: its opening hours, minus maintenance, by local day.

A `SiteCalendar` is what the reliability figures need of a site's schedule:
its time zone (local days), its opening ranges per local day (None: open all
day, the rule for a site without a schedule), and maintenance windows (whole
site, or some stations), which do not count against availability. A site
without a schedule counts its days in `DEFAULT_ZONE`.

Pure and deterministic: instants are epoch seconds, days are local dates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

# WIB, the zone of most offices (and of Medan); only used for sites without a schedule.
DEFAULT_ZONE: Final = ZoneInfo("Asia/Jakarta")
Span = tuple[float, float]  # [start, end) in epoch seconds
Ranges = tuple[tuple[int, int], ...]  # minutes from local midnight, end exclusive (<= 1440)


@dataclass(frozen=True, slots=True)
class Maintenance:
    start: float
    end: float
    stations: tuple[str, ...] = ()  # empty: the whole site


@dataclass(frozen=True, slots=True)
class SiteCalendar:
    zone: ZoneInfo = DEFAULT_ZONE
    ranges_on: Callable[[date], Ranges] | None = None  # None: open all day, every day
    maintenance: tuple[Maintenance, ...] = ()

    def day_of(self, ts: float) -> date:
        return datetime.fromtimestamp(ts, self.zone).date()

    def midnight(self, day: date) -> float:
        return datetime(day.year, day.month, day.day, tzinfo=self.zone).timestamp()

    def days(self, start: float, end: float) -> Iterator[tuple[date, float, float]]:
        """The local days that [start, end) touches, each as (day, its start, its end)."""
        day = self.day_of(start)
        while (begin := self.midnight(day)) < end:
            following = day + timedelta(days=1)
            yield day, begin, self.midnight(following)
            day = following

    def openings(self, day: date) -> list[Span]:
        """The day's opening hours as instants (all of it without a schedule)."""
        if self.ranges_on is None:
            return [(self.midnight(day), self.midnight(day + timedelta(days=1)))]
        base = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        return [((base + timedelta(minutes=a)).timestamp(),
                 (base + timedelta(minutes=b)).timestamp()) for a, b in self.ranges_on(day)]

    def counted(self, day: date, station: str) -> list[Span]:
        """The day's opening hours for `station`, maintenance taken out."""
        spans = self.openings(day)
        for window in self.maintenance:
            if not window.stations or station in window.stations:
                spans = subtract(spans, (window.start, window.end))
        return spans


def subtract(spans: list[Span], cut: Span) -> list[Span]:
    out: list[Span] = []
    for a, b in spans:
        if cut[1] <= a or cut[0] >= b:
            out.append((a, b))
            continue
        if a < cut[0]:
            out.append((a, cut[0]))
        if cut[1] < b:
            out.append((cut[1], b))
    return out


def overlap(spans: list[Span], a: float, b: float) -> float:
    """Seconds of [a, b) inside `spans`."""
    return sum(max(0.0, min(b, e) - max(a, s)) for s, e in spans)

"""Opening hours of one office: the pure model and its evaluation, time passed in.

A `Schedule` is an office's week of opening hours in its own time zone,
date-bound special hours (enrollment drives, Ramadan) that replace the week,
holidays, and how many people one ready kit enrolls in a day. `open_state`
answers "is it open at `now`" together with when the current opening began,
when the next one begins, when the last one ended, and until when that answer
holds, so the caller evaluates again only at the next boundary.

Ranges are whole minutes of the local day, end exclusive; `24:00` ends a range
at midnight. Ranges that touch (`08:00-12:00`, `12:00-16:00`, or `18:00-24:00`
and the next day's `00:00-06:00`) make one opening: a station that reported at
11:59 has reported "since the opening began".

`ScheduleClock` maps the collector's clock to the offices' clock. In production
they are the same (`REAL_TIME`); the demo and the end-to-end tests compress a
day into minutes with another mapping, so schedules, maintenance windows and
holidays are read in office time while every exported timestamp stays real.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, Protocol
from zoneinfo import ZoneInfo

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_CAPACITY_PER_DAY: Final = 100  # field reports: about 100 people per kit and day
DAY_MINUTES: Final = 24 * 60
# How far the evaluation looks: either way for the ends of an opening that runs
# across midnights (around the clock: cut there), back for the last closing,
# ahead for the next opening.
MERGE_DAYS: Final = 8
CLOSE_BACK_DAYS: Final = 31
OPEN_AHEAD_DAYS: Final = 400

Range = tuple[int, int]  # minutes from local midnight: start < end <= 1440
DayHours = tuple[Range, ...]  # sorted, not overlapping
WeekHours = tuple[DayHours, ...]  # seven days, Monday first


class ScheduleClock(Protocol):
    """The offices' clock as a function of the collector's (both epoch seconds)."""

    def office(self, real: float) -> float: ...

    def real(self, office: float) -> float: ...


class RealTime:
    """Offices and collector share one clock: production."""

    def office(self, real: float) -> float:
        return real

    def real(self, office: float) -> float:
        return office


REAL_TIME: Final = RealTime()


@dataclass(frozen=True, slots=True)
class Special:
    """Hours that replace the week's from `first` to `last` (inclusive)."""

    first: date
    last: date
    week: WeekHours


@dataclass(frozen=True, slots=True)
class Schedule:
    zone: ZoneInfo
    week: WeekHours
    specials: tuple[Special, ...] = ()
    holidays: frozenset[date] = frozenset()
    capacity_per_day: int = DEFAULT_CAPACITY_PER_DAY

    def ranges_on(self, day: date) -> DayHours:
        """Holidays first (closed), then special hours, then the weekday's hours."""
        if day in self.holidays:
            return ()
        for special in self.specials:
            if special.first <= day <= special.last:
                return special.week[day.weekday()]
        return self.week[day.weekday()]

    def holidays_in(self, year: int) -> int:
        return sum(1 for day in self.holidays if day.year == year)


@dataclass(frozen=True, slots=True)
class Window:
    """A maintenance window: `stations` empty means the whole site."""

    start: float
    end: float
    reason: str
    stations: tuple[str, ...] = ()

    def on(self, now: float) -> bool:
        return self.start <= now < self.end


@dataclass(frozen=True, slots=True)
class OpenState:
    open: bool
    since: float | None  # start of the current opening; None while closed
    next_open: float | None  # the next opening's start after this one; None: none ahead
    last_close: float | None  # while closed: when the last opening ended (None: long ago)
    until: float  # this answer holds until then (a boundary or the next local midnight)


def open_state(schedule: Schedule, now: float) -> OpenState:
    """Where `now` falls in `schedule` (all instants epoch seconds, office clock)."""
    today = datetime.fromtimestamp(now, schedule.zone).date()
    midnight = _instant(schedule, today + timedelta(days=1), 0)
    for start, end in _periods(schedule, today):
        if start <= now < end:
            since = _merged_start(schedule, today, start)
            end, ends = _merged_end(schedule, today, end)
            # An opening still running at the look-ahead's end (around the clock)
            # has no "next" one to speak of.
            following = _next_start(schedule, today, end) if ends else None
            return OpenState(True, since, following, None, min(end, midnight))
    next_open = _next_start(schedule, today, now)
    until = midnight if next_open is None else min(next_open, midnight)
    return OpenState(False, None, next_open, _last_end(schedule, today, now), until)


def local_date(schedule: Schedule, now: float) -> date:
    return datetime.fromtimestamp(now, schedule.zone).date()


def _instant(schedule: Schedule, day: date, minute: int) -> float:
    # Wall-clock arithmetic on an aware datetime, resolved to an instant once:
    # right across daylight-saving changes too (Indonesia has none, others do).
    start = datetime(day.year, day.month, day.day, tzinfo=schedule.zone)
    return (start + timedelta(minutes=minute)).timestamp()


def _periods(schedule: Schedule, day: date) -> list[tuple[float, float]]:
    """The day's openings as instants, touching ranges joined."""
    merged: list[tuple[float, float]] = []
    for first, last in schedule.ranges_on(day):
        start, end = _instant(schedule, day, first), _instant(schedule, day, last)
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _merged_start(schedule: Schedule, day: date, start: float) -> float:
    """Walk back over days whose last opening runs up to `start` (midnight)."""
    for back in range(1, MERGE_DAYS + 1):
        previous = _periods(schedule, day - timedelta(days=back))
        if not previous or previous[-1][1] != start:
            break
        start = previous[-1][0]
    return start


def _merged_end(schedule: Schedule, day: date, end: float) -> tuple[float, bool]:
    """The end of the opening that runs on past midnight(s); False if still running at
    the horizon."""
    for ahead in range(1, MERGE_DAYS + 1):
        following = _periods(schedule, day + timedelta(days=ahead))
        if not following or following[0][0] != end:
            return end, True
        end = following[0][1]
    return end, False


def _next_start(schedule: Schedule, day: date, after: float) -> float | None:
    for ahead in range(OPEN_AHEAD_DAYS + 1):
        for start, _ in _periods(schedule, day + timedelta(days=ahead)):
            if start >= after:
                return start
    return None


def _last_end(schedule: Schedule, day: date, before: float) -> float | None:
    for back in range(CLOSE_BACK_DAYS + 1):
        for _, end in reversed(_periods(schedule, day - timedelta(days=back))):
            if end <= before:
                return end
    return None

"""A compressed office day for the demo and the end-to-end tests.

The offices' clock starts at a chosen local time and runs `speed` times faster
than the real one, so opening, closing and the next morning pass in minutes.
Only the collector's schedule reads it (`collector.schedule.ScheduleClock`):
station timestamps, staleness and Prometheus keep real time, and the
timestamps the collector exports are mapped back to real time, so alert rules
compare like with like. Alert `for:` durations are scaled separately
(CentralStack `time_scale`); a speed of 1 / time_scale keeps both in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

DAY_S = 86400.0
_CLOCK = re.compile(r"^(?:(\d{4}-\d{2}-\d{2})[T ])?(\d{1,2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class CompressedDay:
    real_start: float  # this real instant ...
    office_start: float  # ... is this office instant
    speed: float  # office seconds per real second

    def office(self, real: float) -> float:
        return self.office_start + (real - self.real_start) * self.speed

    def real(self, office: float) -> float:
        return self.real_start + (office - self.office_start) / self.speed


def office_instant(text: str, zone: ZoneInfo, today: date) -> float:
    """`HH:MM` on `today`, or `YYYY-MM-DDTHH:MM`, local time in `zone`; ValueError if neither."""
    found = _CLOCK.match(text.strip())
    if found is None:
        raise ValueError(f"expected HH:MM or YYYY-MM-DDTHH:MM, got {text!r}")
    day = date.fromisoformat(found[1]) if found[1] else today
    clock = time(int(found[2]), int(found[3]))  # ValueError for 25:00 or 12:61
    return datetime.combine(day, clock, zone).timestamp()


def compressed_day(start_at: str | None, day_length_s: float | None, zone: str,
                   real_now: float) -> CompressedDay:
    """The office clock from the command line: start `start_at` (default now), one office
    day every `day_length_s` real seconds (default a real day)."""
    tz = ZoneInfo(zone)
    length = DAY_S if day_length_s is None else day_length_s
    if not length > 0:
        raise ValueError(f"the day length must be > 0 seconds, got {length:g}")
    today = datetime.fromtimestamp(real_now, tz).date()
    start = real_now if start_at is None else office_instant(start_at, tz, today)
    return CompressedDay(real_now, start, DAY_S / length)

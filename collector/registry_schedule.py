"""The registry's opening hours: `[schedule]`, a site's `schedule = {...}` and `maintenance`.

Parsed once per load into `collector.schedule` objects; every refusal is a
`RegistryError` naming file, key and reason. A site's `schedule` keys replace
the default's one by one (its `hours` replaces the whole default `hours`), so
each key is checked where it was written and a message names that place.
Sites that override nothing share the default `Schedule` object.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Final, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collector.errors import RegistryError
from collector.schedule import (
    DEFAULT_CAPACITY_PER_DAY,
    WEEKDAYS,
    DayHours,
    Schedule,
    Special,
    WeekHours,
    Window,
)
from pantau.config import describe, quoted
from pantau.wire import is_valid_id

SCHEDULE_KEYS: Final = ("timezone", "capacity_per_day", "holidays", "holidays_file", "hours",
                        "special")
_SPECIAL_KEYS: Final = ("from", "to", "hours")
_WINDOW_KEYS: Final = ("start", "end", "reason", "stations")
_RANGE: Final = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")
_ZONES_HINT: Final = ('an IANA time zone like "Asia/Jakarta" (WIB), "Asia/Makassar" (WITA) '
                      'or "Asia/Jayapura" (WIT)')
_HOURS_HINT: Final = 'a table of weekdays like { mon = ["08:00-12:00", "13:00-16:00"] }'
MAX_CAPACITY_PER_DAY: Final = 10_000

Fields = dict[str, tuple[object, str]]  # key -> (value, the table it was written in)


@dataclass(slots=True)
class ScheduleSource:
    """One registry file being read: where relative paths start, holiday files read so far."""

    file: str
    base_dir: Path
    holiday_files: dict[Path, frozenset[date]] = field(default_factory=dict)

    def error(self, key: str, reason: str) -> RegistryError:
        return RegistryError(self.file, key, reason)


def default_fields(src: ScheduleSource, value: object) -> tuple[Fields, Schedule | None]:
    """`[schedule]`: its keys (for sites to inherit) and the schedule they make."""
    if value is None:
        return {}, None
    table = _table(src, "schedule", value, SCHEDULE_KEYS)
    fields = {name: (item, "schedule") for name, item in table.items()}
    return fields, _build(src, "schedule", fields)


def site_schedule(
    src: ScheduleSource, site_id: str, value: object, defaults: Fields,
    default: Schedule | None,
) -> Schedule | None:
    """A site's effective schedule: the default, or the default with the site's keys."""
    if value is None:
        return default
    prefix = f"sites.{site_id}.schedule"
    table = _table(src, prefix, value, SCHEDULE_KEYS)
    return _build(src, prefix, {**defaults, **{n: (v, prefix) for n, v in table.items()}})


def site_windows(
    src: ScheduleSource, site_id: str, value: object, stations: Mapping[str, str]
) -> tuple[Window, ...]:
    """`maintenance = [...]`; `stations` maps each registered station to its site."""
    if value is None:
        return ()
    key = f"sites.{site_id}.maintenance"
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise src.error(key, f"expected an array of tables like [{{ start = ..., end = ..., "
                             f'reason = "..." }}], got {describe(value)}')
    return tuple(_window(src, f"{key}[{i}]", site_id, item, stations)
                 for i, item in enumerate(cast(list[dict[str, object]], value)))


def _table(src: ScheduleSource, key: str, value: object, allowed: tuple[str, ...]
           ) -> dict[str, object]:
    if not isinstance(value, dict):
        raise src.error(key, f"expected a table, got {describe(value)}")
    for name in value:
        if name not in allowed:
            raise src.error(f"{key}.{name}", f"unknown key; expected one of: {', '.join(allowed)}")
    return cast(dict[str, object], value)


def _build(src: ScheduleSource, where: str, fields: Fields) -> Schedule:
    for name, hint in (("timezone", _ZONES_HINT), ("hours", _HOURS_HINT)):
        if name not in fields:
            raise src.error(f"{where}.{name}", f"missing; expected {hint}")
    zone = _zone(src, *_at(fields, "timezone"))
    week = _week(src, *_at(fields, "hours"))
    holidays: frozenset[date] = frozenset()
    if "holidays" in fields:
        holidays = _dates(src, src.file, *_at(fields, "holidays"))
    if "holidays_file" in fields:
        holidays |= _holidays_file(src, *_at(fields, "holidays_file"))
    specials = _specials(src, *_at(fields, "special")) if "special" in fields else ()
    capacity = DEFAULT_CAPACITY_PER_DAY
    if "capacity_per_day" in fields:
        capacity = capacity_per_day(src, *_at(fields, "capacity_per_day"))
    return Schedule(zone, week, specials, holidays, capacity)


def _at(fields: Fields, name: str) -> tuple[str, object]:
    value, prefix = fields[name]
    return f"{prefix}.{name}", value


def _zone(src: ScheduleSource, key: str, value: object) -> ZoneInfo:
    if not isinstance(value, str) or not value:
        raise src.error(key, f"expected {_ZONES_HINT}, got {describe(value)}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise src.error(key, f"unknown time zone {quoted(value)}; expected {_ZONES_HINT}") from None


def capacity_per_day(src: ScheduleSource, key: str, value: object) -> int:
    if (not isinstance(value, int) or isinstance(value, bool)
            or not 1 <= value <= MAX_CAPACITY_PER_DAY):
        raise src.error(key, f"expected a whole number of people from 1 to "
                             f"{MAX_CAPACITY_PER_DAY}, got {describe(value)}")
    return value


def _week(src: ScheduleSource, key: str, value: object) -> WeekHours:
    if not isinstance(value, dict):
        raise src.error(key, f"expected {_HOURS_HINT}, got {describe(value)}")
    for name in value:
        if name not in WEEKDAYS:
            raise src.error(f"{key}.{name}", f"unknown weekday; expected one of: "
                                             f"{', '.join(WEEKDAYS)} (a day not listed is closed)")
    return tuple(_day(src, f"{key}.{day}", value[day]) if day in value else ()
                 for day in WEEKDAYS)


def _day(src: ScheduleSource, key: str, value: object) -> DayHours:
    if not isinstance(value, list):
        raise src.error(key, f'expected an array of ranges like ["08:00-16:00"], '
                             f"got {describe(value)}")
    ranges = sorted((_range(src, f"{key}[{i}]", item), i) for i, item in enumerate(value))
    for (earlier, _), (later, i) in pairwise(ranges):
        if later[0] < earlier[1]:
            overlap = f"{quoted(_spell(later))} overlaps {quoted(_spell(earlier))}"
            raise src.error(f"{key}[{i}]", f"{overlap}; merge them or fix the times")
    return tuple(r for r, _ in ranges)


def _range(src: ScheduleSource, key: str, value: object) -> tuple[int, int]:
    found = _RANGE.match(value) if isinstance(value, str) else None
    if found is None:
        raise src.error(key, f'expected "HH:MM-HH:MM" like "08:00-16:00", got {describe(value)}')
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise src.error(key, f"{quoted(str(value))} is not a time of day: hours 00-23, minutes "
                             "00-59, and 24:00 only as an end")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end == start:
        raise src.error(key, f"empty range {quoted(str(value))}: the end must be after the start")
    if end < start:
        first, second = str(value).split("-")
        raise src.error(key, f"overnight range {quoted(str(value))} refused: a range ends on the "
                             f'day it starts; split it into "{first}-24:00" and the next '
                             f'day\'s "00:00-{second}"')
    return start, end


def _spell(minutes: tuple[int, int]) -> str:
    return "-".join(f"{m // 60:02d}:{m % 60:02d}" for m in minutes)


def _dates(src: ScheduleSource, file: str, key: str, value: object) -> frozenset[date]:
    if not isinstance(value, list):
        raise RegistryError(file, key, f"expected an array of dates like [2026-12-25], "
                                       f"got {describe(value)}")
    for i, item in enumerate(value):
        if type(item) is not date:  # a datetime is a date too: refuse it
            raise RegistryError(file, f"{key}[{i}]", f"expected a date like 2026-12-25 "
                                                     f"(unquoted), got {_what(item)}")
    return frozenset(cast(list[date], value))


def _holidays_file(src: ScheduleSource, key: str, value: object) -> frozenset[date]:
    if not isinstance(value, str) or not value:
        raise src.error(key, f"expected the path of a TOML file with holidays = [...], "
                             f"got {describe(value)}")
    path = src.base_dir / Path(value).expanduser()
    if path not in src.holiday_files:
        src.holiday_files[path] = _read_holidays(src, key, path)
    return src.holiday_files[path]


def _read_holidays(src: ScheduleSource, key: str, path: Path) -> frozenset[date]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise src.error(key, f'cannot read "{path}" ({exc.strerror or type(exc).__name__}); '
                             "expected an existing holidays file the collector can read") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(path, "<toml>", f"not valid TOML: {exc}") from None
    for name in data:
        if name != "holidays":
            raise RegistryError(path, name, "unknown key; expected one of: holidays")
    return _dates(src, str(path), "holidays", data.get("holidays", []))


def _specials(src: ScheduleSource, key: str, value: object) -> tuple[Special, ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise src.error(key, "expected an array of tables like [[schedule.special]] with from, "
                             f"to and hours, got {describe(value)}")
    specials: list[Special] = []
    for i, item in enumerate(cast(list[dict[str, object]], value)):
        special = _special(src, f"{key}[{i}]", item)
        for j, other in enumerate(specials):
            if special.first <= other.last and other.first <= special.last:
                raise src.error(f"{key}[{i}]", f"{special.first}..{special.last} overlaps "
                                               f"{key}[{j}] ({other.first}..{other.last}); "
                                               "a date can have one set of hours only")
        specials.append(special)
    return tuple(specials)


def _special(src: ScheduleSource, key: str, table: dict[str, object]) -> Special:
    _table(src, key, table, _SPECIAL_KEYS)
    for name in _SPECIAL_KEYS:
        if name not in table:
            hint = _HOURS_HINT if name == "hours" else "a date like 2026-03-01"
            raise src.error(f"{key}.{name}", f"missing; expected {hint}")
    first, last = (_date(src, f"{key}.{n}", table[n]) for n in ("from", "to"))
    if last < first:
        raise src.error(f"{key}.to", f"{last} is before from = {first}; end before start (to "
                                     "is inclusive: the last day of the special hours)")
    return Special(first, last, _week(src, f"{key}.hours", table["hours"]))


def _date(src: ScheduleSource, key: str, value: object) -> date:
    if type(value) is not date:
        raise src.error(key, f"expected a date like 2026-03-01 (unquoted), got {_what(value)}")
    return value


def _window(src: ScheduleSource, key: str, site_id: str, table: dict[str, object],
            stations: Mapping[str, str]) -> Window:
    _table(src, key, table, _WINDOW_KEYS)
    for name in ("start", "end"):
        if name not in table:
            raise src.error(f"{key}.{name}", "missing; expected an offset date-time like "
                                             "2026-12-08T10:00:00+07:00")
    start, end = (_instant(src, f"{key}.{n}", table[n]) for n in ("start", "end"))
    if end <= start:
        raise src.error(f"{key}.end", f"{table['end']} is not after start = {table['start']}; "
                                      "end before start")
    reason = table.get("reason", "")
    if not isinstance(reason, str):
        raise src.error(f"{key}.reason", f"expected a string, got {describe(reason)}")
    members = _members(src, f"{key}.stations", site_id, table.get("stations", []), stations)
    return Window(start.timestamp(), end.timestamp(), reason, members)


def _instant(src: ScheduleSource, key: str, value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise src.error(key, "expected an offset date-time like 2026-12-08T10:00:00+07:00 (with "
                             f"the office's UTC offset: +07:00 WIB, +08:00 WITA, +09:00 WIT), "
                             f"got {_what(value)}")
    return value


def _members(src: ScheduleSource, key: str, site_id: str, value: object,
             stations: Mapping[str, str]) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise src.error(key, f'expected an array of station ids like ["{site_id}-01"], '
                             f"got {describe(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not is_valid_id(item):
            raise src.error(f"{key}[{i}]", f"expected a station id, got {describe(item)}")
        if stations.get(item) != site_id:
            raise src.error(f"{key}[{i}]", f"{quoted(item)} is not a station of site "
                                           f"{site_id} in this registry; add it under "
                                           "[stations] or fix the id")
    return tuple(cast(list[str], value))


def _what(value: object) -> str:
    if isinstance(value, datetime):
        return f"a {'local ' if value.tzinfo is None else ''}date-time {value.isoformat()}"
    if isinstance(value, date):
        return f"a date {value.isoformat()}"
    return describe(value)

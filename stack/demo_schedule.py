"""Opening hours for `make demo`: Medan's offices on office hours in WIB, some on an
enrollment drive, one with its network switch replaced in the morning, one kit
with its fingerprint scanner being replaced; Indonesia's holidays from deploy/.

The demo starts its office clock at a chosen time (default: 07:55 on the next
working day), so the page shows offices that are open and offices that open in
five minutes; `--day-length` runs the day faster.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from stack.central import DEPLOY

ZONE: Final = "Asia/Jakarta"
DEFAULT_START: Final = "07:55"
# Drive hours from 07:00 to 21:00, Saturdays too: open when the demo starts.
DRIVE_SITES: Final = ("medan-helvetia", "medan-sunggal", "medan-tembung")
SITE_WINDOW: Final = ("medan-deli", "08:30", "10:00", "network switch replaced")
STATION_WINDOW: Final = ("medan-johor", "medan-johor-01", "07:30", "09:00",
                         "fingerprint scanner replaced")
_WEEK: Final = ("mon", "tue", "wed", "thu", "fri")
_DRIVE_DAYS: Final = (*_WEEK, "sat")


def default_start_at(real_now: float) -> str:
    """07:55 on today's date in Jakarta, or on the next weekday if today is a weekend."""
    day = datetime.fromtimestamp(real_now, ZoneInfo(ZONE)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return f"{day.isoformat()}T{DEFAULT_START}"


def default_table(workdir: Path) -> list[str]:
    """The registry's [schedule]; copies the shipped holidays file next to it."""
    shutil.copy(DEPLOY / "holidays-id.toml", workdir / "holidays-id.toml")
    office = '["08:00-12:00", "13:00-16:00"]'
    friday = '["08:00-11:30", "13:30-16:00"]'
    hours = ", ".join(f"{d} = {friday if d == 'fri' else office}" for d in _WEEK)
    return ["[schedule]", f'timezone = "{ZONE}"', "capacity_per_day = 100",
            'holidays_file = "holidays-id.toml"', f"hours = {{ {hours} }}", ""]


def site_lines(site: str, day: date) -> list[str]:
    """Lines inside [sites.<site>]: a drive's hours, maintenance windows on `day`."""
    lines = []
    if site in DRIVE_SITES:
        hours = ", ".join(f'{d} = ["07:00-21:00"]' for d in _DRIVE_DAYS)
        lines.append(f"schedule = {{ hours = {{ {hours} }} }}")
    windows = []
    if site == SITE_WINDOW[0]:
        windows.append(_window(day, *SITE_WINDOW[1:]))
    if site == STATION_WINDOW[0]:
        station, start, end, reason = STATION_WINDOW[1:]
        windows.append(_window(day, start, end, reason, station))
    if windows:
        lines.append(f"maintenance = [ {', '.join(windows)} ]")
    return lines


def _window(day: date, start: str, end: str, reason: str, station: str = "") -> str:
    stations = f', stations = ["{station}"]' if station else ""
    return (f"{{ start = {day.isoformat()}T{start}:00+07:00, end = {day.isoformat()}T{end}:00"
            f'+07:00, reason = "{reason}"{stations} }}')

"""The pure schedule: open or closed at an instant, since when, next opening, last closing.

Times are written as local wall-clock strings in each case's zone, so a case
reads like the office's own calendar. 2026-12-07 is a Monday.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from collector.schedule import (
    OPEN_AHEAD_DAYS,
    REAL_TIME,
    DayHours,
    Schedule,
    Special,
    Window,
    open_state,
)

WIB, WITA, WIT = ZoneInfo("Asia/Jakarta"), ZoneInfo("Asia/Makassar"), ZoneInfo("Asia/Jayapura")


def week(**days: DayHours) -> tuple[DayHours, ...]:
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return tuple(days.get(n, ()) for n in names)


def hm(text: str) -> tuple[int, int]:
    start, end = text.split("-")
    return tuple(int(t[:2]) * 60 + int(t[3:]) for t in (start, end))  # type: ignore[return-value]


WORKDAY = (hm("08:00-12:00"), hm("13:00-16:00"))
OFFICE = Schedule(WIB, week(mon=WORKDAY, tue=WORKDAY, wed=WORKDAY, thu=WORKDAY, fri=WORKDAY),
                  holidays=frozenset({date(2026, 12, 25)}),
                  specials=(Special(date(2026, 12, 14), date(2026, 12, 15),
                                    week(mon=(hm("07:00-21:00"),), sat=(hm("08:00-12:00"),))),))
NIGHT_DRIVE = Schedule(WIB, week(fri=(hm("18:00-24:00"),), sat=(hm("00:00-06:00"),)))
AROUND_THE_CLOCK = Schedule(WIB, week(**{d: (hm("00:00-24:00"),) for d in
                                         ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}))
TOUCHING = Schedule(WIB, week(mon=(hm("08:00-12:00"), hm("12:00-16:00"))))
NEVER = Schedule(WIB, week())


def at(zone: ZoneInfo, text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def local(zone: ZoneInfo, ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M")


CASES = [
    # schedule, when (local), open, since, next opening, last closing, until
    pytest.param(OFFICE, "2026-12-07 07:59", False, None, "2026-12-07 08:00",
                 "2026-12-04 16:00", "2026-12-07 08:00", id="before-opening-after-weekend"),
    pytest.param(OFFICE, "2026-12-07 08:00", True, "2026-12-07 08:00", "2026-12-07 13:00", None,
                 "2026-12-07 12:00", id="opening-minute"),
    pytest.param(OFFICE, "2026-12-07 12:00", False, None, "2026-12-07 13:00",
                 "2026-12-07 12:00", "2026-12-07 13:00", id="lunch-end-exclusive"),
    pytest.param(OFFICE, "2026-12-07 15:59", True, "2026-12-07 13:00", "2026-12-08 08:00", None,
                 "2026-12-07 16:00", id="afternoon"),
    pytest.param(OFFICE, "2026-12-07 16:00", False, None, "2026-12-08 08:00",
                 "2026-12-07 16:00", "2026-12-08 00:00", id="closing-time"),
    pytest.param(OFFICE, "2026-12-25 10:00", False, None, "2026-12-28 08:00",
                 "2026-12-24 16:00", "2026-12-26 00:00", id="holiday"),
    pytest.param(OFFICE, "2026-12-24 16:30", False, None, "2026-12-28 08:00",
                 "2026-12-24 16:00", "2026-12-25 00:00", id="eve-of-holiday-skips-it"),
    pytest.param(OFFICE, "2026-12-14 19:00", True, "2026-12-14 07:00", "2026-12-16 08:00", None,
                 "2026-12-14 21:00", id="special-long-day"),
    pytest.param(OFFICE, "2026-12-15 10:00", False, None, "2026-12-16 08:00",
                 "2026-12-14 21:00", "2026-12-16 00:00", id="special-day-not-listed-closed"),
    pytest.param(NIGHT_DRIVE, "2026-12-12 02:00", True, "2026-12-11 18:00", "2026-12-18 18:00",
                 None, "2026-12-12 06:00", id="overnight-one-opening-across-midnight"),
    pytest.param(NIGHT_DRIVE, "2026-12-11 23:59", True, "2026-12-11 18:00", "2026-12-18 18:00",
                 None, "2026-12-12 00:00", id="overnight-before-midnight"),
    pytest.param(NIGHT_DRIVE, "2026-12-12 06:00", False, None, "2026-12-18 18:00",
                 "2026-12-12 06:00", "2026-12-13 00:00", id="overnight-ended"),
    pytest.param(TOUCHING, "2026-12-07 12:30", True, "2026-12-07 08:00", "2026-12-14 08:00",
                 None, "2026-12-07 16:00", id="touching-ranges-are-one-opening"),
    pytest.param(AROUND_THE_CLOCK, "2026-12-07 10:00", True, "2026-11-29 00:00", None, None,
                 "2026-12-08 00:00", id="around-the-clock-looks-back-8-days"),
    pytest.param(NEVER, "2026-12-07 10:00", False, None, None, None, "2026-12-08 00:00",
                 id="no-hours-never-opens"),
]


@pytest.mark.parametrize(("schedule", "when", "is_open", "since", "nxt", "last_close", "until"),
                         CASES)
def test_open_state(schedule: Schedule, when: str, is_open: bool, since: str | None,
                    nxt: str | None, last_close: str | None, until: str) -> None:
    state = open_state(schedule, at(schedule.zone, when))
    zone = schedule.zone
    assert (state.open, local(zone, state.since), local(zone, state.next_open),
            local(zone, state.last_close), local(zone, state.until)) == (
        is_open, since, nxt, last_close, until)


@pytest.mark.parametrize(("zone", "opens_utc"), [
    (WIB, "2026-12-07 01:00"), (WITA, "2026-12-07 00:00"), (WIT, "2026-12-06 23:00"),
])
def test_the_same_hours_open_at_the_office_clock_of_each_zone(
    zone: ZoneInfo, opens_utc: str
) -> None:
    schedule = Schedule(zone, week(mon=(hm("08:00-16:00"),)))
    state = open_state(schedule, at(ZoneInfo("UTC"), "2026-12-06 12:00"))
    assert local(ZoneInfo("UTC"), state.next_open) == opens_utc


def test_a_daylight_saving_zone_keeps_wall_clock_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # 2026-03-29: clocks go from 02:00 to 03:00
    schedule = Schedule(berlin, week(sun=(hm("01:00-04:00"),), mon=(hm("08:00-16:00"),)))
    state = open_state(schedule, at(berlin, "2026-03-29 03:30"))
    assert (state.open, local(berlin, state.since), local(berlin, state.until)) == (
        True, "2026-03-29 01:00", "2026-03-29 04:00")
    assert state.since is not None
    assert state.until - state.since == 2 * 3600  # one hour of the range never existed


def test_holidays_and_windows() -> None:
    assert OFFICE.holidays_in(2026) == 1 and OFFICE.holidays_in(2027) == 0
    window = Window(100.0, 200.0, "scanner replaced", ("st-01",))
    assert [window.on(t) for t in (99.0, 100.0, 199.9, 200.0)] == [False, True, True, False]


def test_next_opening_is_searched_a_bounded_number_of_days() -> None:
    schedule = Schedule(WIB, week(mon=(hm("08:00-09:00"),)),
                        holidays=frozenset(date.fromordinal(date(2026, 12, 7).toordinal() + d)
                                           for d in range(0, OPEN_AHEAD_DAYS + 8)))
    assert open_state(schedule, at(WIB, "2026-12-07 07:00")).next_open is None


def test_real_time_maps_both_ways_unchanged() -> None:
    assert REAL_TIME.office(1.5) == 1.5 and REAL_TIME.real(2.5) == 2.5

"""fleet.toml's [schedule], a site's schedule and maintenance: what loads, and each
refusal with its exact file: key: reason."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from collector.registry import RegistryError, load_registry
from collector.schedule import DEFAULT_CAPACITY_PER_DAY, open_state

REPO = Path(__file__).resolve().parents[3]
GOOD = """
[schedule]
timezone = "Asia/Jakarta"
capacity_per_day = 90
holidays = [2026-12-25]
holidays_file = "holidays.toml"
[schedule.hours]
mon = ["13:00-16:00", "08:00-12:00"]
tue = ["08:00-16:00"]
[[schedule.special]]
from = 2026-03-01
to = 2026-03-30
hours = { mon = ["08:00-14:00"] }

[sites.medan-kota]
name = "Kecamatan Medan Kota"
schedule = { timezone = "Asia/Makassar", hours = { sat = ["08:00-12:00"] } }
[[sites.medan-kota.maintenance]]
start = 2026-12-08T10:00:00+07:00
end = 2026-12-08T12:00:00+07:00
reason = "scanner"
stations = ["mk-02"]
[[sites.medan-kota.maintenance]]
start = 2026-12-09T08:00:00+07:00
end = 2026-12-09T09:00:00+07:00
[sites.medan-baru]
[sites.binjai]
schedule = { capacity_per_day = 50 }

[stations.mk-02]
site = "medan-kota"
capacity_per_day = 80
[stations.mb-01]
site = "medan-baru"
"""


def write(tmp_path: Path, text: str, holidays: str = "holidays = [2026-01-01, 2027-01-01]\n"
          ) -> Path:
    (tmp_path / "holidays.toml").write_text(holidays)
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    return path


def test_good_schedule_loads_and_sites_inherit_key_by_key(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, GOOD))
    default = registry.schedule
    assert default is not None and default.zone.key == "Asia/Jakarta"
    assert default.week[0] == ((480, 720), (780, 960))  # sorted
    assert default.holidays == {date(2026, 12, 25), date(2026, 1, 1), date(2027, 1, 1)}
    assert default.specials[0].week[0] == ((480, 840),)
    assert registry.sites["medan-baru"].schedule is default  # shared: evaluated once
    kota = registry.sites["medan-kota"].schedule
    assert kota is not None and kota.zone.key == "Asia/Makassar"
    assert kota.week == ((), (), (), (), (), ((480, 720),), ())  # hours replaced whole
    assert (kota.holidays, kota.capacity_per_day, kota.specials) == (
        default.holidays, 90, default.specials)  # the rest inherited
    binjai = registry.sites["binjai"].schedule
    assert binjai is not None and binjai.capacity_per_day == 50 and binjai.week == default.week
    assert registry.stations["mk-02"].capacity_per_day == 80
    assert registry.stations["mb-01"].capacity_per_day is None


def test_maintenance_windows_load_as_instants(tmp_path: Path) -> None:
    windows = load_registry(write(tmp_path, GOOD)).sites["medan-kota"].maintenance
    start = datetime.fromisoformat("2026-12-08T10:00:00+07:00").timestamp()
    assert (windows[0].start, windows[0].end - windows[0].start) == (start, 7200.0)
    assert (windows[0].reason, windows[0].stations) == ("scanner", ("mk-02",))
    assert (windows[1].reason, windows[1].stations) == ("", ())  # the whole site


def test_without_a_schedule_table_every_site_is_always_open(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, "[sites.a]\n"))
    assert registry.schedule is None and registry.sites["a"].schedule is None


def test_a_site_may_have_a_schedule_of_its_own_only(tmp_path: Path) -> None:
    text = '[sites.a]\nschedule = { timezone = "Asia/Jayapura", hours = { mon = ["08:00-16:00"] } }'
    schedule = load_registry(write(tmp_path, text)).sites["a"].schedule
    assert schedule is not None and schedule.capacity_per_day == DEFAULT_CAPACITY_PER_DAY
    monday_9_wit = datetime.fromisoformat("2026-12-07T09:00:00+09:00").timestamp()
    assert open_state(schedule, monday_9_wit).open


def test_shipped_holidays_file_loads_and_covers_2026_and_2027() -> None:
    registry = load_registry(REPO / "deploy" / "fleet.example.toml")
    assert registry.schedule is not None
    holidays = registry.schedule.holidays
    assert registry.schedule.holidays_in(2026) >= 25  # 17 national holidays + 8 cuti bersama
    assert registry.schedule.holidays_in(2027) > 0
    assert {date(2026, 3, 21), date(2026, 8, 17), date(2026, 12, 24)} <= holidays


S = '[schedule]\ntimezone = "Asia/Jakarta"\nhours = { mon = ["08:00-16:00"] }\n'
SITE = "[sites.a]\n"


def site(schedule: str = "", maintenance: str = "") -> str:
    text = "[sites.a]\n[stations.a-01]\nsite = \"a\"\n[sites.b]\n[stations.b-01]\nsite = \"b\"\n"
    if schedule:
        text = text.replace("[sites.a]\n", f"[sites.a]\nschedule = {schedule}\n")
    if maintenance:
        text = text.replace("[sites.a]\n", f"[sites.a]\nmaintenance = {maintenance}\n")
    return text


WIN = "start = 2026-12-08T10:00:00+07:00, end = 2026-12-08T12:00:00+07:00"


@pytest.mark.parametrize(("text", "key", "reason"), [
    (S.replace("Asia/Jakarta", "Asia/Jakrta") + SITE, "schedule.timezone",
     'unknown time zone "Asia/Jakrta"; expected an IANA time zone like "Asia/Jakarta" (WIB), '
     '"Asia/Makassar" (WITA) or "Asia/Jayapura" (WIT)'),
    (S.replace('timezone = "Asia/Jakarta"\n', "") + SITE, "schedule.timezone",
     'missing; expected an IANA time zone like "Asia/Jakarta" (WIB), "Asia/Makassar" (WITA) '
     'or "Asia/Jayapura" (WIT)'),
    (S.replace("hours = { mon = [\"08:00-16:00\"] }\n", "") + SITE, "schedule.hours",
     'missing; expected a table of weekdays like { mon = ["08:00-12:00", "13:00-16:00"] }'),
    (S.replace("08:00-16:00", "8-16") + SITE, "schedule.hours.mon[0]",
     'expected "HH:MM-HH:MM" like "08:00-16:00", got string "8-16"'),
    (S.replace("08:00-16:00", "08:00-25:00") + SITE, "schedule.hours.mon[0]",
     '"08:00-25:00" is not a time of day: hours 00-23, minutes 00-59, and 24:00 only as an end'),
    (S.replace("08:00-16:00", "22:00-02:00") + SITE, "schedule.hours.mon[0]",
     'overnight range "22:00-02:00" refused: a range ends on the day it starts; split it into '
     '"22:00-24:00" and the next day\'s "00:00-02:00"'),
    (S.replace("08:00-16:00", "08:00-08:00") + SITE, "schedule.hours.mon[0]",
     'empty range "08:00-08:00": the end must be after the start'),
    (S.replace('["08:00-16:00"]', '["08:00-12:00", "11:00-13:00"]') + SITE,
     "schedule.hours.mon[1]", '"11:00-13:00" overlaps "08:00-12:00"; merge them or fix the times'),
    (S.replace("mon =", "monday =") + SITE, "schedule.hours.monday",
     "unknown weekday; expected one of: mon, tue, wed, thu, fri, sat, sun (a day not listed is "
     "closed)"),
    (S + "open = true\n" + SITE, "schedule.open",
     "unknown key; expected one of: timezone, capacity_per_day, holidays, holidays_file, hours, "
     "special"),
    (S + "capacity_per_day = 0\n" + SITE, "schedule.capacity_per_day",
     "expected a whole number of people from 1 to 10000, got integer 0"),
    (S + 'holidays = ["2026-12-25"]\n' + SITE, "schedule.holidays[0]",
     'expected a date like 2026-12-25 (unquoted), got string "2026-12-25"'),
    (S + "holidays = [2026-12-25T08:00:00]\n" + SITE, "schedule.holidays[0]",
     "expected a date like 2026-12-25 (unquoted), got a local date-time 2026-12-25T08:00:00"),
    (S + "[[schedule.special]]\nfrom = 2026-03-30\nto = 2026-03-01\nhours = {}\n" + SITE,
     "schedule.special[0].to", "2026-03-01 is before from = 2026-03-30; end before start (to is "
     "inclusive: the last day of the special hours)"),
    (S + "[[schedule.special]]\nfrom = 2026-03-01\nto = 2026-03-30\nhours = {}\n"
     "[[schedule.special]]\nfrom = 2026-03-30\nto = 2026-04-02\nhours = {}\n" + SITE,
     "schedule.special[1]", "2026-03-30..2026-04-02 overlaps schedule.special[0] "
     "(2026-03-01..2026-03-30); a date can have one set of hours only"),
    (S + "[[schedule.special]]\nfrom = 2026-03-01\nhours = {}\n" + SITE,
     "schedule.special[0].to", "missing; expected a date like 2026-03-01"),
    (site('{ timezone = "Asia/Makassar" }'), "sites.a.schedule.hours",
     'missing; expected a table of weekdays like { mon = ["08:00-12:00", "13:00-16:00"] }'),
    (S + site('{ hours = { tue = ["16:00-08:00"] } }'), "sites.a.schedule.hours.tue[0]",
     'overnight range "16:00-08:00" refused: a range ends on the day it starts; split it into '
     '"16:00-24:00" and the next day\'s "00:00-08:00"'),
    (site(maintenance="[{ start = 2026-12-08T12:00:00+07:00, end = 2026-12-08T10:00:00+07:00 "
                      "}]"), "sites.a.maintenance[0].end",
     "2026-12-08 10:00:00+07:00 is not after start = 2026-12-08 12:00:00+07:00; end before "
     "start"),
    (site(maintenance="[{ start = 2026-12-08T10:00:00, end = 2026-12-08T12:00:00 }]"),
     "sites.a.maintenance[0].start",
     "expected an offset date-time like 2026-12-08T10:00:00+07:00 (with the office's UTC "
     "offset: +07:00 WIB, +08:00 WITA, +09:00 WIT), got a local date-time 2026-12-08T10:00:00"),
    (site(maintenance=f'[{{ {WIN}, stations = ["b-01"] }}]'),
     "sites.a.maintenance[0].stations[0]",
     '"b-01" is not a station of site a in this registry; add it under [stations] or fix the id'),
    (site(maintenance=f'[{{ {WIN}, reason = 3 }}]'), "sites.a.maintenance[0].reason",
     "expected a string, got integer 3"),
    (site(maintenance=f'[{{ {WIN}, until = 1 }}]'), "sites.a.maintenance[0].until",
     "unknown key; expected one of: start, end, reason, stations"),
    (site(maintenance='"tomorrow"'), "sites.a.maintenance",
     'expected an array of tables like [{ start = ..., end = ..., reason = "..." }], got string '
     '"tomorrow"'),
    ('[sites.a]\n[stations.a-01]\nsite = "a"\ncapacity_per_day = 1.5\n',
     "stations.a-01.capacity_per_day",
     "expected a whole number of people from 1 to 10000, got float 1.5"),
    (S + 'holidays_file = "nowhere.toml"\n' + SITE, "schedule.holidays_file",
     'cannot read "{dir}/nowhere.toml" (No such file or directory); expected an existing '
     "holidays file the collector can read"),
])
def test_bad_schedule_is_refused_with_exact_message(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    expected = (str(path), key, reason.replace("{dir}", str(tmp_path)))
    assert (caught.value.file, caught.value.key, caught.value.reason) == expected


@pytest.mark.parametrize(("content", "key", "reason"), [
    ("holidays = [2026-12-25, 12]\n", "holidays[1]",
     "expected a date like 2026-12-25 (unquoted), got integer 12"),
    ("dates = [2026-12-25]\n", "dates", "unknown key; expected one of: holidays"),
])
def test_a_bad_holidays_file_is_named_itself(
    tmp_path: Path, content: str, key: str, reason: str
) -> None:
    path = write(tmp_path, S + 'holidays_file = "holidays.toml"\n' + SITE, holidays=content)
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert (caught.value.file, caught.value.key, caught.value.reason) == (
        str(tmp_path / "holidays.toml"), key, reason)

"""The registry's opening hours ([schedule], a site's schedule, maintenance) as the
availability figures count them, through a real fleet.toml and a real asset database.

Site mariso is in WITA with the default hours (Monday to Friday 08:00-16:00) and a
holiday on Wednesday 2026-06-17; medan-kota replaces the hours with Saturday mornings
and has a maintenance window for one station. A site without a schedule in a
registry without [schedule] is open all day in WIB.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collector.readiness import ReadinessRow
from collector.registry import load_registry
from collector.site_calendars import calendar_of, run_figures, site_zone
from collector.store_assets import AssetBatch, AssetStore
from collector.store_assets_read import AssetReader

WITA, WIB = ZoneInfo("Asia/Makassar"), ZoneInfo("Asia/Jakarta")
H = 3600.0
FLEET = """
[schedule]
timezone = "Asia/Makassar"
holidays = [2026-06-17]
[schedule.hours]
mon = ["08:00-16:00"]
tue = ["08:00-16:00"]
wed = ["08:00-16:00"]
thu = ["08:00-16:00"]
fri = ["08:00-16:00"]

[sites.mariso]
name = "Mariso"

[sites.medan-kota]
name = "Medan Kota"
schedule = { timezone = "Asia/Jakarta", hours = { sat = ["08:00-12:00"] } }
maintenance = [ { start = 2026-06-20T09:00:00+07:00, end = 2026-06-20T10:00:00+07:00, \
reason = "swap", stations = ["mk-01"] } ]

[stations.ma-01]
site = "mariso"
[stations.mk-01]
site = "medan-kota"
"""


def t(day: int, hour: float, zone: ZoneInfo) -> float:
    return datetime(2026, 6, day, tzinfo=zone).timestamp() + hour * H


@pytest.fixture
async def reader(tmp_path: Path) -> AsyncIterator[AssetReader]:
    store = AssetStore(tmp_path)
    await store.open()
    await store.write(AssetBatch(readiness=[
        ReadinessRow("ma-01", "mariso", "ready", t(14, 0, WITA)),
        ReadinessRow("ma-01", "mariso", "down", t(16, 10, WITA)),  # Tuesday, 2 h down
        ReadinessRow("ma-01", "mariso", "ready", t(16, 12, WITA)),
        ReadinessRow("ma-01", "mariso", "down", t(17, 8, WITA)),  # the holiday: not counted
        ReadinessRow("ma-01", "mariso", "ready", t(18, 0, WITA)),
        ReadinessRow("mk-01", "medan-kota", "ready", t(14, 0, WIB)),
        ReadinessRow("mk-01", "medan-kota", "down", t(20, 9, WIB)),  # Saturday, during its
        ReadinessRow("mk-01", "medan-kota", "ready", t(20, 11, WIB)),  # maintenance, then 1 h
    ]))
    yield AssetReader(store.path)
    await store.close()


def test_calendars_come_from_the_schedule(tmp_path: Path) -> None:
    (tmp_path / "fleet.toml").write_text(FLEET)
    registry = load_registry(tmp_path / "fleet.toml")
    mariso = calendar_of(registry.sites["mariso"])
    assert mariso.zone == WITA and site_zone(registry, "mariso") == WITA
    assert mariso.openings(date(2026, 6, 16)) == [(t(16, 8, WITA), t(16, 16, WITA))]
    assert mariso.openings(date(2026, 6, 17)) == []  # the holiday
    kota = calendar_of(registry.sites["medan-kota"])
    assert kota.counted(date(2026, 6, 20), "mk-01") == [(t(20, 8, WIB), t(20, 9, WIB)),
                                                        (t(20, 10, WIB), t(20, 12, WIB))]
    assert kota.counted(date(2026, 6, 20), "mk-02") == [(t(20, 8, WIB), t(20, 12, WIB))]


async def test_availability_over_the_week_by_the_schedule(tmp_path: Path,
                                                          reader: AssetReader) -> None:
    (tmp_path / "fleet.toml").write_text(FLEET)
    registry = load_registry(tmp_path / "fleet.toml")
    now = t(21, 10, WIB)  # Sunday 2026-06-21: the 7d window is June 14-20 in each zone
    figures = run_figures(reader, registry, now, 7)
    # mariso: Mon-Fri 8 h each, Wednesday a holiday: 4 x 8 = 32 h, 2 h down (Tuesday).
    assert figures.sites["mariso"].windows["7d"] == pytest.approx(30 / 32)
    # medan-kota: only Saturday 08:00-12:00, minus mk-01's maintenance 09:00-10:00 = 3 h;
    # down 09:00-11:00, of which the hour 10:00-11:00 counts.
    assert figures.sites["medan-kota"].windows["7d"] == pytest.approx(2 / 3)
    assert figures.sites["medan-kota"].availability == pytest.approx(2 / 3)
    assert "1d" not in figures.sites["medan-kota"].windows  # closed on Sundays: absent


def test_without_any_schedule_a_site_is_open_all_day_in_wib(tmp_path: Path) -> None:
    (tmp_path / "fleet.toml").write_text('[sites.s1]\nname = "S1"\n')
    registry = load_registry(tmp_path / "fleet.toml")
    calendar = calendar_of(registry.sites["s1"])
    assert calendar.zone == WIB and site_zone(registry, "s1") == WIB
    assert calendar.openings(date(2026, 6, 17)) == [(t(17, 0, WIB), t(18, 0, WIB))]

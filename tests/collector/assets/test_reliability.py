"""A synthetic month, stored in a real asset database, and every figure worked out by hand.

`now` is Wednesday 2026-07-01 10:00 WIB. Site alpha has no schedule: open all
day, local days in WIB (Asia/Jakarta). Site beta is in WITA (Asia/Makassar,
UTC+8), open Monday to Friday 08:00-16:00, with a maintenance window on
Wednesday 2026-06-10 08:00-12:00. June 2026 starts on a Monday and has 22
weekdays. Windows: 30d = June 1-30, 7d = June 24-30, 1d = July 1 so far.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collector.assets import DeviceId, Spell
from collector.figures import compute, history_start
from collector.open_hours import Maintenance, Ranges, SiteCalendar
from collector.readiness import Readiness, ReadinessRow
from collector.repairs import Model, Repair
from collector.store_assets import AssetBatch, AssetStore
from collector.store_assets_read import AssetReader

WIB, WITA = ZoneInfo("Asia/Jakarta"), ZoneInfo("Asia/Makassar")
H = 3600.0


def t(day: int, hour: float = 0, month: int = 6, zone: ZoneInfo = WIB) -> float:
    return datetime(2026, month, day, tzinfo=zone).timestamp() + hour * H


NOW = t(1, 10, month=7)


def office_hours(day: date) -> Ranges:
    return ((8 * 60, 16 * 60),) if day.weekday() < 5 else ()


CALENDARS = {
    "alpha": SiteCalendar(),
    "beta": SiteCalendar(WITA, office_hours,
                         (Maintenance(t(10, 8, zone=WITA), t(10, 12, zone=WITA)),)),
}


def row(station: str, readiness: Readiness, at: float) -> ReadinessRow:
    return ReadinessRow(station, "beta" if station.startswith("b") else "alpha", readiness, at)


READINESS = [
    row("a1", "ready", t(31, 12, month=5)),  # before the window: its state at the start
    row("a1", "down", t(10, 6)), row("a1", "ready", t(10, 18)),  # 12 h down
    row("a1", "down", t(28, 0)), row("a1", "ready", t(28, 6)),  # 6 h down
    row("a1", "down", t(1, 8, month=7)),  # today since 08:00
    row("a2", "ready", t(16, 0)),  # installed mid-month: counted from here
    row("a2", "down", t(25, 0)), row("a2", "ready", t(26, 0)),  # 24 h down
    row("b1", "ready", t(31, 0, month=5, zone=WITA)),
    row("b1", "down", t(3, 10, zone=WITA)), row("b1", "ready", t(3, 12, zone=WITA)),  # 2 h
    row("b1", "down", t(6, 0, zone=WITA)), row("b1", "ready", t(7, 0, zone=WITA)),  # Saturday
    row("b1", "down", t(10, 9, zone=WITA)), row("b1", "ready", t(10, 11, zone=WITA)),  # maint.
    row("b2", "excluded", t(1, 0, zone=WITA)),  # planned all month: not counted at all
]

SCANNER, CAMERA, PAD, IRIS = ("080b", "0002"), ("046d", "082d"), ("056a", "00a2"), ("1209", "0001")


def spell(station: str, role: str, model: tuple[str, str], start: float,
          end: float | None = None, standin: bool = False) -> Spell:
    site = "beta" if station.startswith("b") else "alpha"
    return Spell(station, site, role, DeviceId(*model, f"{station}-{role}"), "Maker",
                 f"{role} model", standin, start, end)


SPELLS = [
    spell("a1", "fingerprint", SCANNER, t(1, 0, month=5), t(10, 6)),
    spell("a1", "fingerprint", SCANNER, t(10, 18)),
    spell("a1", "camera", CAMERA, t(1, 0, month=5), t(28, 0)),
    spell("a1", "camera", CAMERA, t(28, 6)),
    spell("a2", "fingerprint", SCANNER, t(16, 0), t(25, 0)),
    spell("a2", "fingerprint", ("1491", "0088"), t(25, 0), t(26, 0), standin=True),
    spell("a2", "fingerprint", SCANNER, t(26, 0)),
    spell("a1", "iris", IRIS, t(1, 0, month=5), t(30, 0)),
    spell("b1", "signature-pad", PAD, t(1, 0, month=5)),
]


def repair(rid: str, station: str, role: str, model: tuple[str, str], opened: float,
           closed: float | None, seen: bool = True) -> Repair:
    site = "beta" if station.startswith("b") else "alpha"
    return Repair(rid, station, site, role, 1, Model(*model, f"{role} model", seen), "S",
                  opened, "ok" if closed else "missing", closed_at=closed,
                  outcome="restored" if closed else None, listed=True)


REPAIRS = [
    repair("r1", "a1", "fingerprint", SCANNER, t(10, 6), t(10, 18)),  # 12 h
    repair("r2", "a2", "fingerprint", SCANNER, t(25, 0), t(26, 0)),  # 24 h
    repair("r3", "a1", "camera", CAMERA, t(28, 0), t(28, 6)),  # 6 h
    repair("r4", "a1", "camera", CAMERA, t(10, 0, month=5), t(20, 0, month=5)),  # before
    repair("r5", "a1", "iris", IRIS, t(30, 0), None),  # still open
    repair("r6", "a2", "iris", IRIS, t(16, 0), t(16, 1), seen=False),  # missing since install
    repair("r7", "b1", "signature-pad", PAD, t(3, 10, zone=WITA), t(3, 12, zone=WITA)),  # 2 h
]


def as_written(spells: list[Spell]) -> list[Spell]:
    """In the order the register writes them: each spell begins (no end), and ends later."""
    steps = [(s.start, 0, replace(s, end=None)) for s in spells]
    steps += [(s.end, 1, s) for s in spells if s.end is not None]
    return [spell for _, _, spell in sorted(steps, key=lambda step: (step[0], step[1]))]


@pytest.fixture
async def reader(tmp_path: Path) -> AsyncIterator[AssetReader]:
    store = AssetStore(tmp_path)
    await store.open()
    await store.write(AssetBatch(spells=as_written(SPELLS), repairs=REPAIRS,
                                 readiness=READINESS))
    yield AssetReader(store.path)
    await store.close()


async def test_a_month_of_figures(reader: AssetReader) -> None:
    start = history_start(CALENDARS.values(), NOW, 30)
    figures = compute(reader.window(start, NOW), CALENDARS, ["alpha", "beta", "gamma"], NOW)
    alpha, beta = figures.sites["alpha"], figures.sites["beta"]
    # alpha, 30d: a1 720 h counted, 18 h down; a2 from June 16: 360 h, 24 h down.
    assert alpha.windows["30d"] == pytest.approx((702 + 336) / (720 + 360))
    assert alpha.availability == alpha.windows["30d"]
    # 7d: a1 168 h, 6 h down (June 28); a2 168 h, 24 h down (June 25).
    assert alpha.windows["7d"] == pytest.approx((162 + 144) / 336)
    # 1d: 10 h so far; a1 down since 08:00, a2 ready.
    assert alpha.windows["1d"] == pytest.approx((8 + 10) / 20)
    # beta, 30d: 22 weekdays x 8 h, minus the 4 h maintenance = 172 h; 2 h down (June 3);
    # the Saturday outage and the one during maintenance do not count. b2 is excluded.
    assert beta.windows["30d"] == pytest.approx(170 / 172)
    assert beta.windows["7d"] == 1.0  # 5 weekdays, all ready
    assert beta.windows["1d"] == 1.0  # 08:00-11:00 WITA so far
    # gamma is registered but has no history: no figure at all, not 0.
    assert figures.sites["gamma"].windows == {} and figures.sites["gamma"].availability is None

    # Time to repair, repairs closed in June: alpha 1 h (r6), 6 h, 12 h, 24 h; r4 closed
    # in May, r5 is open. Ranks interpolate: median at 1.5, p90 at 2.7.
    assert (alpha.repairs.closed, alpha.repairs.median_s) == (4, 9 * H)
    assert alpha.repairs.p90_s == pytest.approx(12 * H + 0.7 * 12 * H)
    fingerprint = alpha.by_role["fingerprint"]  # 12 h and 24 h: median at 0.5, p90 at 0.9
    assert (fingerprint.closed, fingerprint.median_s) == (2, 18 * H)
    assert fingerprint.p90_s == pytest.approx(12 * H + 0.9 * 12 * H)
    assert (alpha.by_role["camera"].median_s, alpha.by_role["camera"].p90_s) == (6 * H, 6 * H)
    assert alpha.by_role["iris"].closed == 1  # r6 counts for time to repair...
    assert (beta.repairs.closed, beta.repairs.median_s, beta.repairs.p90_s) == (1, 2 * H, 2 * H)

    # Failures per model over June (WIB): scanner units 29.5 (a1) + 9 + 5 (a2) kit-days,
    # the stand-in left out; 2 failures. Camera 29.75 kit-days, 1 failure (r4 was in May).
    models = {(m.vid, m.pid): m for m in figures.models}
    scanner, camera, pad, iris = models[SCANNER], models[CAMERA], models[PAD], models[IRIS]
    assert (scanner.kit_days, scanner.failures) == (pytest.approx(43.5), 2)
    assert scanner.per_1000_kit_days == pytest.approx(2 / 43.5 * 1000)
    assert scanner.mtbf_days == pytest.approx(21.75)
    assert (camera.kit_days, camera.failures, camera.mtbf_days) == (
        pytest.approx(29.75), 1, pytest.approx(29.75))
    assert (pad.kit_days, pad.failures) == (pytest.approx(30), 1)  # opened June 3, 09:00 WIB
    # ...but not as a failure: it was never a seen model. r5 (open since June 30) is one.
    assert (iris.kit_days, iris.failures) == (pytest.approx(29), 1)
    assert ("1491", "0088") not in models  # stand-ins are not the kit
    # Worst first: 45.98, 34.48, 33.61, 33.33 failures per 1,000 kit-days.
    assert [(m.vid, m.pid) for m in figures.models] == [SCANNER, IRIS, CAMERA, PAD]
    assert [r.id for r in figures.open_repairs] == ["r5"]

"""Reliability figures over a long history: prints how long they take, asserts nothing.

    .venv/bin/python -m tests.bench.reliability [--stations 148] [--days 90] [--repeat 5]

Method. A real asset database (SQLite, WAL, as the collector writes it) holds
a synthetic history of `--stations` stations (Medan: 21 sites) over `--days`
days: every station switched on each morning and off each evening (two
readiness rows a day, four on days with a part fault), a fault on one station
in ten each day (a repair record and its spells), and five roles of spells.
Half the sites keep office hours (Monday to Friday 08:00-16:00 WIB, a
maintenance window each week), the rest have no schedule. Timed: reading the
window from the database, then `figures.compute` for the minute's snapshot
(30 days: what /metrics shows) and for the API's longest usual request (the
whole history). Best of `--repeat`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from collector.assets import DeviceId, Spell
from collector.figures import compute, history_start
from collector.open_hours import Maintenance, Ranges, SiteCalendar
from collector.readiness import ReadinessRow
from collector.repairs import Model, Repair, repair_id
from collector.store_assets import AssetBatch, AssetStore
from collector.store_assets_read import AssetReader

DAY = 86400.0
NOW = 1_782_900_000.0  # 2026-07-01, 10:00 WIB
ROLES = ("fingerprint", "iris", "camera", "signature-pad", "card-reader")
MODELS = {"fingerprint": ("080b", "0002"), "iris": ("1209", "0001"), "camera": ("046d", "082d"),
          "signature-pad": ("056a", "00a2"), "card-reader": ("076b", "5321")}
_T = TypeVar("_T")


def office_hours(day: date) -> Ranges:
    return ((8 * 60, 16 * 60),) if day.weekday() < 5 else ()


def history(stations: int, days: int, seed: int = 7) -> tuple[AssetBatch, dict[str, SiteCalendar]]:
    rng = random.Random(seed)
    start = NOW - days * DAY
    batch = AssetBatch()
    calendars: dict[str, SiteCalendar] = {}
    for s in range(stations):
        site, station = f"site-{s % 21:02d}", f"st-{s:03d}"
        if s % 21 < 11 and site not in calendars:
            weekly = tuple(Maintenance(start + d * DAY + 3 * 3600, start + d * DAY + 5 * 3600)
                           for d in range(0, days, 7))
            calendars[site] = SiteCalendar(ranges_on=office_hours, maintenance=weekly)
        _station_history(batch, rng, site, station, start, days)
    return batch, calendars


def _station_history(batch: AssetBatch, rng: random.Random, site: str, station: str,
                     start: float, days: int) -> None:
    for role in ROLES:
        batch.spells.append(Spell(station, site, role, DeviceId(*MODELS[role], f"{station}-{role}"),
                                  "Maker", role, False, start - 30 * DAY))
    for d in range(days):
        morning = start + d * DAY + 7 * 3600 + rng.uniform(0, 3600)
        batch.readiness.append(ReadinessRow(station, site, "ready", morning))
        if rng.random() < 0.1:  # a part goes for a few hours
            role = rng.choice(ROLES)
            gone = morning + rng.uniform(3600, 4 * 3600)
            back = gone + rng.uniform(600, 6 * 3600)
            batch.readiness += [ReadinessRow(station, site, "down", gone),
                                ReadinessRow(station, site, "ready", back)]
            batch.repairs.append(Repair(repair_id(station, role, gone), station, site, role, 1,
                                        Model(*MODELS[role], role, True), "S", gone, "ok",
                                        closed_at=back, outcome="restored", listed=True))
        batch.readiness.append(ReadinessRow(station, site, "down", morning + 10 * 3600))


def best(repeat: int, fn: Callable[[], _T]) -> tuple[float, _T]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    assert result is not None
    return min(times), result


async def write(path: Path, batch: AssetBatch) -> None:
    store = AssetStore(path)
    await store.open()
    await store.write(batch)
    await store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=148)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    batch, calendars = history(args.stations, args.days)
    sites = sorted({r.site for r in batch.readiness})
    with tempfile.TemporaryDirectory(prefix="pantau-bench-reliability-") as tmp:
        asyncio.run(write(Path(tmp), batch))
        reader = AssetReader(Path(tmp) / "assets.sqlite3")
        print(f"history: {args.stations} stations, {len(sites)} sites, {args.days} days: "
              f"{len(batch.readiness)} readiness rows, {len(batch.repairs)} repairs, "
              f"{len(batch.spells)} spells")
        for days in (30, args.days):
            start = history_start(calendars.values(), NOW, days)
            read_s, window = best(args.repeat, lambda s=start: reader.window(s, NOW))  # type: ignore[misc]
            compute_s, figures = best(args.repeat, lambda w=window, d=days: compute(  # type: ignore[misc]
                w, calendars, sites, NOW, d))
            print(f"figures over {days:3d} days: read {read_s * 1000:6.1f} ms + compute "
                  f"{compute_s * 1000:6.1f} ms = {(read_s + compute_s) * 1000:6.1f} ms "
                  f"(goal < 1000 ms; {len(figures.models)} models, "
                  f"{sum(s.repairs.closed for s in figures.sites.values())} repairs closed)")


if __name__ == "__main__":
    main()

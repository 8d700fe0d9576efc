"""The fleet's reliability figures at one moment: what /metrics, the API and the page show.

`compute` is pure (the history window, the sites' calendars and `now` passed
in); the collector runs it in a worker thread every `FIGURES_EVERY_S` and
keeps the result, so a scrape only reads a snapshot. `/api/v1/reliability`
with another `days` computes once for that request.

Windows, per site in its own time zone: `1d` the current local day so far,
`7d` and `30d` the last 7 and 30 whole local days (today left out). The API's
`days=N` is the last N whole local days; the models' window is the same N days
in the default zone (they are counted fleet-wide).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final

from collector.open_hours import SiteCalendar, Span
from collector.reliability import (
    Availability,
    ModelFigures,
    RepairTimes,
    availability,
    model_figures,
    over,
    time_to_repair,
)
from collector.repairs import Repair
from collector.store_assets_read import HistoryWindow

WINDOWS: Final = ("1d", "7d", "30d")
DEFAULT_DAYS: Final = 30
MAX_DAYS: Final = 366
FIGURES_EVERY_S: Final = 60.0
NO_TIMES: Final = RepairTimes(0, None, None)


@dataclass(frozen=True, slots=True)
class SiteFigures:
    site: str
    availability: float | None  # over the `days` window
    windows: Mapping[str, float]  # "1d" / "7d" / "30d" -> ratio; absent without opening hours
    repairs: RepairTimes  # closed in the `days` window
    by_role: Mapping[str, RepairTimes]


@dataclass(frozen=True, slots=True)
class Figures:
    at: float
    days: int
    sites: Mapping[str, SiteFigures] = field(default_factory=dict)
    models: tuple[ModelFigures, ...] = ()
    stations: Mapping[str, tuple[str, float]] = field(default_factory=dict)  # 7d: (site, ratio)
    open_repairs: tuple[Repair, ...] = ()


def span_of(calendar: SiteCalendar, today: date, days: int) -> Span:
    """The last `days` whole local days before `today`, as instants."""
    return calendar.midnight(today - timedelta(days=days)), calendar.midnight(today)


def history_start(calendars: Iterable[SiteCalendar], now: float, days: int) -> float:
    """Where the history window must begin so that every site's windows are inside it."""
    default = SiteCalendar()
    return min(span_of(c, c.day_of(now), max(days, 30))[0] for c in (*calendars, default))


def compute(history: HistoryWindow, calendars: Mapping[str, SiteCalendar], sites: Iterable[str],
            now: float, days: int = DEFAULT_DAYS) -> Figures:
    start = history_start(calendars.values(), now, days)
    found = availability(history.readiness, calendars, start, now)
    names = sorted({*sites, *found.sites, *(r.site for r in history.repairs)})
    default = SiteCalendar()
    spans = {site: span_of(cal := calendars.get(site, default), cal.day_of(now), days)
             for site in names}
    times = time_to_repair(history.repairs, spans)
    models_span = span_of(default, default.day_of(now), days)
    return Figures(
        at=now, days=days,
        sites={site: _site(site, calendars.get(site, default), found, times, now, days)
               for site in names},
        models=tuple(model_figures(history.spells, history.repairs, *models_span)),
        stations=_stations(found, calendars, now),
        open_repairs=tuple(r for r in history.repairs if r.closed_at is None),
    )


def _days_before(today: date, count: int) -> list[date]:
    return [today - timedelta(days=n) for n in range(1, count + 1)]


def _site(site: str, calendar: SiteCalendar, found: Availability,
          times: Mapping[tuple[str, str | None], RepairTimes], now: float,
          days: int) -> SiteFigures:
    today = calendar.day_of(now)
    per_day = found.sites.get(site, {})
    ratios = {"1d": over(per_day, [today]), "7d": over(per_day, _days_before(today, 7)),
              "30d": over(per_day, _days_before(today, 30))}
    return SiteFigures(
        site=site, availability=over(per_day, _days_before(today, days)),
        windows={w: r for w, r in ratios.items() if r is not None},
        repairs=times.get((site, None), NO_TIMES),
        by_role={role: t for (s, role), t in sorted(times.items(), key=lambda kv: str(kv[0][1]))
                 if s == site and role is not None},
    )


def _stations(found: Availability, calendars: Mapping[str, SiteCalendar],
              now: float) -> dict[str, tuple[str, float]]:
    """Each station's availability over the last 7 whole local days (of its last site)."""
    out: dict[str, tuple[str, float]] = {}
    default = SiteCalendar()
    for station, per_day in found.stations.items():
        site = found.station_sites.get(station, "")
        ratio = over(per_day, _days_before(calendars.get(site, default).day_of(now), 7))
        if ratio is not None:
            out[station] = (site, ratio)
    return out

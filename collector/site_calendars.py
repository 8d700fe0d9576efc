"""The registry's opening hours as the reliability figures read them, and one figures run.

Each registered site's `SiteCalendar`: its schedule's time zone and opening
ranges (special hours and holidays included: `Schedule.ranges_on`), and its
maintenance windows. A site without a schedule (no `[schedule]` in the
registry) is open all day, its local days counted in WIB (Asia/Jakarta).

The schedule is read on the offices' clock (`ScheduleClock`: the same as the
collector's in production; a compressed day in the demo), so the readiness
history is mapped onto it before availability is worked out.
"""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from collector.figures import Figures, compute, history_start
from collector.open_hours import DEFAULT_ZONE, Maintenance, SiteCalendar
from collector.registry import Registry, SiteInfo
from collector.schedule import REAL_TIME, ScheduleClock
from collector.store_assets_read import AssetReader, HistoryWindow


def calendar_of(info: SiteInfo) -> SiteCalendar:
    windows = tuple(Maintenance(w.start, w.end, w.stations) for w in info.maintenance)
    if info.schedule is None:
        return SiteCalendar(maintenance=windows)
    return SiteCalendar(info.schedule.zone, info.schedule.ranges_on, windows)


def site_calendars(registry: Registry) -> dict[str, SiteCalendar]:
    return {site: calendar_of(info) for site, info in registry.sites.items()}


def site_zone(registry: Registry, site: str) -> ZoneInfo:
    info = registry.sites.get(site)
    return info.schedule.zone if info is not None and info.schedule is not None else DEFAULT_ZONE


def on_office_clock(window: HistoryWindow, clock: ScheduleClock) -> HistoryWindow:
    if clock is REAL_TIME:
        return window
    return replace(window, readiness=[replace(r, at=clock.office(r.at))
                                      for r in window.readiness])


def run_figures(reader: AssetReader, registry: Registry, now: float, days: int,
                site: str | None = None, clock: ScheduleClock = REAL_TIME) -> Figures:
    """Read the history the figures need and work them out (blocking: run it in a thread).
    `site`: only that site's history (its models too)."""
    calendars = site_calendars(registry)
    office_now = clock.office(now)
    start = clock.real(history_start(calendars.values(), office_now, days))
    window = on_office_clock(reader.window(start, now), clock)
    if site is not None:
        window = replace(window, readiness=[r for r in window.readiness if r.site == site],
                         spells=[s for s in window.spells if s.site == site],
                         repairs=[r for r in window.repairs if r.site == site])
    return compute(window, calendars, [site] if site else registry.sites, office_now, days)

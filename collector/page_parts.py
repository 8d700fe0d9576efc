"""Parts on the status pages: a station's part changes, stand-in notes on the overview."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from collector.app_keys import ASSETS_KEY, FLEET_KEY, ROLLOUT_KEY
from collector.i18n import Lang
from collector.page_html import Markup, esc, h, held, station_link, table, when
from collector.site_calendars import site_zone
from collector.store_assets_read import AssetReader, AssetStoreError

if TYPE_CHECKING:
    from collector.assets import AssetChange, DeviceId
    from collector.station import StationView

CHANGES_SHOWN = 20


def device_ids(device: DeviceId | None) -> Markup:
    if device is None:
        return Markup()
    return esc(" ".join(p for p in (f"{device.vid}:{device.pid}",
                                     device.serial and f"#{device.serial}") if p))


def changes_table(lang: Lang, changes: Sequence[AssetChange], at: float) -> Markup:
    headers = [h(lang, k) for k in ("col_time", "col_component", "col_change", "col_device",
                                    "col_before")]
    rows = [(c.kind == "removal", [when(lang, c.at, at), esc(c.role),
                                   h(lang, f"change_{c.kind}"), device_ids(c.device),
                                   device_ids(c.old)])
            for c in changes]
    return table(headers, rows, lang)


async def part_changes_section(request: web.Request, lang: Lang, station: str,
                               at: float) -> Markup:
    """Installs, removals and swaps of the station's parts, newest first (empty without a
    register, or when its database cannot be read: the rest of the page still shows)."""
    feed = request.app.get(ASSETS_KEY)
    if feed is None:
        return Markup()
    try:
        changes = await asyncio.to_thread(AssetReader(feed.store.path).changes, station,
                                          CHANGES_SHOWN)
    except AssetStoreError:
        return Markup()
    return Markup(f"<section><h2>{h(lang, 'part_changes')}</h2>"
                  f"{changes_table(lang, changes, at)}</section>")


def standin_notes(lang: Lang, views: Sequence[StationView], at: float) -> Markup:
    """Roles enrolling on a stand-in: not a problem today, but a part still to replace."""
    items = [h(lang, "standin_note", station=station_link(lang, v.station), component=c.id,
               when=held(lang, c.since, at))
             for v in views for c in v.components
             if c.required and c.status == "ok" and c.standin is True]
    if not items:
        return Markup()
    return Markup('<ul class="notes">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>")


def rollout_notes(app: web.Application, lang: Lang, at: float) -> dict[str, Markup]:
    """Per site with a station still planned under a deadline: "· install by 2026-12-31",
    or once passed "· deadline 2026-12-31 passed" (marked as a problem)."""
    due = app[ROLLOUT_KEY]() if ROLLOUT_KEY in app else {}
    registry = app[FLEET_KEY].registry
    notes = {}
    for site, deadline in due.items():
        day = datetime.fromtimestamp(deadline - 1, site_zone(registry, site)).date().isoformat()
        if deadline <= at:
            notes[site] = Markup(f' &middot; <span class="bad-text">'
                                 f'{h(lang, "rollout_overdue", date=day)}</span>')
        else:
            notes[site] = Markup(f" &middot; {h(lang, 'rollout_due', date=day)}")
    return notes

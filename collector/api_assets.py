"""`/api/v1/assets` and `/api/v1/assets/history`: every device seen in every role (a contract).

The register lives in the asset database; reads run in a worker thread. A
present device's `last_seen` is the station's last heartbeat (the station's
clock, like every time of the register); a removed one's is when it left.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final

from aiohttp import web

from collector.api import allow_params, choice_param, fail, id_param, json_response
from collector.app_keys import ASSETS_KEY, FLEET_KEY, now
from collector.csv_out import csv_text
from collector.rfc3339 import utc_text
from collector.store_assets_read import AssetReader, AssetRow, AssetStoreError

if TYPE_CHECKING:
    from collector.assets import Spell
    from collector.fleet import Fleet

ASSET_COLUMNS: Final = (
    "site", "station", "role", "vid", "pid", "serial", "manufacturer", "product", "standin",
    "present", "first_seen", "first_seen_ts", "last_seen", "last_seen_ts",
)
MAX_SERIAL: Final = 256  # wire.Short: no device reports a longer one


def add_asset_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/assets", assets_handler)
    app.router.add_get("/api/v1/assets/history", history_handler)


def reader(app: web.Application) -> AssetReader:
    feed = app.get(ASSETS_KEY)
    if feed is None:
        fail(web.HTTPServiceUnavailable, "the asset register is not enabled on this collector")
    return AssetReader(feed.store.path)


def asset_json(row: AssetRow, fleet: Fleet) -> dict[str, object]:
    last = row.last_seen
    view = fleet.station(row.station) if row.present else None
    if view is not None and view.last_heartbeat_ts is not None:
        last = max(last, view.last_heartbeat_ts)
    return {
        "site": row.site, "station": row.station, "role": row.role,
        "vid": row.device.vid, "pid": row.device.pid, "serial": row.device.serial,
        "manufacturer": row.manufacturer, "product": row.product, "standin": row.standin,
        "present": row.present, "first_seen": utc_text(row.first_seen),
        "first_seen_ts": row.first_seen, "last_seen": utc_text(last), "last_seen_ts": last,
    }


async def assets_handler(request: web.Request) -> web.Response:
    allow_params(request, ("site", "station", "role", "format"))
    site, station = id_param(request, "site"), id_param(request, "station")
    role = id_param(request, "role")
    fmt = choice_param(request, "format", ("json", "csv")) or "json"
    source = reader(request.app)
    try:
        rows = await asyncio.to_thread(source.assets, site, station, role)
    except AssetStoreError as exc:
        fail(web.HTTPServiceUnavailable, f"the asset register cannot be read: {exc}")
    fleet = request.app[FLEET_KEY]
    assets = [asset_json(r, fleet) for r in rows]
    if fmt == "json":
        return json_response({"count": len(assets), "assets": assets})
    stamp = time.strftime("%Y%m%d-%H%M", time.gmtime(now(request.app)))
    body = csv_text(ASSET_COLUMNS, (
        [*(a[c] for c in ASSET_COLUMNS[:8]), str(a["standin"]).lower(),
         str(a["present"]).lower(), a["first_seen"], f"{a['first_seen_ts']:.3f}",
         a["last_seen"], f"{a['last_seen_ts']:.3f}"] for a in assets))
    return web.Response(
        text=body, content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition":
                 f'attachment; filename="pantau-assets-{site or "all"}-{stamp}.csv"'})


def spell_json(spell: Spell) -> dict[str, object]:
    return {
        "site": spell.site, "station": spell.station, "role": spell.role,
        "vid": spell.device.vid, "pid": spell.device.pid,
        "from": utc_text(spell.start), "from_ts": spell.start,
        "to": utc_text(spell.end), "to_ts": spell.end,
    }


async def history_handler(request: web.Request) -> web.Response:
    allow_params(request, ("serial",))
    serial = request.query.get("serial")
    if not serial or len(serial) > MAX_SERIAL:
        fail(web.HTTPBadRequest, "give serial=S, the serial number as the device reports it "
                                 f"(1 to {MAX_SERIAL} characters; see /api/v1/assets)")
    source = reader(request.app)
    try:
        spells = await asyncio.to_thread(source.serial_history, serial)
    except AssetStoreError as exc:
        fail(web.HTTPServiceUnavailable, f"the asset register cannot be read: {exc}")
    return json_response({"serial": serial, "count": len(spells),
                          "history": [spell_json(s) for s in spells]})

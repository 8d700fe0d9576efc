"""`GET /api/v1/reliability?site=&days=N`: availability, time to repair, failures per model.

The default (30 days, every site) is the snapshot the collector computes every
minute; another `days`, or one site, is computed for the request in a worker
thread from the asset database (`days` from 1 to 366, the last N whole local
days). A site's figures are null where there is nothing to count.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from collector.api import allow_params, fail, id_param, json_response, number_param
from collector.api_assets import reader
from collector.app_keys import CLOCK_KEY, FIGURES_KEY, FLEET_KEY, SCHEDULES_KEY
from collector.figures import DEFAULT_DAYS, MAX_DAYS, Figures
from collector.schedule import REAL_TIME
from collector.site_calendars import run_figures
from collector.store_assets_read import AssetStoreError


def add_reliability_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/reliability", reliability_handler)


def reliability_json(figures: Figures, site: str | None) -> dict[str, object]:
    return {
        "days": figures.days,
        "sites": [
            {"site": s.site, "availability": s.availability, "repairs_closed": s.repairs.closed,
             "time_to_repair_median_s": s.repairs.median_s,
             "time_to_repair_p90_s": s.repairs.p90_s}
            for name, s in sorted(figures.sites.items()) if site is None or name == site
        ],
        "models": [
            {"vid": m.vid, "pid": m.pid, "name": m.name, "kit_days": m.kit_days,
             "failures": m.failures, "failures_per_1000_kit_days": m.per_1000_kit_days,
             "mtbf_days": m.mtbf_days}
            for m in figures.models
        ],
    }


async def reliability_handler(request: web.Request) -> web.Response:
    allow_params(request, ("site", "days"))
    site = id_param(request, "site")
    days = int(number_param(request, "days", int, 1, MAX_DAYS) or DEFAULT_DAYS)
    snapshot = request.app[FIGURES_KEY]()
    if snapshot is not None and snapshot.days == days and site is None:
        return json_response(reliability_json(snapshot, None))
    registry, now = request.app[FLEET_KEY].registry, request.app[CLOCK_KEY]()
    clock = request.app[SCHEDULES_KEY].clock if SCHEDULES_KEY in request.app else REAL_TIME
    try:
        figures = await asyncio.to_thread(run_figures, reader(request.app), registry, now, days,
                                          site, clock)
    except AssetStoreError as exc:
        fail(web.HTTPServiceUnavailable, f"the reliability history cannot be read: {exc}")
    return json_response(reliability_json(figures, site))

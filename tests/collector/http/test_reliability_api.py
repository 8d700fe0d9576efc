"""GET /api/v1/reliability over a real asset database: the synthetic month of
tests/collector/assets/test_reliability.py, one site and the whole fleet, and refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.api_reliability import add_reliability_routes
from collector.app_keys import ASSETS_KEY, CLOCK_KEY, FIGURES_KEY, FLEET_KEY
from collector.asset_feed import AssetFeed
from collector.fleet import Fleet
from collector.registry import Registry, SiteInfo
from collector.store_assets import AssetBatch, AssetStore
from tests.collector.assets.test_reliability import (
    NOW,
    READINESS,
    REPAIRS,
    SPELLS,
    as_written,
)

Client = TestClient[web.Request, web.Application]
H = 3600.0


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    store = AssetStore(tmp_path)
    await store.open()
    await store.write(AssetBatch(spells=as_written(SPELLS), repairs=REPAIRS,
                                 readiness=READINESS))
    app = web.Application()
    registry = Registry({"alpha": SiteInfo("alpha", "Alpha", "R"),
                         "beta": SiteInfo("beta", "Beta", "R")})
    app[FLEET_KEY] = Fleet(registry, now=NOW)
    app[CLOCK_KEY] = lambda: NOW
    app[ASSETS_KEY] = AssetFeed(store, 60)
    app[FIGURES_KEY] = lambda: None
    add_reliability_routes(app)
    async with TestClient(TestServer(app)) as c:
        yield c
    await store.close()


async def get(client: Client, path: str, status: int = 200) -> Any:
    resp = await client.get(path)
    assert resp.status == status
    return await resp.json()


async def test_one_site_over_30_days(client: Client) -> None:
    body = await get(client, "/api/v1/reliability?site=alpha&days=30")
    assert body["days"] == 30
    assert body["sites"] == [{
        "site": "alpha", "availability": pytest.approx(1038 / 1080), "repairs_closed": 4,
        "time_to_repair_median_s": 9 * H,
        "time_to_repair_p90_s": pytest.approx(12 * H + 0.7 * 12 * H)}]
    models = {(m["vid"], m["pid"]): m for m in body["models"]}
    assert set(models) == {("080b", "0002"), ("1209", "0001"), ("046d", "082d")}  # alpha's
    assert models[("080b", "0002")] | {"kit_days": round(models[("080b", "0002")]["kit_days"],
                                                         6)} == {
        "vid": "080b", "pid": "0002", "name": "Maker fingerprint model", "kit_days": 43.5,
        "failures": 2, "failures_per_1000_kit_days": pytest.approx(2 / 43.5 * 1000),
        "mtbf_days": pytest.approx(21.75)}


async def test_the_last_7_days_of_every_site(client: Client) -> None:
    body = await get(client, "/api/v1/reliability?days=7")
    sites = {s["site"]: s for s in body["sites"]}
    assert sites["alpha"]["availability"] == pytest.approx(306 / 336)
    assert sites["alpha"]["repairs_closed"] == 2  # June 25 and June 28
    # beta has no schedule in this registry: open all day, so its Saturday counts here.
    assert sites["beta"]["repairs_closed"] == 0
    assert sites["beta"]["time_to_repair_median_s"] is None


@pytest.mark.parametrize(("query", "error"), [
    ("days=0", "days='0' must be between 1 and 366"),
    ("days=x", "days='x' is not a whole number"),
    ("site=Alpha", "site='Alpha' is not a valid id"),
    ("window=7d", "unknown query parameter(s) window"),
])
async def test_refusals(client: Client, query: str, error: str) -> None:
    body = await get(client, f"/api/v1/reliability?{query}", 400)
    assert body["error"].startswith(error)

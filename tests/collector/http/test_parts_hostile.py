"""Hostile device strings through the whole parts path: decode → fleet → register and
repairs → SQLite → every view that shows them (API JSON and CSV, the parts CSV, the
station page and the Reliability page in both languages).

A station may report anything a USB device says about itself: markup, spreadsheet
formulas, quotes, line breaks, the longest string the wire allows. Every view must
show it as the text it is, never as markup or a formula, and JSON must round-trip it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.api_assets import add_asset_routes
from collector.api_repairs import add_repair_routes
from collector.app_keys import ASSETS_KEY, CONFIG_KEY, FIGURES_KEY
from collector.asset_feed import AssetFeed
from collector.config import CollectorConfig
from collector.figures import Figures
from collector.page_reliability import add_reliability_page
from collector.store_assets import AssetStore
from tests.collector.http.conftest import make_app
from tests.collector.http.scenario import NOW, birth, build_fleet, component, feed, heartbeat
from tests.collector.http.test_page import parse

Client = TestClient[web.Request, web.Application]
SITE, STATION = "medan-kota", "medan-kota-02"
SCRIPT = '<script>alert("x")</script>'
FORMULA = '=HYPERLINK("http://evil.example","click")'
MAKER = f"{SCRIPT} & \"co\"\nline 2"
PRODUCT = "x" * 200 + SCRIPT  # 227 characters: within the wire's 256
SERIAL = FORMULA


def hostile_component(status: str, since: float) -> dict[str, Any]:
    c = component("fingerprint", status, since=since)
    if c["device"] is not None:
        c["device"] |= {"manufacturer": MAKER, "product": PRODUCT, "serial": SERIAL}
    if status == "missing":
        c["expected"] = [{"vid": "080b", "pid": "0002", "name": FORMULA + SCRIPT}]
    return c


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    fleet, _ = build_fleet()
    birth(fleet, SITE, STATION, NOW - 7200)
    for seq, (status, at) in enumerate([("ok", NOW - 7000), ("missing", NOW - 3600)], 1):
        feed(fleet, "heartbeat", SITE, STATION,
             heartbeat(SITE, STATION, seq, at, [hostile_component(status, at)]), at)
    store = AssetStore(tmp_path)
    await store.open()
    asset_feed = AssetFeed(store, 60)
    asset_feed.step(fleet, NOW - 3000, ready=False)
    asset_feed.step(fleet, NOW, ready=False)  # open long enough: the repair is listed
    await asset_feed.flush()
    app = make_app(fleet, None)
    app[ASSETS_KEY] = asset_feed
    app[CONFIG_KEY] = CollectorConfig()
    app[FIGURES_KEY] = lambda: Figures(at=NOW, days=30)
    add_asset_routes(app)
    add_repair_routes(app)
    add_reliability_page(app)
    async with TestClient(TestServer(app)) as c:
        yield c
    await store.close()


async def test_json_round_trips_every_string(client: Client) -> None:
    assets = (await (await client.get(f"/api/v1/assets?station={STATION}")).json())["assets"]
    assert [(a["manufacturer"], a["product"], a["serial"]) for a in assets] == [
        (MAKER, PRODUCT, SERIAL)]
    repairs = (await (await client.get(f"/api/v1/repairs?station={STATION}")).json())["repairs"]
    assert [r["model"]["name"] for r in repairs] == [f"{MAKER} {PRODUCT}"]
    history = await (await client.get("/api/v1/assets/history",
                                      params={"serial": SERIAL})).json()
    assert history["count"] == 1


@pytest.mark.parametrize("path", ["/api/v1/assets?format=csv", "/api/v1/repairs?format=csv",
                                  f"/api/v1/parts?format=csv&site={SITE}"])
async def test_csv_cells_are_text_not_formulas(client: Client, path: str) -> None:
    rows = list(csv.reader(io.StringIO(await (await client.get(path)).text())))
    cells = [cell for row in rows[1:] for cell in row]
    assert cells and not [c for c in cells if c.startswith(("=", "+", "-", "@"))]
    assert any(SCRIPT in c for c in cells)  # the text itself is kept, as text


@pytest.mark.parametrize("lang", ["en", "id"])
@pytest.mark.parametrize(("path", "shown"), [
    (f"/stations/{STATION}", SERIAL),  # the part changes name the serial
    ("/reliability", f"{MAKER} {PRODUCT}"),  # the open repair names the model
])
async def test_pages_show_markup_as_text(client: Client, path: str, shown: str,
                                         lang: str) -> None:
    resp = await client.get(f"{path}?lang={lang}")
    assert resp.status == 200
    page = await resp.text()
    assert SCRIPT not in page and "<script" not in page.lower()
    parsed = parse(page)
    assert "script" not in parsed.tags
    assert any(shown in t for t in parsed.text)  # shown, as text

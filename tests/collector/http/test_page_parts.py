"""Parts on the pages, in both languages: stand-ins, part changes, the reliability page."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.app_keys import ASSETS_KEY, FIGURES_KEY
from collector.asset_feed import AssetFeed
from collector.figures import Figures, SiteFigures
from collector.page_parts import standin_notes
from collector.page_reliability import add_reliability_page
from collector.reliability import ModelFigures, RepairTimes
from collector.store_assets import AssetStore
from tests.collector.http.conftest import make_app
from tests.collector.http.scenario import NOW, birth, build_fleet, component, feed, heartbeat
from tests.collector.http.test_page import get_page, site_card

Client = TestClient[web.Request, web.Application]
STATION = "medan-kota-02"
FIGURES = Figures(
    at=NOW - 30, days=30,
    sites={"medan-kota": SiteFigures("medan-kota", 0.95, {"1d": 1.0, "7d": 0.9, "30d": 0.95},
                                     RepairTimes(3, 7200.0, 90000.0),
                                     {"fingerprint": RepairTimes(2, 3600.0, 3600.0)}),
           "binjai-utara": SiteFigures("binjai-utara", None, {}, RepairTimes(0, None, None), {})},
    models=(ModelFigures("080b", "0002", "Cross Match Fingerprint Scanner", 43.5, 2),),
    stations={STATION: ("medan-kota", 0.875)},
)


BOX: list[Figures | None] = [FIGURES]  # what the collector computed last


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    fleet, _ = build_fleet()
    birth(fleet, "medan-kota", STATION, NOW - 600)
    standin = component("fingerprint", since=NOW - 3600)
    standin["standin"] = True
    standin["device"] |= {"vid": "1491", "pid": "0088", "serial": "FUT-1"}
    feed(fleet, "heartbeat", "medan-kota", STATION,
         heartbeat("medan-kota", STATION, 1, NOW - 10, [standin, component("camera")]), NOW - 10)
    store = AssetStore(tmp_path)
    await store.open()
    asset_feed = AssetFeed(store, 60)
    asset_feed.step(fleet, NOW, ready=False)
    asset_feed.step(fleet, NOW + 61, ready=False)  # the stand-in's repair is listed
    await asset_feed.flush()
    app = make_app(fleet, None)
    app[ASSETS_KEY] = asset_feed
    BOX[0] = FIGURES
    app[FIGURES_KEY] = lambda: BOX[0]
    add_reliability_page(app)
    async with TestClient(TestServer(app)) as c:
        yield c
    await store.close()


@pytest.mark.parametrize(("lang", "note", "status"), [
    ("en", "medan-kota-02: fingerprint on a stand-in, repair open for 1 h", "stand-in"),
    ("id", "medan-kota-02: fingerprint memakai alat pengganti, perbaikan terbuka sejak 1 jam lalu",
     "alat pengganti"),
])
async def test_a_stand_in_is_noted_not_a_problem(client: Client, lang: str, note: str,
                                                 status: str) -> None:
    card = site_card(await get_page(client, f"/?lang={lang}"), "medan-kota")
    assert note in text_of(card)
    assert "medan-kota-02: fingerprint" not in text_of(card.split('<ul class="notes">')[0])
    page = await get_page(client, f"/stations/{STATION}?lang={lang}")
    row = next(r for r in page.split("<tr") if ">fingerprint<" in r)
    assert status in text_of(row) and "&#10004;" in row  # ok to enroll: the ok mark


async def test_the_station_page_lists_part_changes(client: Client) -> None:
    page = await get_page(client, f"/stations/{STATION}?lang=en")
    section = page.split("<h2>Part changes</h2>")[1].split("</section>")[0]
    rows = [text_of(r) for r in section.split("<tr")[2:]]
    assert [r.split("ago")[1] for r in rows] == [  # newest first
        "fingerprintinstalled1491:0088 #FUT-1", "camerainstalled05ba:000a #SN-camera"]


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ["Availability by office", "Medan Kota", "100.0%", "90.0%", "95.0%", "2 h", "1 day",
            "Open repairs", "fingerprint", "stand-in", "080b:0002",
            "Failures per model (30 days)", "Cross Match Fingerprint Scanner", "43.5", "46.0",
            "21 days", "Least available stations", "87.5%"]),
    ("id", ["Ketersediaan per kantor", "Perbaikan yang masih terbuka", "alat pengganti",
            "Kerusakan per model alat (30 hari)", "1 hari", "21 hari"]),
])
async def test_the_reliability_page(client: Client, lang: str, words: list[str]) -> None:
    shown = text_of(await get_page(client, f"/reliability?lang={lang}"))
    missing = [w for w in words if w not in shown]
    assert missing == []


async def test_the_reliability_page_before_the_first_figures(client: Client) -> None:
    BOX[0] = None
    assert "No figures yet" in text_of(await get_page(client, "/reliability?lang=en"))


def test_no_note_for_healthy_kits() -> None:
    fleet, _ = build_fleet()
    assert standin_notes("en", fleet.stations(), NOW) == ""

"""Opening hours on the API and the status page: each office's state in its own time
zone, the next opening, capacity, maintenance, kits switched off after closing, the
fleet line, problems first, and the "open now" filter; in both languages."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.api import add_api_routes
from collector.app_keys import CAPACITY_KEY, CLOCK_KEY, FLEET_KEY, SCHEDULES_KEY
from collector.fleet import Fleet
from collector.i18n import EN, ID
from collector.page import add_page_routes
from collector.registry import load_registry
from collector.site_capacity import CapacityTally
from collector.site_schedule import SiteSchedules
from pantau import wire
from tests.collector.core.messages import component, heartbeat, status

Client = TestClient[web.Request, web.Application]
FLEET = """
[schedule]
timezone = "Asia/Jakarta"
hours = { mon = ["08:00-16:00"], tue = ["08:00-16:00"] }

[sites.kota]
name = "Medan Kota"
region = "Kota Medan"
[sites.jayapura]
name = "Jayapura Utara"
region = "Kota Jayapura"
schedule = { timezone = "Asia/Jayapura" }
[sites.baru]
name = "Medan Baru"
region = "Kota Medan"
[[sites.baru.maintenance]]
start = 2026-12-07T14:00:00+07:00
end = 2026-12-07T17:00:00+07:00
reason = "new network switch"
[sites.amplas]
name = "Medan Amplas"
region = "Kota Medan"
[[sites.amplas.maintenance]]
start = 2026-12-07T14:30:00+07:00
end = 2026-12-07T15:30:00+07:00
reason = "fingerprint scanner replaced"
stations = ["amplas-02"]

[stations.kota-01]
site = "kota"
[stations.kota-02]
site = "kota"
[stations.jayapura-01]
site = "jayapura"
[stations.jayapura-02]
site = "jayapura"
[stations.jayapura-03]
site = "jayapura"
[stations.baru-01]
site = "baru"
[stations.amplas-01]
site = "amplas"
[stations.amplas-02]
site = "amplas"
"""


def wib(text: str) -> float:
    return datetime.fromisoformat(f"2026-12-07T{text}+07:00").timestamp()  # a Monday


def seen(fleet: Fleet, site: str, station: str, at: float, seq: int = 1) -> None:
    fleet.apply_status(site, station, status("online", site=site, station=station), at)
    hb = heartbeat(station, seq=seq, ts=at, site=site, components=[component("fingerprint")])
    fleet.apply_heartbeat(hb, at)


def gone(fleet: Fleet, site: str, station: str, state: wire.StationLinkState, at: float) -> None:
    fleet.apply_status(site, station, status(state, site=site, station=station), at)


def monday(tmp_path: Path, now: float) -> Fleet:
    """By 15:00 WIB (17:00 WIT): Jayapura closed at 16:00 WIT and its kits went as kits do."""
    (tmp_path / "fleet.toml").write_text(FLEET)
    fleet = Fleet(load_registry(tmp_path / "fleet.toml"), now=wib("06:00"))
    for site, station in (("kota", "kota-01"), ("amplas", "amplas-01"), ("amplas", "amplas-02"),
                          ("baru", "baru-01"), ("jayapura", "jayapura-01"),
                          ("jayapura", "jayapura-02"), ("jayapura", "jayapura-03")):
        seen(fleet, site, station, wib("06:05"))
    gone(fleet, "jayapura", "jayapura-03", "lost", wib("12:00"))  # 14:00 WIT: while open
    gone(fleet, "jayapura", "jayapura-01", "offline", wib("14:10"))  # clean stop after closing
    seen(fleet, "jayapura", "jayapura-02", wib("14:20"), seq=2)
    gone(fleet, "jayapura", "jayapura-02", "lost", wib("14:25"))  # power strip, after closing
    for site, station in (("kota", "kota-01"), ("amplas", "amplas-01"), ("baru", "baru-01"),
                          ("amplas", "amplas-02")):
        seen(fleet, site, station, now - 5, seq=3)  # still on
    return fleet


def app_at(fleet: Fleet, now: float) -> web.Application:
    app = web.Application()
    schedules = SiteSchedules()
    schedules.refresh(fleet.registry, now)  # as the app's tick does
    app[FLEET_KEY], app[SCHEDULES_KEY], app[CAPACITY_KEY] = fleet, schedules, CapacityTally()
    app[CLOCK_KEY] = lambda: now
    add_api_routes(app)
    add_page_routes(app)
    return app


@pytest.fixture
async def at() -> AsyncIterator[Callable[[Path, float], Any]]:
    clients: list[Client] = []

    async def open_at(tmp_path: Path, now: float) -> Client:
        client = TestClient(TestServer(app_at(monday(tmp_path, now), now)))
        await client.start_server()
        clients.append(client)
        return client

    yield open_at
    for client in clients:
        await client.close()


async def sites(client: Client) -> dict[str, Any]:
    body = await (await client.get("/api/v1/sites")).json()
    return {"fleet": body["fleet"], **{s["site"]: s for s in body["sites"]}}


async def test_api_tells_each_office_state_time_and_capacity(
    at: Callable[[Path, float], Any], tmp_path: Path
) -> None:
    got = await sites(await at(tmp_path, wib("15:00")))
    jayapura = got["jayapura"]
    assert jayapura["hours"] | {"open_since": None} == {
        "state": "closed", "scheduled": True, "timezone": "Asia/Jayapura",
        "local_time": "2026-12-07T17:00:00+09:00", "open_since": None,
        "next_open": datetime.fromisoformat("2026-12-08T08:00+09:00").timestamp(),
        "next_open_local": "2026-12-08T08:00+09:00", "maintenance": None,
        "stations_in_maintenance": []}
    # Switched off after closing (cleanly or not): expected back; died at 14:00 WIT: not.
    assert (jayapura["kits_today"], jayapura["capacity_today"]) == (2, 200)
    assert (jayapura["can_enroll_today"], jayapura["enrollment"]) == (
        False, "no: closed for today; opens Tue 08:00")
    baru = got["baru"]
    assert baru["hours"]["state"] == "maintenance" and baru["can_enroll_today"] is False
    assert baru["hours"]["maintenance"] == {"reason": "new network switch",
                                            "start": wib("14:00"), "end": wib("17:00")}
    assert got["amplas"]["hours"]["stations_in_maintenance"] == [{
        "station": "amplas-02", "reason": "fingerprint scanner replaced",
        "start": wib("14:30"), "end": wib("15:30")}]
    assert got["kota"]["hours"]["open_since"] == wib("08:00")
    assert (got["kota"]["capacity_today"], got["kota"]["enrollment"]) == (
        100, "yes: 1 of 2 stations ready")
    assert got["fleet"] == {"offices": 4, "open": 2, "can_enroll": 2,
                            "capacity_today": 100 + 200 + 200 + 100}


async def test_before_opening_an_office_can_still_enroll_today(
    at: Callable[[Path, float], Any], tmp_path: Path
) -> None:
    kota = (await sites(await at(tmp_path, wib("07:00"))))["kota"]
    assert kota["hours"]["state"] == "closed"
    # kota-01 is on; kota-02 never reported, so it is not expected.
    assert (kota["can_enroll_today"], kota["enrollment"], kota["capacity_today"]) == (
        True, "yes: opens at 08:00, 1 of 2 stations expected ready", 100)


def text_of(document: str) -> str:
    """What a reader sees: inline tags vanish, block tags separate."""
    inline = re.sub(r"</?(a|b|span|time)\b[^>]*>", "", document)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", inline)))


def card(document: str, site: str) -> str:
    found = re.search(rf'<article class="site[^"]*">(?:(?!</article>).)*\({site}\)'
                      r"(?:(?!</article>).)*</article>", document)
    assert found, f"no card for {site}"
    return found.group(0)


EXPECTED = {
    "en": ("Closed · 17:00 local time (WIT) · opens Tue 08:00",
           "Switched off after closing, expected back at opening: jayapura-01, jayapura-02",
           "2 of 4 offices open now · 2 can enroll · capacity today 600 people",
           "amplas-02 in maintenance until 15:30: fingerprint scanner replaced",
           "Maintenance until 17:00: new network switch"),
    "id": ("Tutup · pukul 17:00 waktu setempat (WIT) · buka Selasa pukul 08:00",
           "Dimatikan setelah tutup, diperkirakan menyala lagi saat buka: jayapura-01, "
           "jayapura-02",
           "2 dari 4 kantor buka sekarang · 2 bisa melayani perekaman · kapasitas hari ini 600 "
           "orang",
           "amplas-02 dalam pemeliharaan sampai pukul 15:30: fingerprint scanner replaced",
           "Pemeliharaan sampai pukul 17:00: new network switch"),
}


@pytest.mark.parametrize("lang", ["en", "id"])
async def test_page_shows_hours_capacity_and_maintenance(
    at: Callable[[Path, float], Any], tmp_path: Path, lang: str
) -> None:
    client = await at(tmp_path, wib("15:00"))
    page = await (await client.get(f"/?lang={lang}")).text()
    closed, switched_off, fleet_line, station_window, site_window = EXPECTED[lang]
    jayapura = text_of(card(page, "jayapura"))
    assert closed in jayapura and switched_off in jayapura
    died = (EN if lang == "en" else ID)["state_lost"]
    assert f"jayapura-03: {died}" in jayapura  # died while open: still a problem
    assert "jayapura-01:" not in jayapura and "jayapura-02:" not in jayapura
    assert fleet_line in text_of(page.split("</header>")[0])
    assert station_window in text_of(card(page, "amplas"))
    assert site_window in text_of(card(page, "baru"))


async def test_problems_first_and_the_open_now_filter(
    at: Callable[[Path, float], Any], tmp_path: Path
) -> None:
    client = await at(tmp_path, wib("15:00"))
    page = await (await client.get("/")).text()
    order = re.findall(r'<article class="site( bad)?">.*?\((\w+)\)', page)
    bad = [site for flag, site in order if flag]
    assert bad and [site for _, site in order][: len(bad)] == bad  # bad cards lead
    assert '<a class=filter href="/?open=1&amp;lang=en">Show only offices open now</a>' in page
    only_open = await (await client.get("/?open=1&lang=id")).text()
    shown = re.findall(r'<article class="site[^"]*">.*?\((\w+)\)', only_open)
    assert sorted(shown) == ["amplas", "kota"]  # baru is in maintenance, jayapura closed
    assert '<a class=filter href="/?lang=id">Tampilkan semua kantor</a>' in only_open

"""/api/v1 over a real aiohttp server, a real Fleet fed wire messages, a real Store."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.fleet import Fleet
from collector.store import Store
from tests.collector.http.conftest import make_app
from tests.collector.http.scenario import HOSTILE, NOW, birth, build_fleet

Client = TestClient[web.Request, web.Application]
GOLDEN = Path(__file__).parent / "golden" / "station-medan-baru-02.json"


async def get_json(client: Client, path: str, status: int = 200) -> Any:
    resp = await client.get(path)
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    return await resp.json()


async def test_station_detail_matches_golden(client: Client) -> None:
    body = await get_json(client, "/api/v1/stations/medan-baru-02")
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    assert body == json.loads(GOLDEN.read_text())


async def test_station_list_shape(client: Client) -> None:
    body = await get_json(client, "/api/v1/stations")
    by_id = {s["station"]: s for s in body["stations"]}
    assert body["count"] == len(by_id) == 7
    broken = by_id["medan-baru-02"]
    assert (broken["state"], broken["up"], broken["ready"]) == ("online", True, False)
    assert [(p["id"], p["status"], p["since"]) for p in broken["problems"]] == [
        ("fingerprint", "missing", NOW - 300), ("iris", "failed", NOW - 7200)]
    assert broken["unexpected_devices"] == 2
    assert (by_id["pasar-baru-09"]["registered"], by_id["pasar-baru-09"]["lifecycle"]) == (
        False, None)
    assert by_id["medan-kota-01"]["state_since"] == NOW - 7200
    assert set(broken) == {
        "station", "site", "state", "state_since", "up", "ready", "registered", "lifecycle",
        "profile", "hostname", "agent_version", "last_heartbeat_ts", "clock_offset_s",
        "problems", "unexpected_devices"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("site=medan-kota", ["medan-kota-01", "medan-kota-02"]),
        ("state=planned", ["binjai-utara-01", "medan-baru-03"]),
        ("site=medan-baru&state=online", ["medan-baru-01", "medan-baru-02"]),
        ("state=lost", ["medan-kota-01"]),
        ("site=nowhere", []),
    ],
)
async def test_station_filters(client: Client, query: str, expected: list[str]) -> None:
    body = await get_json(client, f"/api/v1/stations?{query}")
    assert [s["station"] for s in body["stations"]] == expected


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/v1/stations/nobody-01", 404, "no station 'nobody-01'"),
        ("/api/v1/stations/Bad%20Id", 400, "is not a valid station id"),
        ("/api/v1/stations/%3Cscript%3E", 400, "must match"),
        ("/api/v1/stations?state=broken", 400, "state='broken' is not one of online"),
        ("/api/v1/stations?site=../etc", 400, "site='../etc' is not a valid id"),
        ("/api/v1/stations?sit=medan-baru", 400, "unknown query parameter(s) sit"),
        ("/api/v1/events?limit=0", 400, "limit='0' must be between 1 and 1000"),
        ("/api/v1/events?limit=5000", 400, "must be between 1 and 1000"),
        ("/api/v1/events?limit=ten", 400, "limit='ten' is not a whole number"),
        ("/api/v1/events?since=yesterday", 400, "since='yesterday' is not a number"),
        ("/api/v1/events?since=nan", 400, "must be between"),
        ("/api/v1/events?before=-3", 400, "before='-3' must be between"),
        ("/api/v1/events?station=A!", 400, "station='A!' is not a valid id"),
        ("/api/v1/parts?format=xlsx", 400, "format='xlsx' is not one of json, csv"),
    ],
)
async def test_bad_requests_say_what_is_wrong(client: Client, path: str, status: int,
                                               message: str) -> None:
    body = await get_json(client, path, status)
    assert message in body["error"]


async def test_sites_readiness(client: Client) -> None:
    sites = {s["site"]: s for s in (await get_json(client, "/api/v1/sites"))["sites"]}
    baru = sites["medan-baru"]
    assert (baru["ready"], baru["total"], baru["planned"], baru["can_enroll_today"]) == (
        1, 2, 1, True)
    assert baru["stations"]["online"] == 2 and baru["enrollment"].startswith("yes")
    kota = sites["medan-kota"]
    assert (kota["can_enroll_today"], kota["stations"]["lost"], kota["stations"]["never_seen"]) \
        == (False, 1, 1)
    binjai = sites["binjai-utara"]
    assert (binjai["total"], binjai["can_enroll_today"]) == (0, False)
    assert "no station installed yet (1 planned)" in binjai["enrollment"]
    assert (sites["pasar-baru"]["registered"], sites["pasar-baru"]["region"]) == (False, "")


async def test_events_paginate_newest_first_without_gaps(client: Client) -> None:
    seen: list[int] = []
    path: str | None = "/api/v1/events?station=medan-baru-02&limit=4"
    while path is not None:
        body = await get_json(client, path)
        seen += [e["seq"] for e in body["events"]]
        assert body["count"] == len(body["events"]) <= 4
        path = body["next"]
    assert seen == list(range(10, 0, -1))


@pytest.mark.parametrize(
    ("query", "expected_seqs"),
    [
        (f"since={NOW - 1000}", [10, 9, 8]),
        ("site=medan-kota", []),
        ("station=medan-baru-01", []),
        ("before=3", [2, 1]),
    ],
)
async def test_event_filters(client: Client, query: str, expected_seqs: list[int]) -> None:
    body = await get_json(client, f"/api/v1/events?{query}")
    assert [e["seq"] for e in body["events"]] == expected_seqs
    assert body["next"] is None


async def test_event_shape(client: Client) -> None:
    first = (await get_json(client, "/api/v1/events?before=2"))["events"][0]
    assert first == {
        "id": 1, "station": "medan-baru-02", "site": "medan-baru", "seq": 1,
        "boot_id": "b0000000-0000-4000-8000-000000000001", "ts": NOW - 7200,
        "received": NOW - 7200, "component": "iris", "from": "ok", "to": "failed",
        "detail": HOSTILE}


async def test_events_without_history_is_503_with_reason() -> None:
    fleet, _ = build_fleet()
    async with TestClient(TestServer(make_app(fleet, None))) as client:
        body = await get_json(client, "/api/v1/events", 503)
    assert "event history is not enabled" in body["error"]


async def test_parts_json(client: Client) -> None:
    body = await get_json(client, "/api/v1/parts")
    assert body["generated_at"] == NOW
    assert [(p["station"], p["role"], p["status"], p["since"]) for p in body["parts"]] == [
        ("medan-baru-02", "fingerprint", "missing", NOW - 300),
        ("medan-baru-02", "iris", "failed", NOW - 7200)]
    rollup = {s["site"]: s for s in body["sites"]}
    assert rollup["medan-baru"]["roles"] == {
        "fingerprint": {"missing": 1, "failed": 0, "standin": 0},
        "iris": {"missing": 0, "failed": 1, "standin": 0}}
    assert rollup["medan-kota"]["total"] == 0


async def test_parts_csv_for_one_site(client: Client) -> None:
    resp = await client.get("/api/v1/parts?format=csv&site=medan-baru")
    assert resp.status == 200
    assert resp.content_type == "text/csv" and resp.charset == "utf-8"
    assert resp.headers["Content-Disposition"] == (
        'attachment; filename="pantau-parts-medan-baru-20241129-1706.csv"')
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [(r["station"], r["role"], r["status"], r["site_name"]) for r in rows] == [
        ("medan-baru-02", "fingerprint", "missing", "Medan Baru"),
        ("medan-baru-02", "iris", "failed", "Medan Baru")]
    assert rows[1]["detail"] == HOSTILE  # text, not a formula: left as it came


@pytest.mark.parametrize("listing", ["/api/v1/stations", "/api/v1/stations?site=medan-kota"])
async def test_api_follows_the_fleet_live(client: Client, fleet_and_rows: tuple[Fleet, list[Any]],
                                          listing: str) -> None:
    # Listings are cached per station version: a change must show on the next request.
    before = await get_json(client, listing)
    assert {s["station"]: s["state"] for s in before["stations"]}["medan-kota-02"] == "never_seen"
    birth(fleet_and_rows[0], "medan-kota", "medan-kota-02", NOW)
    body = await get_json(client, "/api/v1/stations/medan-kota-02")
    assert (body["state"], body["state_since"]) == ("online", NOW)
    after = await get_json(client, listing)
    assert {s["station"]: s["state"] for s in after["stations"]}["medan-kota-02"] == "online"
    assert after["count"] == before["count"]


async def test_station_detail_stands_when_the_history_cannot_be_read(
    client: Client, store: Store
) -> None:
    store.path.unlink()  # a data directory wiped under the running collector
    body = await get_json(client, "/api/v1/stations/medan-baru-02")
    assert body["recent_events"] == []
    assert body["recent_events_error"].startswith("event history cannot be read: ")
    assert str(store.path) in body["recent_events_error"]
    assert body["problems"] and body["state"] == "online"  # the live view is all there


async def test_station_detail_has_no_error_field_when_the_history_reads(client: Client) -> None:
    body = await get_json(client, "/api/v1/stations/medan-baru-02")
    assert len(body["recent_events"]) > 0 and "recent_events_error" not in body

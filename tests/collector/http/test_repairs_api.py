"""The asset and repair routes over real HTTP, a real asset database and real basic auth.

The write route's refusal table (POST /api/v1/repairs/{id}) is exact: status
and error text for each way a write can be wrong, in the order they are checked.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.api import add_api_routes
from collector.api_assets import add_asset_routes
from collector.api_repairs import add_repair_routes
from collector.app_keys import ASSETS_KEY, CLOCK_KEY, CONFIG_KEY, FLEET_KEY
from collector.asset_feed import AssetFeed
from collector.assets import AssetRegister
from collector.config import CollectorConfig
from collector.config_http import HttpConfig
from collector.config_repairs import RepairsConfig
from collector.http_auth import install_basic_auth
from collector.http_passwords import hash_password, parse_hash
from collector.repairs import RepairTracker
from collector.store_assets import AssetBatch, AssetStore
from tests.collector.assets.parts import FUTRONIC, comp
from tests.collector.http.scenario import NOW, build_fleet

Client = TestClient[web.Request, web.Application]
USERS = {name: parse_hash(hash_password(name + "-pw", n=16)) for name in ("budi", "prometheus")}


async def seeded(store: AssetStore) -> str:
    """The scanner of medan-baru-02 gone for an hour, a stand-in since; returns the repair id."""
    register, tracker = AssetRegister(), RepairTracker(60)
    batch, old = AssetBatch(), None
    for ts, c in [(NOW - 7200, comp(since=NOW - 8000)),
                  (NOW - 3600, comp("missing", None, since=NOW - 3600)),
                  (NOW - 1800, comp(serial="F1", model=FUTRONIC, standin=True,
                                    since=NOW - 1800))]:
        ops = register.observe("medan-baru-02", "medan-baru", old, (c,), ts)
        batch.spells += ops.spells
        batch.changes += ops.changes
        batch.repairs += tracker.observe(
            "medan-baru-02", "medan-baru", old, (c,), ts, ts,
            lambda part: register.last_real("medan-baru-02", part)).upserts
        old = (c,)
    batch.repairs += tracker.tick(NOW).upserts
    await store.write(batch)
    return batch.repairs[-1].id


def make_app(store: AssetStore, writers: tuple[str, ...], users: dict[str, Any]) -> web.Application:
    app = web.Application()
    app[FLEET_KEY] = build_fleet()[0]
    app[CLOCK_KEY] = lambda: NOW
    app[ASSETS_KEY] = AssetFeed(store, 60)
    app[CONFIG_KEY] = CollectorConfig(http=HttpConfig(users=tuple(users.items())),
                                      repairs=RepairsConfig(writers=writers))
    add_api_routes(app)
    add_asset_routes(app)
    add_repair_routes(app)
    install_basic_auth(app, users, ("/healthz",))
    return app


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AssetStore]:
    s = AssetStore(tmp_path)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def serve(store: AssetStore) -> AsyncIterator[Callable[..., Any]]:
    clients: list[Client] = []

    async def start(writers: tuple[str, ...] = ("budi",), users: dict[str, Any] | None = None
                    ) -> Client:
        client = TestClient(TestServer(make_app(store, writers, USERS if users is None
                                                else users)))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


def auth(user: str, password: str | None = None) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password or user + '-pw'}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_assets_history_and_repairs_read_back(store: AssetStore, serve: Any) -> None:
    repair_id = await seeded(store)
    client: Client = await serve()
    resp = await client.get("/api/v1/assets?station=medan-baru-02", headers=auth("prometheus"))
    assets = (await resp.json())["assets"]
    assert [(a["serial"], a["standin"], a["present"], a["first_seen"]) for a in assets] == [
        ("A", False, False, "2024-11-29T14:53:20Z"), ("F1", True, True, "2024-11-29T16:36:40Z")]
    assert assets[1]["last_seen_ts"] == NOW - 5  # present: the station's last heartbeat
    assert assets[0]["last_seen_ts"] == NOW - 3600  # gone: when it left
    history = await (await client.get("/api/v1/assets/history?serial=A",
                                      headers=auth("budi"))).json()
    assert (history["serial"], history["count"], history["history"][0]["to_ts"]) == (
        "A", 1, NOW - 3600)
    repairs = (await (await client.get("/api/v1/repairs?state=open",
                                       headers=auth("budi"))).json())["repairs"]
    assert [(r["id"], r["status"], r["model"], r["outcome"], r["closed_at"]) for r in repairs] == [
        (repair_id, "standin", {"vid": "080b", "pid": "0002",
                                "name": "Cross Match Fingerprint Scanner"}, None, None)]
    text = await (await client.get("/api/v1/repairs?format=csv", headers=auth("budi"))).text()
    row = next(csv.DictReader(io.StringIO(text)))
    assert (row["id"], row["opened_at"], row["closed_at"], row["model_vid"]) == (
        repair_id, "2024-11-29T16:06:40Z", "", "080b")
    rows = list(csv.DictReader(io.StringIO(await (await client.get(
        "/api/v1/assets?format=csv", headers=auth("budi"))).text())))
    assert [(r["serial"], r["standin"], r["present"]) for r in rows] == [
        ("A", "false", "false"), ("F1", "true", "true")]


async def test_a_writer_sets_the_fields_and_the_change_is_logged_with_the_user(
        store: AssetStore, serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    repair_id = await seeded(store)
    client: Client = await serve()
    body = {"ordered_at": "2024-11-30T09:30:00+07:00", "ticket": "INC-77", "note": "via pos"}
    with caplog.at_level(logging.INFO, logger="collector.api_repairs"):
        resp = await client.post(f"/api/v1/repairs/{repair_id}", json=body, headers=auth("budi"))
    assert resp.status == 200
    got = await resp.json()
    assert (got["ordered_at"], got["ordered_at_ts"], got["ticket"], got["note"]) == (
        "2024-11-30T02:30:00Z", 1732933800.0, "INC-77", "via pos")
    assert f"repair {repair_id} (medan-baru-02 fingerprint)" in caplog.text
    assert "set by budi" in caplog.text and "ticket='INC-77'" in caplog.text
    again = await client.post(f"/api/v1/repairs/{repair_id}", json={"note": ""},
                              headers=auth("budi"))
    assert (await again.json())["ticket"] == "INC-77"  # a field not sent stays as it was


BIG = json.dumps({"note": "x" * 5000})
# (writers, users, credentials, content type, body, id) -> (status, error text)
REFUSALS = {
    "auth on, no credentials": ((("budi",), True, None, "application/json", "{}", "ID"),
                                401, None),
    "auth on, wrong password": ((("budi",), True, ("budi", "nope"), "application/json", "{}",
                                 "ID"), 401, None),
    "no writers configured": (((), True, ("budi", None), "application/json", "{}", "ID"), 403,
                              "writes are disabled on this collector: set [repairs] writers and "
                              "[http] basic_auth_users_file to allow them"),
    "no basic auth configured": ((("budi",), False, None, "application/json", "{}", "ID"), 403,
                                 "writes are disabled on this collector: set [repairs] writers "
                                 "and [http] basic_auth_users_file to allow them"),
    "not a writer (the scrape account)": (
        (("budi",), True, ("prometheus", None), "application/json", "{}", "ID"), 403,
        "user 'prometheus' may not change repairs; ask an administrator to add you to "
        "[repairs] writers"),
    "not JSON": ((("budi",), True, ("budi", None), "text/plain", "ticket=1", "ID"), 415,
                 "send the fields as JSON with Content-Type: application/json"),
    "over 4 KiB": ((("budi",), True, ("budi", None), "application/json", BIG, "ID"), 413,
                   "the body may be at most 4096 bytes"),
    "unknown id": ((("budi",), True, ("budi", None), "application/json", '{"note": "x"}',
                    "0123456789abcdef"), 404,
                   "no repair '0123456789abcdef'; see /api/v1/repairs for the ids"),
    "malformed id": ((("budi",), True, ("budi", None), "application/json", '{"note": "x"}',
                      "../../etc"), 404, None),
    "broken JSON": ((("budi",), True, ("budi", None), "application/json", '{"note":', "ID"), 400,
                    'the body is not JSON; send e.g. {"ticket": "INC-1234"}'),
    "not an object": ((("budi",), True, ("budi", None), "application/json", "[]", "ID"), 400,
                      "expected a JSON object with ordered_at, ticket and/or note"),
    "unknown field": ((("budi",), True, ("budi", None), "application/json",
                       '{"outcome": "restored"}', "ID"), 400,
                      "unknown field(s) outcome; only ordered_at, ticket and note can be set"),
    "time without offset": ((("budi",), True, ("budi", None), "application/json",
                             '{"ordered_at": "2024-11-30T09:30:00"}', "ID"), 400,
                            'ordered_at: expected an RFC 3339 time with its offset, like '
                            '"2026-01-05T09:30:00+07:00"'),
    "ticket too long": ((("budi",), True, ("budi", None), "application/json",
                         json.dumps({"ticket": "T" * 65}), "ID"), 400,
                        "ticket: expected text of at most 64 characters"),
    "note not text": ((("budi",), True, ("budi", None), "application/json", '{"note": 5}', "ID"),
                      400, "note: expected text of at most 500 characters"),
}


@pytest.mark.parametrize(("request_", "status", "error"), REFUSALS.values(), ids=REFUSALS.keys())
async def test_write_refusals(store: AssetStore, serve: Any, request_: tuple[Any, ...],
                              status: int, error: str | None) -> None:
    writers, with_auth, credentials, content_type, body, repair_id = request_
    real_id = await seeded(store)
    client: Client = await serve(writers, USERS if with_auth else {})
    headers = {"Content-Type": content_type}
    if credentials is not None:
        headers |= auth(*credentials)
    resp = await client.post(f"/api/v1/repairs/{real_id if repair_id == 'ID' else repair_id}",
                             data=body.encode(), headers=headers)
    assert resp.status == status
    if error is not None:
        assert (await resp.json())["error"] == error
    stored = (await (await client.get("/api/v1/repairs", headers=auth("budi")
                                      if with_auth else {})).json())["repairs"]
    assert (stored[0]["ticket"], stored[0]["note"], stored[0]["ordered_at"]) == ("", "", None)

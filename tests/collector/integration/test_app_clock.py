"""The clock given to `build_app` is the one every handler reads: /api and the page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.app import build_app
from collector.config import CollectorConfig, StateConfig
from collector.registry import Registry
from pantau.broker_config import BrokerConfig
from tests.support.mosquitto import free_port

FIXED = 1_700_000_000.0  # 2023-11-14T22:13:20Z: far from the machine's own clock
FIXED_ISO = datetime.fromtimestamp(FIXED, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    # No broker listens on this port: the app serves HTTP while ingest retries.
    broker = BrokerConfig(url=f"mqtt://127.0.0.1:{free_port()}", port=free_port(),
                          client_id="clock-test")
    config = CollectorConfig(broker=broker, state=StateConfig(data_dir=tmp_path))
    app = build_app(config, Registry.empty(), clock=lambda: FIXED)
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_the_api_stamps_reports_with_the_apps_clock(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/api/v1/parts")
    assert response.status == 200
    assert (await response.json())["generated_at"] == FIXED


async def test_the_page_shows_the_apps_clock(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert f'<time datetime="{FIXED_ISO}"' in await response.text()

"""The API and page served by a real aiohttp test server over a real Fleet and Store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.api import add_api_routes
from collector.app_keys import CAPACITY_KEY, CLOCK_KEY, FLEET_KEY, SCHEDULES_KEY, STORE_KEY
from collector.fleet import Fleet
from collector.page import add_page_routes
from collector.site_capacity import CapacityTally
from collector.site_schedule import SiteSchedules
from collector.store import EventRow, Store
from tests.collector.http.scenario import NOW, build_fleet


@pytest.fixture
def fleet_and_rows() -> tuple[Fleet, list[EventRow]]:
    return build_fleet()


@pytest.fixture
async def store(
    tmp_path: Path, fleet_and_rows: tuple[Fleet, list[EventRow]]
) -> AsyncIterator[Store]:
    store = Store(tmp_path)
    await store.open()
    await store.write(fleet_and_rows[1], [])
    yield store
    await store.close()


def make_app(fleet: Fleet, store: Store | None) -> web.Application:
    app = web.Application()
    app[FLEET_KEY] = fleet
    if store is not None:
        app[STORE_KEY] = store
    app[CLOCK_KEY] = lambda: NOW
    schedules = SiteSchedules()
    schedules.refresh(fleet.registry, NOW)  # as the app's tick does
    app[SCHEDULES_KEY], app[CAPACITY_KEY] = schedules, CapacityTally()
    add_api_routes(app)
    add_page_routes(app)
    return app


@pytest.fixture
async def client(
    fleet_and_rows: tuple[Fleet, list[EventRow]], store: Store
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(make_app(fleet_and_rows[0], store))) as c:
        yield c

"""/metrics is gzipped when the scraper asks for it (Prometheus always does), and only then."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.app import build_app
from collector.config import CollectorConfig, StateConfig
from collector.exposition_gzip import accepts_gzip
from collector.registry import Registry
from pantau.broker_config import BrokerConfig
from tests.support.mosquitto import free_port


@pytest.mark.parametrize(("header", "gzip_ok"), [
    ("gzip", True),
    ("gzip, deflate, br", True),  # browsers
    ("deflate, gzip;q=0.5", True),
    ("GZIP", True),
    ("x-gzip", True),
    ("*", True),
    ("", False),
    ("identity", False),
    ("deflate, br", False),
    ("gzip;q=0", False),
    ("gzip;q=0.0, identity", False),
    ("gzip;q=bogus", False),
])
def test_accept_encoding_is_read_as_rfc_9110_says(header: str, gzip_ok: bool) -> None:
    assert accepts_gzip(header) is gzip_ok


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    broker = BrokerConfig(url=f"mqtt://127.0.0.1:{free_port()}", port=free_port(),
                          client_id="gzip-test")
    config = CollectorConfig(broker=broker, state=StateConfig(data_dir=tmp_path))
    app = build_app(config, Registry.empty(), clock=lambda: 1_700_000_000.0)
    async with TestClient(TestServer(app), auto_decompress=False) as c:
        yield c


def own_families(text: str) -> list[str]:
    """The pantau_ lines (process_* figures move between two scrapes)."""
    return [ln for ln in text.splitlines() if ln.startswith(("pantau_", "# HELP pantau_"))]


async def test_gzip_when_asked_plain_otherwise(
    client: TestClient[web.Request, web.Application],
) -> None:
    plain = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
    packed = await client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert plain.headers.get("Content-Encoding") is None
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    text = (await plain.read()).decode()
    unpacked = gzip.decompress(await packed.read()).decode()
    assert own_families(unpacked) == own_families(text) != []
    assert 'pantau_build_info{version="' in text and ',revision="' in text

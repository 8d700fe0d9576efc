"""Whole-pipeline fuzz: seeded station messages (tests/fuzz/edges.py) through a real
collector app — decode → fleet → history in SQLite → every view over real HTTP.

The app is `collector.app.build_app` with the test fleet's registry, its ingest
connected to a real Mosquitto; messages go in through a `Dispatcher` over the app's
own fleet, stats and history (what the MQTT read callback calls). Every `views_every`
messages (and at the end) every view is fetched: /metrics (checked by the real
`promtool check metrics` at the end and every `promtool_every` rounds), the overview
and station pages in English and Bahasa Indonesia, the Reliability page, every API
JSON (parsed strictly: no NaN or Infinity) and every CSV export (parsed). A view that
answers anything but 200, a body that does not parse, a promtool complaint or a log
record above WARNING is a failure, named with the seed and message index.

    python -m tests.fuzz.run_fuzz --pipeline-seconds 600 --seed 1     # the long run
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import random
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.app import HISTORY_KEY, build_app
from collector.app_keys import CLOCK_KEY, CONFIG_KEY, FLEET_KEY, STATS_KEY
from collector.config import CollectorConfig, StateConfig
from collector.dispatch import Dispatcher
from collector.registry import load_registry
from pantau.broker_config import BrokerConfig
from tests.fuzz.edges import station_message

PROMTOOL: Final = Path("/usr/bin/promtool")
REGISTRY: Final = Path(__file__).parents[1] / "collector" / "http" / "fleet.toml"
Client = TestClient[web.Request, web.Application]
# Fetched every round; JSON ones parsed strictly, CSV ones parsed as CSV.
PAGES: Final = ("/", "/?lang=id", "/reliability", "/reliability?lang=id")
JSON_VIEWS: Final = (
    "/api/v1/stations", "/api/v1/sites", "/api/v1/events", "/api/v1/parts", "/api/v1/assets",
    "/api/v1/repairs", "/api/v1/reliability", "/api/v1/assets/history?serial=x",
    "/healthz", "/readyz",
)
CSV_VIEWS: Final = ("/api/v1/parts?format=csv", "/api/v1/assets?format=csv",
                    "/api/v1/repairs?format=csv")


@dataclass
class PipelineResult:
    seed: int
    messages: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # accepted, or why refused
    fetches: int = 0
    promtool_runs: int = 0
    failures: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


class HighLogs(logging.Handler):
    """Every log record above WARNING, from any logger."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@asynccontextmanager
async def collector(data_dir: Path, broker_url: str) -> AsyncIterator[Client]:
    """A real collector app (registry, SQLite stores, ingest on `broker_url`) over HTTP."""
    config = CollectorConfig(broker=BrokerConfig(url=broker_url, client_id="pipeline-fuzz"),
                             state=StateConfig(data_dir=data_dir), registry=REGISTRY)
    async with TestClient(TestServer(build_app(config, load_registry(REGISTRY)))) as client:
        await until_ready(client)
        yield client


async def until_ready(client: Client, timeout_s: float = 20.0) -> None:
    """Wait (polling, with a deadline) for /readyz: connected, retained state loaded."""
    deadline = time.monotonic() + timeout_s
    while (await client.get("/readyz")).status != 200:
        if time.monotonic() > deadline:
            raise TimeoutError(f"collector not ready within {timeout_s} s")
        await asyncio.sleep(0.05)


def dispatcher(app: web.Application) -> Dispatcher:
    """What the MQTT read callback calls, over the app's own fleet, stats and history."""
    return Dispatcher(app[FLEET_KEY], app[STATS_KEY], app[HISTORY_KEY],
                      app[CONFIG_KEY].topic_root)


async def run(client: Client, seed: int, count: int, seconds: float, views_every: int = 250,
              promtool_every: int = 20) -> PipelineResult:
    """Up to `count` messages or `seconds`, whichever ends first; views checked as it goes."""
    result, rng = PipelineResult(seed), random.Random(seed)
    handle, clock = dispatcher(client.app).handle, client.app[CLOCK_KEY]
    stats = client.app[STATS_KEY]
    began = time.monotonic()
    while result.messages < count and time.monotonic() - began < seconds:
        topic, payload, _ = station_message(rng)
        before = stats.rejected.copy()
        handle(topic, payload, clock())
        result.outcomes.update(stats.rejected - before or ("applied",))
        result.messages += 1
        if result.messages % views_every == 0:
            rounds = result.messages // views_every
            await check_views(client, result, promtool=rounds % promtool_every == 1)
    await check_views(client, result, promtool=True)
    result.elapsed_s = time.monotonic() - began
    return result


async def check_views(client: Client, result: PipelineResult, *, promtool: bool) -> None:
    where = f"seed {result.seed}, after message {result.messages}"
    stations = await fetch(client, "/api/v1/stations", result, where)
    ids = [s["station"] for s in json.loads(stations)["stations"]] if stations else []
    for path in (*PAGES, *(f"/stations/{s}?lang={lang}" for s in ids for lang in ("en", "id"))):
        await fetch(client, path, result, where)
    for path in (*JSON_VIEWS, *(f"/api/v1/stations/{s}" for s in ids)):
        body = await fetch(client, path, result, where)
        if body is not None:
            strict_json(body, path, result, where)
    for path in CSV_VIEWS:
        body = await fetch(client, path, result, where)
        if body is not None:
            list(csv.reader(io.StringIO(body)))
    metrics = await fetch(client, "/metrics", result, where)
    if promtool and metrics is not None:
        result.failures += [f"{where}: {p}" for p in promtool_complaints(metrics.encode())]
        result.promtool_runs += 1


async def fetch(client: Client, path: str, result: PipelineResult, where: str) -> str | None:
    resp = await client.get(path)
    body = await resp.text()
    result.fetches += 1
    if resp.status != 200:
        result.failures.append(f"{where}: GET {path} answered {resp.status}: {body[:300]}")
        return None
    return body


def strict_json(body: str, path: str, result: PipelineResult, where: str) -> None:
    def refuse(token: str) -> Any:
        raise ValueError(f"{token} is not JSON")

    try:
        json.loads(body, parse_constant=refuse)
    except ValueError as exc:
        result.failures.append(f"{where}: GET {path}: not strict JSON: {exc}")


def promtool_complaints(body: bytes) -> list[str]:
    """What `promtool check metrics` says about a scrape ([] when clean or not installed)."""
    if not PROMTOOL.exists():
        return []
    done = subprocess.run([str(PROMTOOL), "check", "metrics"], input=body, capture_output=True,
                          timeout=60, check=False)
    if (done.returncode, done.stdout, done.stderr) == (0, b"", b""):
        return []
    return [f"promtool check metrics: {(done.stdout + done.stderr).decode()[:500]}"]


def summary(result: PipelineResult, high_logs: list[logging.LogRecord]) -> str:
    rate = result.messages / result.elapsed_s if result.elapsed_s else 0.0
    return (f"pipeline seed {result.seed}: {result.messages} messages in {result.elapsed_s:.1f} s "
            f"({rate:,.0f}/s incl. views), {dict(result.outcomes)}, {result.fetches} view "
            f"fetches, promtool {result.promtool_runs} runs, {len(result.failures)} failures, "
            f"{len(high_logs)} log records above WARNING")

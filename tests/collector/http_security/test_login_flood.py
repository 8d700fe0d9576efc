"""A flood of bad logins against the basic-auth middleware (real HTTP, real scrypt): password
hashing runs one at a time, on a low-priority thread, within its CPU budget (a pause after
each hash); at most MAX_WAITING logins wait (the rest are told 429 at once), and a cached
login is answered while the flood still waits. What the flood costs MQTT ingest is
measured by tests/bench/login_flood.py."""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from collector.http_auth import RETRY_AFTER_S, BasicAuth
from collector.http_hash_gate import HASH_DUTY, HASH_NICENESS, HASH_THREADS, MAX_WAITING
from collector.http_passwords import ScryptHash, parse_hash, users_line

FLOOD = 4 * MAX_WAITING
SLOW_N = 2**13  # a few ms per hash: long enough for the logins to overlap


@dataclass
class Watch:
    """Every hash as seen from inside it: (start, end, thread CPU), threads, peaks."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    running: int = 0
    peak: int = 0
    peak_waiting: int = 0
    runs: list[tuple[float, float, float]] = field(default_factory=list)
    threads: set[int] = field(default_factory=set)
    auth: BasicAuth | None = None


WATCH = Watch()


class WatchedHash(ScryptHash):
    """The real scrypt check, watched while it runs."""

    __slots__ = ()

    def verify(self, password: bytes) -> bool:
        with WATCH.lock:
            WATCH.running += 1
            WATCH.peak = max(WATCH.peak, WATCH.running)
            WATCH.threads.add(threading.get_native_id())
            if WATCH.auth is not None:
                WATCH.peak_waiting = max(WATCH.peak_waiting, WATCH.auth.gate.waiting)
        start, cpu = time.monotonic(), time.thread_time()
        try:
            return ScryptHash.verify(self, password)
        finally:
            with WATCH.lock:
                WATCH.running -= 1
                WATCH.runs.append((start, time.monotonic(), time.thread_time() - cpu))


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def served(request: web.Request) -> web.Response:
    return web.Response(text="ok")


@pytest.fixture
async def server() -> AsyncIterator[tuple[TestServer, BasicAuth]]:
    real = parse_hash(users_line("prom", "pw-prom", n=SLOW_N).split(":", 1)[1])
    auth = BasicAuth({"prom": WatchedHash(real.n, real.r, real.p, real.salt, real.digest)},
                     ["/healthz"])
    WATCH.auth = auth
    app = web.Application(middlewares=[auth.middleware])
    app.router.add_get("/metrics", served)
    async with TestServer(app) as test_server:
        yield test_server, auth
    auth.close()


async def test_a_login_flood_is_hashed_one_at_a_time_within_budget_and_a_cached_login_gets_in(
    server: tuple[TestServer, BasicAuth]
) -> None:
    test_server, auth = server
    url = str(test_server.make_url("/metrics"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async with http.get(url, headers=basic("prom", "pw-prom")) as resp:
            assert resp.status == 200  # Prometheus logged in once: now cached
        before = len(WATCH.runs)

        async def bad_login(i: int) -> tuple[int, str | None]:
            async with http.get(url, headers=basic("prom", f"guess-{i}")) as resp:
                return resp.status, resp.headers.get("Retry-After")

        flood = [asyncio.ensure_future(bad_login(i)) for i in range(FLOOD)]
        while auth.gate.waiting < MAX_WAITING:  # the flood fills the queue
            await asyncio.sleep(0.01)
        async with http.get(url, headers=basic("prom", "pw-prom")) as resp:
            assert resp.status == 200
        assert auth.gate.waiting > 0, "the flood was over before the cached login was answered"
        answers = Counter(await asyncio.gather(*flood))
    runs = WATCH.runs[before:]
    assert WATCH.peak == HASH_THREADS == 1
    assert WATCH.peak_waiting <= MAX_WAITING  # and it was reached: the 429s below
    assert answers[(401, None)] == len(runs)  # the cached login hashed nothing
    assert answers[(429, str(RETRY_AFTER_S))] == FLOOD - len(runs) > 0
    assert auth.failures.total == FLOOD
    rest = 1 / HASH_DUTY - 1
    for (_, end, cpu), (start, _, _) in itertools.pairwise(runs):
        assert start - end >= cpu * rest - 0.005, "a hash started before its pause was over"
    [thread] = WATCH.threads
    assert os.getpriority(os.PRIO_PROCESS, thread) == os.getpriority(os.PRIO_PROCESS, 0) + \
        HASH_NICENESS

"""The basic-auth middleware over real HTTP (aiohttp test server on loopback)."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.http_auth import BasicAuth, FailureLog, install_basic_auth, parse_basic
from collector.http_passwords import parse_users, users_line

FAST_N = 2**10
USERS = parse_users("\n".join(users_line(u, f"pw-{u}", n=FAST_N) for u in ("prom", "ops", "dev")))
CHALLENGE = 'Basic realm="pantau"'


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def ok(request: web.Request) -> web.Response:
    return web.Response(text=f"served {request.path}")


def guarded_app(auth: BasicAuth) -> web.Application:
    app = web.Application(middlewares=[auth.middleware])
    for route in ("/metrics", "/healthz", "/readyz", "/"):
        app.router.add_get(route, ok)
    return app


@pytest.fixture
async def auth() -> AsyncIterator[BasicAuth]:
    guard = BasicAuth(USERS, ["/healthz"], cache_size=2)
    yield guard
    guard.close()


@pytest.fixture
async def client(auth: BasicAuth) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(guarded_app(auth))) as test_client:
        yield test_client


@pytest.mark.parametrize(("path", "headers", "status"), [
    ("/metrics", {}, 401),
    ("/metrics", basic("prom", "pw-prom"), 200),
    ("/metrics", basic("prom", "pw-ops"), 401),
    ("/metrics", basic("nobody", "pw-prom"), 401),
    ("/metrics", basic("prom", ""), 401),
    ("/metrics", {"Authorization": "Bearer pw-prom"}, 401),
    ("/metrics", {"Authorization": "Basic !!!not-base64"}, 401),
    ("/metrics", {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, 401),
    ("/metrics", {"Authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()}, 401),
    ("/", {}, 401),
    ("/readyz", {}, 401),  # protected by default: its reason text tells the broker state
    ("/healthz", {}, 200),  # exempt: a load balancer probes it without a password
    ("/healthz", basic("prom", "wrong"), 200),
    ("/no-such-page", {}, 401),  # no path enumeration without credentials
    ("/no-such-page", basic("ops", "pw-ops"), 404),
])
async def test_who_gets_what(client: TestClient[web.Request, web.Application], path: str,
                             headers: dict[str, str], status: int) -> None:
    resp = await client.get(path, headers=headers)
    assert resp.status == status
    assert (resp.headers.get("WWW-Authenticate") == CHALLENGE) == (status == 401)
    if status == 200:
        assert await resp.text() == f"served {path}"


async def test_a_verified_password_is_hashed_once(
        auth: BasicAuth, client: TestClient[web.Request, web.Application]) -> None:
    for _ in range(5):
        assert (await client.get("/metrics", headers=basic("prom", "pw-prom"))).status == 200
    assert auth.hashes_computed == 1


async def test_wrong_passwords_are_never_cached(
        auth: BasicAuth, client: TestClient[web.Request, web.Application]) -> None:
    for _ in range(3):
        assert (await client.get("/metrics", headers=basic("prom", "guess"))).status == 401
    assert auth.hashes_computed == 3
    assert (await client.get("/metrics", headers=basic("prom", "pw-prom"))).status == 200


async def test_the_cache_is_bounded_least_recently_used_first(
        auth: BasicAuth, client: TestClient[web.Request, web.Application]) -> None:
    for user in ("prom", "ops", "dev", "prom"):  # cache_size=2: "prom" was evicted by "dev"
        assert (await client.get("/", headers=basic(user, f"pw-{user}"))).status == 200
    assert auth.hashes_computed == 4
    assert (await client.get("/", headers=basic("dev", "pw-dev"))).status == 200
    assert auth.hashes_computed == 4  # "dev" still cached


async def test_a_changed_password_is_not_served_from_the_cache(
        auth: BasicAuth, client: TestClient[web.Request, web.Application]) -> None:
    assert (await client.get("/", headers=basic("prom", "pw-prom"))).status == 200
    assert (await client.get("/", headers=basic("prom", "pw-prom2"))).status == 401


async def test_install_without_users_leaves_the_app_open() -> None:
    app = web.Application()
    assert install_basic_auth(app, {}, ["/healthz"]) is None
    assert list(app.middlewares) == []


@pytest.mark.parametrize(("header", "expected"), [
    (None, "no credentials"),
    ("Digest x", "not basic auth"),
    ("basic " + base64.b64encode(b"u:p:q").decode(), ("u", b"p:q")),
    ("Basic " + base64.b64encode(b":").decode(), ("", b"")),
])
def test_parse_basic(header: str | None, expected: object) -> None:
    assert parse_basic(header) == expected


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_are_logged_at_most_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    failures = FailureLog(interval_s=60.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="collector.http_auth"):
        for i in range(10):
            clock.now += 1.0
            failures.record("wrong password", f"10.0.0.{i % 2}")
        assert [r.levelno for r in caplog.records] == [logging.WARNING]
        assert "refused 1 request(s) (wrong password: 1) from 10.0.0.0" in caplog.text
        clock.now += 60.0
        failures.record("unknown user", "10.0.0.9")
    assert len(caplog.records) == 2
    assert caplog.records[1].getMessage() == (
        "HTTP basic auth refused 10 request(s) in the last 69 s "
        "(unknown user: 1, wrong password: 9) from 10.0.0.1, 10.0.0.0, 10.0.0.9")
    assert failures.total == 11


def test_only_missing_credentials_log_at_info(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="collector.http_auth"):
        FailureLog().record("no credentials", "127.0.0.1")
    assert [r.levelno for r in caplog.records] == [logging.INFO]


async def test_no_user_name_or_password_reaches_the_log(
        client: TestClient[web.Request, web.Application],
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        await client.get("/metrics", headers=basic("prom", "SECRET-guess"))
        await client.get("/metrics", headers=basic("SECRET-user", "pw-prom"))
        await client.get("/metrics", headers=basic("prom", "pw-prom"))
    assert "refused" in caplog.text
    assert "SECRET" not in caplog.text and "pw-prom" not in caplog.text

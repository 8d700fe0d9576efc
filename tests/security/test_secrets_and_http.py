"""No secret leaks into logs or HTTP; nothing writes over HTTP.

The collector and an agent run at DEBUG with password files whose content is
a unique marker; after real traffic (and a refused login, whose error path
is the likeliest to echo a credential) every log line and every response of
every GET route must be free of it. Then every other method on every route
must be refused (405/404): the collector has no write endpoint, so there is
nothing that would need a token.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from collector.app import build_app
from collector.config import CollectorConfig, StateConfig
from collector.registry import Registry
from pantau.broker_config import BrokerConfig
from tests.deploy.tls_broker import Client, TlsBroker
from tests.security.stack import AGENT, SITE, A, Stack, http
from tests.support.mosquitto import wait_for

pytestmark = pytest.mark.broker

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(TlsBroker(tmp_path_factory.mktemp("secrets")).prepare())
    try:  # a failed start must not leave the broker, collector or agent running
        s.enroll(A)  # Mosquitto refuses to start without a password file
        s.broker.start()
        s.start_collector()
        s.start_agent(AGENT)
        wait_for(lambda: s.station_view(AGENT)["state"] == "online", 30, what="agent online")
        wait_for(lambda: s.station_view(AGENT)["components"], 10, what="a full heartbeat")
        yield s
    finally:
        s.stop()


def offline_app() -> web.Application:
    """The real app object, never started: only its route table is read."""
    config = CollectorConfig(broker=BrokerConfig(client_id="routes-only"),
                             state=StateConfig(data_dir=Path("/nonexistent")))
    return build_app(config, Registry.empty())


def route_paths() -> list[str]:
    """Every route the collector serves, with {station} filled in."""
    app = offline_app()
    paths = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    return sorted(p.replace("{station}", AGENT) for p in paths)


def get_everything(stack: Stack) -> dict[str, bytes]:
    urls = [*route_paths(), "/api/v1/parts?format=csv", f"/api/v1/events?station={AGENT}",
            f"/api/v1/stations?site={SITE}", "/?lang=id"]
    bodies = {}
    for path in urls:
        status, body = http(stack.base + path)
        assert status == 200, (path, status, body[:200])
        bodies[path] = body
    return bodies


def test_every_route_is_get_only() -> None:
    methods = {r.method for r in offline_app().router.routes()}
    assert methods <= {"GET", "HEAD"}, methods


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_no_route_accepts_a_write_method(stack: Stack, method: str) -> None:
    for path in [*route_paths(), "/api/v1/stations/new-station", "/api/v1/token", "/admin"]:
        status, _ = http(stack.base + path, method=method)
        assert status in (404, 405), (method, path, status)


def test_no_secret_in_any_log_or_http_response(stack: Stack) -> None:
    refused = Client(stack.broker, AGENT, f"{stack.marker}-wrong")  # a failed login, logged
    assert refused.connack is not None and refused.connack.is_failure
    refused.close()
    bodies = get_everything(stack)
    assert json.loads(bodies[f"/api/v1/stations/{AGENT}"])["host"] is not None  # real content
    logs = {p.name: p.read_text(errors="replace")
            for p in stack.workdir.glob("*.log")}
    assert {"collector.log", f"agent-{AGENT}.log", "mosquitto.log"} <= set(logs)
    assert "DEBUG" in logs["collector.log"] and "connected" in logs["collector.log"]
    # The marker is really in use: the password files hold it and the logins worked.
    assert stack.marker in (stack.workdir / "collector.password").read_text()
    leaks = [name for name, text in {**logs, **{k: v.decode(errors="replace")
                                                 for k, v in bodies.items()}}.items()
             if stack.marker in text]
    assert leaks == []

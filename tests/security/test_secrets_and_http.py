"""No secret leaks into logs or HTTP; nothing writes over HTTP but the one repair route.

The collector and an agent run at DEBUG with password files whose content is
a unique marker; after real traffic (and a refused login, whose error path
is the likeliest to echo a credential) every log line and every response of
every GET route must be free of it. Then every other method on every route
must be refused (405/404). The one exception is `POST /api/v1/repairs/{id}`
(people set ordered_at, ticket, note), which only `[repairs] writers` may use
and only with basic auth on: this collector has neither, so it answers 403.
Its full refusal table is in tests/collector/http/test_repairs_api.py.
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
WRITE_ROUTE = ("POST", "/api/v1/repairs/{id}")
REPAIR_ID = "0123456789abcdef"


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


def route_paths(method: str | None = None) -> list[str]:
    """Every route the collector serves (for `method`, else any), with ids filled in."""
    app = offline_app()
    paths = {r.resource.canonical for r in app.router.routes()
             if r.resource is not None and method in (None, r.method)}
    return sorted(p.replace("{station}", AGENT).replace("{id}", REPAIR_ID) for p in paths)


def get_everything(stack: Stack) -> dict[str, bytes]:
    urls = [p for p in route_paths("GET") if p != "/api/v1/assets/history"]
    urls += ["/api/v1/parts?format=csv", f"/api/v1/events?station={AGENT}",
             f"/api/v1/stations?site={SITE}", "/?lang=id", "/api/v1/assets/history?serial=x",
             "/api/v1/assets?format=csv", "/api/v1/repairs?format=csv"]
    bodies = {}
    for path in urls:
        status, body = http(stack.base + path)
        assert status == 200, (path, status, body[:200])
        bodies[path] = body
    return bodies


def test_every_route_is_get_only_but_the_repair_edit() -> None:
    routes = {(r.method, r.resource.canonical) for r in offline_app().router.routes()
              if r.resource is not None}
    assert {route for route in routes if route[0] not in ("GET", "HEAD")} == {WRITE_ROUTE}


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_no_route_accepts_a_write_method(stack: Stack, method: str) -> None:
    for path in [*route_paths(), "/api/v1/stations/new-station", "/api/v1/token", "/admin"]:
        status, body = http(stack.base + path, method=method)
        if (method, path) == (WRITE_ROUTE[0], WRITE_ROUTE[1].replace("{id}", REPAIR_ID)):
            # No [repairs] writers and no basic auth here: writes are disabled.
            assert (status, json.loads(body)["error"].split(":")[0]) == (
                403, "writes are disabled on this collector"), body
        else:
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

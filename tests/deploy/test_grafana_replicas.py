"""Grafana with two collector replicas: every panel shows what it shows with one.

A real collector (fed by one simulated kit with its fingerprint scanner
unplugged) gives a real /metrics; that text is served by two static targets.
One real Prometheus (deploy/ rules) scrapes one target, another scrapes both,
as it would two identical replicas. Every dashboard query, evaluated on both at
the same instant with `instance` dropped from the answer, must agree: a sum
that counts each replica, or a table row per replica, shows up as a difference.
The collector panels that plot one line per collector are the exception, and
there each replica must have its own line.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.sim.fleet import registry_toml
from tests.deploy.binaries import PROMETHEUS, REPO, Server, http_json
from tests.deploy.test_grafana_dashboards import VALUES, panel_targets, render
from tests.support.collector_process import CollectorProcess
from tests.support.fleet_harness import FaultStation
from tests.support.mosquitto import MosquittoBroker, wait_for

pytestmark = pytest.mark.broker
SITE, NAME = "medan-baru", "medan-baru-01"  # the dashboards' test values (VALUES)
RULES = [REPO / "deploy" / "prometheus" / name for name in ("rules.yml", "alerts.yml")]
PER_COLLECTOR = {"pantau-fleet/Collector/A", "pantau-fleet/Collector/B"}


def serve(text: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def prometheus(workdir: Path, targets: list[str]) -> Server:
    config = workdir / "prometheus.yml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: {json.dumps([str(p) for p in RULES])}\n"
        "scrape_configs:\n  - job_name: pantau-collector\n"
        f"    static_configs: [{{targets: {json.dumps(targets)}}}]\n")

    def argv(port: int, wd: Path) -> list[str]:
        return [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={wd / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}"]

    return Server(argv, workdir, "/-/ready").start()


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    workdir = tmp_path_factory.mktemp("replica-metrics")
    # Its own broker: retained stations of other tests would change the counts.
    mosquitto = MosquittoBroker(workdir / "mosquitto").start()
    collector = CollectorProcess(mosquitto.url, workdir / "collector",
                                 registry_toml([(SITE, NAME), (SITE, "medan-baru-02")]),
                                 client_id="pantau-collector-grafana")
    stations = [FaultStation(SITE, name, mosquitto.url, workdir / name)
                for name in (NAME, "medan-baru-02")]  # one broken, one ready
    collector.start()
    for station in stations:
        station.start()
    try:
        stations[0].bus.unplug(lambda d: d.vid == 0x080B)  # the fingerprint scanner
        wanted = ('component="fingerprint",status="missing"} 1',
                  'pantau_site_stations_ready{site="medan-baru"} 1')
        text = wait_for(lambda: all(w in collector.metrics() for w in wanted)
                        and collector.metrics(), 20, what="a missing scanner, a ready station")
        return str(text).encode()
    finally:
        for station in stations:
            station.stop()
        collector.kill()
        mosquitto.stop()


@pytest.fixture(scope="module")
def pair(metrics: bytes, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Server, Server, float]]:
    targets = [serve(metrics), serve(metrics)]
    addresses = [f"127.0.0.1:{t.server_address[1]}" for t in targets]
    workdir = tmp_path_factory.mktemp("prometheus-replicas")
    one = prometheus(workdir / "one", addresses[:1])
    two = prometheus(workdir / "two", addresses)
    try:
        for server, count in ((one, 1), (two, 2)):
            # Enough scrapes for rate() and a few rule evaluations on each.
            wait_for(lambda s=server, n=count: value(s, "count(count_over_time(up[1m]) >= 4)")
                     == n and value(s, "count(site:pantau_stations_active:count)") >= 1, 30,
                     what="both Prometheus scraped and evaluated")
        yield one, two, time.time()
    finally:
        one.stop()
        two.stop()
        for t in targets:
            t.shutdown()


def query(server: Server, expr: str, at: float | None = None) -> list[Any]:
    params = {"query": expr} | ({"time": f"{at:.3f}"} if at is not None else {})
    reply = http_json(f"{server.url}/api/v1/query?{urllib.parse.urlencode(params)}")
    assert reply["status"] == "success", reply
    return list(reply["data"]["result"])


def value(server: Server, expr: str) -> float:
    result = query(server, expr)
    return float(result[0]["value"][1]) if result else 0.0


def shown(result: list[Any]) -> list[tuple[str, str]]:
    """What a panel shows: each series' labels but `instance`, and its value."""
    rows = []
    for series in result:
        labels = {k: v for k, v in series["metric"].items() if k != "instance"}
        rows.append((json.dumps(labels, sort_keys=True), series["value"][1]))
    return sorted(rows)


@pytest.mark.slow
@pytest.mark.parametrize(("uid", "name", "target"),
                         [(u, n, t) for u, n, _, t in panel_targets()],
                         ids=[n for _, n, _, _ in panel_targets()])
def test_two_identical_replicas_show_what_one_shows(
    pair: tuple[Server, Server, float], uid: str, name: str, target: dict[str, Any]
) -> None:
    one, two, at = pair
    expr = render(target["expr"], VALUES[uid])
    single, double = query(one, expr, at), query(two, expr, at)
    if name in PER_COLLECTOR:
        assert len(double) == 2 * len(single), (expr, single, double)
    else:
        assert shown(double) == shown(single), expr


@pytest.mark.slow
@pytest.mark.parametrize(("name", "expected"), [
    ("pantau-fleet/Ready to enroll/A", "1"), ("pantau-fleet/Stations installed/A", "2"),
    ("pantau-site/Parts not ok/A", "3"),  # the missing status's index: a row, not two
])
def test_the_comparison_has_data(pair: tuple[Server, Server, float], name: str,
                                 expected: str) -> None:
    (uid, target), = [(u, t) for u, n, _, t in panel_targets() if n == name]
    _, two, at = pair
    assert [v for _, v in shown(query(two, render(target["expr"], VALUES[uid]), at))] == [
        expected]

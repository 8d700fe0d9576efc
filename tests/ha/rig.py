"""The HA rig of `make test-ha`: every tier doubled (or tripled) on real processes.

- a bare 3-node NATS cluster with JetStream and MQTT (tests/support/nats_plain.py);
- two collector replicas (`replica = "a"` / `"b"`, tests/support/collector_process.py),
  each with its own client id, persistent session and SQLite history, each on a
  different node than the stations' first one;
- the HA stack's Prometheus pair and 2-node Alertmanager cluster (stack/central_ha.py)
  without its Mosquitto and collector: both Prometheus scrape both replicas;
- in-process simulated stations (tests/support/fleet_harness.py) listing every node.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.sim.fleet import registry_toml
from stack.central_ha import PROMETHEUS, HaCentralStack
from stack.processes import Service
from tests.deploy.binaries import http_json
from tests.support.collector_process import CollectorProcess
from tests.support.fleet_harness import FaultStation, LedgerReport, compare, expected_of
from tests.support.mosquitto import wait_for
from tests.support.nats_plain import PlainNatsCluster

REPLICAS = ("a", "b")


@dataclass
class PairOnly(HaCentralStack):
    """The HA stack's Prometheus pair and Alertmanager cluster, scraping `collectors`."""

    collectors: list[str] = field(default_factory=list)  # host:port of each replica

    def port_names(self) -> tuple[str, ...]:
        return self.pair_port_names()

    def makers(self) -> tuple[Callable[[], Service], ...]:
        return self.pair_makers()

    def collector_targets(self) -> list[str]:
        return list(self.collectors)

    def up(self, prometheus: str) -> int:
        """How many replicas this Prometheus scrapes successfully right now."""
        url = f"{self.url(prometheus)}/api/v1/query?query=up{{job=%22pantau-collector%22}}==1"
        return len(http_json(url)["data"]["result"])

    def survivors_scrape_all(self) -> bool:
        live = [p for p in PROMETHEUS if self.service(p).proc is not None
                and self.service(p).proc.poll() is None]  # type: ignore[union-attr]
        return all(self.up(p) == len(self.collectors) for p in live)


def replica(cluster: PlainNatsCluster, stations: list[FaultStation], workdir: Path,
            name: str, skip: int) -> CollectorProcess:
    """Replica `name` with the node list rotated by `skip`: never the stations' first node."""
    urls = cluster.urls[skip:] + cluster.urls[:skip]
    pairs = [(s.site, s.name) for s in stations]
    collector = CollectorProcess(urls, workdir / f"collector-{name}", registry_toml(pairs),
                                 client_id=f"pantau-collector-{name}")
    collector.config.write_text(f'replica = "{name}"\n' + collector.config.read_text())
    return collector


def history_complete(collector: CollectorProcess, stations: list[FaultStation],
                     timeout: float) -> LedgerReport:
    """Every event the stations committed is in this replica's history (or the deadline
    passed); the comparison then says what is missing or twice."""
    want = expected_of(stations)
    with contextlib.suppress(AssertionError):  # the report below names what is missing
        wait_for(lambda: want <= set(collector.stored_events()), timeout, interval=0.2,
                 what=f"{collector.workdir.name}: history complete")
    return compare(want, collector.stored_events())


def gap_events(collector: CollectorProcess) -> str:
    """pantau_collector_history_gap_events_total as the replica reports it."""
    return next((line.split()[-1] for line in collector.metrics().splitlines()
                 if line.startswith("pantau_collector_history_gap_events_total")), "?")


def alert_views(stack: PairOnly, alertname: str) -> str:
    """What each live Prometheus and Alertmanager holds of `alertname`: for a failure message."""
    views = []
    for name in stack.pair_port_names():
        service = next((s for s in stack.services if s.name == name), None)
        if service is None or service.proc is None or service.proc.poll() is not None:
            continue
        path = (f"/api/v1/query?query=ALERTS{{alertname=%22{alertname}%22}}"
                if name.startswith("prometheus")
                else f"/api/v2/alerts?filter=alertname%3D%22{alertname}%22")
        views.append(f"{name}: {http_json(stack.url(name) + path)}")
    return "\n".join(views)

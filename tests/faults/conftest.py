"""Fixtures for the fault suite: a real Mosquitto, the real collector (subprocess) and
in-process simulated stations, wired together and torn down whatever happens."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent.sim.fleet import registry_toml
from tests.support.collector_process import CollectorProcess
from tests.support.fleet_harness import FaultStation, make_fleet
from tests.support.mosquitto import MosquittoBroker, bridge_to
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.broker


@dataclass
class Rig:
    broker: MosquittoBroker  # the first node
    collector: CollectorProcess
    stations: list[FaultStation] = field(default_factory=list)
    proxy: TcpProxy | None = None
    nodes: list[MosquittoBroker] = field(default_factory=list)  # every broker, first included

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stations]


@pytest.fixture
def rig_factory(
    broker_factory: Callable[..., MosquittoBroker], tmp_path: Path
) -> Iterator[Callable[..., Rig]]:
    """rig(stations=3, persistence=False, extra_config="", proxy=False, start_collector=True,
    nodes=1, bridged=False): with nodes > 1 agents and collector get the broker list (the
    proxy, if any, in front of the first node); `bridged` links every node to the first."""
    rigs: list[Rig] = []

    def make(stations: int = 3, *, persistence: bool = False, extra_config: str = "",
             proxy: bool = False, start_collector: bool = True,
             queue_dirs: dict[str, Path] | None = None, nodes: int = 1,
             bridged: bool = False) -> Rig:
        broker = broker_factory(persistence=persistence, extra_config=extra_config)
        more = [broker_factory(persistence=persistence,
                               extra_config=extra_config + (bridge_to(broker) if bridged else ""))
                for _ in range(nodes - 1)]
        link = TcpProxy(broker.port).start() if proxy else None
        agent_urls = [link.url if link is not None else broker.url] + [b.url for b in more]
        agent_url = agent_urls if more else agent_urls[0]
        fleet = make_fleet(agent_url, tmp_path / "stations", stations, queue_dirs=queue_dirs)
        pairs = [(s.site, s.name) for s in fleet]
        collector_url = [b.url for b in (broker, *more)] if more else broker.url
        collector = CollectorProcess(collector_url, tmp_path / "collector", registry_toml(pairs))
        rig = Rig(broker, collector, fleet, link, [broker, *more])
        rigs.append(rig)
        if start_collector:
            collector.start()
        return rig

    yield make
    for rig in rigs:
        for station in rig.stations:
            station.stop()
        rig.collector.kill()
        if rig.proxy is not None:
            rig.proxy.stop()


def fill_disk(mount: Path, leave: int) -> int:
    st = os.statvfs(mount)
    size = max(0, st.f_bavail * st.f_frsize - leave)
    (mount / "filler").write_bytes(b"\0" * size)
    return size

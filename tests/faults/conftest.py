"""Fixtures for the fault suite: a real Mosquitto, the real collector (subprocess) and
in-process simulated stations, wired together and torn down whatever happens."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent.sim.fleet import registry_toml
from tests.deploy.tls_broker import TlsBroker, add_account
from tests.support.collector_process import CollectorProcess
from tests.support.event_tap import TAP_USER, EventTap
from tests.support.fleet_harness import FaultStation, make_fleet
from tests.support.mosquitto import MosquittoBroker
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.broker
TAP_PASSWORD = "event-tap-secret"


@dataclass
class Rig:
    broker: MosquittoBroker | TlsBroker
    collector: CollectorProcess
    stations: list[FaultStation] = field(default_factory=list)
    proxy: TcpProxy | None = None
    tap: EventTap | None = None  # counts each event's deliveries beside the collector

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stations]


@pytest.fixture
def rig_factory(
    broker_factory: Callable[..., MosquittoBroker], tmp_path: Path
) -> Iterator[Callable[..., Rig]]:
    """rig(stations=3, persistence=False, extra_config="", proxy=False, start_collector=True,
    queue_dirs=None, autosave_s=None): `autosave_s` runs the production broker instead
    (TLS, password accounts, the shipped ACL, persistence on, tests/deploy/tls_broker.py)
    with that `autosave_interval`."""
    rigs: list[Rig] = []

    def make(stations: int = 3, *, persistence: bool = False, extra_config: str = "",
             proxy: bool = False, start_collector: bool = True,
             queue_dirs: dict[str, Path] | None = None, autosave_s: int | None = None) -> Rig:
        broker: MosquittoBroker | TlsBroker
        if autosave_s is None:
            broker, account = broker_factory(persistence=persistence,
                                             extra_config=extra_config), None
        else:
            broker = production_broker(tmp_path / f"tls-broker{len(rigs)}", autosave_s)
            account = broker.station_account
        link = TcpProxy(broker.port).start() if proxy else None
        agent_url = link.url if link is not None else broker.url
        fleet = make_fleet(agent_url, tmp_path / "stations", stations, queue_dirs=queue_dirs,
                           account=account)
        pairs = [(s.site, s.name) for s in fleet]
        collector = CollectorProcess(broker.url, tmp_path / "collector", registry_toml(pairs),
                                     broker_extra=account("pantau-collector") if account else "")
        if isinstance(broker, TlsBroker):
            broker.start()  # after the accounts: Mosquitto reads the password file at start
            tap = EventTap(broker.port, broker.ca, TAP_PASSWORD)
        else:
            tap = EventTap(broker.port)
        rig = Rig(broker, collector, fleet, link, tap)
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
        if rig.tap is not None:
            rig.tap.close()
        if isinstance(rig.broker, TlsBroker):
            rig.broker.kill()


def production_broker(workdir: Path, autosave_s: int) -> TlsBroker:
    """deploy/mosquitto as installed (TLS, accounts, ACL, persistence), autosave changed."""
    broker = TlsBroker(workdir).prepare()
    broker.set_drop_in({"autosave_interval 60": f"autosave_interval {autosave_s}"})
    # The event tap's account, read-only on events, added to the test copy of the ACL.
    add_account(broker.passwd, TAP_USER, TAP_PASSWORD)
    acl = broker.workdir / "acl"
    acl.write_text(acl.read_text() + f"\nuser {TAP_USER}\ntopic read pantau/v1/+/+/event\n")
    return broker


def fill_disk(mount: Path, leave: int) -> int:
    st = os.statvfs(mount)
    size = max(0, st.f_bavail * st.f_frsize - leave)
    (mount / "filler").write_bytes(b"\0" * size)
    return size

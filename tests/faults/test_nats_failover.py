"""Broker lists on a 3-node NATS cluster (JetStream + MQTT), one node killed -9.

Promises: stations that list the cluster's nodes come back online through
another node, lose no event and, once back, are never shown lost. (While the
cluster re-elects the dead node's leaders, a surviving node may accept a
station and then drop it when storing its birth times out; that connection's
Will then shows the station lost for a moment: docs/ha-failover.md.) A node that dies never
publishes the Wills of the stations connected to it, so a station that cannot
move (it lists that node only) is marked by staleness: stale_factor (3) x its
heartbeat interval after its last heartbeat. The test prints how long that took.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sim.fleet import registry_toml
from tests.faults.checks import assert_exact, assert_online, settle
from tests.faults.test_broker_failover import lost_marks, moved
from tests.support.collector_process import CollectorProcess, StateSampler, sample_until
from tests.support.fleet_harness import HEARTBEAT_S, EventPump, FaultStation, make_fleet
from tests.support.mosquitto import wait_for
from tests.support.nats_plain import PlainNatsCluster

pytestmark = pytest.mark.broker


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[PlainNatsCluster]:
    nats = PlainNatsCluster(tmp_path / "nats").start()
    yield nats
    nats.stop()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[list[FaultStation]]:
    stations: list[FaultStation] = []
    yield stations
    for station in stations:
        station.stop()


def collector_on(cluster: PlainNatsCluster, stations: list[FaultStation],
                 workdir: Path) -> CollectorProcess:
    """The collector on the second node first: the first is the one the test kills."""
    urls = cluster.urls[1:] + cluster.urls[:1]
    pairs = [(s.site, s.name) for s in stations]
    return CollectorProcess(urls, workdir / "collector", registry_toml(pairs)).start()


def test_stations_move_to_another_nats_node_and_are_never_lost(
    cluster: PlainNatsCluster, fleet: list[FaultStation], tmp_path: Path
) -> None:
    fleet += make_fleet(cluster.urls, tmp_path / "stations", 3)
    collector = collector_on(cluster, fleet, tmp_path)
    try:
        collector_only = cluster.nodes[1].consumers()
        for station in fleet:
            station.start()
        names = [s.name for s in fleet]
        wait_for(lambda: collector.all_in(names, "online"), 30, what="fleet online")
        # Stations subscribe at QoS 0: no JetStream consumer per station for a dying
        # node's failover to re-elect or delete (docs/ha-failover.md).
        assert collector_only > 0 and cluster.nodes[1].consumers() == collector_only
        sampler = StateSampler()
        with EventPump(fleet) as pump:
            wait_for(lambda: pump.toggles >= 6, 20, what="events flowing before the kill")
            killed_at = time.time()
            cluster.nodes[0].kill()
            took = sample_until(sampler, collector, moved(collector, fleet, killed_at), 60,
                                "stations online through another node")
            back_at, at_move = time.time(), pump.toggles
            wait_for(lambda: pump.toggles >= at_move + 6, 30, what="events after the move")
        assert_online(collector, fleet)
        report = settle(collector, fleet)
        print(f"  online again through another node {took:.1f} s after the kill")
        assert_exact(report)
        assert sampler.shown("offline") == {}
        assert lost_marks(collector, after=back_at) == []
        print(f"  shown lost during the move: {lost_marks(collector)}")
    finally:
        collector.kill()


def test_a_dead_nats_node_sends_no_will_so_staleness_marks_its_stations(
    cluster: PlainNatsCluster, fleet: list[FaultStation], tmp_path: Path
) -> None:
    fleet += make_fleet(cluster.urls[0], tmp_path / "stations", 2)  # the first node only
    collector = collector_on(cluster, fleet, tmp_path)
    try:
        for station in fleet:
            station.start()
        names = [s.name for s in fleet]
        wait_for(lambda: collector.all_in(names, "online"), 30, what="fleet online")
        sampler = StateSampler()
        cluster.nodes[0].kill()
        took = sample_until(sampler, collector, lambda: collector.all_in(names, "stale"),
                            3 * 3 * HEARTBEAT_S + 10, "stations stale")
        print(f"  stale {took:.1f} s after the node's kill -9 (heartbeat {HEARTBEAT_S:g} s, "
              f"stale after 3 x {HEARTBEAT_S:g} s of silence)")
        # No Will: nothing ever said `lost`.
        assert sampler.shown("lost") == {}
        assert [t for t in lost_marks(collector) if t[1] == "lost"] == []
    finally:
        collector.kill()

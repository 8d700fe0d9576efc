"""Broker lists: a station and the collector move to another node, and stay right doing it.

Two real Mosquitto processes stand for two broker nodes. Promises: when the
node a station is on is killed, the station comes back online through the
other one, loses no event, and is never shown lost; a Will the old node
publishes late (its keepalive ran out after the station had moved) never marks
the station lost, whether the station moved in the same boot or restarted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import pytest
from msgspec import structs

from agent.mqtt.publisher import Publisher
from tests.faults.checks import assert_exact, assert_online, settle
from tests.faults.conftest import Rig
from tests.security.stack import metric
from tests.support.collector_process import CollectorProcess, StateSampler, sample_until
from tests.support.fleet_harness import EventPump, FaultStation
from tests.support.mosquitto import wait_for

pytestmark = pytest.mark.broker

STALE_WILLS = ("pantau_collector_rejected_messages_total", 'reason="stale_will"')


def lost_marks(collector: CollectorProcess,
               after: float = 0.0) -> list[tuple[str, str, str, float]]:
    """Every time since `after` the collector put a station in `lost` or `offline`."""
    return [t for t in collector.transitions() if t[1] in ("lost", "offline") and t[3] > after]


def moved(collector: CollectorProcess, stations: list[FaultStation],
          since: float) -> Callable[[], bool]:
    """Every agent connected again and the collector showing all online with a heartbeat
    sent after `since` (so what it shows came through a surviving node)."""
    def done() -> bool:
        shown = collector.stations()
        return all(s.connected for s in stations) and all(
            shown.get(s.name, {}).get("state") == "online"
            and (shown[s.name].get("last_heartbeat_ts") or 0) > since for s in stations)
    return done


def test_killed_node_stations_come_online_on_the_other_and_never_lost(
    rig_factory: Callable[..., Rig],
) -> None:
    rig = rig_factory(3, nodes=2)
    for station in rig.stations:
        station.start()
    wait_for(lambda: rig.collector.all_in(rig.names, "online"), 15, what="fleet online")
    sampler = StateSampler()
    with EventPump(rig.stations) as pump:
        wait_for(lambda: pump.toggles >= 6, 20, what="events flowing before the kill")
        killed_at = time.time()
        rig.broker.kill()  # kill -9 the first node: agents and collector are all on it
        took = sample_until(sampler, rig.collector,
                            moved(rig.collector, rig.stations, killed_at), 30,
                            "stations online through the second node")
        at_move = pump.toggles
        wait_for(lambda: pump.toggles >= at_move + 6, 20, what="events flowing after the move")
    assert_online(rig.collector, rig.stations)
    report = settle(rig.collector, rig.stations)
    print(f"  online again through the second node {took:.1f} s after the kill")
    assert_exact(report)
    assert sampler.shown("lost", "offline") == {}
    assert lost_marks(rig.collector) == []


def test_late_will_from_the_old_node_never_marks_a_moved_station_lost(
    rig_factory: Callable[..., Rig],
) -> None:
    # Bridged nodes share every message, as a cluster does: the old node's Will
    # reaches the collector after the station's birth on the new node.
    rig = rig_factory(2, nodes=2, bridged=True, proxy=True)
    assert rig.proxy is not None
    for station in rig.stations:
        station.start()
    wait_for(lambda: rig.collector.all_in(rig.names, "online"), 15, what="fleet online")
    sampler = StateSampler()
    cut_at = time.time()
    rig.proxy.cut_clients()  # stations hear it at once; the first node hears nothing
    sample_until(sampler, rig.collector, moved(rig.collector, rig.stations, cut_at), 20,
                 "stations on the second node")
    # The first node's keepalive (1.5 x 5 s) runs out: it publishes each station's Will.
    sample_until(sampler, rig.collector,
                 lambda: metric(rig.collector.metrics(), *STALE_WILLS) >= len(rig.stations),
                 20, "the first node's Wills reaching the collector as stale")
    assert_online(rig.collector, rig.stations)
    assert sampler.shown("lost", "offline") == {}
    assert lost_marks(rig.collector) == []
    # Each agent saw its own stale Will retained on its topic and said again it is online.
    publishers = [s.service.publisher if s.service else None for s in rig.stations]
    assert all(isinstance(p, Publisher) and p.stats.rebirths >= 1 for p in publishers)


def restart_unheard(station: FaultStation) -> None:
    """End the agent like a power cut while its link is silent, then start a new boot."""
    assert station.service is not None
    old = station.boot_id
    station.service.crash()
    station.stop()
    station.start()
    assert station.boot_id != old


def test_late_will_of_a_previous_boot_never_marks_a_restarted_station_lost(
    rig_factory: Callable[..., Rig],
) -> None:
    rig = rig_factory(1, nodes=2, bridged=True, proxy=True)
    assert rig.proxy is not None
    station = rig.stations[0]
    # keepalive 10 s: the first node's Will comes 13-15 s after the cut, well after the
    # new boot's birth (~4 s: one connect timeout on the silent node, then the second).
    station.config = structs.replace(
        station.config, broker=replace(station.config.broker, keepalive_s=10))
    station.start()
    wait_for(lambda: rig.collector.all_in(rig.names, "online"), 15, what="station online")
    sampler = StateSampler()
    rig.proxy.blackhole()  # the link goes silent both ways; the first node keeps the session
    restarted_at = time.time()
    restart_unheard(station)  # new boot: no answer on the first node, so on to the second
    sample_until(sampler, rig.collector, moved(rig.collector, rig.stations, restarted_at), 20,
                 "the new boot online on the second node")
    sample_until(sampler, rig.collector,
                 lambda: metric(rig.collector.metrics(), *STALE_WILLS) >= 1, 20,
                 "the old boot's Will reaching the collector as stale")
    assert_online(rig.collector, rig.stations)
    assert sampler.shown("lost") == {}
    assert [t for t in lost_marks(rig.collector) if t[1] == "lost"] == []
